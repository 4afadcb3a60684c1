/**
 * Stored objects and the copies callers get: stored objects are deep-frozen and shared by lists,
 * watches and the history; every caller receives a private copy under the apiVersion it asked for.
 *
 * @internal
 */
import type { Json, Obj } from "./model.ts"
import type { TypeInfo } from "./types.ts"

/** Deep-freezes a stored object so no code path can mutate what watchers and lists share. @internal */
export const freeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) freeze(v)
  }
  return value
}

/** A private copy for a caller. @internal */
export const copy = <A>(value: A): A => structuredClone(value)

/** Wire normalization: what the object would be after JSON encoding (undefined keys dropped). @internal */
export const normalize = (value: unknown): Json => JSON.parse(JSON.stringify(value))

/** A shallow copy without one key. @internal */
export const omit = <A extends object>(value: A, key: string): Partial<A> => {
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  delete out[key]
  return out as Partial<A>
}

/** RFC 3339 with second precision, as `metav1.Time` serializes. @internal */
export const rfc3339 = (millis: number): string =>
  new Date(Math.floor(millis / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")

/** An object's key in its storage: `namespace/name`, or `name` for cluster-scoped objects. @internal */
export const objKey = (namespace: string, name: string) => (namespace === "" ? name : `${namespace}/${name}`)

/** The stored (frozen) form of an object at a resourceVersion. @internal */
export const withRv = (obj: Obj, rv: number): Obj =>
  freeze({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } })

/** The object as a caller of `type` sees it: a private copy under the requested apiVersion. @internal */
export const present = (info: TypeInfo, obj: Obj): Obj => {
  const out = copy(obj) as any
  out.apiVersion = info.type.apiVersion
  out.kind = info.type.kind
  return out
}
