/**
 * Bounded workers. Each takes a key and runs its handling in a fiber of its own, detached from the worker, so
 * that shutting the workers down does not interrupt a reconcile halfway through its writes; on shutdown the
 * queue stops handing out work and in-flight reconciles get a grace period before they are interrupted.
 */
import { type Duration, Effect, Fiber, type Scope } from "effect"
import type { WorkQueue } from "../../WorkQueue.ts"

export interface Workers {
  /** Reconciles running now. */
  readonly inflight: () => number
}

export const start = <R>(options: {
  readonly concurrency: number
  readonly queue: WorkQueue
  /** Workers wait for this before taking their first key (caches synced). */
  readonly ready: Effect.Effect<void>
  readonly handle: (key: string) => Effect.Effect<void, never, R>
  readonly shutdownTimeout: Duration.Duration
}): Effect.Effect<Workers, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const { queue } = options
    const inflight = new Set<Fiber.Fiber<void>>()
    const worker = Effect.gen(function*() {
      yield* options.ready
      while (true) {
        const key = yield* queue.take
        const fiber = yield* Effect.forkDetach(options.handle(key))
        inflight.add(fiber)
        yield* Fiber.await(fiber).pipe(Effect.ensuring(Effect.sync(() => inflight.delete(fiber))))
      }
    }).pipe(Effect.catchTag("WorkQueueShutdown", () => Effect.void))
    for (let i = 0; i < options.concurrency; i++) yield* Effect.forkScoped(worker)

    // Finalizers run in reverse order, so this runs before the workers themselves are interrupted.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* queue.shutdown
        const pending = Array.from(inflight)
        if (pending.length === 0) return
        yield* Effect.logInfo(`shutting down: waiting for ${pending.length} reconcile(s) to finish`)
        const finished = yield* Effect.forEach(pending, Fiber.await, { discard: true }).pipe(
          Effect.timeoutOption(options.shutdownTimeout)
        )
        if (finished._tag === "None") {
          yield* Effect.logWarning("shutdown timeout: interrupting the remaining reconciles")
          yield* Effect.forEach(pending, Fiber.interrupt, { discard: true })
        }
      })
    )
    return { inflight: () => inflight.size }
  })
