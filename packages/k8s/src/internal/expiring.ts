/**
 * A single-flight cache for a credential that expires: token files, exec plugin output, OIDC id-tokens.
 * Time comes from `Clock`, so tests drive expiry with `TestClock`.
 *
 * @internal
 */
import { Clock, Effect, Semaphore } from "effect"

/** A value and the epoch millisecond from which it must not be used; `undefined` means until refreshed. */
export interface Stamped<A> {
  readonly value: A
  readonly expiresAt: number | undefined
}

/** The cached value, and a way to drop it (after a 401) and fetch a new one. */
export interface Expiring<A, E> {
  /** The cached value while it is fresh, otherwise a newly acquired one. */
  readonly get: Effect.Effect<A, E>
  /**
   * Acquires anew, unless another fiber did so while this one waited: many requests failing with 401
   * at once run the plugin or read the file once.
   */
  readonly refresh: Effect.Effect<A, E>
}

/**
 * Wraps `acquire`. A value counts as stale `skewMillis` before its expiry, so a request does not leave
 * with a token that runs out in flight. A failed acquire leaves the previous value cached (it is not
 * used once stale) and the next call tries again.
 */
export const make = <A, E>(
  acquire: Effect.Effect<Stamped<A>, E>,
  options?: { readonly initial?: Stamped<A> | undefined; readonly skewMillis?: number | undefined }
): Effect.Effect<Expiring<A, E>> =>
  Effect.map(Semaphore.make(1), (lock) => {
    const skew = options?.skewMillis ?? 0
    let current: Stamped<A> | undefined = options?.initial
    let generation = 0

    const fresh = (now: number): A | undefined =>
      current !== undefined && (current.expiresAt === undefined || now < current.expiresAt - skew)
        ? current.value
        : undefined

    const load = Effect.map(acquire, (stamped) => {
      current = stamped
      generation++
      return stamped.value
    })

    const get = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const hit = fresh(now)
      return hit !== undefined ? Effect.succeed(hit) : lock.withPermit(
        Effect.flatMap(Clock.currentTimeMillis, (later) => {
          const value = fresh(later)
          return value !== undefined ? Effect.succeed(value) : load
        })
      )
    })

    const refresh = Effect.suspend(() => {
      const seen = generation
      return lock.withPermit(
        Effect.suspend(() => (generation !== seen && current !== undefined ? Effect.succeed(current.value) : load))
      )
    })

    return { get, refresh }
  })
