/**
 * The fake's patch and server-side apply engine, built on the package's pure `Patch` and
 * `ServerSideApply` modules, with the list types the server would use for each type.
 *
 * @internal
 */
import { Result } from "effect"
import * as Patch from "../../Patch.ts"
import * as ServerSideApply from "../../ServerSideApply.ts"
import type { Engine } from "./model.ts"
import { PatchFailure } from "./model.ts"
import type { TypeInfo } from "./types.ts"

/**
 * Custom resources have no patch strategies: a CRD's lists are atomic unless its schema says
 * otherwise, and the Schemas kubefx generates CRDs from declare none.
 */
const customListKeys: ServerSideApply.ListKeys = {
  "metadata.ownerReferences": ServerSideApply.listMap(["uid"]),
  "metadata.finalizers": ServerSideApply.listSet
}

const listKeysFor = (info: TypeInfo): ServerSideApply.ListKeys =>
  info.isCustom ? customListKeys : ServerSideApply.defaultListKeys

const orThrow = <A>(r: Result.Result<A, Patch.PatchError>): A => {
  // A patch that does not apply to the object is a 422, as the server's patcher reports it.
  if (Result.isFailure(r)) throw new PatchFailure(r.failure.message, 422)
  return r.success
}

/** @internal */
export const engine: Engine = {
  mergePatch: (target, patch) => Patch.mergePatch(target, patch),
  jsonPatch: (target, ops) => orThrow(Patch.jsonPatch(target, ops)),
  strategicMergePatch: (target, patch, info) => orThrow(Patch.strategicMergePatch(target, patch, listKeysFor(info))),
  apply: (live, applied, { force, info, manager, time }) =>
    Result.mapError(
      ServerSideApply.apply(live, applied, {
        manager,
        force,
        time,
        listKeys: listKeysFor(info),
        resetFields: ServerSideApply.resetFieldsFor(info.type)
      }),
      (e) => e._tag === "ApplyConflict" ? { _tag: "ApplyConflict", message: e.message, causes: e.causes } : { _tag: "ApplyInvalid", message: e.message, status: e.status }
    ),
  recordUpdate: (before, after, { info, manager, subresource, time }) =>
    ServerSideApply.recordUpdate(before, after, {
      manager,
      time,
      operation: "Update",
      ...(subresource === undefined ? {} : { subresource }),
      listKeys: listKeysFor(info),
      resetFields: ServerSideApply.resetFieldsFor(info.type, subresource)
    })
}
