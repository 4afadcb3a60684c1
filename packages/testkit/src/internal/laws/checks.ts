/**
 * What the laws check once a history has played: pure verdicts over the fake cluster's objects, the TestKit's
 * request log and the journal the instrumented operator kept. The checker calls `sync` itself and compares
 * without the engine's own diff, so a bug there cannot hide here.
 *
 * @internal
 */
import { Cluster, ClusterError, Conditions, Handler, Plan, Resource } from "@kubefx/core"
import { Cause, Effect, Exit, Result, Schema, Stream } from "effect"
import * as FakeCluster from "../../FakeCluster.ts"
import * as TestKit from "../../TestKit.ts"
import { type ChildRef, Violation, type World } from "./world.ts"

const violation = (message: string) => Effect.fail(new Violation({ message }))

const name = (o: Resource.KubeObject) => Resource.keyOf(Resource.refOf(o))
const describe = (o: Resource.KubeObject) => `${o.kind}/${o.metadata.name}`

const sameObject = (a: Resource.KubeObject, b: Resource.KubeObject) =>
  a.apiVersion === b.apiVersion && a.kind === b.kind && a.metadata.name === b.metadata.name &&
  (a.metadata.namespace ?? "") === (b.metadata.namespace ?? "")

/** Every value in `desired` is in `observed` (extra keys in `observed` are server defaults or others' fields). */
const covers = (desired: unknown, observed: unknown): boolean => {
  if (Array.isArray(desired)) {
    return Array.isArray(observed) && desired.length === observed.length && desired.every((d, i) => covers(d, observed[i]))
  }
  if (desired !== null && typeof desired === "object") {
    return observed !== null && typeof observed === "object" && !Array.isArray(observed) &&
      Object.entries(desired).every(([k, v]) => v === undefined || covers(v, (observed as Record<string, unknown>)[k]))
  }
  return desired === observed
}

/** Every object of the operator's child types. */
export const allChildren = (w: World<any, any, any, any>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const out: Array<ChildRef> = []
    for (const c of w.operator.children) for (const o of yield* fake.objects(c.type)) out.push({ type: c.type, object: o })
    return out
  })

const ownedBy = (children: ReadonlyArray<ChildRef>, parent: Resource.KubeObject) =>
  children.filter((c) => Resource.controllerOf(c.object)?.uid === (parent.metadata.uid ?? ""))

/** What `sync` wants for a parent, or why the operator cannot converge it (the engine's condition reason). */
type Verdict =
  | { readonly _tag: "Desired"; readonly children: ReadonlyArray<Plan.DesiredChild> }
  | { readonly _tag: "Fails"; readonly reason: "InvalidSpec" | "SyncFailed" | "InvalidChild"; readonly detail: string }

const what: Record<Extract<Verdict, { _tag: "Fails" }>["reason"], string> = {
  InvalidSpec: "its spec does not decode",
  SyncFailed: "its sync fails",
  InvalidChild: "its sync returns an invalid child"
}

/** Calls `sync` as the engine would, seeing `children`; with `cluster`, the handler gets that Cluster instead. */
const desiredFor = <Spec, Status, E, R>(
  w: World<Spec, Status, E, R>,
  parent: Resource.KubeObject,
  children: ReadonlyArray<Resource.KubeObject>,
  cluster?: Cluster.Cluster["Service"]
): Effect.Effect<Verdict, never, R> =>
  Effect.gen(function*() {
    const op = w.operator
    const spec = Schema.decodeUnknownExit(op.parent.spec)(parent["spec"])
    if (Exit.isFailure(spec)) return { _tag: "Fails", reason: "InvalidSpec", detail: Cause.pretty(spec.cause) } as const
    const status = Schema.decodeUnknownExit(op.parent.status)(parent["status"])
    const { status: _raw, ...rest } = parent
    const request: Handler.SyncRequest<Spec, Status> = {
      parent: { ...rest, spec: spec.value, ...(Exit.isSuccess(status) ? { status: status.value } : {}) } as Resource.CustomObject<Spec, Status>,
      children: Handler.makeChildren(children, parent.metadata.namespace ?? "")
    }
    const run = op.sync(request)
    const response = yield* Effect.exit(cluster === undefined ? run : Effect.provideService(run, Cluster.Cluster, cluster) as typeof run)
    if (Exit.isFailure(response)) return { _tag: "Fails", reason: "SyncFailed", detail: Cause.pretty(response.cause).split("\n")[0]! } as const
    const desired = Plan.desiredChildren(op.name, { object: parent, type: op.parent }, response.value.children, op.children)
    if (Result.isFailure(desired)) return { _tag: "Fails", reason: "InvalidChild", detail: desired.failure.message } as const
    return { _tag: "Desired", children: desired.success } as const
  })

const describeCondition = (c: Resource.Condition | undefined) => (c === undefined ? "absent" : `${c.status} (${c.reason})`)

/**
 * A parent the operator cannot converge has converged when it says so and keeps what it has: ReconcileError is
 * True for the current generation with the engine's reason, and since its sync started failing the operator
 * wrote none of its children (the engine writes nothing then; a handler must not either).
 */
const checkReportsFailure = (
  w: World<any, any, any, any>,
  parent: Resource.KubeObject,
  mine: ReadonlyArray<ChildRef>,
  verdict: Extract<Verdict, { _tag: "Fails" }>
) =>
  Effect.gen(function*() {
    const error = Conditions.get(Conditions.fromStatus(parent["status"]), Conditions.ReconcileError)
    if (error?.status !== "True" || error.reason !== verdict.reason) {
      return yield* violation(
        `${name(parent)} cannot converge (${what[verdict.reason]}: ${verdict.detail}), but its status does not say so: ReconcileError is ${describeCondition(error)}, expected True (${verdict.reason})`
      )
    }
    if (error.observedGeneration !== undefined && error.observedGeneration !== parent.metadata.generation) {
      return yield* violation(`${name(parent)}: ReconcileError reports generation ${error.observedGeneration}, the parent is at ${parent.metadata.generation}`)
    }
    const streak = w.journal.failing.get(parent.metadata.uid ?? "")
    if (verdict.reason !== "SyncFailed" || streak === undefined) return
    const kit = yield* TestKit.TestKit
    const childTypes = new Set(w.operator.children.map((c) => Resource.typeKey(c.type)))
    const at = (resource: string, namespace: string, objectName: string) => `${resource}|${namespace}/${objectName}`
    const had = new Set([...streak.children, ...mine.map((c) => c.object)].map((o) =>
      at(`${o.apiVersion}/${o.kind}`, o.metadata.namespace ?? "", o.metadata.name ?? "")
    ))
    const writes = kit.requests.slice(streak.since).filter((r) =>
      Cluster.writeVerbs.has(r.verb) && childTypes.has(r.resource) && had.has(at(r.resource, r.namespace, r.name))
    )
    if (writes.length > 0) {
      return yield* violation(
        `${name(parent)}: its sync fails, yet the operator wrote to its children meanwhile: ${writes.map((r) => `${r.verb} ${r.resource} ${r.namespace}/${r.name}`).join(", ")}`
      )
    }
  })

/**
 * A converged parent's status is current: observedGeneration is its generation and ReconcileError is not True.
 * When a desired child is held by another owner the engine writes nothing over it and must say so instead.
 */
const checkStatus = (parent: Resource.KubeObject, blocked: ReadonlyArray<Resource.KubeObject>) =>
  Effect.gen(function*() {
    const error = Conditions.get(Conditions.fromStatus(parent["status"]), Conditions.ReconcileError)
    if (blocked.length > 0) {
      if (error?.status === "True" && error.reason === "ChildConflict") return
      return yield* violation(
        `${name(parent)}: ${blocked.map(describe).join(", ")} is held by another owner, but ReconcileError is ${describeCondition(error)}, expected True (ChildConflict)`
      )
    }
    const status = (parent["status"] ?? {}) as { observedGeneration?: number }
    if (status.observedGeneration !== parent.metadata.generation) {
      return yield* violation(`${name(parent)}: status.observedGeneration is ${status.observedGeneration}, generation ${parent.metadata.generation}`)
    }
    if (error?.status === "True") return yield* violation(`${name(parent)} converged but reports ReconcileError: ${error.message}`)
  })

/**
 * A child another writer deleted comes back unless the operator no longer wants it. Whether it does is asked
 * of `sync` as if the child were still there: a sync that wants a child only while it exists never converges
 * back to it, and the plain comparison cannot see that (it compares with what sync wants now, without it).
 */
const checkRecreated = (w: World<any, any, any, any>, parent: Resource.KubeObject, mine: ReadonlyArray<ChildRef>) =>
  Effect.gen(function*() {
    const gone: Array<ChildRef> = []
    for (const t of w.journal.tampered.get(parent.metadata.uid ?? "") ?? []) {
      if (!mine.some((m) => sameObject(m.object, t.object)) && !gone.some((g) => sameObject(g.object, t.object))) gone.push(t)
    }
    if (gone.length === 0) return
    const verdict = yield* desiredFor(w, parent, [...mine, ...gone].map((c) => c.object))
    // A sync that fails when shown the old child has no answer to compare with; the parent converged without it.
    if (verdict._tag === "Fails") return
    const dropped = gone.filter((g) => verdict.children.some((d) => sameObject(d.object, g.object)))
    if (dropped.length > 0) {
      return yield* violation(
        `${name(parent)} did not converge: ${dropped.map((c) => describe(c.object)).join(", ")} was deleted by another writer and never recreated (sync returns it while it exists, and drops it once it is gone)`
      )
    }
  })

/**
 * Convergence: every live parent's children are exactly what `sync` returns now, and its status is current;
 * a parent the operator cannot converge reports it and keeps its children (`checkReportsFailure`). Parents
 * being deleted are the ownership law's concern.
 */
export const checkConverged = <Spec, Status, E, R>(w: World<Spec, Status, E, R>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const children = yield* allChildren(w)
    for (const parent of yield* fake.objects(w.operator.parent)) {
      if (Resource.isDeleting(parent)) continue
      const mine = ownedBy(children, parent)
      const verdict = yield* desiredFor(w, parent, mine.map((c) => c.object))
      if (verdict._tag === "Fails") {
        yield* checkReportsFailure(w, parent, mine, verdict)
        continue
      }
      const problems: Array<string> = []
      const blocked: Array<Resource.KubeObject> = []
      for (const d of verdict.children) {
        const found = mine.find((m) => sameObject(m.object, d.object))
        if (found === undefined) {
          if (children.some((c) => sameObject(c.object, d.object))) blocked.push(d.object)
          else problems.push(`${describe(d.object)} is missing`)
        } else if (d.update !== "onDelete" && !covers(d.object, found.object)) {
          problems.push(`${describe(d.object)} differs from what sync returns`)
        }
      }
      for (const m of mine) {
        if (!verdict.children.some((d) => sameObject(d.object, m.object))) problems.push(`${describe(m.object)} is owned but no longer desired`)
      }
      if (problems.length > 0) return yield* violation(`${name(parent)} did not converge: ${problems.join("; ")}`)
      yield* checkStatus(parent, blocked)
      yield* checkRecreated(w, parent, mine)
    }
  })

/** Ownership while parents live: every child's controller is a parent that exists. */
export const checkOwners = (w: World<any, any, any, any>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const uids = new Set((yield* fake.objects(w.operator.parent)).map((p) => p.metadata.uid))
    for (const c of yield* allChildren(w)) {
      const owner = Resource.controllerOf(c.object)
      if (owner?.kind === w.operator.parent.kind && !uids.has(owner.uid)) {
        return yield* violation(`${c.object.kind} ${name(c.object)} outlived its owner ${owner.name} (${owner.uid})`)
      }
    }
  })

/** Ownership once every parent was deleted and the operator settled: the parents are gone, and so are their children. */
export const checkAllGone = (w: World<any, any, any, any>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const op = w.operator
    for (const p of yield* fake.objects(op.parent)) {
      const finalizers = p.metadata.finalizers ?? []
      return yield* violation(
        finalizers.includes(op.finalizerName)
          ? `${name(p)} was deleted but is still there: its finalizer ${op.finalizerName} was never removed (finalize never answered finalized: true)`
          : `${name(p)} was deleted but is still there (finalizers: ${JSON.stringify(finalizers)})`
      )
    }
    const left = (yield* allChildren(w)).filter((c) => Resource.controllerOf(c.object)?.kind === op.parent.kind)
    if (left.length > 0) return yield* violation(`${left.map((c) => `${c.object.kind} ${name(c.object)}`).join(", ")} left after every parent was deleted`)
  })

const unavailable: Cluster.Cluster["Service"] = (() => {
  const error = new ClusterError.ServerError({
    message: "the server is currently unable to handle the request (injected by the errorSafety law)",
    status: 503,
    reason: "ServiceUnavailable"
  })
  const fail = () => Effect.fail(error)
  return {
    get: fail,
    list: fail,
    watch: () => Stream.fail(error),
    create: fail,
    replace: fail,
    apply: fail,
    patch: fail,
    delete: fail,
    replaceStatus: fail,
    patchStatus: fail
  }
})()

/**
 * errorSafety, for a handler's dependencies: with every API request it makes failing, `sync` must fail rather
 * than answer with fewer children (which kubefx would delete). A sync that makes no requests answers the same.
 */
export const checkFailsWithTheApi = <Spec, Status, E, R>(w: World<Spec, Status, E, R>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const children = yield* allChildren(w)
    for (const parent of yield* fake.objects(w.operator.parent)) {
      if (Resource.isDeleting(parent)) continue
      const seen = ownedBy(children, parent).map((c) => c.object)
      const healthy = yield* desiredFor(w, parent, seen)
      if (healthy._tag === "Fails") continue
      const cut = yield* desiredFor(w, parent, seen, unavailable)
      if (cut._tag === "Fails") continue
      const dropped = healthy.children.filter((d) => !cut.children.some((c) => sameObject(c.object, d.object)))
      if (dropped.length > 0) {
        return yield* violation(
          `${name(parent)}: with every API request failing (503), sync succeeded without ${dropped.map((d) => describe(d.object)).join(", ")}, which kubefx would then delete; a sync whose requests fail must fail`
        )
      }
    }
  })

/** Identity (by uid) of every child, keyed by type and address: what the errorSafety law expects to survive. */
export const snapshotChildren = (w: World<any, any, any, any>) =>
  Effect.map(allChildren(w), (all) => new Map(all.map((c) => [`${Resource.typeKey(c.type)} ${name(c.object)}`, c.object.metadata.uid ?? ""])))

/** errorSafety: while every sync and finalize failed, no child was deleted or replaced. */
export const checkSurvived = (w: World<any, any, any, any>, before: ReadonlyMap<string, string>, since: number) =>
  Effect.gen(function*() {
    const now = yield* snapshotChildren(w)
    const lost = [...before].filter(([k, uid]) => now.get(k) !== uid).map(([k]) => k)
    if (lost.length === 0) return
    const kit = yield* TestKit.TestKit
    const childTypes = new Set(w.operator.children.map((c) => Resource.typeKey(c.type)))
    const writes = kit.requests.slice(since).filter((r) => Cluster.writeVerbs.has(r.verb) && childTypes.has(r.resource))
    return yield* violation(
      `${lost.join(", ")} was deleted or replaced while sync/finalize were failing${
        writes.length === 0 ? "" : ` (the operator's requests: ${writes.map((r) => `${r.verb} ${r.resource} ${r.namespace}/${r.name}`).join(", ")})`
      }`
    )
  })
