/**
 * URL paths and query strings of the Kubernetes REST API. Pure functions, so every rule about where a
 * request goes is in one place and testable without a server.
 *
 * @internal
 */
import type { Resource } from "@kubefx/core"

/** `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
export const groupVersionPath = (group: string, version: string): string =>
  group === "" ? `/api/${encodeURIComponent(version)}` : `/apis/${encodeURIComponent(group)}/${encodeURIComponent(version)}`

/**
 * The collection of a type: `…/namespaces/<ns>/<plural>` for a namespaced type with a namespace,
 * `…/<plural>` for a cluster-scoped type or a list across all namespaces.
 */
export const collectionPath = (type: Resource.ResourceType<any>, namespace: string | undefined): string => {
  const base = groupVersionPath(type.group, type.version)
  const ns = type.namespaced && namespace !== undefined && namespace !== ""
    ? `/namespaces/${encodeURIComponent(namespace)}`
    : ""
  return `${base}${ns}/${encodeURIComponent(type.plural)}`
}

/** One object, optionally one of its subresources (`status`). */
export const objectPath = (
  type: Resource.ResourceType<any>,
  namespace: string | undefined,
  name: string,
  subresource?: string
): string =>
  `${collectionPath(type, namespace)}/${encodeURIComponent(name)}${
    subresource === undefined ? "" : `/${encodeURIComponent(subresource)}`
  }`

/** Query parameters; `undefined` values are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>

/** `path?k=v&…` with the parameters in the given order (stable for tests and logs). */
export const withQuery = (path: string, query: Query | undefined): string => {
  if (query === undefined) return path
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.append(key, String(value))
  }
  const qs = params.toString()
  return qs === "" ? path : `${path}?${qs}`
}
