/**
 * The fake API server's storage and registry: objects per type, one global resourceVersion counter,
 * a bounded event history per type (the watch cache), watchers, and the garbage collector.
 *
 * Everything here is synchronous and runs to completion, so each request is atomic, as an etcd
 * transaction is. Failures are thrown as `ClusterError`s and turned into typed failures by the caller.
 *
 * @internal
 */
import type { Cluster, Resource } from "@kubefx/core"
import { ClusterError } from "@kubefx/core"
import { posix } from "node:path"
import { Result } from "effect"
import { parseFieldSelector, parseLabelSelector, SelectorError } from "./selector.ts"
import type { Matcher } from "./selector.ts"
import type { FieldError, TypeInfo } from "./types.ts"
import { errors, fieldInvalid, fieldRequired, infoOf } from "./types.ts"
import { validateCustom, validateMeta, validateMetaUpdate } from "./validation.ts"

type Obj = Resource.KubeObject
type Json = any

// ---------------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------------

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

/** Structural equality of JSON values (key order ignored). @internal */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as Array<unknown>
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]))
  }
  const ak = Object.keys(a).filter((k) => (a as any)[k] !== undefined)
  const bk = Object.keys(b).filter((k) => (b as any)[k] !== undefined)
  return ak.length === bk.length && ak.every((k) => jsonEqual((a as any)[k], (b as any)[k]))
}

const omit = <A extends object>(value: A, key: string): Partial<A> => {
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  delete out[key]
  return out as Partial<A>
}

/** RFC 3339 with second precision, as `metav1.Time` serializes. @internal */
export const rfc3339 = (millis: number): string =>
  new Date(Math.floor(millis / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

/** The per-request environment: the Clock's time and the fiber's Random. @internal */
export interface Env {
  readonly now: number
  readonly random: () => number
}

/** A write's field manager and flags. @internal */
export interface WriteFlags {
  readonly fieldManager: string
  readonly dryRun: boolean
}

/** What the patch and server-side apply modules provide (see `Patch.ts`, `ServerSideApply.ts`). @internal */
export interface Engine {
  /** Throws `PatchFailure` for a patch that cannot apply. */
  readonly mergePatch: (target: Json, patch: unknown) => Json
  readonly jsonPatch: (target: Json, ops: ReadonlyArray<Cluster.JsonPatchOperation>) => Json
  readonly strategicMergePatch: (target: Json, patch: unknown, info: TypeInfo) => Json
  readonly apply: (
    live: Obj | undefined,
    applied: Obj,
    options: { readonly manager: string; readonly force: boolean; readonly time: string; readonly info: TypeInfo }
  ) => Result.Result<Obj, ApplyRejection>
  readonly recordUpdate: (
    before: Obj | undefined,
    after: Obj,
    options: { readonly manager: string; readonly time: string; readonly subresource: "status" | undefined; readonly info: TypeInfo }
  ) => Obj
}

/** Why an apply was refused: field conflicts (409) or a request the server rejects (`status`). @internal */
export type ApplyRejection =
  | { readonly _tag: "ApplyConflict"; readonly message: string; readonly causes: ReadonlyArray<ClusterError.StatusCause> }
  | { readonly _tag: "ApplyInvalid"; readonly message: string; readonly status: number }

/** A patch that does not apply to the object: `status` is 400 for a malformed body, 422 otherwise. @internal */
export class PatchFailure extends Error {
  readonly status: 400 | 422 | 415
  constructor(message: string, status: 400 | 422 | 415 = 422) {
    super(message)
    this.status = status
  }
}

/** @internal */
export type EventType = "ADDED" | "MODIFIED" | "DELETED"

interface HistoryEvent {
  readonly rv: number
  readonly type: EventType
  readonly key: string
  readonly object: Obj
  readonly prev: Obj | undefined
}

interface Storage {
  readonly info: TypeInfo
  readonly objects: Map<string, Obj>
  events: Array<HistoryEvent>
  /** Watches and continues from a resourceVersion below this are gone (410). */
  horizon: number
}

/** Where a watch delivers; the FakeCluster layer owns the queue behind it. @internal */
export interface Sink {
  readonly info: TypeInfo
  readonly namespace: string
  readonly labels: Matcher
  readonly fields: Matcher
  readonly deliver: (event: Cluster.WatchEvent) => void
}

/** @internal */
export interface StateOptions {
  readonly historyLimit: number
  readonly namespaces: "strict" | "lenient"
  readonly garbageCollection: "immediate" | "manual"
  readonly engine: Engine
}

const standardNamespaces = ["default", "kube-node-lease", "kube-public", "kube-system"]
const FOREGROUND = "foregroundDeletion"
const ORPHAN = "orphan"
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

const objKey = (namespace: string, name: string) => (namespace === "" ? name : `${namespace}/${name}`)
const refId = (storage: string, key: string) => `${storage}\u0000${key}`
const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "")

const uuid = (random: () => number): string => {
  const b = Array.from({ length: 16 }, () => Math.floor(random() * 256))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.map((x) => x.toString(16).padStart(2, "0")).join("")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

const parseRv = (info: TypeInfo | undefined, rv: string): number => {
  if (!/^\d+$/.test(rv)) throw errors.badRequest(info, `invalid resource version "${rv}"`)
  return Number(rv)
}

const withRv = (obj: Obj, rv: number): Obj =>
  freeze({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } })

/** The object as a caller of `type` sees it: a private copy under the requested apiVersion. @internal */
export const present = (info: TypeInfo, obj: Obj): Obj => {
  const out = copy(obj) as any
  out.apiVersion = info.type.apiVersion
  out.kind = info.type.kind
  return out
}

interface ContinueToken {
  readonly rv: number
  readonly start: string
}

const encodeContinue = (t: ContinueToken): string =>
  Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: t.rv, start: t.start }), "utf8").toString("base64url")

/** Go's `strconv.Quote` of one byte as a rune, in the single quotes of `encoding/json` syntax errors. */
const goQuoteChar = (byte: number): string => {
  if (byte === 0x27) return `'\\''`
  if (byte === 0x22) return `'"'`
  const escapes: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 0x5c: "\\\\" }
  const printable = (byte >= 0x20 && byte < 0x7f) || (byte >= 0xa1 && byte !== 0xad)
  const body = escapes[byte] ??
    (printable ? String.fromCharCode(byte) : byte < 0x80 ? `\\x${byte.toString(16).padStart(2, "0")}` : `\\u${byte.toString(16).padStart(4, "0")}`)
  return `'${body}'`
}

/** `base64.RawURLEncoding.DecodeString` as Go does it, with Go's error for corrupt input. */
const goRawUrlBase64 = (token: string): Buffer | string => {
  let inQuantum = 0
  for (let i = 0; i < token.length; i++) {
    const c = token[i]!
    if (c === "\n" || c === "\r") continue
    if (!/[A-Za-z0-9_-]/.test(c)) return `illegal base64 data at input byte ${i}`
    inQuantum = (inQuantum + 1) % 4
  }
  if (inQuantum === 1) return `illegal base64 data at input byte ${token.length - 1}`
  return Buffer.from(token.replace(/[\r\n]/g, ""), "base64url")
}

/**
 * `storage.DecodeContinue`: the token is base64url JSON `{ v, rv, start }`; a bad one is a 400 with the
 * server's reason (corrupt base64, JSON that does not start a value, an unknown version, no version or
 * start key, a start key that is not a clean path).
 */
const decodeContinue = (info: TypeInfo, token: string): ContinueToken => {
  const invalid = (detail: string) => errors.badRequest(info, `invalid continue token: ${detail}`)
  const generic = "continue key is not valid"
  const data = goRawUrlBase64(token)
  if (typeof data === "string") throw invalid(`${generic}: ${data}`)
  let parsed: any
  try {
    parsed = JSON.parse(data.toString("latin1"))
  } catch {
    const first = [...data].find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)
    throw invalid(
      first === undefined
        ? `${generic}: unexpected end of JSON input`
        : !/[{["\-0-9tfn]/.test(String.fromCharCode(first))
        ? `${generic}: invalid character ${goQuoteChar(first)} looking for beginning of value`
        : `${generic}: ${JSON.stringify(token)} is not an encoded continue token`
    )
  }
  const version = typeof parsed?.v === "string" ? parsed.v : ""
  if (version !== "meta.k8s.io/v1") throw invalid(`${generic}: server does not recognize this encoded version ${version}`)
  const rv = typeof parsed.rv === "number" ? parsed.rv : 0
  if (rv === 0) throw invalid(`${generic}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`)
  const start = typeof parsed.start === "string" ? parsed.start : ""
  if (start === "") throw invalid(`${generic}: encoded start key empty (version meta.k8s.io/v1)`)
  // Go's path.Clean: a start key that climbs out of the listed prefix is refused.
  const key = start.startsWith("/") ? start : `/${start}`
  if (posix.normalize(key).replace(/(.)\/$/, "$1") !== key) throw invalid(`${generic}: ${start}`)
  return { rv, start }
}

const statusSubresource = (info: TypeInfo) => info.type.statusSubresource

const emptyableMeta = new Set(["labels", "annotations"])

const isStringKeyed = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const isEmptyObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0

/** The etcd key the server names in storage errors. */
const storageKey = (info: TypeInfo, ns: string, name: string) =>
  `/registry/${info.isCustom ? `${info.type.group}/` : ""}${info.type.plural}/${ns === "" ? "" : `${ns}/`}${name}`

// ---------------------------------------------------------------------------------------------
// The state
// ---------------------------------------------------------------------------------------------

/** @internal */
export class State {
  readonly options: StateOptions
  rv = 0
  private readonly storages = new Map<string, Storage>()
  private readonly types = new Map<string, TypeInfo>()
  private readonly byGroupKind = new Map<string, TypeInfo>()
  private readonly sinks = new Set<Sink>()
  private readonly byUid = new Map<string, { storage: string; key: string }>()
  private readonly dependents = new Map<string, Set<string>>()
  private readonly gcQueue: Array<string> = []
  private readonly gcQueued = new Set<string>()

  constructor(options: StateOptions, types: ReadonlyArray<Resource.ResourceType<any>>, env: Env) {
    this.options = options
    for (const t of types) this.register(t)
    const ns = this.types.get("v1/Namespace")
    if (ns !== undefined) {
      for (const name of standardNamespaces) {
        this.create(ns, { apiVersion: "v1", kind: "Namespace", metadata: { name } }, { fieldManager: "kube-apiserver", dryRun: false }, env)
      }
    }
  }

  // --- types ----------------------------------------------------------------------------------

  register(type: Resource.ResourceType<any>): TypeInfo {
    const info = infoOf(type)
    this.types.set(info.key, info)
    this.byGroupKind.set(`${type.group}/${type.kind}`, info)
    if (!this.storages.has(info.storage)) {
      this.storages.set(info.storage, { info, objects: new Map(), events: [], horizon: 0 })
    }
    return info
  }

  /** A request for a type the server does not serve is a 404, as for an uninstalled CRD. */
  resolve(type: Resource.ResourceType<any>): TypeInfo {
    const info = this.types.get(`${type.apiVersion}/${type.kind}`)
    if (info === undefined || info.type.plural !== type.plural || info.type.namespaced !== type.namespaced) {
      throw new ClusterError.NotFound({
        message: `the server could not find the requested resource (${type.plural}${type.group === "" ? "" : `.${type.group}`})`,
        resource: `${type.apiVersion}/${type.kind}`
      })
    }
    return info
  }

  private storage(info: TypeInfo): Storage {
    return this.storages.get(info.storage)!
  }

  /** The namespace a request addresses: required for namespaced types, ignored for cluster-scoped ones. */
  scope(info: TypeInfo, namespace: string | undefined, name?: string): string {
    if (!info.type.namespaced) return ""
    if (namespace === undefined || namespace === "") {
      throw errors.badRequest(
        info,
        `a namespace is required to address ${info.qualifiedResource}${name ? ` "${name}"` : ""}: the type is namespaced`,
        name === undefined ? {} : { name }
      )
    }
    return namespace
  }

  // --- reads ----------------------------------------------------------------------------------

  get(info: TypeInfo, namespace: string | undefined, name: string): Obj {
    const ns = this.scope(info, namespace, name)
    const obj = this.storage(info).objects.get(objKey(ns, name))
    if (obj === undefined) throw errors.notFound(info, ns, name)
    return present(info, obj)
  }

  private matchers(info: TypeInfo, selection: Cluster.Selection): { labels: Matcher; fields: Matcher } {
    try {
      return {
        labels: parseLabelSelector(selection.labelSelector),
        fields: parseFieldSelector(
          selection.fieldSelector,
          (field) =>
            info.isCustom
              ? `field label not supported: ${field}`
              : `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`
        )
      }
    } catch (e) {
      if (e instanceof SelectorError) throw errors.badRequest(info, e.message)
      throw e
    }
  }

  /** The objects of a storage as they were at `rv`, rebuilt by undoing the retained history. */
  private snapshotAt(st: Storage, rv: number): Map<string, Obj> {
    const objects = new Map(st.objects)
    for (let i = st.events.length - 1; i >= 0; i--) {
      const e = st.events[i]!
      if (e.rv <= rv) break
      if (e.type === "ADDED") objects.delete(e.key)
      else objects.set(e.key, e.prev!)
    }
    return objects
  }

  list(info: TypeInfo, options: Cluster.ListOptions): Cluster.ObjectList {
    const st = this.storage(info)
    const ns = info.type.namespaced ? options.namespace ?? "" : ""
    const { fields, labels } = this.matchers(info, options)
    let snapshotRv = this.rv
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
      objects = this.snapshotAt(st, token.rv)
    } else if (options.resourceVersion !== undefined && options.resourceVersion !== "") {
      const wanted = parseRv(info, options.resourceVersion)
      if (wanted > this.rv) {
        throw errors.server(info, 504, "Timeout", `Timeout: Too large resource version: ${wanted}, current: ${this.rv}`)
      }
      // The legacy rule for a paged list at a resourceVersion: an exact read at that version.
      if (options.limit !== undefined && options.limit > 0 && wanted > 0) {
        if (wanted < st.horizon) throw errors.gone(info, "The resourceVersion for the provided list is too old.")
        snapshotRv = wanted
        objects = this.snapshotAt(st, wanted)
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

  // --- watch ----------------------------------------------------------------------------------

  private toEvent(sink: Sink, e: HistoryEvent): Cluster.WatchEvent | undefined {
    const inScope = (o: Obj | undefined) =>
      o !== undefined && (sink.namespace === "" || o.metadata.namespace === sink.namespace) && sink.fields(o) && sink.labels(o)
    const cur = e.type === "DELETED" ? undefined : e.object
    const now = inScope(cur)
    const before = e.type === "ADDED" ? false : inScope(e.prev)
    if (e.type === "DELETED") {
      return inScope(e.object) ? { type: "DELETED", object: present(sink.info, e.object) } : undefined
    }
    if (now && before) return { type: "MODIFIED", object: present(sink.info, e.object) }
    if (now) return { type: "ADDED", object: present(sink.info, e.object) }
    // It stopped matching: this watcher sees it go, as the watch cache reports it.
    if (before) return { type: "DELETED", object: present(sink.info, withRv(e.prev!, e.rv)) }
    return undefined
  }

  /**
   * Registers a watch: returns the events to replay first. A watch from a version the cluster has not
   * reached yet simply waits for it (the caller drops events up to that version), as the watch cache does.
   */
  watch(
    info: TypeInfo,
    options: Cluster.WatchOptions,
    deliver: (event: Cluster.WatchEvent) => void
  ): { readonly replay: ReadonlyArray<Cluster.WatchEvent>; readonly sink: Sink } {
    const st = this.storage(info)
    const ns = info.type.namespaced ? options.namespace ?? "" : ""
    const sink: Sink = { info, namespace: ns, ...this.matchers(info, options), deliver }
    const replay: Array<Cluster.WatchEvent> = []
    if (options.resourceVersion === "" || options.resourceVersion === "0") {
      for (const key of [...st.objects.keys()].sort()) {
        const obj = st.objects.get(key)!
        const ev = this.toEvent(sink, { rv: Number(obj.metadata.resourceVersion), type: "ADDED", key, object: obj, prev: undefined })
        if (ev !== undefined) replay.push(ev)
      }
    } else {
      const from = parseRv(info, options.resourceVersion)
      if (from < st.horizon) {
        throw errors.gone(info, `too old resource version: ${from} (${st.horizon})`)
      }
      for (const e of st.events) {
        if (e.rv <= from) continue
        const ev = this.toEvent(sink, e)
        if (ev !== undefined) replay.push(ev)
      }
    }
    this.sinks.add(sink)
    return { replay, sink }
  }

  unwatch(sink: Sink): void {
    this.sinks.delete(sink)
  }

  /** Drops every retained event: resuming from an earlier version is then a 410. */
  compact(): void {
    for (const st of this.storages.values()) {
      st.events = []
      st.horizon = this.rv
    }
  }

  // --- commit ---------------------------------------------------------------------------------

  private commit(st: Storage, key: string, type: EventType, next: Obj | undefined, prev: Obj | undefined): Obj {
    const rv = ++this.rv
    let stored: Obj
    if (type === "DELETED") {
      stored = withRv(prev!, rv)
      st.objects.delete(key)
    } else {
      stored = withRv(next!, rv)
      st.objects.set(key, stored)
    }
    const event: HistoryEvent = { rv, type, key, object: stored, prev }
    st.events.push(event)
    while (st.events.length > this.options.historyLimit) {
      st.horizon = st.events.shift()!.rv
    }
    this.index(st, key, type === "DELETED" ? undefined : stored, prev)
    for (const sink of this.sinks) {
      if (sink.info.storage !== st.info.storage) continue
      const ev = this.toEvent(sink, event)
      if (ev !== undefined) sink.deliver(ev)
    }
    return stored
  }

  private index(st: Storage, key: string, next: Obj | undefined, prev: Obj | undefined): void {
    const id = refId(st.info.storage, key)
    for (const o of prev?.metadata.ownerReferences ?? []) this.dependents.get(o.uid)?.delete(id)
    if (prev?.metadata.uid !== undefined && next === undefined) this.byUid.delete(prev.metadata.uid)
    if (next !== undefined) {
      if (next.metadata.uid !== undefined) this.byUid.set(next.metadata.uid, { storage: st.info.storage, key })
      for (const o of next.metadata.ownerReferences ?? []) {
        let set = this.dependents.get(o.uid)
        if (set === undefined) this.dependents.set(o.uid, (set = new Set()))
        set.add(id)
      }
    }
    // Garbage collector triggers: what changed may make this object, its dependents, its owners
    // or its namespace collectable.
    const uid = (next ?? prev)?.metadata.uid
    this.enqueue(id)
    if (uid !== undefined) for (const d of this.dependents.get(uid) ?? []) this.enqueue(d)
    for (const o of [...(prev?.metadata.ownerReferences ?? []), ...(next?.metadata.ownerReferences ?? [])]) {
      const owner = this.byUid.get(o.uid)
      if (owner !== undefined) this.enqueue(refId(owner.storage, owner.key))
    }
    const ns = st.info.key === "v1/Namespace" ? (next ?? prev)?.metadata.name : (next ?? prev)?.metadata.namespace
    if (ns !== undefined && ns !== "") this.enqueue(`ns\u0000${ns}`)
  }

  private enqueue(id: string): void {
    if (!this.gcQueued.has(id)) {
      this.gcQueued.add(id)
      this.gcQueue.push(id)
    }
  }

  // --- create ---------------------------------------------------------------------------------

  private checkBody(info: TypeInfo, input: unknown): Json {
    let obj: Json
    try {
      obj = normalize(input)
    } catch (e) {
      throw errors.badRequest(info, `the body of the request could not be encoded as JSON: ${String(e)}`)
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      throw errors.badRequest(info, "the body of the request must be a JSON object")
    }
    if (obj.apiVersion !== info.type.apiVersion || obj.kind !== info.type.kind) {
      const name = typeof obj.metadata?.name === "string" ? obj.metadata.name : ""
      if (info.isCustom) {
        // The custom resource handler validates the type fields like any other field.
        const errs = [
          ...(obj.apiVersion === info.type.apiVersion ? [] : [fieldInvalid("apiVersion", obj.apiVersion ?? "", `must be ${info.type.apiVersion}`)]),
          ...(obj.kind === info.type.kind ? [] : [fieldInvalid("kind", obj.kind ?? "", `must be ${info.type.kind}`)])
        ]
        const group = String(obj.apiVersion ?? "").includes("/") ? String(obj.apiVersion).split("/")[0] : ""
        throw errors.invalid(info, "", name, errs, group === "" ? String(obj.kind ?? "") : `${obj.kind}.${group}`)
      }
      const version = String(obj.apiVersion ?? "")
      throw errors.badRequest(
        info,
        `${obj.kind ?? ""} in version "${version.slice(version.indexOf("/") + 1)}" cannot be handled as a ${info.type.kind}: converting (${version.slice(version.indexOf("/") + 1)}.${obj.kind ?? ""}) to (${info.type.group === "" ? "core" : info.type.group}.${info.type.kind}): unknown conversion`
      )
    }
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {}
    if (typeof obj.metadata !== "object" || Array.isArray(obj.metadata)) {
      throw errors.badRequest(info, "metadata must be an object")
    }
    // Maps come back with sorted keys, as Go serializes them.
    for (const k of ["labels", "annotations"]) {
      const m = obj.metadata[k]
      if (isStringKeyed(m)) obj.metadata[k] = Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    }
    // ObjectMeta's fields are `omitempty`: empty values are absent, as after a round trip through the server.
    for (const [k, v] of Object.entries(obj.metadata)) {
      if (v === null || v === "" || (Array.isArray(v) && v.length === 0) || (isEmptyObject(v) && emptyableMeta.has(k))) {
        delete obj.metadata[k]
      }
    }
    return obj
  }

  /** The namespace lifecycle admission check: content only goes into an existing, active namespace. */
  private admitNamespace(info: TypeInfo, ns: string, name: string): void {
    if (ns === "" || this.options.namespaces === "lenient") return
    const nsInfo = this.types.get("v1/Namespace")
    if (nsInfo === undefined) return
    const namespace = this.storage(nsInfo).objects.get(ns)
    if (namespace === undefined) throw errors.notFound(nsInfo, "", ns)
    if (namespace.metadata.deletionTimestamp !== undefined) {
      throw new ClusterError.Forbidden({
        message: `${info.qualifiedResource}${name === "" ? "" : ` "${name}"`} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        resource: info.key,
        namespace: ns
      })
    }
  }

  /** Validates a custom resource's spec (and status when given), returning it pruned. */
  private validateCustomBody(info: TypeInfo, obj: Json, parts: ReadonlyArray<"spec" | "status">): Array<FieldError> {
    const errs: Array<FieldError> = []
    if (info.custom === undefined) return errs
    for (const part of parts) {
      if (part === "status" && obj.status === undefined) continue
      const r = validateCustom(info.custom[part] as any, part, obj[part])
      if (Result.isFailure(r)) errs.push(...r.failure)
      else obj[part] = r.success
    }
    return errs
  }

  private namespaceStrategy(info: TypeInfo, obj: Json, creating: boolean): void {
    if (info.key !== "v1/Namespace") return
    obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name }
    if (creating) {
      obj.spec = { ...obj.spec, finalizers: ["kubernetes"] }
      obj.status = { phase: "Active" }
    }
  }

  create(info: TypeInfo, input: unknown, flags: WriteFlags, env: Env): Obj {
    const obj = this.checkBody(info, input)
    const meta = obj.metadata
    const ns = this.scope(info, meta.namespace, meta.name)
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "") {
      // A plain storage error, not an API status: the server sends it without a reason.
      throw errors.server(info, 500, "", "resourceVersion should not be set on objects to be created")
    }
    const generated = (meta.name === undefined || meta.name === "") && typeof meta.generateName === "string" &&
      meta.generateName !== ""
    // As the server does with RetryGenerateName: a generated name that collides is drawn again.
    for (let attempt = 0;; attempt++) {
      const candidate = copy(obj)
      if (generated) {
        const suffix = Array.from({ length: 5 }, () => NAME_ALPHABET[Math.floor(env.random() * NAME_ALPHABET.length)]).join("")
        candidate.metadata.name = `${(meta.generateName as string).slice(0, 58)}${suffix}`
      }
      try {
        return this.createPrepared(info, ns, candidate, flags, env)
      } catch (e) {
        if (generated && e instanceof ClusterError.AlreadyExists && attempt < 7) continue
        throw e
      }
    }
  }

  private createPrepared(info: TypeInfo, ns: string, obj: Json, flags: WriteFlags, env: Env, recordFields = true): Obj {
    const meta = obj.metadata
    if (meta.name === undefined || meta.name === "") {
      throw errors.invalid(info, ns, "", [fieldRequired("metadata.name", "name or generateName is required")])
    }
    const name: string = meta.name
    if (info.type.namespaced) meta.namespace = ns
    else delete meta.namespace
    meta.uid = uuid(env.random)
    meta.creationTimestamp = rfc3339(env.now)
    delete meta.resourceVersion
    delete meta.deletionTimestamp
    delete meta.deletionGracePeriodSeconds
    if (info.generation === "none") delete meta.generation
    else meta.generation = 1
    if (statusSubresource(info) && info.key !== "v1/Namespace") delete obj.status
    this.namespaceStrategy(info, obj, true)
    const errs = [...validateMeta(info, meta), ...this.validateCustomBody(info, obj, ["spec"])]
    if (errs.length > 0) throw errors.invalid(info, ns, name, errs)
    const st = this.storage(info)
    const key = objKey(ns, name)
    const existing = st.objects.get(key)
    if (existing !== undefined) throw errors.alreadyExists(info, ns, name, existing.metadata.deletionTimestamp !== undefined)
    this.admitNamespace(info, ns, name)
    const time = rfc3339(env.now)
    const withFields = recordFields
      ? this.options.engine.recordUpdate(undefined, obj, { manager: flags.fieldManager, time, subresource: undefined, info })
      : obj
    if (flags.dryRun) return present(info, withFields)
    const stored = this.commit(st, key, "ADDED", withFields, undefined)
    this.afterWrite(env)
    return present(info, stored)
  }

  // --- update ---------------------------------------------------------------------------------

  /**
   * The shared update path of PUT, PATCH and apply: `next` is the full desired object, already
   * checked for apiVersion/kind. `subresource` limits the write to `status`.
   */
  private updatePrepared(
    info: TypeInfo,
    ns: string,
    name: string,
    next: Json,
    existing: Obj,
    flags: WriteFlags,
    env: Env,
    options: {
      readonly subresource: "status" | undefined
      /** PUT checks the body's uid as a precondition; PATCH leaves it to validation. */
      readonly uidPrecondition: boolean
      readonly recordManagedFields: boolean
    }
  ): Obj {
    const st = this.storage(info)
    const key = objKey(ns, name)
    const meta = next.metadata
    if (options.uidPrecondition && meta.uid !== undefined && meta.uid !== "" && meta.uid !== existing.metadata.uid) {
      throw errors.conflict(
        info,
        ns,
        name,
        `StorageError: invalid object, Code: 4, Key: ${storageKey(info, ns, name)}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${existing.metadata.uid}`
      )
    }
    const rv = meta.resourceVersion
    if (rv === undefined || rv === "") {
      if (!info.allowUnconditionalUpdate) {
        // This one error names the resource, not the kind (a quirk of the registry's update path).
        throw errors.invalid(info, ns, name, [fieldInvalid("metadata.resourceVersion", 0, "must be specified for an update")], info.qualifiedResource)
      }
    } else if (parseRv(info, String(rv)) !== Number(existing.metadata.resourceVersion)) {
      throw errors.conflict(info, ns, name, "the object has been modified; please apply your changes to the latest version and try again")
    }
    let candidate: Json
    if (options.subresource === "status") {
      // Status writes take only `status` from the body (and the managedFields it carries).
      candidate = copy(existing)
      if (next.status === undefined) delete candidate.status
      else candidate.status = next.status
      if (next.metadata.managedFields !== undefined) candidate.metadata.managedFields = next.metadata.managedFields
    } else {
      candidate = next
      if (statusSubresource(info)) {
        if (existing.status === undefined) delete candidate.status
        else candidate.status = copy(existing.status)
      }
    }
    const cm = candidate.metadata
    const em = existing.metadata
    cm.namespace = em.namespace
    if (!info.type.namespaced) delete cm.namespace
    cm.name = em.name
    if (cm.uid === undefined || cm.uid === "") cm.uid = em.uid
    cm.creationTimestamp = em.creationTimestamp
    if (em.deletionTimestamp !== undefined) cm.deletionTimestamp = em.deletionTimestamp
    else delete cm.deletionTimestamp
    if (em.deletionGracePeriodSeconds !== undefined) cm.deletionGracePeriodSeconds = em.deletionGracePeriodSeconds
    else delete cm.deletionGracePeriodSeconds
    if (em.generation === undefined) delete cm.generation
    else cm.generation = em.generation
    cm.resourceVersion = em.resourceVersion
    this.namespaceStrategy(info, candidate, false)
    const errs = [
      ...validateMetaUpdate(info, cm, em),
      ...this.validateCustomBody(info, candidate, options.subresource === "status" ? ["status"] : ["spec"])
    ]
    if (errs.length > 0) throw errors.invalid(info, ns, name, errs)
    if (options.subresource === undefined && em.generation !== undefined && this.generationChanged(info, existing, candidate)) {
      cm.generation = em.generation + 1
    }
    let result: Obj = candidate
    if (options.recordManagedFields) {
      result = this.options.engine.recordUpdate(existing, candidate, {
        manager: flags.fieldManager,
        time: rfc3339(env.now),
        subresource: options.subresource,
        info
      })
    }
    // Changes that only touch managedFields timestamps are no change (IgnoreManagedFieldsTimestampsTransformer).
    if (this.sameIgnoringTimestamps(existing, result)) return present(info, existing)
    if (em.deletionTimestamp !== undefined && (result.metadata.finalizers ?? []).length === 0) {
      // The last finalizer is gone: the update deletes the object; the caller gets the updated body.
      if (!flags.dryRun) {
        this.commit(st, key, "DELETED", undefined, existing)
        this.afterWrite(env)
      }
      return present(info, result)
    }
    if (flags.dryRun) return present(info, result)
    const stored = this.commit(st, key, "MODIFIED", result, existing)
    this.afterWrite(env)
    return present(info, stored)
  }

  private generationChanged(info: TypeInfo, prev: Obj, next: Obj): boolean {
    switch (info.generation) {
      case "none":
        return false
      case "spec":
        return !jsonEqual(prev.spec, next.spec)
      case "specAndAnnotations":
        return !jsonEqual(prev.spec, next.spec) || !jsonEqual(prev.metadata.annotations, next.metadata.annotations)
      case "nonMetadata": {
        return !jsonEqual(omit(prev, "metadata"), omit(next, "metadata"))
      }
    }
  }

  private sameIgnoringTimestamps(a: Obj, b: Obj): boolean {
    const strip = (o: Obj) => ({
      ...o,
      metadata: {
        ...o.metadata,
        managedFields: (o.metadata.managedFields ?? []).map((m) => omit(m, "time"))
      }
    })
    return jsonEqual(strip(a), strip(b))
  }

  replace(info: TypeInfo, input: unknown, flags: WriteFlags, env: Env, subresource: "status" | undefined): Obj {
    const obj = this.checkBody(info, input)
    const name = obj.metadata.name
    const ns = this.scope(info, obj.metadata.namespace, name)
    if (typeof name !== "string" || name === "") {
      throw errors.badRequest(info, "name is required: the object's metadata.name addresses it")
    }
    const existing = this.storage(info).objects.get(objKey(ns, name))
    if (existing === undefined) {
      if (info.allowCreateOnUpdate && subresource === undefined) {
        const fresh = { ...obj, metadata: { ...obj.metadata } }
        delete fresh.metadata.resourceVersion
        return this.createPrepared(info, ns, fresh, flags, env)
      }
      throw errors.notFound(info, ns, name)
    }
    return this.updatePrepared(info, ns, name, obj, existing, flags, env, {
      subresource,
      uidPrecondition: true,
      recordManagedFields: true
    })
  }

  patch(
    info: TypeInfo,
    namespace: string | undefined,
    name: string,
    patch: Cluster.Patch,
    flags: WriteFlags,
    env: Env,
    subresource: "status" | undefined
  ): Obj {
    const ns = this.scope(info, namespace, name)
    const existing = this.storage(info).objects.get(objKey(ns, name))
    if (existing === undefined) throw errors.notFound(info, ns, name)
    const current = present(info, existing)
    let patched: Json
    try {
      switch (patch.type) {
        case "merge":
          patched = this.options.engine.mergePatch(current, normalize(patch.body))
          break
        case "json":
          patched = this.options.engine.jsonPatch(current, normalize(patch.body))
          break
        case "strategic":
          if (info.isCustom) {
            throw new PatchFailure(
              "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
              415
            )
          }
          patched = this.options.engine.strategicMergePatch(current, normalize(patch.body), info)
          break
      }
    } catch (e) {
      if (e instanceof PatchFailure) {
        if (e.status === 415) throw errors.server(info, 415, "UnsupportedMediaType", e.message)
        if (e.status === 400) throw errors.badRequest(info, e.message, { namespace: ns, name })
        // The patcher's generic 422, which does not say which operation failed.
        throw new ClusterError.Invalid({
          message: "the server rejected our request due to an error in our request",
          status: 422,
          resource: info.key,
          ...(ns ? { namespace: ns } : {}),
          name,
          causes: []
        })
      }
      throw e
    }
    const obj = this.checkBody(info, patched)
    if (obj.metadata.name !== name) {
      throw errors.badRequest(info, `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`)
    }
    if (info.type.namespaced && obj.metadata.namespace !== ns) {
      throw errors.badRequest(info, "the namespace of the provided object does not match the namespace sent on the request")
    }
    return this.updatePrepared(info, ns, name, obj, existing, flags, env, {
      subresource,
      uidPrecondition: false,
      recordManagedFields: true
    })
  }

  apply(info: TypeInfo, input: unknown, options: { fieldManager: string; force: boolean; dryRun: boolean }, env: Env): Obj {
    const body = input as Json
    if (body?.apiVersion !== info.type.apiVersion || body?.kind !== info.type.kind) {
      // The apply patcher decodes into the type's Go struct and names what it got instead.
      const apiVersion = String(body?.apiVersion ?? "")
      const gv = apiVersion.includes("/") ? apiVersion : `/${apiVersion}`
      throw errors.badRequest(info, `invalid object type: ${gv}, Kind=${String(body?.kind ?? "")}`)
    }
    const obj = this.checkBody(info, input)
    const name = obj.metadata.name
    const ns = this.scope(info, obj.metadata.namespace, name)
    if (typeof name !== "string" || name === "") {
      throw errors.badRequest(info, "name is required: the object's metadata.name addresses it")
    }
    if (options.fieldManager === "") {
      throw new ClusterError.Invalid({
        message: `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
        status: 422,
        resource: info.key,
        causes: [{ field: "fieldManager", reason: "FieldValueRequired", message: "Required value: is required for apply patch" }]
      })
    }
    const existing = this.storage(info).objects.get(objKey(ns, name))
    const time = rfc3339(env.now)
    const flags: WriteFlags = { fieldManager: options.fieldManager, dryRun: options.dryRun }
    const applyTo = (live: Obj | undefined): Json => {
      const r = this.options.engine.apply(live === undefined ? undefined : present(info, live), obj, {
        manager: options.fieldManager,
        force: options.force,
        time,
        info
      })
      if (Result.isFailure(r)) {
        const f = r.failure
        const where = { ...(ns ? { namespace: ns } : {}), name }
        if (f._tag === "ApplyConflict") {
          throw new ClusterError.Conflict({ message: f.message, resource: info.key, ...where, causes: f.causes })
        }
        if (f.status === 400) throw errors.badRequest(info, f.message, where)
        if (f.status === 422) throw new ClusterError.Invalid({ message: f.message, status: 422, resource: info.key, ...where, causes: [] })
        throw errors.server(info, f.status, "InternalError", f.message)
      }
      return normalize(r.success)
    }
    if (existing === undefined) {
      // Creating by apply ignores a resourceVersion in the applied configuration.
      const created = applyTo(undefined)
      delete created.metadata.resourceVersion
      return this.createPrepared(info, ns, created, flags, env, false)
    }
    const result = applyTo(existing)
    // A resourceVersion in the applied configuration is a precondition on the live object.
    const rv = obj.metadata.resourceVersion
    result.metadata.resourceVersion = rv !== undefined && rv !== "" ? rv : existing.metadata.resourceVersion
    return this.updatePrepared(info, ns, name, result, existing, flags, env, {
      subresource: undefined,
      uidPrecondition: false,
      recordManagedFields: false
    })
  }

  // --- delete ---------------------------------------------------------------------------------

  delete(info: TypeInfo, namespace: string | undefined, name: string, options: Cluster.DeleteOptions, env: Env): Obj {
    const ns = this.scope(info, namespace, name)
    return this.deleteAt(info, ns, name, options, env)
  }

  private deleteAt(info: TypeInfo, ns: string, name: string, options: Cluster.DeleteOptions, env: Env): Obj {
    const st = this.storage(info)
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
    {
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
        const stored = this.commit(st, key, "MODIFIED", next, existing)
        this.afterWrite(env)
        return present(info, stored)
      }
    }
    if (dryRun) return this.deletedAnswer(info, existing)
    const gone = this.commit(st, key, "DELETED", undefined, existing)
    this.afterWrite(env)
    return this.deletedAnswer(info, gone)
  }

  /**
   * What an immediate delete answers with: the object, or, for most types, the success `Status` the
   * server sends, as the live `Cluster` turns it into an object (apiVersion, kind, name, namespace, uid).
   */
  private deletedAnswer(info: TypeInfo, obj: Obj): Obj {
    if (info.returnDeletedObject) return present(info, obj)
    const { name, namespace, uid } = obj.metadata
    return {
      apiVersion: info.type.apiVersion,
      kind: info.type.kind,
      metadata: { name: name!, ...(namespace === undefined ? {} : { namespace }), uid: uid! }
    }
  }

  // --- garbage collection ---------------------------------------------------------------------

  private afterWrite(env: Env): void {
    if (this.options.garbageCollection === "immediate") this.collectGarbage(env)
  }

  private collecting = false

  /** Runs the garbage collector (and the namespace controller) until nothing is left to do. */
  collectGarbage(env: Env): void {
    if (this.collecting) return
    this.collecting = true
    try {
      let steps = 0
      while (this.gcQueue.length > 0) {
        if (++steps > 1_000_000) throw new Error("FakeCluster garbage collector did not converge")
        const id = this.gcQueue.shift()!
        this.gcQueued.delete(id)
        if (id.startsWith("ns\u0000")) this.processNamespace(id.slice(3), env)
        else {
          const sep = id.indexOf("\u0000")
          const st = this.storages.get(id.slice(0, sep))
          const obj = st?.objects.get(id.slice(sep + 1))
          if (st !== undefined && obj !== undefined) this.processItem(st, obj, env)
        }
      }
    } finally {
      this.collecting = false
    }
  }

  private removeFinalizer(st: Storage, obj: Obj, finalizer: string, env: Env): void {
    const next: Json = copy(obj)
    next.metadata.finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer)
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers
    this.updatePrepared(st.info, obj.metadata.namespace ?? "", obj.metadata.name!, next, obj, {
      fieldManager: "kube-controller-manager",
      dryRun: false
    }, env, { subresource: undefined, uidPrecondition: false, recordManagedFields: false })
  }

  private dependentsOf(uid: string): Array<{ st: Storage; obj: Obj }> {
    const out: Array<{ st: Storage; obj: Obj }> = []
    for (const id of this.dependents.get(uid) ?? []) {
      const sep = id.indexOf("\u0000")
      const st = this.storages.get(id.slice(0, sep))
      const obj = st?.objects.get(id.slice(sep + 1))
      if (st !== undefined && obj !== undefined) out.push({ st, obj })
    }
    return out
  }

  private ownerState(dependent: Obj, ref: Resource.OwnerReference): "solid" | "dangling" | "waiting" | "unknown" {
    const info = this.byGroupKind.get(`${groupOf(ref.apiVersion)}/${ref.kind}`)
    if (info === undefined) return "unknown"
    const depNs = dependent.metadata.namespace ?? ""
    // A cluster-scoped dependent cannot have a namespaced owner: the collector treats it as absent.
    if (info.type.namespaced && depNs === "") return "dangling"
    const owner = this.storage(info).objects.get(objKey(info.type.namespaced ? depNs : "", ref.name))
    if (owner === undefined || owner.metadata.uid !== ref.uid) return "dangling"
    if (owner.metadata.deletionTimestamp !== undefined && (owner.metadata.finalizers ?? []).includes(FOREGROUND)) {
      return "waiting"
    }
    return "solid"
  }

  private processItem(st: Storage, obj: Obj, env: Env): void {
    const meta = obj.metadata
    const deleting = meta.deletionTimestamp !== undefined
    const finalizers = meta.finalizers ?? []
    if (deleting && finalizers.includes(ORPHAN)) {
      for (const dep of this.dependentsOf(meta.uid!)) {
        const next: Json = copy(dep.obj)
        next.metadata.ownerReferences = (dep.obj.metadata.ownerReferences ?? []).filter((o) => o.uid !== meta.uid)
        if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences
        this.updatePrepared(dep.st.info, dep.obj.metadata.namespace ?? "", dep.obj.metadata.name!, next, dep.obj, {
          fieldManager: "kube-controller-manager",
          dryRun: false
        }, env, { subresource: undefined, uidPrecondition: false, recordManagedFields: false })
      }
      this.removeFinalizer(st, st.objects.get(objKey(meta.namespace ?? "", meta.name!))!, ORPHAN, env)
      return
    }
    if (deleting && finalizers.includes(FOREGROUND)) {
      const deps = this.dependentsOf(meta.uid!)
      const blocking = deps.filter((d) =>
        (d.obj.metadata.ownerReferences ?? []).some((o) => o.uid === meta.uid && o.blockOwnerDeletion === true)
      )
      if (blocking.length === 0) {
        this.removeFinalizer(st, obj, FOREGROUND, env)
        return
      }
      for (const d of deps) this.enqueue(refId(d.st.info.storage, objKey(d.obj.metadata.namespace ?? "", d.obj.metadata.name!)))
      return
    }
    if (deleting) return
    const refs = meta.ownerReferences ?? []
    if (refs.length === 0) return
    const states = refs.map((r) => ({ ref: r, state: this.ownerState(obj, r) }))
    if (states.some((s) => s.state === "unknown")) return
    const solid = states.filter((s) => s.state === "solid")
    const waiting = states.filter((s) => s.state === "waiting")
    const dangling = states.filter((s) => s.state === "dangling")
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return
      const drop = new Set([...dangling, ...waiting].map((s) => s.ref.uid))
      const next: Json = copy(obj)
      next.metadata.ownerReferences = refs.filter((r) => !drop.has(r.uid))
      this.updatePrepared(st.info, meta.namespace ?? "", meta.name!, next, obj, {
        fieldManager: "kube-controller-manager",
        dryRun: false
      }, env, { subresource: undefined, uidPrecondition: false, recordManagedFields: false })
      return
    }
    const hasDependents = this.dependentsOf(meta.uid!).length > 0
    const policy: Cluster.DeleteOptions["propagationPolicy"] = waiting.length > 0 && hasDependents
      ? "Foreground"
      : finalizers.includes(ORPHAN)
      ? "Orphan"
      : finalizers.includes(FOREGROUND)
      ? "Foreground"
      : "Background"
    this.deleteAt(st.info, meta.namespace ?? "", meta.name!, { propagationPolicy: policy, preconditions: { uid: meta.uid! } }, env)
  }

  /** The namespace controller: a terminating namespace's content is deleted, then the namespace. */
  private processNamespace(name: string, env: Env): void {
    const nsInfo = this.types.get("v1/Namespace")
    if (nsInfo === undefined) return
    const nsStorage = this.storage(nsInfo)
    const namespace = nsStorage.objects.get(name)
    if (namespace === undefined || namespace.metadata.deletionTimestamp === undefined) return
    let remaining = false
    for (const st of this.storages.values()) {
      if (!st.info.type.namespaced) continue
      // Deleting the entry being visited is safe while iterating a Map.
      for (const obj of st.objects.values()) {
        if (obj.metadata.namespace !== name) continue
        if (obj.metadata.deletionTimestamp === undefined) {
          this.deleteAt(st.info, name, obj.metadata.name!, { propagationPolicy: "Background" }, env)
        }
        if (st.objects.has(objKey(name, obj.metadata.name!))) remaining = true
      }
    }
    if (remaining) return
    // Empty: the namespace controller removes the `kubernetes` finalizer, which ends the deletion
    // unless other (metadata) finalizers still hold the namespace.
    const current = nsStorage.objects.get(name)!
    if ((current.metadata.finalizers ?? []).length === 0) {
      this.commit(nsStorage, name, "DELETED", undefined, current)
    } else if (((current.spec as any)?.finalizers ?? []).length > 0) {
      const next: Json = copy(current)
      next.spec.finalizers = []
      this.commit(nsStorage, name, "MODIFIED", next, current)
    }
  }

  // --- test controls --------------------------------------------------------------------------

  /** Every stored object (copies), sorted by type, namespace and name. */
  snapshot(info: TypeInfo | undefined): ReadonlyArray<Obj> {
    const out: Array<Obj> = []
    const storages = info === undefined ? [...this.storages.values()] : [this.storage(info)]
    for (const st of storages.sort((a, b) => (a.info.storage < b.info.storage ? -1 : 1))) {
      for (const key of [...st.objects.keys()].sort()) {
        out.push(present(info ?? st.info, st.objects.get(key)!))
      }
    }
    return out
  }

  /** Every open watch, for the layer's stall/drop controls. */
  openSinks(): ReadonlyArray<Sink> {
    return [...this.sinks]
  }

  typeFor(type: Resource.ResourceType<any>): TypeInfo | undefined {
    return this.types.get(`${type.apiVersion}/${type.kind}`)
  }
}
