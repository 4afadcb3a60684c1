/**
 * What the controller did, counted: reconciles, failures and writes by kind, for `stats`, for the
 * `kubefx_write_total` metric and for one Info line per period that had any. Each write is logged at Debug
 * only, so a converging operator with thousands of parents does not log thousands of lines at Info.
 */
import { Duration, Effect, Metric } from "effect"
import type { WriteKind, WriteObserver } from "../../Reconciler.ts"
import { writeTotal } from "./metrics.ts"

const kinds: ReadonlyArray<WriteKind> = ["create", "apply", "replace", "delete", "status", "finalizer"]

export interface Activity {
  reconciles: number
  failures: number
  readonly writes: Record<WriteKind, number>
  /** Writes not yet added to the metric (the observer is synchronous; `flush` runs in a fiber). */
  readonly unreported: Record<WriteKind, number>
}

const zero = (): Record<WriteKind, number> => ({ create: 0, apply: 0, replace: 0, delete: 0, status: 0, finalizer: 0 })

export const make = (): Activity => ({ reconciles: 0, failures: 0, writes: zero(), unreported: zero() })

/** Counts each write, then tells `next`. */
export const counting = (activity: Activity, next: WriteObserver): WriteObserver => ({
  wrote: (kind, type, object) => {
    activity.writes[kind]++
    activity.unreported[kind]++
    next.wrote(kind, type, object)
  }
})

/** Adds the writes counted since the last flush to `kubefx_write_total`. */
export const flush = (activity: Activity, operator: string): Effect.Effect<void> =>
  Effect.forEach(kinds, (kind) => {
    const n = activity.unreported[kind]
    if (n === 0) return Effect.void
    activity.unreported[kind] = 0
    return Metric.update(Metric.withAttributes(writeTotal, { operator, kind }), n)
  }, { discard: true })

const summary = (now: Activity, then: Activity, period: Duration.Duration): string | undefined => {
  const reconciles = now.reconciles - then.reconciles
  if (reconciles === 0) return undefined
  const failures = now.failures - then.failures
  const writes = kinds.map((k) => [k, now.writes[k] - then.writes[k]] as const).filter(([, n]) => n > 0)
  const total = writes.reduce((n, [, w]) => n + w, 0)
  return `in the last ${Duration.format(period)}: ${reconciles} reconcile(s)${failures > 0 ? `, ${failures} failed` : ""}; ${total} write(s)${
    writes.length === 0 ? "" : ` (${writes.map(([k, n]) => `${k} ${n}`).join(", ")})`
  }`
}

const copy = (a: Activity): Activity => ({ reconciles: a.reconciles, failures: a.failures, writes: { ...a.writes }, unreported: zero() })

/** Logs one Info line per `period` that saw reconciles; runs until interrupted. */
export const report = (activity: Activity, period: Duration.Duration): Effect.Effect<never> =>
  Effect.gen(function*() {
    let then = copy(activity)
    while (true) {
      yield* Effect.sleep(period)
      const line = summary(activity, then, period)
      then = copy(activity)
      if (line !== undefined) yield* Effect.logInfo(line)
    }
  })
