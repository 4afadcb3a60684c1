/**
 * Reads: a get, and a list, paged as etcd pages (a page holds up to `limit` matches, `continue`
 * resumes from the same snapshot while the history still covers it) and served at a resourceVersion
 * under the legacy rules.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { decodeContinue, encodeContinue } from "./continueTokens.ts"
import type { Obj } from "./model.ts"
import { objKey, present } from "./objects.ts"
import { scope } from "./registry.ts"
import { matchersFor } from "./selector.ts"
import type { Store } from "./storage.ts"
import { parseRv } from "./storage.ts"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** @internal */
export const get = (store: Store, info: TypeInfo, namespace: string | undefined, name: string): Obj => {
  const ns = scope(info, namespace, name)
  const obj = store.of(info).objects.get(objKey(ns, name))
  if (obj === undefined) throw errors.notFound(info, ns, name)
  return present(info, obj)
}

/** @internal */
export const list = (store: Store, info: TypeInfo, options: Cluster.ListOptions): Cluster.ObjectList => {
  const st = store.of(info)
  const ns = info.type.namespaced ? options.namespace ?? "" : ""
  const { fields, labels } = matchersFor(info, options)
  let snapshotRv = store.rv
  let start = ""
  let objects: Map<string, Obj> = st.objects
  if (options.continue !== undefined && options.continue !== "") {
    if (options.resourceVersion !== undefined && options.resourceVersion !== "" && options.resourceVersion !== "0") {
      throw errors.badRequest(info, "specifying resource version is not allowed when using continue")
    }
    const token = decodeContinue(info, options.continue)
    if (token.rv < st.horizon) {
      throw errors.gone(
        info,
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
      )
    }
    snapshotRv = token.rv
    start = token.start
    objects = store.snapshotAt(st, token.rv)
  } else if (options.resourceVersion !== undefined && options.resourceVersion !== "") {
    const wanted = parseRv(info, options.resourceVersion)
    if (wanted > store.rv) {
      throw errors.server(info, 504, "Timeout", `Timeout: Too large resource version: ${wanted}, current: ${store.rv}`)
    }
    // The legacy rule for a paged list at a resourceVersion: an exact read at that version.
    if (options.limit !== undefined && options.limit > 0 && wanted > 0) {
      if (wanted < st.horizon) throw errors.gone(info, "The resourceVersion for the provided list is too old.")
      snapshotRv = wanted
      objects = store.snapshotAt(st, wanted)
    }
  }
  const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity
  const keys = [...objects.keys()].filter((k) => k >= start).sort()
  const items: Array<Obj> = []
  let lastKey: string | undefined
  let more = false
  for (const key of keys) {
    const obj = objects.get(key)!
    if (ns !== "" && obj.metadata.namespace !== ns) continue
    if (items.length >= limit) {
      more = true
      break
    }
    lastKey = key
    if (fields(obj) && labels(obj)) items.push(present(info, obj))
  }
  // As etcd paging does: a page is filled to `limit` matches; `continue` is set when keys remain.
  if (items.length < limit) more = false
  return {
    items,
    resourceVersion: String(snapshotRv),
    ...(more && lastKey !== undefined ? { continue: encodeContinue({ rv: snapshotRv, start: `${lastKey}\u0000` }) } : {})
  }
}
