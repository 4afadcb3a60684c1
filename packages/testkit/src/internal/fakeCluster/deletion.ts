/**
 * Deletes: preconditions, the propagation policy turned into the garbage collector's finalizers
 * (`orphan`, `foregroundDeletion`), graceful deletion of an object that finalizers hold (it gets a
 * `deletionTimestamp` and stays), and the answer the server sends for an immediate delete.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { jsonEqual } from "../json.ts"
import type { Env, Json, Obj } from "./model.ts"
import { copy, objKey, present, rfc3339 } from "./objects.ts"
import type { Store } from "./storage.ts"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** The finalizer by which the garbage collector deletes dependents before their owner. @internal */
export const FOREGROUND = "foregroundDeletion"

/** The finalizer by which the garbage collector orphans dependents before their owner goes. @internal */
export const ORPHAN = "orphan"

/**
 * What an immediate delete answers with: the object, or, for most types, the success `Status` the
 * server sends, as the live `Cluster` turns it into an object (apiVersion, kind, name, namespace, uid).
 */
const deletedAnswer = (info: TypeInfo, obj: Obj): Obj => {
  if (info.returnDeletedObject) return present(info, obj)
  const { name, namespace, uid } = obj.metadata
  return {
    apiVersion: info.type.apiVersion,
    kind: info.type.kind,
    metadata: { name: name!, ...(namespace === undefined ? {} : { namespace }), uid: uid! }
  }
}

/**
 * Deletes the object at `ns`/`name` (the namespace already resolved); `afterWrite` runs after a
 * committed change (the garbage collector, when immediate).
 *
 * @internal
 */
export const deleteAt = (
  store: Store,
  afterWrite: (env: Env) => void,
  info: TypeInfo,
  ns: string,
  name: string,
  options: Cluster.DeleteOptions,
  env: Env
): Obj => {
  const st = store.of(info)
  const key = objKey(ns, name)
  const existing = st.objects.get(key)
  if (existing === undefined) throw errors.notFound(info, ns, name)
  const pre = options.preconditions
  if (pre?.uid !== undefined && pre.uid !== existing.metadata.uid) {
    throw errors.conflict(
      info,
      ns,
      name,
      `the UID in the precondition (${pre.uid}) does not match the UID in record (${existing.metadata.uid}). The object might have been deleted and then recreated`,
      "kind"
    )
  }
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== existing.metadata.resourceVersion) {
    throw errors.conflict(
      info,
      ns,
      name,
      `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${existing.metadata.resourceVersion}). The object might have been modified`,
      "kind"
    )
  }
  const dryRun = options.dryRun === true
  const before = existing.metadata.finalizers ?? []
  const policy = options.propagationPolicy
  const orphan = policy === "Orphan" || (policy === undefined && before.includes(ORPHAN))
  const foreground = policy === "Foreground" || (policy === undefined && before.includes(FOREGROUND))
  const finalizers = before.filter((f) => f !== ORPHAN && f !== FOREGROUND)
  if (orphan) finalizers.push(ORPHAN)
  if (foreground) finalizers.push(FOREGROUND)
  // As deletionFinalizersForGarbageCollection: the list is rewritten only when the set changes.
  const finalizersChanged = !jsonEqual([...new Set(before)].sort(), [...new Set(finalizers)].sort())
  const isNamespace = info.key === "v1/Namespace"
  const nsPending = isNamespace && ((existing.spec as any)?.finalizers ?? []).length > 0
  if (finalizers.length > 0 || nsPending) {
    const next: Json = copy(existing)
    next.metadata.finalizers = finalizersChanged ? finalizers : before
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers
    if (next.metadata.deletionTimestamp === undefined && typeof next.metadata.generation === "number" && next.metadata.generation > 0) {
      next.metadata.generation += 1
    }
    if (next.metadata.deletionTimestamp === undefined) next.metadata.deletionTimestamp = rfc3339(env.now)
    // The namespace registry marks the namespace itself, without a grace period.
    if (isNamespace) next.status = { ...next.status, phase: "Terminating" }
    else next.metadata.deletionGracePeriodSeconds = 0
    if (jsonEqual(next, existing)) return present(info, existing)
    if (dryRun) return present(info, next)
    const stored = store.commit(st, key, "MODIFIED", next, existing)
    afterWrite(env)
    return present(info, stored)
  }
  if (dryRun) return deletedAnswer(info, existing)
  const gone = store.commit(st, key, "DELETED", undefined, existing)
  afterWrite(env)
  return deletedAnswer(info, gone)
}
