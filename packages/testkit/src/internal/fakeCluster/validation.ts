/**
 * Object validation as `ValidateObjectMeta` / `ValidateObjectMetaUpdate` and the CRD structural
 * schema validator do it: every failure is a `field.Error` with the field path the server reports.
 *
 * @internal
 */
import type { Resource } from "@kubefx/core"
import { Result, Schema, type SchemaAST, SchemaIssue } from "effect"
import { labelValueErrors, qualifiedNameErrors } from "./selector.ts"
import type { FieldError, NameRule, TypeInfo } from "./types.ts"
import { fieldForbidden, fieldInvalid, fieldRequired } from "./types.ts"

type Json = unknown
type Meta = Record<string, unknown>

const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const label1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const label1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/

/** The name errors for a rule, with the server's wording. @internal */
export const nameErrors = (rule: NameRule, name: string, field = "metadata.name"): Array<FieldError> => {
  switch (rule) {
    case "subdomain":
      if (name.length > 253) return [fieldInvalid(field, name, "must be no more than 253 characters")]
      return subdomain.test(name) ? [] : [
        fieldInvalid(
          field,
          name,
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
      ]
    case "label":
      if (name.length > 63) return [fieldInvalid(field, name, "must be no more than 63 characters")]
      return label1123.test(name) ? [] : [
        fieldInvalid(
          field,
          name,
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
      ]
    case "label1035":
      if (name.length > 63) return [fieldInvalid(field, name, "must be no more than 63 characters")]
      return label1035.test(name) ? [] : [
        fieldInvalid(
          field,
          name,
          "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
      ]
    case "pathSegment":
      if (name === "." || name === "..") return [fieldInvalid(field, name, `may not be '${name}'`)]
      for (const c of ["/", "%"]) {
        if (name.includes(c)) return [fieldInvalid(field, name, `may not contain '${c}'`)]
      }
      return []
  }
}

const standardFinalizers = new Set(["kubernetes", "orphan", "foregroundDeletion"])

/** An ownerReference as the server prints it in a message: its fields in the Go struct's order. */
const ownerReferenceJson = (o: Record<string, unknown> | null): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const k of ["apiVersion", "kind", "name", "uid"]) out[k] = typeof o?.[k] === "string" ? o[k] : ""
  for (const k of ["controller", "blockOwnerDeletion"]) if (typeof o?.[k] === "boolean") out[k] = o[k]
  return out
}

const isStringMap = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * `ValidateObjectMeta`: name, labels, annotations, finalizers and ownerReferences.
 *
 * @internal
 */
export const validateMeta = (info: TypeInfo, meta: Meta): Array<FieldError> => {
  const errs: Array<FieldError> = []
  const name = typeof meta.name === "string" ? meta.name : ""
  errs.push(...nameErrors(info.nameRule, name))
  const labels = meta.labels
  if (labels !== undefined) {
    if (!isStringMap(labels)) errs.push(fieldInvalid("metadata.labels", labels, "must be a map of strings"))
    else {
      for (const [k, v] of Object.entries(labels)) {
        for (const ke of qualifiedNameErrors(k)) errs.push(fieldInvalid("metadata.labels", k, ke))
        if (typeof v !== "string") errs.push(fieldInvalid(`metadata.labels`, v, "must be a string"))
        else for (const ve of labelValueErrors(v)) errs.push(fieldInvalid("metadata.labels", v, ve))
      }
    }
  }
  const annotations = meta.annotations
  if (annotations !== undefined) {
    if (!isStringMap(annotations)) errs.push(fieldInvalid("metadata.annotations", annotations, "must be a map of strings"))
    else {
      let size = 0
      for (const [k, v] of Object.entries(annotations)) {
        for (const ke of qualifiedNameErrors(k.toLowerCase())) errs.push(fieldInvalid("metadata.annotations", k, ke))
        if (typeof v !== "string") errs.push(fieldInvalid("metadata.annotations", v, "must be a string"))
        size += k.length + (typeof v === "string" ? v.length : 0)
      }
      if (size > 262144) {
        errs.push({ field: "metadata.annotations", reason: "FieldValueTooLong", message: "Too long: may not be more than 262144 bytes" })
      }
    }
  }
  const owners = meta.ownerReferences
  if (owners !== undefined) {
    if (!Array.isArray(owners)) errs.push(fieldInvalid("metadata.ownerReferences", owners, "must be a list"))
    else {
      const controllers: Array<string> = []
      owners.forEach((o: Record<string, unknown> | null, i) => {
        const path = `metadata.ownerReferences[${i}]`
        const str = (k: string) => (typeof o?.[k] === "string" ? (o[k] as string) : "")
        const apiVersion = str("apiVersion")
        const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion
        if (version === "") errs.push(fieldRequired(`${path}.apiVersion`, "must not be empty"))
        if (str("kind") === "") errs.push(fieldRequired(`${path}.kind`, "must not be empty"))
        if (str("name") === "") errs.push(fieldRequired(`${path}.name`, "must not be empty"))
        if (str("uid") === "") errs.push(fieldRequired(`${path}.uid`, "must not be empty"))
        if (apiVersion === "v1" && str("kind") === "Event") {
          errs.push(fieldInvalid(path, ownerReferenceJson(o), "/v1, Kind=Event is disallowed from being an owner"))
        }
        if (o?.controller === true) controllers.push(`${str("kind")}/${str("name")}`)
      })
      // Each controller after the first is an error naming both.
      for (const other of controllers.slice(1)) {
        errs.push(
          fieldInvalid(
            "metadata.ownerReferences",
            owners.map(ownerReferenceJson),
            `Only one reference can have Controller set to true. Found "true" in references for ${controllers[0]} and ${other}`
          )
        )
      }
    }
  }
  const finalizers = meta.finalizers
  if (finalizers !== undefined) {
    if (!Array.isArray(finalizers)) errs.push(fieldInvalid("metadata.finalizers", finalizers, "must be a list of strings"))
    else {
      finalizers.forEach((f, i) => {
        if (typeof f !== "string") errs.push(fieldInvalid(`metadata.finalizers[${i}]`, f, "must be a string"))
        else {
          for (const fe of qualifiedNameErrors(f)) errs.push(fieldInvalid("metadata.finalizers", f, fe))
          // Built-in types also require a domain unless the name is a standard one (custom resources only warn).
          if (!info.isCustom && !f.includes("/") && !standardFinalizers.has(f)) {
            errs.push(fieldInvalid(`metadata.finalizers[${i}]`, f, "name is neither a standard finalizer name nor is it fully qualified"))
          }
        }
      })
      if (finalizers.includes("orphan") && finalizers.includes("foregroundDeletion")) {
        errs.push(
          fieldInvalid("metadata.finalizers", finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
      }
    }
  }
  return errs
}

/**
 * Update validation of metadata, as the registry runs it: `ValidateObjectMeta` (names, labels, ...) and
 * `ValidateObjectMetaUpdate` (immutable identity, no finalizer added while deleting). Built-in types
 * report each error once; the custom resource handler re-validates the object, and reports the
 * metadata errors three times (the finalizer errors once) and the update errors twice (measured on
 * kube-apiserver 1.37).
 *
 * @internal
 */
export const validateMetaUpdate = (info: TypeInfo, next: Meta, prev: Resource.ObjectMeta): Array<FieldError> => {
  const meta = validateMeta(info, next)
  const update: Array<FieldError> = []
  if (next.uid !== prev.uid) update.push(fieldInvalid("metadata.uid", next.uid ?? "", "field is immutable"))
  if (prev.deletionTimestamp !== undefined) {
    const old = new Set(prev.finalizers ?? [])
    const extra = [...new Set((next.finalizers as Array<string> | undefined) ?? [])].filter((f) => !old.has(f)).sort()
    if (extra.length > 0) {
      update.push(
        fieldForbidden(
          "metadata.finalizers",
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${
            extra.map((f) => JSON.stringify(f)).join(", ")
          }}`
        )
      )
    }
  }
  if (!info.isCustom) return [...meta, ...update]
  const repeated = meta.filter((e) => !e.field.startsWith("metadata.finalizers"))
  return [...meta, ...repeated, ...repeated, ...update, ...update]
}

const pathString = (root: string, path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : `${acc}.${String(k)}`), root)

const valueAt = (value: Json, path: ReadonlyArray<PropertyKey>): Json => {
  let cur: any = value
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined
    cur = cur[k as any]
  }
  return cur
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The JSON type name the OpenAPI validator reports for a value. */
const jsonType = (u: unknown): string =>
  u === null
    ? "null"
    : Array.isArray(u)
    ? "array"
    : typeof u === "number"
    ? (Number.isInteger(u) ? "integer" : "number")
    : typeof u

/** Whether a check (or a group of them) generates `type: integer` into the CRD, as `Schema.Int` does. */
const checksInteger = (checks: ReadonlyArray<unknown> | undefined): boolean =>
  (checks ?? []).some((c: any) =>
    c?._tag === "FilterGroup" ? checksInteger(c.checks) : c?.annotations?.toJsonSchema?.()?.type === "integer"
  )

const expectedType = (ast: SchemaAST.AST): string | undefined => {
  switch (ast._tag) {
    case "String":
    case "TemplateLiteral":
      return "string"
    case "Number":
      return checksInteger(ast.checks) ? "integer" : "number"
    case "Boolean":
      return "boolean"
    case "Objects":
      return "object"
    case "Arrays":
      return "array"
    default:
      return undefined
  }
}

const literalsOf = (ast: SchemaAST.AST): Array<unknown> | undefined => {
  if (ast._tag === "Literal") return [ast.literal]
  if (ast._tag === "Union") {
    const all = ast.types.map(literalsOf)
    return all.every((l) => l !== undefined) ? all.flat() as Array<unknown> : undefined
  }
  return undefined
}

const quoted = (u: unknown) => JSON.stringify(u)

/**
 * The OpenAPI validator's message for a failed check, from the JSON Schema keywords the check
 * generates into the CRD (`minimum`, `maxLength`, ...), or undefined when it has none.
 */
const checkMessage = (filter: SchemaAST.Filter<unknown>, value: unknown, at: string, named: string): FieldError | undefined => {
  const toJson = (filter.annotations as any)?.toJsonSchema
  const keywords: Record<string, unknown> = typeof toJson === "function" ? toJson() ?? {} : {}
  const body = (detail: string) => fieldInvalid(at, value, `${named} in body ${detail}`)
  if (keywords.type === "integer" && !Number.isInteger(value)) {
    return typeInvalid(at, value, "integer", named)
  }
  if (typeof value === "number") {
    if (typeof keywords.minimum === "number" && value < keywords.minimum) return body(`should be greater than or equal to ${keywords.minimum}`)
    if (typeof keywords.exclusiveMinimum === "number" && value <= keywords.exclusiveMinimum) return body(`should be greater than ${keywords.exclusiveMinimum}`)
    if (typeof keywords.maximum === "number" && value > keywords.maximum) return body(`should be less than or equal to ${keywords.maximum}`)
    if (typeof keywords.exclusiveMaximum === "number" && value >= keywords.exclusiveMaximum) return body(`should be less than ${keywords.exclusiveMaximum}`)
    if (typeof keywords.multipleOf === "number") return body(`should be a multiple of ${keywords.multipleOf}`)
  }
  if (typeof value === "string") {
    if (typeof keywords.minLength === "number" && value.length < keywords.minLength) return body(`should be at least ${keywords.minLength} chars long`)
    if (typeof keywords.maxLength === "number" && value.length > keywords.maxLength) {
      return { field: at, reason: "FieldValueTooLong", message: `Too long: may not be more than ${keywords.maxLength} bytes` }
    }
    if (typeof keywords.pattern === "string") return body(`should match '${keywords.pattern}'`)
  }
  if (Array.isArray(value)) {
    if (typeof keywords.minItems === "number" && value.length < keywords.minItems) return body(`should have at least ${keywords.minItems} items`)
    if (typeof keywords.maxItems === "number" && value.length > keywords.maxItems) {
      return { field: at, reason: "FieldValueTooMany", message: `Too many: ${value.length}: must have at most ${keywords.maxItems} items` }
    }
  }
  return undefined
}

const typeInvalid = (at: string, value: unknown, expected: string, named: string): FieldError => ({
  field: at,
  reason: "FieldValueTypeInvalid",
  message: `Invalid value: ${quoted(jsonType(value))}: ${named} in body must be of type ${expected}: ${quoted(jsonType(value))}`
})

/** Turns a Schema issue tree into the errors the CRD validator would report for the same input. */
const fieldErrors = (issue: SchemaIssue.Issue, root: string, input: Json, path: ReadonlyArray<PropertyKey>): Array<FieldError> => {
  const at = pathString(root, path)
  // The server validates status on its own, so its messages name status fields relative to it.
  const named = root === "status" && path.length > 0 ? pathString("", path).replace(/^\./, "") : at
  const value = valueAt(input, path)
  switch (issue._tag) {
    case "Pointer":
      return fieldErrors(issue.issue, root, input, [...path, ...issue.path])
    case "Composite":
      return issue.issues.flatMap((i) => fieldErrors(i, root, input, path))
    case "Encoding":
      return fieldErrors(issue.issue, root, input, path)
    case "MissingKey":
      return [fieldRequired(at)]
    case "AnyOf": {
      const literals = literalsOf(issue.ast)
      if (literals !== undefined) {
        return [{
          field: at,
          reason: "FieldValueNotSupported",
          message: `Unsupported value: ${quoted(value)}: supported values: ${literals.map(quoted).join(", ")}`
        }]
      }
      if (issue.issues.length > 0) return issue.issues.flatMap((i) => fieldErrors(i, root, input, path))
      break
    }
    case "InvalidType": {
      const literals = literalsOf(issue.ast)
      if (literals !== undefined) {
        return [{
          field: at,
          reason: "FieldValueNotSupported",
          message: `Unsupported value: ${quoted(value)}: supported values: ${literals.map(quoted).join(", ")}`
        }]
      }
      const expected = expectedType(issue.ast)
      if (expected !== undefined) return [typeInvalid(at, value, expected, named)]
      break
    }
    case "Filter": {
      const known = checkMessage(issue.filter, value, at, named)
      if (known !== undefined) return [known]
      break
    }
    default:
      break
  }
  return formatter(issue).issues.map((i) => fieldInvalid(at, value ?? null, i.message))
}

/**
 * Validates `value` (the JSON at `root`, `spec` or `status`) with a custom resource's Schema, as the
 * structural schema generated from it would: on success the value comes back pruned of unknown
 * fields (decode then encode); on failure the errors name the field paths.
 *
 * @internal
 */
export const validateCustom = (
  codec: Schema.Codec<unknown, unknown>,
  root: string,
  value: Json
): Result.Result<Json, Array<FieldError>> => {
  if (value === undefined) return Result.fail([fieldRequired(root)])
  let decoded: Result.Result<unknown, Schema.SchemaError>
  try {
    decoded = Schema.decodeUnknownResult(codec as any)(value, { errors: "all" }) as Result.Result<unknown, Schema.SchemaError>
  } catch {
    // A Schema with asynchronous or effectful checks cannot run here; the server would not run it either.
    return Result.succeed(value)
  }
  if (Result.isFailure(decoded)) {
    const seen = new Set<string>()
    const errs: Array<FieldError> = []
    // The OpenAPI validator reports errors sorted by field path.
    const all = fieldErrors(decoded.failure.issue, root, value, []).sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0))
    for (const err of all) {
      const id = `${err.field}\u0000${err.message}`
      if (!seen.has(id)) {
        seen.add(id)
        errs.push(err)
      }
    }
    return Result.fail(errs)
  }
  try {
    const encoded = Schema.encodeUnknownResult(codec as any)(decoded.success)
    return Result.isSuccess(encoded) ? Result.succeed(encoded.success) : Result.succeed(value)
  } catch {
    return Result.succeed(value)
  }
}
