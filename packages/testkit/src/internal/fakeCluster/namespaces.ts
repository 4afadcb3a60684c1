/**
 * Namespace lifecycle: the namespaces a cluster starts with, the Namespace registry strategy, the
 * lifecycle admission check (content only goes into an existing, active namespace), and the
 * namespace controller that empties a terminating namespace and then lets it go.
 *
 * @internal
 */
import { ClusterError } from "@kubefx/core"
import type { ControllerWrites, Env, Json } from "./model.ts"
import { copy, objKey } from "./objects.ts"
import type { Registry } from "./registry.ts"
import type { Store } from "./storage.ts"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** The namespaces a fresh cluster has. @internal */
export const standardNamespaces = ["default", "kube-node-lease", "kube-public", "kube-system"]

/**
 * The Namespace strategy: the `kubernetes.io/metadata.name` label always, and on create the
 * `kubernetes` finalizer and phase `Active`. Other types are left alone.
 *
 * @internal
 */
export const namespaceStrategy = (info: TypeInfo, obj: Json, creating: boolean): void => {
  if (info.key !== "v1/Namespace") return
  obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name }
  if (creating) {
    obj.spec = { ...obj.spec, finalizers: ["kubernetes"] }
    obj.status = { phase: "Active" }
  }
}

/**
 * The namespace lifecycle admission check: content only goes into an existing, active namespace.
 *
 * @internal
 */
export const admitNamespace = (
  registry: Registry,
  store: Store,
  mode: "strict" | "lenient",
  info: TypeInfo,
  ns: string,
  name: string
): void => {
  if (ns === "" || mode === "lenient") return
  const nsInfo = registry.namespaceType()
  if (nsInfo === undefined) return
  const namespace = store.of(nsInfo).objects.get(ns)
  if (namespace === undefined) throw errors.notFound(nsInfo, "", ns)
  if (namespace.metadata.deletionTimestamp !== undefined) {
    throw new ClusterError.Forbidden({
      message: `${info.qualifiedResource}${name === "" ? "" : ` "${name}"`} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
      resource: info.key,
      namespace: ns
    })
  }
}

/**
 * The namespace controller, for one namespace: a terminating namespace's content is deleted, then
 * the namespace. Run by the garbage collector's queue.
 *
 * @internal
 */
export const processNamespace = (registry: Registry, store: Store, writes: ControllerWrites, name: string, env: Env): void => {
  const nsInfo = registry.namespaceType()
  if (nsInfo === undefined) return
  const nsStorage = store.of(nsInfo)
  const namespace = nsStorage.objects.get(name)
  if (namespace === undefined || namespace.metadata.deletionTimestamp === undefined) return
  let remaining = false
  for (const st of store.all()) {
    if (!st.info.type.namespaced) continue
    // Deleting the entry being visited is safe while iterating a Map.
    for (const obj of st.objects.values()) {
      if (obj.metadata.namespace !== name) continue
      if (obj.metadata.deletionTimestamp === undefined) {
        writes.delete(st.info, name, obj.metadata.name!, { propagationPolicy: "Background" }, env)
      }
      if (st.objects.has(objKey(name, obj.metadata.name!))) remaining = true
    }
  }
  if (remaining) return
  // Empty: the namespace controller removes the `kubernetes` finalizer, which ends the deletion
  // unless other (metadata) finalizers still hold the namespace.
  const current = nsStorage.objects.get(name)!
  if ((current.metadata.finalizers ?? []).length === 0) {
    store.commit(nsStorage, name, "DELETED", undefined, current)
  } else if (((current.spec as any)?.finalizers ?? []).length > 0) {
    const next: Json = copy(current)
    next.spec.finalizers = []
    store.commit(nsStorage, name, "MODIFIED", next, current)
  }
}
