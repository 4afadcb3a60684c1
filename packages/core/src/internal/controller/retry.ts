/**
 * Per-parent retry: each failing key steps its own copy of the retry `Schedule`, kept until the key succeeds
 * (or the failure is not retryable), so one parent's backoff never affects another's. The delay honours the
 * API server's Retry-After: never sooner than it asked.
 */
import { Duration, Effect, Option, Schedule } from "effect"
import type { ReconcileFailure } from "../../Reconciler.ts"

export interface Retry {
  /** The delay before the next attempt of `key`, or None when the policy is exhausted (the state is then reset). */
  readonly next: (key: string, failure: ReconcileFailure) => Effect.Effect<Option.Option<Duration.Duration>>
  /** Forgets `key`'s state: its next failure starts the schedule afresh. */
  readonly reset: (key: string) => void
}

type Step = (now: number, input: ReconcileFailure) => Effect.Effect<Duration.Duration, unknown>

export const make = (schedule: Schedule.Schedule<unknown, ReconcileFailure>): Retry => {
  const steps = new Map<string, Step>()
  const reset = (key: string) => void steps.delete(key)
  const next = (key: string, failure: ReconcileFailure) =>
    Effect.gen(function*() {
      let step = steps.get(key)
      if (step === undefined) {
        const raw = yield* Schedule.toStep(schedule)
        step = (now, input) => Effect.map(raw(now, input), ([, d]) => d)
        steps.set(key, step)
      }
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const scheduled = yield* Effect.option(step(now, failure))
      if (scheduled._tag === "None") {
        reset(key)
        return scheduled
      }
      return failure.retryAfterSeconds === undefined
        ? scheduled
        : Option.some(Duration.max(scheduled.value, Duration.seconds(failure.retryAfterSeconds)))
    })
  return { next, reset }
}

/** `850ms`, `2.4s`, `5m`: delays for log lines, without the nanoseconds `Duration.format` shows. */
export const formatDelay = (d: Duration.Duration): string => {
  const ms = Duration.toMillis(d)
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  return `${(ms / 60_000).toFixed(1)}m`
}
