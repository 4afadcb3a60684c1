/**
 * The contract between kubefx and a user's code: a snapshot in (`SyncRequest`), the desired state out
 * (`SyncResponse`), and for deletion, `FinalizeResponse`. Handlers are pure: they read the request and
 * return data; kubefx makes every API call.
 *
 * @since 0.1.0
 */
import type { Duration, Effect } from "effect"
import type { CustomObject, KubeObject, ResourceType } from "./Resource.ts"
import { isOf } from "./Resource.ts"

/**
 * The children a parent currently owns, as last observed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Children {
  /** Every child of a type, sorted by namespace and name. */
  readonly of: <A extends KubeObject>(type: ResourceType<A>) => ReadonlyArray<A>
  /** One child by name (and namespace; the parent's by default). */
  readonly get: <A extends KubeObject>(type: ResourceType<A>, name: string, namespace?: string) => A | undefined
  readonly all: ReadonlyArray<KubeObject>
}

/**
 * What a handler sees: one parent, its spec decoded with the parent type's Schema, and its children.
 * `parent.status` is the last written status when it decodes with the status Schema, else absent.
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncRequest<Spec, Status> {
  readonly parent: CustomObject<Spec, Status>
  readonly children: Children
}

/**
 * What a handler returns: the parent's status and the complete list of desired children. Children not
 * in the list are deleted; an empty list is a decision to have none. (A failed sync never deletes.)
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncResponse<Status> {
  readonly status: Status
  readonly children: ReadonlyArray<KubeObject>
  /** Sync again after this long even if nothing changes (e.g. to poll something external). */
  readonly requeueAfter?: Duration.Input
}

/**
 * What `finalize` returns. Until `finalized` is true the parent keeps kubefx's finalizer and finalize
 * runs again (after `requeueAfter`, or with backoff).
 *
 * @since 0.1.0
 * @category models
 */
export interface FinalizeResponse<Status> {
  readonly finalized: boolean
  readonly status?: Status
  readonly requeueAfter?: Duration.Input
}

/**
 * @since 0.1.0
 * @category models
 */
export type Sync<Spec, Status, E, R> = (request: SyncRequest<Spec, Status>) => Effect.Effect<SyncResponse<Status>, E, R>

/**
 * @since 0.1.0
 * @category models
 */
export type Finalize<Spec, Status, E, R> = (
  request: SyncRequest<Spec, Status>
) => Effect.Effect<FinalizeResponse<Status>, E, R>

const byRef = (a: KubeObject, b: KubeObject): number => {
  const ka = `${a.metadata.namespace ?? ""}/${a.metadata.name ?? ""}`
  const kb = `${b.metadata.namespace ?? ""}/${b.metadata.name ?? ""}`
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * Builds the `Children` view over a list of observed children.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeChildren = (objects: ReadonlyArray<KubeObject>, defaultNamespace: string): Children => {
  const all = [...objects].sort(byRef)
  return {
    all,
    of: <A extends KubeObject>(type: ResourceType<A>) => all.filter((o): o is A => isOf(type, o)),
    get: <A extends KubeObject>(type: ResourceType<A>, name: string, namespace?: string) =>
      all.find((o): o is A =>
        isOf(type, o) && o.metadata.name === name &&
        (o.metadata.namespace ?? "") === (type.namespaced ? (namespace ?? defaultNamespace) : "")
      )
  }
}
