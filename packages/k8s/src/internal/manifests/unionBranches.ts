/**
 * How the branches of a union (`anyOf`) are read: which are `null` or `Schema.Number`'s non-finite strings
 * (both absorbed into the one remaining type), which are literals that merge into one `enum`, and which
 * pair is Kubernetes' `IntOrString`.
 *
 * @internal
 */
import * as Json from "../json.ts"
import { ANNOTATION_KEYS, finish, isRecord, type JSONSchemaProps, SCALAR_TYPES } from "./jsonSchemaProps.ts"

const NON_FINITE = new Set(["Infinity", "-Infinity", "NaN"])

export const isNullBranch = (b: unknown): boolean =>
  isRecord(b) && b.type === "null" && Object.keys(b).every((k) => k === "type" || ANNOTATION_KEYS.has(k))

/** `Schema.Number`'s encoding of NaN and ±Infinity as strings: JSON has no such numbers, so neither does the CRD. */
export const isNonFiniteBranch = (b: unknown): boolean =>
  isRecord(b) &&
  b.type === "string" &&
  Array.isArray(b.enum) &&
  b.enum.every((v) => typeof v === "string" && NON_FINITE.has(v)) &&
  Object.keys(b).every((k) => k === "type" || k === "enum" || ANNOTATION_KEYS.has(k))

export const typeName = (b: unknown): string => {
  if (!isRecord(b)) return "never"
  if (typeof b.type === "string") return Array.isArray(b.enum) ? `${b.type} literal` : b.type
  if (Array.isArray(b.type)) return b.type.join(" | ")
  return b.anyOf !== undefined ? "union" : "any"
}

/** Branches that are all literals of one type: `Schema.Enum`, or `Literals` built by `Union`. */
export const mergeEnums = (branches: ReadonlyArray<unknown>): JSONSchemaProps | undefined => {
  const types = new Set<string>()
  const values: Array<unknown> = []
  for (const b of branches) {
    if (!isRecord(b) || typeof b.type !== "string" || !SCALAR_TYPES.has(b.type) || !Array.isArray(b.enum)) return
    if (!Object.keys(b).every((k) => k === "type" || k === "enum" || k === "title" || k === "description")) return
    types.add(b.type)
    for (const v of b.enum) if (!values.some((x) => Json.equals(x, v))) values.push(v)
  }
  const [first] = types
  if (types.size === 1) return finish({ type: first, enum: values })
  // integer and number literals together are number literals
  if (types.size === 2 && types.has("integer") && types.has("number")) return finish({ type: "number", enum: values })
  return undefined
}

const PLAIN_KEYS = new Set(["type", "title", "description"])

/** `Schema.Int` always carries the safe-integer bounds; they say nothing a CRD needs. */
const isPlain = (b: unknown, type: string): boolean =>
  isRecord(b) &&
  b.type === type &&
  Object.keys(b).every((k) =>
    PLAIN_KEYS.has(k) ||
    (type === "integer" &&
      ((k === "minimum" && b[k] === Number.MIN_SAFE_INTEGER) || (k === "maximum" && b[k] === Number.MAX_SAFE_INTEGER)))
  )

/** `integer | string` is the one union Kubernetes has a name for (`IntOrString`), without further checks. */
export const isIntOrString = (branches: ReadonlyArray<unknown>): boolean =>
  branches.length === 2 && branches.some((b) => isPlain(b, "integer")) && branches.some((b) => isPlain(b, "string"))
