/**
 * What a write's body goes through before the registry stores it: decoding and the apiVersion/kind
 * check, ObjectMeta normalization (`omitempty` fields, sorted maps), custom resource schema
 * validation (which prunes), and the type strategy's generation rule.
 *
 * @internal
 */
import { Result } from "effect"
import { jsonEqual } from "../json.ts"
import type { Json, Obj } from "./model.ts"
import { normalize, omit } from "./objects.ts"
import type { FieldError, TypeInfo } from "./types.ts"
import { errors, fieldInvalid } from "./types.ts"
import { validateCustom } from "./validation.ts"

const emptyableMeta = new Set(["labels", "annotations"])

const isStringKeyed = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const isEmptyObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0

/**
 * A request body as the registry sees it: a private JSON copy of an object of the addressed type,
 * with `metadata` present and normalized as after a round trip through the server.
 *
 * @internal
 */
export const decodeBody = (info: TypeInfo, input: unknown): Json => {
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

/**
 * Validates a custom resource's spec (and status when given) against its Schemas, replacing each
 * valid part with its pruned form; returns the field errors.
 *
 * @internal
 */
export const validateCustomBody = (info: TypeInfo, obj: Json, parts: ReadonlyArray<"spec" | "status">): Array<FieldError> => {
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

/** Whether an update bumps `metadata.generation`, by the type's rule. @internal */
export const generationChanged = (info: TypeInfo, prev: Obj, next: Obj): boolean => {
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
