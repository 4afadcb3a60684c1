/**
 * What happens to one key taken from the queue: reconcile it, count it, and decide its next visit — done
 * (maybe with a requeue), retried after its own backoff, or left until something changes.
 */
import { Cause, Effect, Metric } from "effect"
import * as Reconciler from "../../Reconciler.ts"
import type { WorkQueue } from "../../WorkQueue.ts"
import * as Activity from "./activity.ts"
import type { Echoes } from "./echoes.ts"
import { reconcileSeconds, reconcileTotal } from "./metrics.ts"
import { formatDelay, type Retry } from "./retry.ts"

export const make = <R>(options: {
  readonly operator: string
  readonly reconcile: (key: string) => Effect.Effect<Reconciler.Outcome, never, R>
  readonly queue: WorkQueue
  readonly retry: Retry
  readonly counters: Activity.Activity
  readonly echoes: Echoes
}) => {
  const { counters, echoes, operator, queue, retry } = options
  const attributes = { operator }
  const now = Effect.clockWith((c) => c.currentTimeMillis)
  const runReconcile = (key: string) =>
    options.reconcile(key).pipe(
      Effect.catchCause((cause) =>
        Effect.succeed<Reconciler.Outcome>({
          _tag: "Failed",
          failure: new Reconciler.ReconcileFailure({ reason: "Defect", message: Cause.pretty(cause), retry: true })
        })
      )
    )

  /** Ends the key's turn after a failure: held back for its backoff (events meanwhile do not bring it forward). */
  const onFailure = (key: string, failure: Reconciler.ReconcileFailure) =>
    Effect.gen(function*() {
      if (!failure.retry) {
        retry.reset(key)
        yield* queue.done(key)
        yield* Effect.logWarning(`reconcile failed (${failure.reason}); waiting for a change: ${failure.message}`)
        return
      }
      const delay = yield* retry.next(key, failure)
      if (delay._tag === "None") {
        yield* queue.done(key)
        yield* Effect.logError(`reconcile failed (${failure.reason}); retry policy exhausted, waiting for a change or resync: ${failure.message}`)
        return
      }
      yield* queue.doneAfter(key, delay.value)
      yield* Effect.logWarning(`reconcile failed (${failure.reason}); retrying in ${formatDelay(delay.value)}: ${failure.message}`)
    })

  return (key: string): Effect.Effect<void, never, R> =>
    Effect.gen(function*() {
      const started = yield* now
      echoes.begin(key)
      const outcome = yield* runReconcile(key).pipe(Effect.onInterrupt(() => Effect.sync(() => echoes.end(key))))
      // Something other than this reconcile's own writes changed meanwhile: run the key again after this turn.
      if (echoes.end(key)) yield* queue.add(key)
      const elapsed = (yield* now) - started
      counters.reconciles++
      yield* Metric.update(Metric.withAttributes(reconcileSeconds, attributes), elapsed / 1000)
      yield* Metric.update(Metric.withAttributes(reconcileTotal, { operator, result: outcome._tag === "Done" ? "success" : "error" }), 1)
      yield* Activity.flush(counters, operator)
      if (outcome._tag === "Done") {
        retry.reset(key)
        yield* queue.done(key)
        if (outcome.requeueAfter !== undefined) yield* queue.addAfter(key, outcome.requeueAfter)
        return
      }
      counters.failures++
      yield* onFailure(key, outcome.failure)
    }).pipe(Effect.annotateLogs({ operator, parent: key }))
}
