/**
 * The one waiting loop of the benchmarks: wait, look, again. Each benchmark waits for a state of the system
 * it measures (the controller idle, every parent converged), and a state seen by polling is seen up to one
 * interval late: the interval is the precision of the time measured.
 *
 * @since 0.1.0
 */
import { type Duration, Effect } from "effect"

/**
 * Sleeps `every`, then runs `check`, until `check` returns a value (which is returned). With a `deadline` (a
 * `performance.now()` time), gives up once it has passed and returns `undefined`; without one, waits forever.
 *
 * The sleep comes first: a check that reads the clock (`performance.now()` at the moment the state is seen)
 * then never reports a time earlier than one interval after the wait began.
 *
 * @example
 * // The time at which the controller was first seen idle, within 10 ms, or undefined after 5 s.
 * poll(Effect.map(controller.isIdle, (idle) => (idle ? performance.now() : undefined)), {
 *   every: "10 millis",
 *   deadline: performance.now() + 5000
 * })
 *
 * @since 0.1.0
 * @category waiting
 */
export function poll<A, E, R>(
  check: Effect.Effect<A | undefined, E, R>,
  options: { readonly every: Duration.Input; readonly deadline: number }
): Effect.Effect<A | undefined, E, R>
export function poll<A, E, R>(check: Effect.Effect<A | undefined, E, R>, options: { readonly every: Duration.Input }): Effect.Effect<A, E, R>
export function poll<A, E, R>(
  check: Effect.Effect<A | undefined, E, R>,
  options: { readonly every: Duration.Input; readonly deadline?: number }
): Effect.Effect<A | undefined, E, R> {
  const deadline = options.deadline ?? Infinity
  return Effect.gen(function*() {
    while (performance.now() < deadline) {
      yield* Effect.sleep(options.every)
      const found = yield* check
      if (found !== undefined) return found
    }
    return undefined
  })
}
