/**
 * The wiring of one controller: watches → store → trigger → work queue → workers → reconcile, plus resync and
 * registration. Each stage is its own module; this file only connects them.
 *
 * The watches and the store live as long as the controller. The queue, the workers and the resync form a *term*:
 * without leader election one term runs for the controller's whole life; with it, a term runs each time this
 * replica is elected, behind the election's write fence, and starts with every parent the (always warm) cache
 * knows. A replica that loses the Lease ends its term (its reconciles' writes are refused from the moment of loss)
 * and campaigns again.
 */
import { Duration, Effect, type Scope } from "effect"
import type { Cluster } from "../../Cluster.ts"
import { type Controller, type ControllerConfig, Controllers } from "../../Controller.ts"
import { LeadershipLost } from "../../LeaderElection.ts"
import * as Reconciler from "../../Reconciler.ts"
import { keyOf, refOf, type ResourceType } from "../../Resource.ts"
import * as Store from "../../Store.ts"
import * as Trigger from "../../Trigger.ts"
import * as WorkQueue from "../../WorkQueue.ts"
import * as Activity from "./activity.ts"
import * as Echoes from "./echoes.ts"
import * as Election from "./election.ts"
import * as Fence from "./fence.ts"
import * as Handle from "./handle.ts"
import * as Retry from "./retry.ts"
import * as Watches from "./watches.ts"
import * as Workers from "./workers.ts"

export interface Options {
  /** Elect a leader among replicas; the Lease is named after the operator unless `name` says otherwise. */
  readonly leaderElection?: (Omit<Election.Options, "name"> & { readonly name?: string | undefined }) | undefined
}

interface Term {
  readonly queue: WorkQueue.WorkQueue
  readonly workers: Workers.Workers
}

/** How often the Info line with the counts of reconciles and writes is logged (when there were any). */
const activityPeriod = Duration.seconds(30)

const noWork: WorkQueue.Stats = { queued: 0, processing: 0, delayed: 0, nextDueInMillis: undefined }

/**
 * A reconcile that failed because its term ended is reported as `LeadershipLost`, not retried: its writes were
 * refused, and the next leader reconciles the parent anyway.
 */
const fenced = <R>(fence: Fence.Fence, reconcile: (key: string) => Effect.Effect<Reconciler.Outcome, never, R>) => (key: string) =>
  Effect.flatMap(reconcile(key), (outcome) =>
    outcome._tag === "Done"
      ? Effect.succeed(outcome)
      : Effect.map(Fence.refusal(fence), (refused): Reconciler.Outcome => {
        if (refused === undefined) return outcome
        const message = `this replica no longer leads (Lease ${fence.lease}: ${refused}), so its writes were refused: ${outcome.failure.message}`
        return {
          _tag: "Failed",
          failure: new Reconciler.ReconcileFailure({ reason: "LeadershipLost", message, retry: false, cause: new LeadershipLost({ message }) })
        }
      }))

export const run = <Spec, Status, E, R>(
  config: ControllerConfig<Spec, Status, E, R>,
  options: Options = {}
): Effect.Effect<Controller, never, Scope.Scope | Cluster | R> =>
  Effect.gen(function*() {
    const store = Store.make()
    const parentType: ResourceType = config.parent
    const counters = Activity.make()
    let term: Term | undefined
    const echoes = Echoes.make(parentType)

    // Between terms nothing is queued: the next term starts from the store. A parent being reconciled holds its
    // changes until it ends (echoes.ts).
    const enqueue = (changes: ReadonlyArray<Store.Change>) =>
      Effect.suspend(() => {
        const current = term
        if (current === undefined) return Effect.void
        return Effect.forEach(changes, (change) =>
          Effect.forEach(Trigger.keysFor(parentType, change), (key) => echoes.hold(key, change) ? Effect.void : current.queue.add(key)), {
            discard: true
          })
      })
    const watches = yield* Watches.start(Watches.plan(config), store, enqueue)

    const startTerm = Effect.gen(function*() {
      yield* Effect.addFinalizer(() => Effect.sync(() => { term = undefined }))
      const fence = yield* Effect.serviceOption(Fence.CurrentFence)
      const reconcile = Reconciler.make(config, store, Activity.counting(counters, echoes.observer))
      const queue = yield* WorkQueue.make
      const workers = yield* Workers.start({
        concurrency: config.maxConcurrency,
        queue,
        ready: watches.synced,
        handle: Handle.make({
          operator: config.name,
          reconcile: fence._tag === "Some" ? fenced(fence.value, reconcile) : reconcile,
          queue,
          retry: Retry.make(config.retry),
          counters,
          echoes
        }),
        shutdownTimeout: config.shutdownTimeout
      })
      term = { queue, workers }
      for (const p of store.list(parentType)) yield* queue.add(keyOf(refOf(p)))
      yield* Effect.forkScoped(Activity.report(counters, activityPeriod))

      // Resync: every parent again at low priority, behind fresh events.
      yield* Effect.gen(function*() {
        yield* watches.synced
        while (true) {
          yield* Effect.sleep(config.resyncPeriod)
          for (const p of store.list(parentType)) yield* queue.add(keyOf(refOf(p)), { priority: "low" })
        }
      }).pipe(Effect.forkScoped)
    })

    const election = options.leaderElection
    if (election === undefined) {
      yield* startTerm
    } else {
      // Resolved once (invalid settings die here, at start), so the replica keeps its identity from one campaign to the next.
      const settings = yield* Election.resolve({ ...election, name: election.name ?? config.name })
      yield* Election.lead(settings, (reason) => new LeadershipLost({ message: reason }))(
        Effect.scoped(Effect.andThen(startTerm, Effect.never))
      ).pipe(
        Effect.catchTag("LeadershipLost", () => Effect.logInfo("standing by; campaigning again")),
        Effect.forever,
        Effect.forkScoped
      )
    }

    const controller: Controller = {
      name: config.name,
      synced: watches.synced,
      hasSynced: watches.hasSynced,
      isIdle: Effect.suspend(() => {
        const current = term
        return current === undefined
          ? Effect.succeed(true)
          : Effect.map(current.queue.isIdle, (idle) => idle && current.workers.inflight() === 0)
      }),
      stats: Effect.suspend(() => Effect.map(term?.queue.stats ?? Effect.succeed(noWork), (s) => ({
        ...s,
        reconciles: counters.reconciles,
        failures: counters.failures,
        writes: { ...counters.writes },
        parents: store.size(parentType),
        watchers: watches.count,
        watchersReady: watches.ready(),
        watchProblems: watches.problems()
      })))
    }
    const registry = yield* Effect.serviceOption(Controllers)
    if (registry._tag === "Some") yield* registry.value.register(controller)
    return controller
  }).pipe(Effect.annotateLogs({ operator: config.name }))
