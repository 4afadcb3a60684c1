/**
 * PATCH and server-side apply bodies run through the engine (see `engine.ts`), with the engine's
 * failures turned into the errors the server answers with.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { ClusterError } from "@kubefx/core"
import type { ApplyRejection, Engine, Json, Obj } from "./model.ts"
import { PatchFailure } from "./model.ts"
import { normalize } from "./objects.ts"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/**
 * The object `patch` makes of `current`. Custom resources take no strategic merge patch (415); a
 * patch that does not apply is the patcher's generic 422.
 *
 * @internal
 */
export const runPatch = (engine: Engine, info: TypeInfo, ns: string, name: string, current: Obj, patch: Cluster.Patch): Json => {
  try {
    switch (patch.type) {
      case "merge":
        return engine.mergePatch(current, normalize(patch.body))
      case "json":
        return engine.jsonPatch(current, normalize(patch.body))
      case "strategic":
        if (info.isCustom) {
          throw new PatchFailure(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            415
          )
        }
        return engine.strategicMergePatch(current, normalize(patch.body), info)
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
}

/** Throws the server's answer to a refused apply: 409 with the conflicts, or the status it names. @internal */
export const applyRejected = (info: TypeInfo, ns: string, name: string, f: ApplyRejection): never => {
  const where = { ...(ns ? { namespace: ns } : {}), name }
  if (f._tag === "ApplyConflict") {
    throw new ClusterError.Conflict({ message: f.message, resource: info.key, ...where, causes: f.causes })
  }
  if (f.status === 400) throw errors.badRequest(info, f.message, where)
  if (f.status === 422) throw new ClusterError.Invalid({ message: f.message, status: 422, resource: info.key, ...where, causes: [] })
  throw errors.server(info, f.status, "InternalError", f.message)
}
