/**
 * The plan: what to write so the cluster matches what `sync` returned. Pure data, computed from the
 * desired children and the observed ones, so every decision is testable without a cluster.
 *
 * Change detection uses two facts: a hash of the desired child, stored on the child as an annotation
 * (catches fields removed from the desired state, which a subset check cannot see), and a subset check of
 * the desired child against the observed one (catches other writers changing fields we declare). Server
 * defaults and fields owned by others are extra keys in the observed child and never count as drift.
 *
 * @since 0.1.0
 */
import { Data, Result } from "effect"
import type { ChildConfig, UpdatePolicy } from "./Child.ts"
import type { KubeObject, OwnerReference, ResourceType } from "./Resource.ts"
import { controllerOf, typeKey } from "./Resource.ts"
import * as Json from "./internal/json.ts"

/**
 * Label set on every child: lets the child watches select only this operator's objects.
 *
 * @since 0.1.0
 * @category constants
 */
export const operatorLabel = "kubefx.io/operator"

/**
 * Annotation holding the hash of the desired child last written.
 *
 * @since 0.1.0
 * @category constants
 */
export const hashAnnotation = "kubefx.io/desired-hash"

/**
 * A desired child, normalized: namespace, owner reference, tracking label and hash are set.
 *
 * @since 0.1.0
 * @category models
 */
export interface DesiredChild {
  readonly type: ResourceType
  readonly update: UpdatePolicy
  readonly object: KubeObject
  readonly hash: string
}

/**
 * One write.
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | { readonly _tag: "Create"; readonly type: ResourceType; readonly object: KubeObject }
  /** `create`: the child was not observed, so the executor must make sure it does not exist unowned. */
  | { readonly _tag: "Apply"; readonly type: ResourceType; readonly object: KubeObject; readonly create: boolean }
  | { readonly _tag: "Replace"; readonly type: ResourceType; readonly object: KubeObject; readonly current: KubeObject }
  | { readonly _tag: "Recreate"; readonly type: ResourceType; readonly object: KubeObject; readonly current: KubeObject }
  | { readonly _tag: "Delete"; readonly type: ResourceType; readonly current: KubeObject }

/**
 * A desired child that cannot be written because an object of that name exists and is not ours.
 *
 * @since 0.1.0
 * @category models
 */
export interface Blocked {
  readonly type: ResourceType
  readonly object: KubeObject
  readonly reason: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Plan {
  readonly steps: ReadonlyArray<Step>
  readonly blocked: ReadonlyArray<Blocked>
}

/**
 * A child returned by `sync` that kubefx refuses to write. Nothing is written for the whole response.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidChild extends Data.TaggedError("InvalidChild")<{ readonly message: string }> {}

/**
 * @since 0.1.0
 * @category models
 */
export interface ParentInfo {
  readonly object: KubeObject
  readonly type: ResourceType
}

const childId = (type: ResourceType, obj: KubeObject): string =>
  `${typeKey(type)}|${obj.metadata.namespace ?? ""}|${obj.metadata.name ?? ""}`

const describe = (obj: KubeObject): string =>
  `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata.name ?? "<no name>"}`

/**
 * The controller owner reference kubefx puts on every child of `parent`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ownerReference = (parent: KubeObject): OwnerReference => ({
  apiVersion: parent.apiVersion,
  kind: parent.kind,
  name: parent.metadata.name ?? "",
  uid: parent.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: true
})

/**
 * Checks and normalizes the children a `sync` returned: each must be of a declared child type, named, in the
 * parent's namespace (owner references cannot cross namespaces) and unique.
 *
 * @since 0.1.0
 * @category constructors
 */
export const desiredChildren = (
  operatorName: string,
  parent: ParentInfo,
  children: ReadonlyArray<KubeObject>,
  configs: ReadonlyArray<ChildConfig<any>>
): Result.Result<ReadonlyArray<DesiredChild>, InvalidChild> => {
  const out: Array<DesiredChild> = []
  const seen = new Set<string>()
  const parentNs = parent.object.metadata.namespace ?? ""
  for (const child of children) {
    const config = configs.find((c) => c.type.apiVersion === child.apiVersion && c.type.kind === child.kind)
    if (config === undefined) {
      return Result.fail(
        new InvalidChild({
          message: `sync returned a ${child.apiVersion} ${child.kind}, which is not among the operator's child types (${
            configs.map((c) => typeKey(c.type)).join(", ") || "none"
          })`
        })
      )
    }
    const name = child.metadata?.name
    if (typeof name !== "string" || name === "") {
      return Result.fail(
        new InvalidChild({ message: `sync returned a ${child.kind} without metadata.name (children need stable names)` })
      )
    }
    const refused = refuse(child, name, parent.object)
    if (refused !== undefined) return Result.fail(new InvalidChild({ message: refused }))
    let namespace = ""
    if (config.type.namespaced) {
      namespace = child.metadata.namespace ?? parentNs
      if (namespace === "") {
        return Result.fail(new InvalidChild({ message: `${child.kind} ${name} needs a namespace (the parent is cluster-scoped)` }))
      }
      if (parent.type.namespaced && namespace !== parentNs) {
        return Result.fail(
          new InvalidChild({
            message: `${child.kind} ${namespace}/${name} is outside the parent's namespace ${parentNs}; owner references cannot cross namespaces`
          })
        )
      }
    } else if (parent.type.namespaced) {
      return Result.fail(
        new InvalidChild({ message: `${child.kind} ${name} is cluster-scoped and cannot be owned by a namespaced parent` })
      )
    }
    const object = normalize(operatorName, parent.object, child, namespace)
    const id = childId(config.type, object)
    if (seen.has(id)) {
      return Result.fail(new InvalidChild({ message: `sync returned ${describe(object)} twice` }))
    }
    seen.add(id)
    const text = Json.canonical(object)
    if (text.length > maxChildBytes) {
      return Result.fail(new InvalidChild({ message: `${describe(object)} is too large (${text.length} bytes of JSON; etcd stores at most about ${maxChildBytes})` }))
    }
    const hash = Json.hashText(text)
    out.push({
      type: config.type,
      update: config.update,
      hash,
      object: withAnnotation(object, hashAnnotation, hash)
    })
  }
  return Result.succeed(out)
}

/** etcd refuses objects over 1.5 MiB; a child that large fails every write, so it is refused before any. */
const maxChildBytes = 1_500_000
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** Why a child must not be written at all, found before anything of the response is (or undefined). */
const refuse = (child: KubeObject, name: string, parent: KubeObject): string | undefined => {
  const what = `${child.kind} ${name}`
  if (name.length > 253 || !dnsSubdomain.test(name)) {
    return `${what}: ${JSON.stringify(name)} is not a valid name (lower-case letters, digits, '-' and '.', at most 253 characters)`
  }
  for (const ref of child.metadata.ownerReferences ?? []) {
    if (ref.controller === true && ref.uid !== parent.metadata.uid) {
      return `${what} sets a controller ownerReference to ${ref.kind} ${ref.name}: kubefx makes the parent its controller, so a child cannot name another`
    }
    const missing = (["apiVersion", "kind", "name", "uid"] as const).filter((k) => typeof ref[k] !== "string" || ref[k] === "")
    if (missing.length > 0) return `${what} has an ownerReference without ${missing.join(", ")} (the API server would refuse it)`
  }
  return undefined
}

const normalize = (operatorName: string, parent: KubeObject, child: KubeObject, namespace: string): KubeObject => {
  const { status: _status, ...rest } = child
  const {
    resourceVersion: _rv,
    uid: _uid,
    generation: _g,
    creationTimestamp: _c,
    managedFields: _m,
    deletionTimestamp: _d,
    ...meta
  } = child.metadata
  const owner = ownerReference(parent)
  const others = (meta.ownerReferences ?? []).filter((o) => o.controller !== true && o.uid !== owner.uid)
  const annotations = { ...meta.annotations }
  delete annotations[hashAnnotation]
  return {
    ...rest,
    metadata: {
      ...meta,
      ...(namespace === "" ? {} : { namespace }),
      labels: { ...meta.labels, [operatorLabel]: operatorName },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ownerReferences: [...others, owner]
    }
  }
}

const withAnnotation = (obj: KubeObject, key: string, value: string): KubeObject => ({
  ...obj,
  metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [key]: value } }
})

/**
 * Whether every value in `desired` is present and equal in `observed`. Extra keys in `observed` (server
 * defaults, other writers' fields) are ignored; lists must have the same length.
 *
 * @since 0.1.0
 * @category utils
 */
export const isSubset = (desired: unknown, observed: unknown): boolean => {
  if (desired === observed) return true
  if (Array.isArray(desired)) {
    return Array.isArray(observed) && observed.length === desired.length &&
      desired.every((d, i) => isSubset(d, observed[i]))
  }
  if (desired !== null && typeof desired === "object") {
    if (observed === null || typeof observed !== "object" || Array.isArray(observed)) return false
    for (const [k, v] of Object.entries(desired)) {
      if (v === undefined) continue
      if (!isSubset(v, (observed as Record<string, unknown>)[k])) return false
    }
    return true
  }
  return false
}

/**
 * Whether the observed child already is what we want: it carries the desired hash and every desired field.
 *
 * @since 0.1.0
 * @category utils
 */
export const isUpToDate = (desired: DesiredChild, observed: KubeObject, normalized?: Normalized): boolean =>
  observed.metadata.annotations?.[hashAnnotation] === desired.hash &&
  (isSubset(desired.object, observed) ||
    (normalized !== undefined && normalized.hash === desired.hash && isSubset(normalized.form, observed)))

/**
 * The desired child as the API server stored it: the server canonicalises some values (`1000m` → `1`,
 * `1024Mi` → `1Gi`, a Secret's `stringData` into `data`), and admission can add list items, so the literal
 * desired object is never a subset of what is stored. `form` is the server's answer to a write of the desired
 * child with this `hash`, cut down to the fields the desired child declares (see `project`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Normalized {
  readonly hash: string
  readonly form: unknown
}

/**
 * The part of `stored` that `shape` declares: for each key of an object in `shape`, the value `stored` has
 * there (recursively); lists are taken whole from `stored` when their length differs (items appended by
 * admission) and item by item otherwise; keys `stored` lacks (a write-only field such as `stringData`) are
 * dropped. Comparing this with a later observed object tells drift from normalisation.
 *
 * @since 0.1.0
 * @category utils
 */
export const project = (shape: unknown, stored: unknown): unknown => {
  if (Array.isArray(shape)) {
    if (!Array.isArray(stored)) return stored
    return stored.length === shape.length ? shape.map((s, i) => project(s, stored[i])) : stored
  }
  if (shape !== null && typeof shape === "object") {
    if (stored === null || typeof stored !== "object" || Array.isArray(stored)) return stored
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(shape)) {
      const value = (stored as Record<string, unknown>)[key]
      if (value !== undefined) out[key] = project((shape as Record<string, unknown>)[key], value)
    }
    return out
  }
  return stored
}

/**
 * Whether an object sitting where a child should be is ours to write. The one place kubefx decides this:
 * the plan blocks foreign objects, and the executor checks an object it meets only on the server (a create
 * that found something there) the same way.
 *
 * @since 0.1.0
 * @category models
 */
export type Ownership =
  | { readonly _tag: "Owned" }
  | { readonly _tag: "Foreign"; readonly reason: string }

/**
 * Ours means: controlled by the parent with `parentUid` and not labelled as managed by another operator
 * (two operators may share a parent type; each keeps to its own children).
 *
 * @since 0.1.0
 * @category predicates
 */
export const ownership = (existing: KubeObject, parentUid: string, operatorName: string | undefined): Ownership => {
  const owner = controllerOf(existing)
  if (owner === undefined) {
    return { _tag: "Foreign", reason: `${describe(existing)} exists and is not owned by this parent; kubefx does not adopt objects` }
  }
  if (owner.uid !== parentUid) {
    return { _tag: "Foreign", reason: `${describe(existing)} is controlled by ${owner.kind} ${owner.name} (uid ${owner.uid})` }
  }
  const manager = existing.metadata.labels?.[operatorLabel]
  if (operatorName !== undefined && manager !== undefined && manager !== operatorName) {
    return { _tag: "Foreign", reason: `${existing.kind} ${existing.metadata.name} belongs to the same parent but is managed by operator ${manager}` }
  }
  return { _tag: "Owned" }
}

/**
 * Computes the writes that make `observed` (every child this parent controls, plus any object sitting where a
 * desired child should be) match `desired`.
 *
 * - absent → create (`apply` children are created by server-side apply);
 * - present, ours, drifted → update by the child's policy (`onDelete`: left as it is); not drifted means the
 *   desired hash matches and the desired fields equal the observed ones, literally or as the server normalised
 *   them (`normalizedOf`);
 * - present, not ours → blocked (never touched);
 * - ours, not desired → delete (with a uid precondition);
 * - ours and being deleted → left to finish.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  parentUid: string,
  desired: ReadonlyArray<DesiredChild>,
  observed: ReadonlyArray<{ readonly type: ResourceType; readonly object: KubeObject }>,
  normalizedOf: (child: DesiredChild) => Normalized | undefined = () => undefined
): Plan => {
  const byId = new Map<string, { readonly type: ResourceType; readonly object: KubeObject }>()
  for (const o of observed) byId.set(childId(o.type, o.object), o)
  const steps: Array<Step> = []
  const blocked: Array<Blocked> = []
  const wanted = new Set<string>()
  for (const d of desired) {
    const id = childId(d.type, d.object)
    wanted.add(id)
    const current = byId.get(id)?.object
    if (current === undefined) {
      steps.push(
        d.update === "apply"
          ? { _tag: "Apply", type: d.type, object: d.object, create: true }
          : { _tag: "Create", type: d.type, object: d.object }
      )
      continue
    }
    const verdict = ownership(current, parentUid, d.object.metadata.labels?.[operatorLabel])
    if (verdict._tag === "Foreign") {
      blocked.push({ type: d.type, object: d.object, reason: verdict.reason })
      continue
    }
    if (current.metadata.deletionTimestamp !== undefined || isUpToDate(d, current, normalizedOf(d))) continue
    switch (d.update) {
      case "apply":
        steps.push({ _tag: "Apply", type: d.type, object: d.object, create: false })
        break
      case "replace":
        steps.push({
          _tag: "Replace",
          type: d.type,
          object: current.metadata.resourceVersion === undefined
            ? d.object
            : { ...d.object, metadata: { ...d.object.metadata, resourceVersion: current.metadata.resourceVersion } },
          current
        })
        break
      case "recreate":
        steps.push({ _tag: "Recreate", type: d.type, object: d.object, current })
        break
      case "onDelete":
        break
    }
  }
  for (const [id, o] of byId) {
    if (wanted.has(id)) continue
    if (controllerOf(o.object)?.uid !== parentUid || o.object.metadata.deletionTimestamp !== undefined) continue
    steps.push({ _tag: "Delete", type: o.type, current: o.object })
  }
  return { steps, blocked }
}

/**
 * Whether a plan writes nothing.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isEmpty = (plan: Plan): boolean => plan.steps.length === 0
