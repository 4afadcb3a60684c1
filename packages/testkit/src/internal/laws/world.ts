/**
 * One history's world: the operator under test, instrumented so the checks can see what its handlers did, and
 * the player that turns steps into requests from users (parents), another writer (children) and the API
 * server (faults).
 *
 * @internal
 */
import { Cluster, type Handler, type Operator, Resource } from "@kubefx/core"
import { Cause, Clock, Data, Duration, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import * as FakeCluster from "../../FakeCluster.ts"
import * as TestKit from "../../TestKit.ts"
import type { FaultStep, Step } from "./history.ts"

/** A check found the law broken; `Laws` names the law and adds the history. */
export class Violation extends Data.TaggedError("Violation")<{ readonly message: string }> {}

/** A child and its type. */
export interface ChildRef {
  readonly type: Resource.ResourceType
  readonly object: Resource.KubeObject
}

/** What the instrumented operator and the player saw, for the checks. Keys are parent uids. */
export interface Journal {
  /** Parents whose sync keeps failing: where that began in TestKit's request log, and the children they had then. */
  readonly failing: Map<string, { readonly since: number; readonly children: ReadonlyArray<Resource.KubeObject> }>
  /** Children another writer deleted (tamper steps), per parent. */
  readonly tampered: Map<string, Array<ChildRef>>
  /** Handler runs per parent at the current instant of simulated time, and what the last sync answered. */
  readonly pace: Map<string, { readonly at: number; readonly runs: number; readonly requeueAfter?: Duration.Input | undefined }>
  /** Set once a handler ran `hotLoopBudget` times for one parent without simulated time passing. */
  hotLoop: string | undefined
  /** The errorSafety law's failing phase: every sync and finalize fails. */
  failAll: boolean
}

/** Everything a law needs to run one history. */
export interface World<Spec, Status, E, R> {
  readonly operator: Operator.Operator<Spec, Status, E, R>
  readonly names: ReadonlyArray<string>
  readonly namespace: string
  readonly encodeSpec: (spec: Spec) => unknown
  readonly journal: Journal
}

export const makeJournal = (): Journal => ({ failing: new Map(), tampered: new Map(), pace: new Map(), hotLoop: undefined, failAll: false })

/**
 * Handler runs for one parent at one instant of simulated time before the checker calls it a hot loop. A
 * converging reconcile triggers a few more (its own writes come back as watch events); only a loop that never
 * waits for time (`requeueAfter: 0`, children that change on every sync) comes near this.
 */
export const hotLoopBudget = 200

const keyOf = (parent: Resource.KubeObject) => Resource.keyOf(Resource.refOf(parent))

/**
 * The operator as the laws run it. Every sync is watched: when a parent's sync starts failing, where that
 * began is noted (convergence then checks the operator left its children alone); a handler that runs
 * `hotLoopBudget` times for a parent without time passing is stopped and reported (TestKit's own hot-loop
 * detection counts rounds of its settle loop, and needs over a minute of real time against a loop this fast).
 * In the errorSafety law's failing phase the operator's own sync still runs, so whatever it does while failing
 * is seen, and then it fails regardless. Its finalize does not run then: a finalize may delete children on
 * purpose, in order, before its parent goes.
 */
export const instrument = <Spec, Status, E, R>(
  w: World<Spec, Status, E, R>,
  kit: TestKit.TestKit["Service"],
  fake: FakeCluster.FakeCluster["Service"]
): Operator.Operator<Spec, Status, E, R> => {
  const { journal, operator } = w
  const paced = (req: Handler.SyncRequest<Spec, Status>, handler: string) =>
    Effect.gen(function*() {
      // Once stopped, stays stopped: the engine backs off and the history settles, to be reported.
      if (journal.hotLoop !== undefined) return yield* Effect.die(new Error("stopped by the law checker: hot loop"))
      const uid = req.parent.metadata.uid ?? ""
      // A parent the cluster no longer has as seen (deleted or changed while the parent watch was down) is the
      // engine working from a stale cache, not the handler looping: with the parent gone, the child it recreates
      // is garbage-collected at once and comes back as an event, as fast as the engine can go, until the watch
      // reconnects. That is not counted.
      const current = (yield* fake.objects(operator.parent)).find((p) => p.metadata.uid === uid)
      if (current?.metadata.resourceVersion !== req.parent.metadata.resourceVersion) return
      const now = yield* Clock.currentTimeMillis
      const last = journal.pace.get(uid)
      const runs = last !== undefined && last.at === now ? last.runs + 1 : 1
      journal.pace.set(uid, { ...last, at: now, runs })
      if (runs <= hotLoopBudget) return
      const asked = last?.requeueAfter === undefined ? "" : `; its last answer asked to sync again after ${Duration.toMillis(Duration.fromInputUnsafe(last.requeueAfter))} ms`
      journal.hotLoop ??= `hot loop: ${handler} ran ${hotLoopBudget} times for ${keyOf(req.parent)} without simulated time passing${asked}`
      return yield* Effect.die(new Error("stopped by the law checker: hot loop"))
    })
  const sync: Handler.Sync<Spec, Status, E, R> = (req) =>
    Effect.gen(function*() {
      yield* paced(req, "sync")
      const uid = req.parent.metadata.uid ?? ""
      const since = kit.requests.length
      const exit = yield* Effect.exit(operator.sync(req))
      if (Exit.isSuccess(exit) && !journal.failAll) {
        journal.failing.delete(uid)
        const pace = journal.pace.get(uid)
        if (pace !== undefined) journal.pace.set(uid, { ...pace, requeueAfter: exit.value.requeueAfter })
        return exit.value
      }
      const interrupted = Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
      if (!interrupted && !journal.failing.has(uid)) journal.failing.set(uid, { since, children: req.children.all })
      if (journal.failAll) return yield* Effect.die(new Error("sync fails (law errorSafety)"))
      return yield* exit
    })
  const own = operator.finalize
  const finalize: Handler.Finalize<Spec, Status, E, R> | undefined = own === undefined ? undefined : (req) =>
    Effect.gen(function*() {
      yield* paced(req, "finalize")
      if (journal.failAll) return yield* Effect.die(new Error("finalize fails (law errorSafety)"))
      return yield* own(req)
    })
  return { ...operator, sync, finalize }
}

const faultError = (e: Extract<FaultStep, { kind: "error" }>["error"]): FakeCluster.FaultError =>
  e === "conflict"
    ? FakeCluster.errors.conflict()
    : e === "tooManyRequests"
    ? FakeCluster.errors.tooManyRequests(1)
    : e === "internalError"
    ? FakeCluster.errors.internalError()
    : e === "unavailable"
    ? FakeCluster.errors.unavailable()
    : FakeCluster.errors.timeout("5 seconds")

const parentObject = <Spec>(w: World<Spec, any, any, any>, i: number, spec: Spec): Resource.KubeObject => ({
  apiVersion: w.operator.parent.apiVersion,
  kind: w.operator.parent.kind,
  metadata: { name: w.names[i]!, ...(w.operator.parent.namespaced ? { namespace: w.namespace } : {}) },
  spec: w.encodeSpec(spec)
})

const address = (w: World<any, any, any, any>, i: number) => ({
  ...(w.operator.parent.namespaced ? { namespace: w.namespace } : {}),
  name: w.names[i]!
})

/**
 * Runs one of the test's own requests. They meet the injected faults too (a timeout hangs on the TestClock), so
 * the clock moves while one is pending, or the history would wait for itself. `None` when it failed.
 */
const pumped = <A, E>(e: Effect.Effect<A, E>): Effect.Effect<Option.Option<A>> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.option(e))
    for (let i = 0; i < 120 && fiber.pollUnsafe() === undefined; i++) {
      for (let j = 0; j < 8; j++) yield* Effect.yieldNow
      if (fiber.pollUnsafe() === undefined) yield* TestClock.adjust("1 second")
    }
    const exit = fiber.pollUnsafe()
    if (exit === undefined) {
      yield* Fiber.interrupt(fiber)
      return Option.none()
    }
    return Exit.isSuccess(exit) ? exit.value : Option.none()
  })

/** Plays one step as a user (parents) or another writer (children). Failures of the step itself are ignored: a step may be invalid now. */
export const play = <Spec>(w: World<Spec, any, any, any>, step: Step<Spec>) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    const fake = yield* FakeCluster.FakeCluster
    const ignore = <A, E>(e: Effect.Effect<A, E>) => Effect.asVoid(pumped(e))
    switch (step.op) {
      case "create":
        return yield* ignore(fake.seed(w.operator.parent, [parentObject(w, step.parent, step.spec)]))
      case "update":
        return yield* ignore(
          cluster.patch(w.operator.parent, address(w, step.parent), { type: "merge", body: { spec: w.encodeSpec(step.spec) } }).pipe(
            Effect.catchTag("Invalid", () =>
              // A merge patch cannot remove keys it does not name: replace the spec wholesale instead.
              Effect.flatMap(cluster.get(w.operator.parent, address(w, step.parent)), (current) =>
                cluster.replace(w.operator.parent, { ...current, spec: w.encodeSpec(step.spec) })))
          )
        )
      case "delete":
        return yield* ignore(cluster.delete(w.operator.parent, address(w, step.parent)))
      case "tamper": {
        const parent = yield* pumped(cluster.get(w.operator.parent, address(w, step.parent)))
        if (parent._tag === "None") return
        const uid = parent.value.metadata.uid ?? ""
        const owned: Array<ChildRef> = []
        for (const c of w.operator.children) {
          for (const o of yield* fake.objects(c.type)) {
            if (Resource.controllerOf(o)?.uid === uid) owned.push({ type: c.type, object: o })
          }
        }
        const target = owned[step.child % Math.max(1, owned.length)]
        if (target === undefined) return
        const at = { namespace: target.object.metadata.namespace ?? "", name: target.object.metadata.name ?? "" }
        if (step.how === "delete") {
          const deleted = yield* pumped(cluster.delete(target.type, at))
          if (deleted._tag === "Some") w.journal.tampered.set(uid, [...(w.journal.tampered.get(uid) ?? []), target])
          return
        }
        // Another writer replaces everything but identity and metadata: every declared field must come back.
        const stripped: Resource.KubeObject = { apiVersion: target.object.apiVersion, kind: target.object.kind, metadata: target.object.metadata }
        return yield* ignore(cluster.replace(target.type, stripped, { fieldManager: "tamperer" }))
      }
      case "advance":
        return yield* TestClock.adjust(`${step.seconds} seconds`)
      case "settle":
        return yield* Effect.ignore(TestKit.settle({ horizon: "1 minute" }))
      case "fault": {
        const f = step.fault
        switch (f.kind) {
          case "error":
            return yield* fake.failNext({ verb: f.verb, times: f.times, error: faultError(f.error) })
          case "dropWatches":
            return yield* fake.dropWatches({ error: true })
          case "compact":
            return yield* fake.compact
          case "restart":
            return yield* fake.restart
        }
      }
    }
  })
