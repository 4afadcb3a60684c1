/**
 * One reconcile of one parent: snapshot from the store, decode, finalize or sync, plan, execute, write status.
 * It never fails: every problem becomes an `Outcome` (retry with backoff, wait for a change, or done) and a
 * condition on the parent, and nothing is deleted unless `sync` succeeded and left it out.
 *
 * @since 0.1.0
 */
import { Cause, Data, Duration, Effect, Exit, Result, Schema } from "effect"
import type { ChildConfig } from "./Child.ts"
import { Cluster } from "./Cluster.ts"
import type { ClusterError } from "./ClusterError.ts"
import { retryAfterSeconds } from "./ClusterError.ts"
import * as Conditions from "./Conditions.ts"
import type { Finalize, Sync, SyncRequest } from "./Handler.ts"
import { makeChildren } from "./Handler.ts"
import { deepFreeze } from "./internal/freeze.ts"
import * as Json from "./internal/json.ts"
import * as StatusPruning from "./internal/statusPruning.ts"
import * as Plan from "./Plan.ts"
import type { Condition, CustomObject, CustomResource, KubeObject, ResourceType } from "./Resource.ts"
import { isDeleting, typeKey } from "./Resource.ts"
import type { Store } from "./Store.ts"

/**
 * Why a reconcile did not complete.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReconcileFailure extends Data.TaggedError("ReconcileFailure")<{
  /** Condition reason: `InvalidSpec`, `SyncFailed`, `FinalizeFailed`, `InvalidChild`, `ChildConflict`, `WriteFailed`, `InvalidStatus`. */
  readonly reason: string
  readonly message: string
  readonly retry: boolean
  /** The API server asked to wait this long (429 / 503 Retry-After): the retry is not sooner. */
  readonly retryAfterSeconds?: number
  readonly cause?: unknown
}> {}

/**
 * What the engine does next with a key.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Done"; readonly requeueAfter: Duration.Duration | undefined }
  | { readonly _tag: "Failed"; readonly failure: ReconcileFailure }

/**
 * What a reconcile needs to know about its operator.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReconcilerConfig<Spec, Status, E, R> {
  readonly name: string
  readonly fieldManager: string
  readonly parent: CustomResource<Spec, Status, any, any>
  readonly children: ReadonlyArray<ChildConfig<any>>
  readonly sync: Sync<Spec, Status, E, R>
  readonly finalize: Finalize<Spec, Status, E, R> | undefined
  readonly finalizerName: string
}

/**
 * What a reconcile writes, as it happens: the engine uses it to recognise the watch events of a reconcile's own
 * writes (which can arrive before the write's answer) and to count writes by kind.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteObserver {
  /** `object` is the server's answer (for `delete`, the object as it was before it went). */
  readonly wrote: (kind: WriteKind, type: ResourceType, object: KubeObject) => void
}

/**
 * @since 0.1.0
 * @category models
 */
export type WriteKind = "create" | "apply" | "replace" | "delete" | "status" | "finalizer"

const ignoreWrites: WriteObserver = { wrote: () => {} }

const maxMessage = 4096
const truncate = (s: string): string => (s.length > maxMessage ? `${s.slice(0, maxMessage - 1)}…` : s)

const describeError = (e: unknown): string => {
  if (e !== null && typeof e === "object") {
    const m = (e as { message?: unknown }).message
    const tag = (e as { _tag?: unknown })._tag
    if (typeof m === "string" && m !== "") return typeof tag === "string" ? `${tag}: ${m}` : m
    if (typeof tag === "string") return tag
  }
  return String(e)
}

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findError(cause)
  if (Result.isSuccess(error)) return describeError(error.success)
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return `defect: ${describeError(defect.success)}`
  return Cause.pretty(cause)
}

/** A short, secret-free summary of a status for log lines: scalar fields and the Ready condition. */
const statusSummary = (status: Record<string, unknown>): string => {
  const scalars = Object.entries(status)
    .filter(([k, v]) => k !== "conditions" && (typeof v === "string" || typeof v === "number" || typeof v === "boolean"))
    .map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : v}`)
  const ready = Conditions.get(Conditions.fromStatus(status), Conditions.Ready)
  if (ready !== undefined) scalars.push(`Ready=${ready.status}${ready.status === "True" ? "" : ` (${ready.reason})`}`)
  return scalars.join(" ")
}

const now = Effect.clockWith((c) => c.currentTimeMillis)

const verbs: Record<Plan.Step["_tag"], string> = {
  Create: "creating",
  Apply: "applying",
  Replace: "replacing",
  Recreate: "recreating",
  Delete: "deleting"
}

/**
 * `object` made conditional on there being no object of its name: a resourceVersion no object can have (etcd's
 * revisions are signed 64-bit) is a precondition every existing object fails with 409 Conflict, while an apply
 * that creates ignores it. The same request as the unconditional apply when nothing is there.
 */
const absent = (object: KubeObject): KubeObject => ({ ...object, metadata: { ...object.metadata, resourceVersion: "18446744073709551615" } })

const hasFinalizer = (obj: KubeObject, name: string): boolean => obj.metadata.finalizers?.includes(name) ?? false

const statusObject = (obj: KubeObject): Record<string, unknown> => {
  const s = obj["status"]
  return s !== null && typeof s === "object" && !Array.isArray(s) ? (s as Record<string, unknown>) : {}
}

/**
 * Builds a reconcile function bound to an operator and its store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Spec, Status, E, R>(
  config: ReconcilerConfig<Spec, Status, E, R>,
  store: Store,
  observer: WriteObserver = ignoreWrites
): (key: string) => Effect.Effect<Outcome, never, R | Cluster> => {
  const parentType: ResourceType = config.parent
  const childTypes = new Set(config.children.map((c) => typeKey(c.type)))
  const decodeSpec = Schema.decodeUnknownExit(config.parent.spec)
  const decodeStatus = Schema.decodeUnknownExit(config.parent.status)
  const encodeStatus = Schema.encodeUnknownExit(config.parent.status)

  /** Keeps the store current with a write's answer and tells the observer. */
  const record = (kind: WriteKind, type: ResourceType, answer: KubeObject) => {
    store.upsert(type, answer)
    observer.wrote(kind, type, answer)
  }

  const fail = (reason: string, message: string, retry: boolean, cause?: unknown, retryAfterSeconds?: number) =>
    new ReconcileFailure({
      reason,
      message: truncate(message),
      retry,
      ...(cause === undefined ? {} : { cause }),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds })
    })

  /**
   * Status fields the server dropped from a write (`conditions`, `conditions[].reason`): the CRD's schema does not
   * declare them, so it prunes them from every write. They are left out from then on, or the status would never
   * match and every reconcile would write it again.
   */
  const pruned = new Set<string>()

  /** Writes `status` if it differs from what the parent has; keeps the store current with the result. */
  const writeStatus = (parent: KubeObject, full: Record<string, unknown>) =>
    Effect.gen(function*() {
      const status = StatusPruning.without(full, pruned)
      if (Json.equal(parent["status"] ?? {}, status)) return parent
      const cluster = yield* Cluster
      const written = yield* cluster.replaceStatus(parentType, { ...parent, status }, { fieldManager: config.fieldManager })
      record("status", parentType, written)
      yield* Effect.logDebug(`status updated ${statusSummary(status)}`)
      const dropped = StatusPruning.dropped(status, written["status"]).filter((p) => !pruned.has(p))
      if (dropped.length > 0) {
        for (const p of dropped) pruned.add(p)
        yield* Effect.logWarning(StatusPruning.describe(parent.kind, dropped))
      }
      return written
    })

  const failureStatus = (parent: KubeObject, failure: ReconcileFailure) =>
    Effect.gen(function*() {
      const ts = Conditions.timestamp(yield* now)
      const generation = parent.metadata.generation
      const gen = generation === undefined ? {} : { observedGeneration: generation }
      const current = statusObject(parent)
      let conditions = Conditions.fromStatus(current)
      conditions = Conditions.set(conditions, { type: Conditions.Ready, status: "False", reason: failure.reason, message: failure.message, ...gen }, ts)
      conditions = Conditions.set(conditions, { type: Conditions.ReconcileError, status: "True", reason: failure.reason, message: failure.message, ...gen }, ts)
      return { ...current, conditions }
    })

  /** Records a failure on the parent (best effort: the failure itself is what the caller reports). */
  const reportFailure = (parent: KubeObject, failure: ReconcileFailure) =>
    failureStatus(parent, failure).pipe(
      Effect.flatMap((status) => writeStatus(parent, status)),
      Effect.catch((e: ClusterError) => Effect.logWarning("could not write the failure condition", { error: e.message })),
      Effect.as<Outcome>({ _tag: "Failed", failure })
    )

  const successStatus = (parent: KubeObject, userStatus: unknown) =>
    Effect.gen(function*() {
      const ts = Conditions.timestamp(yield* now)
      const encoded = encodeStatus(userStatus)
      if (Exit.isFailure(encoded)) {
        return yield* fail("InvalidStatus", `sync returned a status that does not match the status Schema: ${describeCause(encoded.cause)}`, true)
      }
      const base = encoded.value !== null && typeof encoded.value === "object" && !Array.isArray(encoded.value)
        ? (encoded.value as Record<string, unknown>)
        : {}
      const existing = Conditions.fromStatus(statusObject(parent))
      const generation = parent.metadata.generation
      const gen = generation === undefined ? {} : { observedGeneration: generation }
      // Conditions the handler returned keep their transition time when unchanged; Ready is the handler's if it set one.
      let conditions: ReadonlyArray<Condition> = []
      for (const c of Conditions.fromStatus(base)) {
        const withGen = c.observedGeneration === undefined ? { ...c, ...gen } : c
        conditions = Conditions.set([...conditions, ...existing.filter((e) => e.type === c.type)], withGen, ts)
          .filter((x, i, all) => all.findIndex((y) => y.type === x.type) === i)
      }
      const carry = (type: string) => existing.filter((e) => e.type === type)
      if (Conditions.get(conditions, Conditions.Ready) === undefined) {
        conditions = Conditions.set([...conditions, ...carry(Conditions.Ready)], { type: Conditions.Ready, status: "True", reason: "Synced", message: "", ...gen }, ts)
      }
      conditions = Conditions.set([...conditions, ...carry(Conditions.ReconcileError)], { type: Conditions.ReconcileError, status: "False", reason: "Synced", message: "", ...gen }, ts)
      return { ...base, ...gen, conditions }
    })

  const request = (parent: KubeObject, spec: Spec): SyncRequest<Spec, Status> => {
    const status = decodeStatus(parent["status"])
    const { status: _raw, ...rest } = parent
    const typed = {
      ...rest,
      spec,
      ...(Exit.isSuccess(status) ? { status: status.value } : {})
    } as CustomObject<Spec, Status>
    const uid = parent.metadata.uid ?? ""
    const observed = store.childrenOf(uid).filter((c) => childTypes.has(typeKey(c.type))).map((c) => c.object)
    // The decoded spec and status are fresh objects: freeze them too, so the whole snapshot is read-only.
    return { parent: deepFreeze(typed), children: makeChildren(observed, parent.metadata.namespace ?? "") }
  }

  /** Runs a handler; a throw before it returns its Effect is a failure of the handler like any other. */
  const runHandler = <A>(what: string, reason: string, handler: () => Effect.Effect<A, E, R>) =>
    Effect.exit(Effect.suspend(handler)).pipe(
      Effect.flatMap((exit) =>
        Exit.isSuccess(exit)
          ? Effect.succeed(exit.value)
          : Effect.fail(fail(reason, `${what} failed: ${describeCause(exit.cause)}`, true, Cause.squash(exit.cause)))
      )
    )

  const patchFinalizers = (parent: KubeObject, finalizers: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const updated = yield* cluster.patch(
        parentType,
        { namespace: parent.metadata.namespace ?? "", name: parent.metadata.name ?? "" },
        { type: "merge", body: { metadata: { finalizers, resourceVersion: parent.metadata.resourceVersion } } },
        { fieldManager: config.fieldManager }
      )
      record("finalizer", parentType, updated)
      yield* Effect.logDebug(finalizers.includes(config.finalizerName) ? `added finalizer ${config.finalizerName}` : `removed finalizer ${config.finalizerName}`)
      return updated
    })

  const writeFailed = (what: string, e: ClusterError) =>
    fail("WriteFailed", `${what}: ${e._tag}: ${e.message}`, true, e, retryAfterSeconds(e))

  /** Fails with a ChildConflict when an object sits where `desired` should be and is not ours. */
  const ensureOwned = (type: ResourceType, desired: KubeObject) =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const existing = yield* cluster.get(type, { namespace: desired.metadata.namespace ?? "", name: desired.metadata.name ?? "" })
      const wanted = desired.metadata.ownerReferences?.find((o) => o.controller === true)
      const verdict = Plan.ownership(existing, wanted?.uid ?? "", config.name)
      if (verdict._tag === "Foreign") return yield* Effect.fail(fail("ChildConflict", verdict.reason, true))
      store.upsert(type, existing)
    })

  /**
   * Deletes a child we own, only if it is still the same object (uid precondition), and records the outcome in
   * the store. Returns the object when it lingers (finalizers, foreground deletion), else undefined.
   */
  const deleteChild = (type: ResourceType, current: KubeObject) =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const uid = current.metadata.uid
      const left = yield* cluster.delete(type, { namespace: current.metadata.namespace ?? "", name: current.metadata.name ?? "" }, {
        propagationPolicy: "Background",
        ...(uid === undefined ? {} : { preconditions: { uid } })
      }).pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
      observer.wrote("delete", type, left ?? current)
      if (left === undefined || left.metadata.deletionTimestamp === undefined) {
        store.remove(type, current)
        return undefined
      }
      store.upsert(type, left)
      return left
    })

  /**
   * What the server made of each child's desired state (keyed by child, with the desired hash it belongs to):
   * learned from the answers to our own writes, or from a dry run when a child looks drifted only because the
   * server normalised it. Lets a resync see such children as up to date and write nothing.
   */
  const normalized = new Map<string, Plan.Normalized>()
  const childKey = (o: KubeObject) => `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name ?? ""}`
  const learn = (desired: KubeObject, answer: KubeObject) => {
    const hash = desired.metadata.annotations?.[Plan.hashAnnotation]
    if (hash === undefined) return
    // Only a child the server normalised needs its normal form kept: for the rest (most) the desired literal
    // itself is what the plan compares, and keeping a copy per child would only cost memory.
    if (Plan.isSubset(desired, answer)) normalized.delete(childKey(desired))
    else normalized.set(childKey(desired), { hash, form: Plan.project(desired, answer) })
  }
  const normalizedOf = (d: Plan.DesiredChild) => normalized.get(childKey(d.object))

  /**
   * For children whose hash matches but whose fields differ from the desired literal, and whose normal form is
   * not known yet (after a restart): ask the server with a dry run of the write the policy would make.
   */
  const learnByDryRun = (desired: ReadonlyArray<Plan.DesiredChild>, observed: ReadonlyArray<{ readonly object: KubeObject }>) =>
    Effect.forEach(desired, (d) =>
      Effect.gen(function*() {
        if (d.update === "onDelete") return
        const known = normalizedOf(d)
        if (known !== undefined && known.hash === d.hash) return
        const current = observed.find((o) => childKey(o.object) === childKey(d.object))?.object
        if (current === undefined || current.metadata.annotations?.[Plan.hashAnnotation] !== d.hash) return
        if (Plan.isSubset(d.object, current)) return
        const cluster = yield* Cluster
        const answer = d.update === "apply"
          ? cluster.apply(d.type, d.object, { fieldManager: config.fieldManager, force: true, dryRun: true })
          : cluster.replace(d.type, {
            ...d.object,
            metadata: { ...d.object.metadata, ...(current.metadata.resourceVersion === undefined ? {} : { resourceVersion: current.metadata.resourceVersion }) }
          }, {
            fieldManager: config.fieldManager,
            dryRun: true
          })
        // A dry run that fails teaches nothing: the plan then sees drift and writes, as it would have.
        const result = yield* Effect.option(answer)
        if (result._tag === "Some") learn(d.object, result.value)
      }), { concurrency: 4, discard: true })

  /** Runs one step; returns the server's answer when the step updated a child that existed. */
  const execute = (step: Plan.Step) =>
    Effect.gen(function*() {
      const target = "object" in step ? step.object : step.current
      yield* Effect.logDebug(`${verbs[step._tag]} ${target.kind} ${target.metadata.namespace ? `${target.metadata.namespace}/` : ""}${target.metadata.name}`)
      const cluster = yield* Cluster
      const name = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`
      switch (step._tag) {
        case "Create": {
          // AlreadyExists: if the object there is ours (a relist from a lagging cache had evicted it), the
          // create's purpose is met and ensureOwned put it back in the store; the next pass updates it if it
          // drifted. If it is not ours, ensureOwned fails with ChildConflict.
          const created = yield* cluster.create(step.type, step.object, { fieldManager: config.fieldManager }).pipe(
            Effect.map((o): KubeObject | undefined => o),
            Effect.catchTag("AlreadyExists", () => Effect.as(ensureOwned(step.type, step.object), undefined))
          )
          if (created !== undefined) {
            record("create", step.type, created)
            learn(step.object, created)
          }
          return undefined
        }
        case "Apply": {
          // The store sees only labelled objects: an unlabelled object of the same name would be taken over by
          // server-side apply. So an apparent creation applies on condition that nothing is there (no read on
          // the happy path), and only when something is does it look at what (ensureOwned) before applying.
          if (step.create) {
            const created = yield* cluster.apply(step.type, absent(step.object), { fieldManager: config.fieldManager, force: true }).pipe(
              Effect.map((o): KubeObject | undefined => o),
              Effect.catchTag("Conflict", () => Effect.succeed(undefined))
            )
            if (created !== undefined) {
              record("apply", step.type, created)
              learn(step.object, created)
              return undefined
            }
            yield* ensureOwned(step.type, step.object).pipe(Effect.catchTag("NotFound", () => Effect.void))
          }
          const applied = yield* cluster.apply(step.type, step.object, { fieldManager: config.fieldManager, force: true })
          record("apply", step.type, applied)
          learn(step.object, applied)
          return step.create ? undefined : applied
        }
        case "Replace": {
          const replaced = yield* cluster.replace(step.type, step.object, { fieldManager: config.fieldManager })
          record("replace", step.type, replaced)
          learn(step.object, replaced)
          return replaced
        }
        case "Recreate": {
          const left = yield* deleteChild(step.type, step.current)
          if (left !== undefined) {
            return yield* Effect.fail(fail("WriteFailed", `${name(step.current)} is being deleted before it is recreated; waiting`, true))
          }
          const created = yield* cluster.create(step.type, step.object, { fieldManager: config.fieldManager })
          record("create", step.type, created)
          learn(step.object, created)
          return undefined
        }
        case "Delete": {
          yield* deleteChild(step.type, step.current)
          normalized.delete(childKey(step.current))
          return undefined
        }
      }
    }).pipe(
      Effect.mapError((e) =>
        e instanceof ReconcileFailure
          ? e
          : writeFailed(`${step._tag.toLowerCase()} ${"object" in step ? step.object.kind : step.current.kind} ${
            ("object" in step ? step.object : step.current).metadata.name
          }`, e)
      )
    )

  const finalizeParent = (parent: KubeObject, finalize: Finalize<Spec, Status, E, R>) =>
    Effect.gen(function*() {
      const spec = decodeSpec(parent["spec"])
      if (Exit.isFailure(spec)) {
        return yield* fail("InvalidSpec", `cannot finalize: spec does not match the ${parent.kind} Schema: ${describeCause(spec.cause)}`, true)
      }
      const response = yield* runHandler("finalize", "FinalizeFailed", () => finalize(request(parent, spec.value)))
      let current = parent
      if (response.status !== undefined) {
        const status = yield* successStatus(current, response.status)
        current = yield* writeStatus(current, status).pipe(Effect.mapError((e) => writeFailed("status", e)))
      }
      if (response.finalized) {
        yield* patchFinalizers(current, (current.metadata.finalizers ?? []).filter((f) => f !== config.finalizerName)).pipe(
          Effect.catchTag("NotFound", () => Effect.void),
          Effect.mapError((e) => writeFailed("remove finalizer", e))
        )
        return { _tag: "Done", requeueAfter: undefined } as Outcome
      }
      return {
        _tag: "Done",
        requeueAfter: Duration.fromInputUnsafe(response.requeueAfter ?? "5 seconds")
      } as Outcome
    })

  const syncParent = (initial: KubeObject) =>
    Effect.gen(function*() {
      let parent = initial
      const spec = decodeSpec(parent["spec"])
      if (Exit.isFailure(spec)) {
        // Not retried: only a new spec can fix it, and a new spec triggers a reconcile.
        return yield* fail("InvalidSpec", `spec does not match the ${parent.kind} Schema: ${describeCause(spec.cause)}`, false)
      }
      if (config.finalize !== undefined && !hasFinalizer(parent, config.finalizerName)) {
        parent = yield* patchFinalizers(parent, [...(parent.metadata.finalizers ?? []), config.finalizerName]).pipe(
          Effect.mapError((e) => writeFailed("add finalizer", e))
        )
      }
      const response = yield* runHandler("sync", "SyncFailed", () => config.sync(request(parent, spec.value)))
      const desired = Plan.desiredChildren(config.name, { object: parent, type: parentType }, response.children, config.children)
      if (Result.isFailure(desired)) return yield* fail("InvalidChild", desired.failure.message, true)
      const uid = parent.metadata.uid ?? ""
      const observed: Array<{ type: ResourceType; object: KubeObject }> = store.childrenOf(uid)
        .filter((c) => childTypes.has(typeKey(c.type)))
      // Objects sitting where a desired child should be, owned by someone else, must be seen to be left alone.
      for (const d of desired.success) {
        const existing = store.get(d.type, `${d.object.metadata.namespace ? `${d.object.metadata.namespace}/` : ""}${d.object.metadata.name}`)
        if (existing !== undefined && !observed.some((o) => o.object === existing)) observed.push({ type: d.type, object: existing })
      }
      yield* learnByDryRun(desired.success, observed)
      const plan = Plan.make(uid, desired.success, observed, normalizedOf)
      // Deletes come last, and only when everything else landed: a rename whose create fails must leave the
      // old child serving, and a blocked child must not lose the one it replaces.
      const writes = plan.steps.filter((s) => s._tag !== "Delete")
      const deletes = plan.steps.filter((s) => s._tag === "Delete")
      const run = (steps: ReadonlyArray<Plan.Step>) => Effect.forEach(steps, (step) => Effect.result(execute(step)), { concurrency: 4 })
      const written = yield* run(writes)
      const deleted = plan.blocked.length === 0 && written.every(Result.isSuccess) ? yield* run(deletes) : []
      const results = [...written, ...deleted]
      const failed = results.filter(Result.isFailure).map((r) => r.failure)
      if (failed.length > 0) {
        const reason = failed.every((f) => f.reason === "ChildConflict") ? "ChildConflict" : "WriteFailed"
        const waits = failed.map((f) => f.retryAfterSeconds).filter((n): n is number => n !== undefined)
        return yield* fail(reason, failed.map((f) => f.message).join("; "), true, undefined, waits.length > 0 ? Math.max(...waits) : undefined)
      }
      if (plan.blocked.length > 0) {
        return yield* fail("ChildConflict", plan.blocked.map((b) => b.reason).join("; "), true)
      }
      const status = yield* successStatus(parent, response.status)
      yield* writeStatus(parent, status).pipe(Effect.mapError((e) => writeFailed("status", e)))
      // An update's answer can carry a change someone else made after our snapshot (a Deployment became
      // available): its watch events then arrive as old news and trigger nothing, so look again now.
      const sawLess = written.some((r) => {
        if (Result.isFailure(r) || r.success === undefined) return false
        const after = r.success
        const before = observed.find((o) =>
          o.object.kind === after.kind && o.object.apiVersion === after.apiVersion && o.object.metadata.name === after.metadata.name
        )
        return before !== undefined && !Json.equal(before.object["status"] ?? {}, after["status"] ?? {})
      })
      const requeueAfter = response.requeueAfter === undefined ? undefined : Duration.fromInputUnsafe(response.requeueAfter)
      return { _tag: "Done", requeueAfter: sawLess ? Duration.zero : requeueAfter } as Outcome
    })

  /**
   * A parent that left the operator's selection (relabelled out of `parentSelector`) still carries our
   * finalizer: take it off, or nothing would ever let the parent be deleted. Its children stay, owned by it.
   */
  const release = (key: string, departed: KubeObject) =>
    Effect.gen(function*() {
      if (hasFinalizer(departed, config.finalizerName)) {
        const released = yield* patchFinalizers(departed, (departed.metadata.finalizers ?? []).filter((f) => f !== config.finalizerName)).pipe(
          Effect.catchTag("NotFound", () => Effect.succeed(undefined))
        )
        // patchFinalizers wrote the answer through to the store, but the parent is no longer ours to cache.
        if (released !== undefined) {
          store.remove(parentType, released)
          yield* Effect.logInfo("the parent left this operator's selection: released it")
        }
      }
      store.forget(parentType, key)
    }).pipe(
      Effect.as<Outcome>({ _tag: "Done", requeueAfter: undefined }),
      Effect.catch((e: ClusterError) => Effect.succeed<Outcome>({ _tag: "Failed", failure: writeFailed("release the parent", e) }))
    )

  return (key: string) =>
    Effect.gen(function*() {
      const parent = store.get(parentType, key)
      if (parent === undefined) {
        const departed = store.departed(parentType, key)
        return departed === undefined ? ({ _tag: "Done", requeueAfter: undefined } as Outcome) : yield* release(key, departed)
      }
      const run = isDeleting(parent)
        ? (config.finalize !== undefined && hasFinalizer(parent, config.finalizerName)
          ? finalizeParent(parent, config.finalize)
          : Effect.succeed<Outcome>({ _tag: "Done", requeueAfter: undefined }))
        : syncParent(parent)
      return yield* run.pipe(
        Effect.catch((failure: ReconcileFailure) => reportFailure(store.get(parentType, key) ?? parent, failure))
      )
    }).pipe(
      Effect.annotateLogs({ operator: config.name, parent: key }),
      Effect.withLogSpan("reconcile")
    )
}
