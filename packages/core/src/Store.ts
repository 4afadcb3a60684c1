/**
 * The cache of observed objects, one per operator: filled by the watchers and by the results of the
 * operator's own writes (so a reconcile never acts on a state older than what it just wrote), read by
 * reconciles. Children are indexed by their controller's uid.
 *
 * Objects are deep-frozen as they enter the store: readers (reconciles, handlers) share them, so none may
 * change them in place.
 *
 * @since 0.1.0
 */
import type { KubeObject, ResourceType } from "./Resource.ts"
import { controllerOf, keyOf, refOf, typeKey } from "./Resource.ts"
import { deepFreeze } from "./internal/freeze.ts"
import type { WatcherEvent } from "./Watcher.ts"

/**
 * A change the store accepted. `previous` is absent for additions, `current` for deletions.
 *
 * @since 0.1.0
 * @category models
 */
export interface Change {
  readonly type: ResourceType
  readonly previous: KubeObject | undefined
  readonly current: KubeObject | undefined
}

interface Entry {
  readonly type: ResourceType
  readonly object: KubeObject
}

/**
 * Compares resourceVersions. They are opaque by contract, but every API server in practice (etcd revisions)
 * issues increasing integers; when both parse as integers we use that to refuse going backwards (a watch event
 * older than the result of our own write), otherwise any different version is newer.
 */
const isOlder = (candidate: string | undefined, current: string | undefined): boolean => {
  if (candidate === undefined || current === undefined) return false
  if (/^\d+$/.test(candidate) && /^\d+$/.test(current)) {
    return candidate.length < current.length || (candidate.length === current.length && candidate < current)
  }
  return false
}

/**
 * Drops `metadata.managedFields`: the engine never reads them, and on objects written by server-side apply they
 * are often as large as the rest of the object (client-go and kube-rs users strip them from caches the same way).
 */
const slim = (object: KubeObject): KubeObject => {
  if (object.metadata.managedFields === undefined) return deepFreeze(object)
  const { managedFields: _, ...metadata } = object.metadata
  return deepFreeze({ ...object, metadata })
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly get: (type: ResourceType, key: string) => KubeObject | undefined
  readonly list: (type: ResourceType) => ReadonlyArray<KubeObject>
  readonly size: (type: ResourceType) => number
  /** Children whose controller ownerReference points at `ownerUid`, of any child type. */
  readonly childrenOf: (ownerUid: string) => ReadonlyArray<Entry>
  /** An object was added or modified. Ignored (returns undefined) when not newer than what is stored. */
  readonly upsert: (type: ResourceType, object: KubeObject) => Change | undefined
  /** An object is gone. */
  readonly remove: (type: ResourceType, object: KubeObject) => Change | undefined
  /**
   * An object a watch reported gone although it still had finalizers and no deletionTimestamp (so it was not
   * deleted): it left the watch's selection, e.g. relabelled out of a label selector. Its last state, until it comes back or is
   * `forget`-ten.
   */
  readonly departed: (type: ResourceType, key: string) => KubeObject | undefined
  readonly forget: (type: ResourceType, key: string) => void
  /**
   * Replaces every object of a type at once (after a relist): changes include deletions for vanished objects.
   * With `namespace`, only that namespace's objects are replaced (a relist of a namespaced watch). A relist is
   * the truth: its objects are taken even when their resourceVersions are older than those stored.
   */
  readonly replaceAll: (type: ResourceType, objects: ReadonlyArray<KubeObject>, namespace?: string) => ReadonlyArray<Change>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Store => {
  const byType = new Map<string, Map<string, KubeObject>>()
  const gone = new Map<string, KubeObject>()
  const byOwner = new Map<string, Map<string, Entry>>()
  const bucket = (type: ResourceType): Map<string, KubeObject> => {
    const k = typeKey(type)
    let m = byType.get(k)
    if (m === undefined) {
      m = new Map()
      byType.set(k, m)
    }
    return m
  }
  const indexKey = (type: ResourceType, key: string) => `${typeKey(type)}|${key}`
  const unindex = (type: ResourceType, key: string, obj: KubeObject) => {
    const uid = controllerOf(obj)?.uid
    if (uid === undefined) return
    const m = byOwner.get(uid)
    if (m === undefined) return
    m.delete(indexKey(type, key))
    if (m.size === 0) byOwner.delete(uid)
  }
  const index = (type: ResourceType, key: string, obj: KubeObject) => {
    const uid = controllerOf(obj)?.uid
    if (uid === undefined) return
    let m = byOwner.get(uid)
    if (m === undefined) {
      m = new Map()
      byOwner.set(uid, m)
    }
    m.set(indexKey(type, key), { type, object: obj })
  }
  /** `authoritative`: from a relist, which is the truth even when its versions went back (an etcd restore). */
  const put = (type: ResourceType, incoming: KubeObject, authoritative: boolean): Change | undefined => {
    const object = slim(incoming)
    const m = bucket(type)
    const key = keyOf(refOf(object))
    const previous = m.get(key)
    if (previous !== undefined) {
      const rv = object.metadata.resourceVersion
      if (rv !== undefined && rv === previous.metadata.resourceVersion) return undefined
      if (!authoritative && isOlder(rv, previous.metadata.resourceVersion)) return undefined
      unindex(type, key, previous)
    }
    m.set(key, object)
    index(type, key, object)
    return { type, previous, current: object }
  }
  const remove = (type: ResourceType, object: KubeObject): Change | undefined => {
    const m = bucket(type)
    const key = keyOf(refOf(object))
    const previous = m.get(key)
    if (previous === undefined) return undefined
    // An object reported gone with finalizers and no deletionTimestamp cannot have been deleted (deletion with
    // finalizers always sets the timestamp first): it left the selection instead. (kube-apiserver's DELETED
    // event for a deletion may still show the finalizer whose removal ended it, with its deletionTimestamp.)
    if ((object.metadata.finalizers?.length ?? 0) > 0 && object.metadata.deletionTimestamp === undefined) {
      gone.set(indexKey(type, key), deepFreeze(object))
    }
    // A deletion seen by a watch that lags behind a re-creation we already stored must not remove the new object.
    if (previous.metadata.uid !== undefined && object.metadata.uid !== undefined && previous.metadata.uid !== object.metadata.uid) {
      return undefined
    }
    m.delete(key)
    unindex(type, key, previous)
    return { type, previous, current: undefined }
  }
  const upsert = (type: ResourceType, incoming: KubeObject) => {
    const change = put(type, incoming, false)
    if (change !== undefined) gone.delete(indexKey(type, keyOf(refOf(incoming))))
    return change
  }
  return {
    get: (type, key) => bucket(type).get(key),
    list: (type) => Array.from(bucket(type).values()),
    size: (type) => bucket(type).size,
    childrenOf: (uid) => Array.from(byOwner.get(uid)?.values() ?? []),
    upsert,
    remove,
    departed: (type, key) => gone.get(indexKey(type, key)),
    forget: (type, key) => void gone.delete(indexKey(type, key)),
    replaceAll: (type, objects, namespace) => {
      const m = bucket(type)
      const fresh = new Set(objects.map((o) => keyOf(refOf(o))))
      const changes: Array<Change> = []
      for (const [key, previous] of Array.from(m)) {
        if (namespace !== undefined && (previous.metadata.namespace ?? "") !== namespace) continue
        if (!fresh.has(key)) {
          m.delete(key)
          unindex(type, key, previous)
          changes.push({ type, previous, current: undefined })
        }
      }
      for (const o of objects) {
        const c = put(type, o, true)
        if (c !== undefined) changes.push(c)
      }
      return changes
    }
  }
}

/**
 * Feeds one watcher event into the store: the adapter between `Watcher` and `Store`. A relist replaces only
 * the slice the watch covers (`namespace`, when the watch is namespaced). Returns the changes accepted.
 *
 * @since 0.1.0
 * @category combinators
 */
export const applyEvent = (
  store: Store,
  type: ResourceType,
  event: WatcherEvent,
  namespace?: string
): ReadonlyArray<Change> => {
  switch (event._tag) {
    case "Restarted":
      return store.replaceAll(type, event.objects, namespace)
    case "Applied": {
      const change = store.upsert(type, event.object)
      return change === undefined ? [] : [change]
    }
    case "Deleted": {
      const change = store.remove(type, event.object)
      return change === undefined ? [] : [change]
    }
  }
}
