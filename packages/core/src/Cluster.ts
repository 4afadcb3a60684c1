/**
 * The `Cluster` port: the only way the engine reaches an API server. `@kubefx/k8s` implements it over
 * HTTP, `@kubefx/testkit` in memory; both map failures to the same `ClusterError`s.
 *
 * Objects are JSON (`KubeObject`); the caller decodes with a type's Schema where it needs types.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Schema, type Stream } from "effect"
import type { ClusterError } from "./ClusterError.ts"
import type { KubeObject, ResourceType } from "./Resource.ts"

/**
 * Which objects a list or watch covers. `namespace` omitted or `""` means all namespaces
 * (or the cluster scope for cluster-scoped types).
 *
 * @since 0.1.0
 * @category models
 */
export interface Selection {
  readonly namespace?: string
  /** A label selector in the API's string form, e.g. `app=web,tier!=cache,env in (a,b)`. */
  readonly labelSelector?: string
  /** A field selector on `metadata.name` / `metadata.namespace`, e.g. `metadata.name=foo`. */
  readonly fieldSelector?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListOptions extends Selection {
  /** Page size; the server returns `continue` when there is more. */
  readonly limit?: number
  readonly continue?: string
  /** `"0"` lets the server answer from its cache; omitted means a consistent (quorum) read. */
  readonly resourceVersion?: string
}

/**
 * One page of a list.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectList<A extends KubeObject = KubeObject> {
  readonly items: ReadonlyArray<A>
  /** The collection's resourceVersion: start a watch here to see every later change. */
  readonly resourceVersion: string
  /** Present when more pages remain. */
  readonly continue?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions extends Selection {
  /**
   * Changes after this version are delivered. With `sendInitialEvents`, `""` means the newest state (a
   * consistent read) and a version means a state no older than it.
   */
  readonly resourceVersion: string
  /** Ask for BOOKMARK events, which advance the resume point without an object change. */
  readonly allowBookmarks?: boolean
  /**
   * Begin with the current state instead of a list (a "watch-list"): an ADDED event per object, then a
   * BOOKMARK annotated `k8s.io/initial-events-end: "true"` whose version is that state's, then changes. Without
   * `allowBookmarks` nothing marks the end. One request replaces LIST + WATCH, and the server streams the state instead of building
   * a list body. Servers that do not serve it answer `Invalid` or `BadRequest` (older ones ignore it: no
   * bookmark carries the annotation); see `isInitialEventsEnd`.
   */
  readonly sendInitialEvents?: boolean
  /** The server ends the watch after this long; the caller then resumes. */
  readonly timeoutSeconds?: number
  /**
   * Run when the server has accepted the watch (its response has started), before any event: until then a
   * watch is only being connected, and is not yet watching anything. Implementations call it once per
   * connection they open.
   */
  readonly onOpen?: Effect.Effect<void> | undefined
}

/**
 * A change seen by a watch. ERROR events never appear here: they fail the stream with a
 * `ClusterError` (`Gone` for a compacted resourceVersion).
 *
 * @since 0.1.0
 * @category models
 */
export type WatchEvent<A extends KubeObject = KubeObject> =
  | { readonly type: "ADDED"; readonly object: A }
  | { readonly type: "MODIFIED"; readonly object: A }
  | { readonly type: "DELETED"; readonly object: A }
  /** Only `metadata.resourceVersion` of `object` is meaningful. */
  | { readonly type: "BOOKMARK"; readonly object: KubeObject }

/**
 * The annotation on the BOOKMARK that ends a watch's initial events.
 *
 * @since 0.1.0
 * @category constants
 */
export const initialEventsEndAnnotation = "k8s.io/initial-events-end"

/**
 * Whether a watch event is the BOOKMARK that ends the initial events of a `sendInitialEvents` watch.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isInitialEventsEnd = (event: WatchEvent): boolean =>
  event.type === "BOOKMARK" && event.object.metadata.annotations?.[initialEventsEndAnnotation] === "true"

/**
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions {
  /** Recorded in managedFields; required for apply. */
  readonly fieldManager?: string
  readonly dryRun?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ApplyOptions extends WriteOptions {
  readonly fieldManager: string
  /** Take ownership of fields another manager owns instead of failing with `Conflict`. */
  readonly force?: boolean
}

/**
 * A patch body: RFC 7386 merge patch, RFC 6902 JSON patch, or Kubernetes strategic merge patch.
 *
 * @since 0.1.0
 * @category models
 */
export type Patch =
  | { readonly type: "merge"; readonly body: unknown }
  | { readonly type: "json"; readonly body: ReadonlyArray<JsonPatchOperation> }
  | { readonly type: "strategic"; readonly body: unknown }

/**
 * @since 0.1.0
 * @category models
 */
export interface JsonPatchOperation {
  readonly op: "add" | "remove" | "replace" | "move" | "copy" | "test"
  readonly path: string
  readonly value?: unknown
  readonly from?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeleteOptions {
  /** Background (default), Foreground, or Orphan (dependents lose their ownerReference). */
  readonly propagationPolicy?: "Background" | "Foreground" | "Orphan"
  /** Delete only if the object still has this uid / resourceVersion, else `Conflict`. */
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string }
  readonly gracePeriodSeconds?: number
  readonly dryRun?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ObjectAddress {
  readonly namespace?: string
  readonly name: string
}

/**
 * The port. Every method fails only with a `ClusterError`.
 *
 * @since 0.1.0
 * @category services
 */
export class Cluster extends Context.Service<Cluster, {
  readonly get: <A extends KubeObject>(
    type: ResourceType<A>,
    address: ObjectAddress
  ) => Effect.Effect<A, ClusterError>
  /** One page. Use `listAll` (in `Watcher`) to follow `continue`. */
  readonly list: <A extends KubeObject>(
    type: ResourceType<A>,
    options?: ListOptions
  ) => Effect.Effect<ObjectList<A>, ClusterError>
  /** Changes after `options.resourceVersion`; ends when the server ends the watch. */
  readonly watch: <A extends KubeObject>(
    type: ResourceType<A>,
    options: WatchOptions
  ) => Stream.Stream<WatchEvent<A>, ClusterError>
  readonly create: <A extends KubeObject>(
    type: ResourceType<A>,
    object: KubeObject,
    options?: WriteOptions
  ) => Effect.Effect<A, ClusterError>
  /** PUT: replaces the whole object; `metadata.resourceVersion`, when set, must be current. */
  readonly replace: <A extends KubeObject>(
    type: ResourceType<A>,
    object: KubeObject,
    options?: WriteOptions
  ) => Effect.Effect<A, ClusterError>
  /** Server-side apply: creates or updates the fields the field manager declares. */
  readonly apply: <A extends KubeObject>(
    type: ResourceType<A>,
    object: KubeObject,
    options: ApplyOptions
  ) => Effect.Effect<A, ClusterError>
  readonly patch: <A extends KubeObject>(
    type: ResourceType<A>,
    address: ObjectAddress,
    patch: Patch,
    options?: WriteOptions
  ) => Effect.Effect<A, ClusterError>
  /**
   * Returns the object as it is after the call when finalizers or foreground deletion hold it (with a
   * deletionTimestamp). When it is gone at once, the API server answers for most types with a Status, so what
   * comes back is only its identity (apiVersion, kind, name, namespace, uid), without a deletionTimestamp.
   */
  readonly delete: <A extends KubeObject>(
    type: ResourceType<A>,
    address: ObjectAddress,
    options?: DeleteOptions
  ) => Effect.Effect<A, ClusterError>
  /** PUT `/status`: only `status` changes; `metadata.resourceVersion`, when set, must be current. */
  readonly replaceStatus: <A extends KubeObject>(
    type: ResourceType<A>,
    object: KubeObject,
    options?: WriteOptions
  ) => Effect.Effect<A, ClusterError>
  /** PATCH `/status`. */
  readonly patchStatus: <A extends KubeObject>(
    type: ResourceType<A>,
    address: ObjectAddress,
    patch: Patch,
    options?: WriteOptions
  ) => Effect.Effect<A, ClusterError>
}>()("@kubefx/core/Cluster") {}

/**
 * A verb as the API server names it in RBAC rules and audit logs. This is kubefx's one vocabulary for
 * requests: request logs, RBAC generation and benchmarks all speak it.
 *
 * @since 0.1.0
 * @category models
 */
export const Verb = Schema.Literals([
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "apply",
  "delete",
  "updateStatus",
  "patchStatus"
])

/**
 * @since 0.1.0
 * @category models
 */
export type Verb = typeof Verb.Type

/**
 * Verbs that can change the cluster.
 *
 * @since 0.1.0
 * @category constants
 */
export const writeVerbs: ReadonlySet<Verb> = new Set(["create", "update", "patch", "apply", "delete", "updateStatus", "patchStatus"])

/**
 * The verb each method of the port performs.
 *
 * @since 0.1.0
 * @category constants
 */
export const verbOf: { readonly [K in keyof Cluster["Service"]]: Verb } = {
  get: "get",
  list: "list",
  watch: "watch",
  create: "create",
  replace: "update",
  apply: "apply",
  patch: "patch",
  delete: "delete",
  replaceStatus: "updateStatus",
  patchStatus: "patchStatus"
}
