/**
 * The bridge from the synchronous server to Effect: the request environment read from the Clock
 * and Random, and one state operation run with its thrown `ClusterError` as the typed failure.
 *
 * @internal
 */
import { ClusterError } from "@kubefx/core"
import { Clock, Effect, Random } from "effect"
import type { Env } from "./model.ts"

/** @internal */
export const currentEnv: Effect.Effect<Env> = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  const random = yield* Random.Random
  return { now, random: () => random.nextDoubleUnsafe() }
})

/** Runs one synchronous state operation; a thrown `ClusterError` becomes the typed failure. @internal */
export const run = <A>(f: (env: Env) => A): Effect.Effect<A, ClusterError.ClusterError> =>
  Effect.flatMap(currentEnv, (env) =>
    Effect.suspend(() => {
      try {
        return Effect.succeed(f(env))
      } catch (e) {
        if (ClusterError.isClusterError(e)) return Effect.fail(e)
        return Effect.die(e)
      }
    }))
