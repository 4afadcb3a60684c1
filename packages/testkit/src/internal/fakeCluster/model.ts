/**
 * What the stages of the fake API server share: the per-request environment, a write's flags, the
 * server's options, and the contract of the patch and apply engine the layer plugs in.
 *
 * Everything in the fake is synchronous and runs to completion, so each request is atomic, as an
 * etcd transaction is. Failures are thrown as `ClusterError`s and turned into typed failures by the
 * caller.
 *
 * @internal
 */
import type { Cluster, ClusterError, Resource } from "@kubefx/core"
import type { Result } from "effect"
import type { TypeInfo } from "./types.ts"

/** @internal */
export type Obj = Resource.KubeObject

/** A JSON document being worked on (decoded from a body, or a private copy). @internal */
export type Json = any

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

/** @internal */
export type EventType = "ADDED" | "MODIFIED" | "DELETED"

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
export interface StateOptions {
  readonly historyLimit: number
  readonly namespaces: "strict" | "lenient"
  readonly garbageCollection: "immediate" | "manual"
  readonly engine: Engine
}

/**
 * The writes the cluster's own controllers (garbage collector, namespace controller) make: an
 * update through the registry's update path, and a delete with a propagation policy.
 *
 * @internal
 */
export interface ControllerWrites {
  /** An update as `kube-controller-manager`: no managedFields recorded, no uid precondition. */
  readonly update: (info: TypeInfo, ns: string, name: string, next: Json, existing: Obj, env: Env) => void
  readonly delete: (info: TypeInfo, ns: string, name: string, options: Cluster.DeleteOptions, env: Env) => void
}
