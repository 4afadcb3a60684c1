/**
 * Which parents need a reconcile after a change in the store: the parent itself for parent changes, the
 * controlling parent for child changes. Predicates drop changes that cannot alter the outcome, notably the
 * operator's own status writes (status-only changes of a parent), so writing status never loops.
 *
 * @since 0.1.0
 */
import type { Change } from "./Store.ts"
import type { KubeObject, ResourceType } from "./Resource.ts"
import { controllerOf, keyOf, refOf } from "./Resource.ts"
import * as Json from "./internal/json.ts"

const withoutVolatile = (o: KubeObject): unknown => {
  const { status: _s, metadata, ...rest } = o
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...meta } = metadata
  return { ...rest, metadata: meta }
}

/**
 * Whether a parent change matters: additions, deletions, and changes outside `status` (spec, labels,
 * annotations, finalizers, deletionTimestamp). A change of `status` alone is the operator's own output.
 *
 * @since 0.1.0
 * @category predicates
 */
export const parentChangeMatters = (change: Change): boolean =>
  change.previous === undefined || change.current === undefined ||
  change.previous.metadata.generation !== change.current.metadata.generation ||
  !Json.equal(withoutVolatile(change.previous), withoutVolatile(change.current))

/**
 * The work-queue key of the parent that controls a child, if the child is controlled by a parent of
 * `parentType`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const ownerKey = (parentType: ResourceType, child: KubeObject): string | undefined => {
  const owner = controllerOf(child)
  if (owner === undefined || owner.kind !== parentType.kind || owner.apiVersion !== parentType.apiVersion) return undefined
  return keyOf({ namespace: parentType.namespaced ? (child.metadata.namespace ?? "") : "", name: owner.name })
}

/**
 * The keys to enqueue for a change.
 *
 * @since 0.1.0
 * @category constructors
 */
export const keysFor = (parentType: ResourceType, change: Change): ReadonlyArray<string> => {
  const obj = change.current ?? change.previous
  if (obj === undefined) return []
  if (change.type === parentType || (change.type.apiVersion === parentType.apiVersion && change.type.kind === parentType.kind)) {
    return parentChangeMatters(change) ? [keyOf(refOf(obj))] : []
  }
  const keys = new Set<string>()
  for (const o of [change.previous, change.current]) {
    if (o === undefined) continue
    const k = ownerKey(parentType, o)
    if (k !== undefined) keys.add(k)
  }
  return Array.from(keys)
}
