/**
 * An operator: a parent type, the child types it owns, and the handler that says what the children and
 * status should be. `make` checks and completes the definition; `run` starts it (watchers → store → trigger →
 * work queue → bounded workers → reconcile) and `layer` does the same as a Layer for `main`.
 *
 * @since 0.1.0
 */
import { Cause, Data, Deferred, Duration, Effect, Fiber, Layer, Metric, Option, Schedule, type Scope, Stream } from "effect"
import type { ChildConfig } from "./Child.ts"
import type { Cluster } from "./Cluster.ts"
import type { Finalize, Sync } from "./Handler.ts"
import { Controllers } from "./Health.ts"
import { operatorLabel } from "./Plan.ts"
import * as Reconciler from "./Reconciler.ts"
import type { CustomResource, KubeObject, ResourceType } from "./Resource.ts"
import { keyOf, refOf, typeKey } from "./Resource.ts"
import * as Store from "./Store.ts"
import * as Trigger from "./Trigger.ts"
import * as Watcher from "./Watcher.ts"
import * as WorkQueue from "./WorkQueue.ts"

/**
 * Which namespaces an operator watches.
 *
 * @since 0.1.0
 * @category models
 */
export type Namespaces = "all" | ReadonlyArray<string>

/**
 * What a user writes.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorConfig<Spec, Status, E, R> {
  /** Used as field manager, in the tracking label and the default finalizer: a DNS label, at most 63 characters. */
  readonly name: string
  readonly parent: CustomResource<Spec, Status, any, any>
  readonly children: ReadonlyArray<ChildConfig<any>>
  readonly sync: Sync<Spec, Status, E, R>
  /** When present, parents get a finalizer and this runs until it reports `finalized` before they go. */
  readonly finalize?: Finalize<Spec, Status, E, R> | undefined
  /** Default `"all"`. */
  readonly namespaces?: Namespaces | undefined
  /** Only parents matching this label selector are handled. */
  readonly parentSelector?: string | undefined
  /** Reconciles running at once (never two for one parent). Default 4. */
  readonly maxConcurrency?: number | undefined
  /** Every parent is reconciled again this often, at low priority. Default 10 minutes. */
  readonly resyncPeriod?: Duration.Input | undefined
  /** Delay before retrying a failed reconcile, per parent; reset by a success. Default: exponential from 500 ms, ×2, capped at 5 minutes, jittered. */
  readonly retry?: Schedule.Schedule<unknown, Reconciler.ReconcileFailure> | undefined
  /** Default `kubefx.io/<name>`. */
  readonly finalizerName?: string | undefined
  /** On shutdown, in-flight reconciles get this long to finish before they are interrupted. Default 30 seconds. */
  readonly shutdownTimeout?: Duration.Input | undefined
}

/**
 * A checked, complete operator definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operator<Spec, Status, E, R> extends Reconciler.ReconcilerConfig<Spec, Status, E, R> {
  readonly namespaces: Namespaces
  readonly parentSelector: string | undefined
  readonly maxConcurrency: number
  readonly resyncPeriod: Duration.Duration
  readonly retry: Schedule.Schedule<unknown, Reconciler.ReconcileFailure>
  readonly shutdownTimeout: Duration.Duration
}

/**
 * An operator definition that cannot run.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOperator extends Data.TaggedError("InvalidOperator")<{ readonly message: string }> {}

/**
 * The default per-parent retry policy.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetry: Schedule.Schedule<unknown, Reconciler.ReconcileFailure> = Schedule.min([
  Schedule.exponential("500 millis", 2),
  Schedule.spaced("5 minutes")
]).pipe(Schedule.jittered)

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/**
 * Checks and completes a definition. Throws `InvalidOperator` for a definition that can never run (a
 * programming error, found at start-up rather than at the first reconcile).
 *
 * @example
 * ```ts
 * const operator = Operator.make({
 *   name: "echo-operator",
 *   parent: EchoServer,
 *   children: [Child.of(Builtin.Deployment), Child.of(Builtin.Service, { update: "replace" })],
 *   sync
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Spec, Status, E = never, R = never>(
  config: OperatorConfig<Spec, Status, E, R>
): Operator<Spec, Status, E, R> => {
  if (!dnsLabel.test(config.name) || config.name.length > 63) {
    throw new InvalidOperator({ message: `operator name ${JSON.stringify(config.name)} must be a DNS label (a-z, 0-9, '-', at most 63 characters)` })
  }
  const seen = new Set<string>()
  for (const c of config.children) {
    const k = typeKey(c.type)
    if (seen.has(k)) throw new InvalidOperator({ message: `child type ${k} is declared twice` })
    if (k === typeKey(config.parent)) throw new InvalidOperator({ message: `the parent type ${k} cannot also be a child type` })
    seen.add(k)
  }
  const maxConcurrency = config.maxConcurrency ?? 4
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new InvalidOperator({ message: `maxConcurrency must be a positive integer, got ${maxConcurrency}` })
  }
  if (config.namespaces !== undefined && config.namespaces !== "all" && config.namespaces.length === 0) {
    throw new InvalidOperator({ message: `namespaces must be "all" or a non-empty list` })
  }
  return {
    name: config.name,
    fieldManager: config.name,
    parent: config.parent,
    children: config.children,
    sync: config.sync,
    finalize: config.finalize,
    finalizerName: config.finalizerName ?? `kubefx.io/${config.name}`,
    namespaces: config.namespaces ?? "all",
    parentSelector: config.parentSelector,
    maxConcurrency,
    resyncPeriod: Duration.fromInputUnsafe(config.resyncPeriod ?? "10 minutes"),
    retry: config.retry ?? defaultRetry,
    shutdownTimeout: Duration.fromInputUnsafe(config.shutdownTimeout ?? "30 seconds")
  }
}

/**
 * A running operator, for tests, health checks and metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface Controller {
  readonly name: string
  /** Completes once every watcher has delivered its first list; workers start only then. */
  readonly synced: Effect.Effect<void>
  readonly hasSynced: Effect.Effect<boolean>
  /** Nothing queued and nothing being reconciled (delayed retries and requeues do not count). */
  readonly isIdle: Effect.Effect<boolean>
  readonly stats: Effect.Effect<ControllerStats>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ControllerStats extends WorkQueue.Stats {
  readonly reconciles: number
  readonly failures: number
  readonly parents: number
  /** Watchers currently connected and streaming (the rest are listing or waiting to reconnect). */
  readonly watchersReady: number
  readonly watchers: number
}

/** `850ms`, `2.4s`, `5m`: delays for log lines, without the nanoseconds `Duration.format` shows. */
const formatDelay = (d: Duration.Duration): string => {
  const ms = Duration.toMillis(d)
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  return `${(ms / 60_000).toFixed(1)}m`
}

const reconcileTotal = Metric.counter("kubefx_reconcile_total", { description: "Reconciles by operator and result", incremental: true })
const reconcileSeconds = Metric.histogram("kubefx_reconcile_duration_seconds", {
  description: "Time to reconcile one parent",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 16 })
})

/**
 * Starts an operator in the current Scope and returns its handle. Closing the Scope shuts it down
 * gracefully: watchers stop, no new work is taken, in-flight reconciles get `shutdownTimeout` to finish.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <Spec, Status, E, R>(
  operator: Operator<Spec, Status, E, R>
): Effect.Effect<Controller, never, Scope.Scope | Cluster | R> =>
  Effect.gen(function*() {
    const store = Store.make()
    const queue = yield* WorkQueue.make
    const reconcile = Reconciler.make(operator, store)
    const parentType: ResourceType = operator.parent
    let reconciles = 0
    let failures = 0

    // One watcher per (type, namespace); children are selected by the tracking label.
    const namespaces: ReadonlyArray<string | undefined> = operator.namespaces === "all" ? [undefined] : operator.namespaces
    const childNamespaces = parentType.namespaced ? namespaces : [undefined]
    const watches: Array<{ type: ResourceType; options: Watcher.WatcherOptions }> = []
    for (const ns of namespaces) {
      watches.push({
        type: parentType,
        options: { ...(ns === undefined ? {} : { namespace: ns }), ...(operator.parentSelector ? { labelSelector: operator.parentSelector } : {}) }
      })
    }
    for (const child of operator.children) {
      for (const ns of child.type.namespaced ? childNamespaces : [undefined]) {
        watches.push({ type: child.type, options: { ...(ns === undefined ? {} : { namespace: ns }), labelSelector: `${operatorLabel}=${operator.name}` } })
      }
    }
    const syncedFlags = yield* Effect.forEach(watches, () => Deferred.make<void>())
    const allSynced = yield* Deferred.make<void>()

    const watcherStates: Array<Watcher.WatcherState> = watches.map(() => "listing")
    const onChange = (change: Store.Change) =>
      Effect.forEach(Trigger.keysFor(parentType, change), (key) => queue.add(key), { discard: true })

    yield* Effect.forEach(watches, (w, i) =>
      Watcher.watch(w.type, { ...w.options, onState: (s) => Effect.sync(() => { watcherStates[i] = s }) }).pipe(
        Stream.runForEach((event) =>
          Effect.suspend(() => {
            switch (event._tag) {
              case "Restarted": {
                // A relist replaces only this watcher's slice of the store (its namespace).
                const changes = w.options.namespace === undefined
                  ? store.replaceAll(w.type, event.objects)
                  : replaceNamespace(store, w.type, w.options.namespace, event.objects)
                return Effect.forEach(changes, onChange, { discard: true }).pipe(
                  Effect.andThen(Deferred.succeed(syncedFlags[i]!, undefined))
                )
              }
              case "Applied": {
                const change = store.upsert(w.type, event.object)
                return change === undefined ? Effect.void : onChange(change)
              }
              case "Deleted": {
                const change = store.remove(w.type, event.object)
                return change === undefined ? Effect.void : onChange(change)
              }
            }
          })
        ),
        Effect.forkScoped
      ), { discard: true })

    yield* Effect.forEach(syncedFlags, Deferred.await, { discard: true }).pipe(
      Effect.andThen(Deferred.succeed(allSynced, undefined)),
      Effect.andThen(Effect.logDebug("caches synced")),
      Effect.annotateLogs({ operator: operator.name }),
      Effect.forkScoped
    )

    // Per-key retry state: a step function of the retry Schedule, kept until the key succeeds.
    const backoff = new Map<string, (now: number, input: Reconciler.ReconcileFailure) => Effect.Effect<Duration.Duration, unknown>>()
    const nextDelay = (key: string, failure: Reconciler.ReconcileFailure) =>
      Effect.gen(function*() {
        let step = backoff.get(key)
        if (step === undefined) {
          const raw = yield* Schedule.toStep(operator.retry)
          step = (now, input) => Effect.map(raw(now, input), ([, d]) => d)
          backoff.set(key, step)
        }
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        return yield* Effect.option(step(now, failure))
      })

    const inflight = new Set<Fiber.Fiber<void>>()
    const handle = (key: string) =>
      Effect.gen(function*() {
        const started = yield* Effect.clockWith((c) => c.currentTimeMillis)
        const outcome = yield* reconcile(key).pipe(
          Effect.catchCause((cause) =>
            Effect.succeed<Reconciler.Outcome>({
              _tag: "Failed",
              failure: new Reconciler.ReconcileFailure({ reason: "Defect", message: Cause.pretty(cause), retry: true })
            })
          )
        )
        const elapsed = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - started
        reconciles++
        yield* Metric.update(Metric.withAttributes(reconcileSeconds, { operator: operator.name }), elapsed / 1000)
        if (outcome._tag === "Done") {
          backoff.delete(key)
          yield* Metric.update(Metric.withAttributes(reconcileTotal, { operator: operator.name, result: "success" }), 1)
          yield* queue.done(key)
          if (outcome.requeueAfter !== undefined) yield* queue.addAfter(key, outcome.requeueAfter)
          return
        }
        failures++
        yield* Metric.update(Metric.withAttributes(reconcileTotal, { operator: operator.name, result: "error" }), 1)
        const failure = outcome.failure
        yield* queue.done(key)
        if (!failure.retry) {
          backoff.delete(key)
          yield* Effect.logWarning(`reconcile failed (${failure.reason}); waiting for a change: ${failure.message}`)
          return
        }
        if (yield* queue.isQueued(key)) {
          // Something changed while this reconcile ran: the re-run that is already queued supersedes a backoff retry.
          yield* Effect.logDebug(`reconcile failed (${failure.reason}); a newer change is queued: ${failure.message}`)
          return
        }
        const scheduled = yield* nextDelay(key, failure)
        const delay = scheduled._tag === "Some" && failure.retryAfterSeconds !== undefined
          ? Option.some(Duration.max(scheduled.value, Duration.seconds(failure.retryAfterSeconds)))
          : scheduled
        if (delay._tag === "None") {
          backoff.delete(key)
          yield* Effect.logError(`reconcile failed (${failure.reason}); retry policy exhausted, waiting for a change or resync: ${failure.message}`)
          return
        }
        yield* Effect.logWarning(`reconcile failed (${failure.reason}); retrying in ${formatDelay(delay.value)}: ${failure.message}`)
        yield* queue.addAfter(key, delay.value)
      }).pipe(Effect.annotateLogs({ operator: operator.name, parent: key }))

    // Workers: each takes a key and runs its reconcile in a fiber of its own, detached from the worker so that
    // shutting the workers down does not interrupt a reconcile halfway through its writes.
    const worker = Effect.gen(function*() {
      yield* Deferred.await(allSynced)
      while (true) {
        const key = yield* queue.take
        const fiber = yield* Effect.forkDetach(handle(key))
        inflight.add(fiber)
        yield* Fiber.await(fiber).pipe(Effect.ensuring(Effect.sync(() => inflight.delete(fiber))))
      }
    }).pipe(Effect.catchTag("WorkQueueShutdown", () => Effect.void))
    for (let i = 0; i < operator.maxConcurrency; i++) yield* Effect.forkScoped(worker)

    // Resync: every parent again at low priority, behind fresh events.
    yield* Effect.gen(function*() {
      yield* Deferred.await(allSynced)
      while (true) {
        yield* Effect.sleep(operator.resyncPeriod)
        for (const p of store.list(parentType)) yield* queue.add(keyOf(refOf(p)), { priority: "low" })
      }
    }).pipe(Effect.forkScoped)

    // Graceful shutdown (finalizers run in reverse order, so this runs before the workers are interrupted).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* queue.shutdown
        const pending = Array.from(inflight)
        if (pending.length === 0) return
        yield* Effect.logInfo(`shutting down: waiting for ${pending.length} reconcile(s) to finish`)
        const finished = yield* Effect.forEach(pending, Fiber.await, { discard: true }).pipe(
          Effect.timeoutOption(operator.shutdownTimeout)
        )
        if (finished._tag === "None") {
          yield* Effect.logWarning("shutdown timeout: interrupting the remaining reconciles")
          yield* Effect.forEach(pending, Fiber.interrupt, { discard: true })
        }
      }).pipe(Effect.annotateLogs({ operator: operator.name }))
    )

    const controller: Controller = {
      name: operator.name,
      synced: Deferred.await(allSynced),
      hasSynced: Deferred.isDone(allSynced),
      isIdle: Effect.map(queue.isIdle, (idle) => idle && inflight.size === 0),
      stats: Effect.map(queue.stats, (s) => ({
        ...s,
        reconciles,
        failures,
        parents: store.size(parentType),
        watchers: watches.length,
        watchersReady: watcherStates.filter((x) => x === "watching").length
      }))
    }
    const registry = yield* Effect.serviceOption(Controllers)
    if (registry._tag === "Some") yield* registry.value.register(controller)
    return controller
  })

const replaceNamespace = (
  store: Store.Store,
  type: ResourceType,
  namespace: string,
  objects: ReadonlyArray<KubeObject>
): ReadonlyArray<Store.Change> => {
  const changes: Array<Store.Change> = []
  const fresh = new Set(objects.map((o) => keyOf(refOf(o))))
  for (const o of store.list(type)) {
    if ((o.metadata.namespace ?? "") !== namespace || fresh.has(keyOf(refOf(o)))) continue
    const c = store.remove(type, o)
    if (c !== undefined) changes.push(c)
  }
  for (const o of objects) {
    const c = store.upsert(type, o)
    if (c !== undefined) changes.push(c)
  }
  return changes
}

/**
 * The operator as a Layer: starts with the layer, shuts down gracefully when the layer is released.
 * Several operators compose with `Layer.mergeAll`.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(Layer.launch(Operator.layer(operator).pipe(Layer.provide(KubeCluster.layerFromEnvironment))))
 * ```
 * @since 0.1.0
 * @category running
 */
export const layer = <Spec, Status, E, R>(operator: Operator<Spec, Status, E, R>): Layer.Layer<never, never, Cluster | R> =>
  Layer.effectDiscard(run(operator))
