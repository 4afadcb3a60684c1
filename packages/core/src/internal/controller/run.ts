/**
 * The wiring of one controller: watches → store → trigger → work queue → workers → reconcile, plus resync and
 * registration. Each stage is its own module; this file only connects them.
 */
import { Effect, type Scope } from "effect"
import type { Cluster } from "../../Cluster.ts"
import { type Controller, type ControllerConfig, Controllers } from "../../Controller.ts"
import * as Reconciler from "../../Reconciler.ts"
import { keyOf, refOf, type ResourceType } from "../../Resource.ts"
import * as Store from "../../Store.ts"
import * as Trigger from "../../Trigger.ts"
import * as WorkQueue from "../../WorkQueue.ts"
import * as Handle from "./handle.ts"
import * as Retry from "./retry.ts"
import * as Watches from "./watches.ts"
import * as Workers from "./workers.ts"

export const run = <Spec, Status, E, R>(
  config: ControllerConfig<Spec, Status, E, R>
): Effect.Effect<Controller, never, Scope.Scope | Cluster | R> =>
  Effect.gen(function*() {
    const store = Store.make()
    const queue = yield* WorkQueue.make
    const parentType: ResourceType = config.parent
    const counters: Handle.Counters = { reconciles: 0, failures: 0 }

    const enqueue = (changes: ReadonlyArray<Store.Change>) =>
      Effect.forEach(changes, (change) => Effect.forEach(Trigger.keysFor(parentType, change), (key) => queue.add(key)), { discard: true })
    const watches = yield* Watches.start(Watches.plan(config), store, enqueue)

    const workers = yield* Workers.start({
      concurrency: config.maxConcurrency,
      queue,
      ready: watches.synced,
      handle: Handle.make({
        operator: config.name,
        reconcile: Reconciler.make(config, store),
        queue,
        retry: Retry.make(config.retry),
        counters
      }),
      shutdownTimeout: config.shutdownTimeout
    })

    // Resync: every parent again at low priority, behind fresh events.
    yield* Effect.gen(function*() {
      yield* watches.synced
      while (true) {
        yield* Effect.sleep(config.resyncPeriod)
        for (const p of store.list(parentType)) yield* queue.add(keyOf(refOf(p)), { priority: "low" })
      }
    }).pipe(Effect.forkScoped)

    const controller: Controller = {
      name: config.name,
      synced: watches.synced,
      hasSynced: watches.hasSynced,
      isIdle: Effect.map(queue.isIdle, (idle) => idle && workers.inflight() === 0),
      stats: Effect.map(queue.stats, (s) => ({
        ...s,
        reconciles: counters.reconciles,
        failures: counters.failures,
        parents: store.size(parentType),
        watchers: watches.count,
        watchersReady: watches.ready()
      }))
    }
    const registry = yield* Effect.serviceOption(Controllers)
    if (registry._tag === "Some") yield* registry.value.register(controller)
    return controller
  }).pipe(Effect.annotateLogs({ operator: config.name }))
