/**
 * The output side of the structural-schema conversion: the node Kubernetes calls `JSONSchemaProps`, the
 * order its keys are written in, and the JSON Schema keywords sorted by the role they play in a CRD.
 *
 * @internal
 */

/**
 * A node of a Kubernetes structural schema (`JSONSchemaProps` of `apiextensions.k8s.io/v1`), restricted to
 * what `structuralSchema` emits: every node has a `type` (or is an explicit "any value" /
 * int-or-string node), objects have either `properties` or `additionalProperties`, and there is no
 * `$ref`, `anyOf` or `oneOf`. A residual `allOf` carries only value checks (a second `pattern`, ...).
 */
export interface JSONSchemaProps {
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  readonly title?: string
  readonly description?: string
  readonly nullable?: true
  readonly default?: unknown
  readonly example?: unknown
  readonly format?: string
  readonly enum?: ReadonlyArray<unknown>
  readonly pattern?: string
  readonly minLength?: number
  readonly maxLength?: number
  readonly minimum?: number
  readonly exclusiveMinimum?: boolean
  readonly maximum?: number
  readonly exclusiveMaximum?: boolean
  readonly multipleOf?: number
  readonly minItems?: number
  readonly maxItems?: number
  readonly minProperties?: number
  readonly maxProperties?: number
  readonly properties?: { readonly [name: string]: JSONSchemaProps }
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: JSONSchemaProps
  readonly items?: JSONSchemaProps
  readonly allOf?: ReadonlyArray<JSONSchemaProps>
  readonly "x-kubernetes-preserve-unknown-fields"?: true
  readonly "x-kubernetes-int-or-string"?: true
  readonly "x-kubernetes-list-type"?: "set"
}

export type Raw = { readonly [key: string]: unknown }
export type Mutable = { [key: string]: unknown }

export const isRecord = (u: unknown): u is Raw => typeof u === "object" && u !== null && !Array.isArray(u)

/** Output key order: the order a reader of `kubectl get crd -o yaml` expects. */
const KEY_ORDER = [
  "type",
  "title",
  "description",
  "nullable",
  "default",
  "example",
  "format",
  "enum",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "allOf",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-type"
]

export const finish = (o: Mutable): JSONSchemaProps => {
  const out: Mutable = {}
  for (const key of KEY_ORDER) if (o[key] !== undefined) out[key] = o[key]
  return out as JSONSchemaProps
}

/** Annotations: carried over as they are; `examples[0]` becomes OpenAPI's single `example`. */
export const ANNOTATION_KEYS = new Set(["title", "description", "default", "examples", "example"])
/** Keywords with no validation meaning that CRDs do not have: dropped. */
export const IGNORED_KEYS = new Set([
  "$schema",
  "$id",
  "id",
  "$comment",
  "readOnly",
  "writeOnly",
  "deprecated",
  "contentEncoding",
  "contentMediaType",
  "contentSchema"
])
export const LOWER_BOUNDS = ["minLength", "minItems", "minProperties"] as const
export const UPPER_BOUNDS = ["maxLength", "maxItems", "maxProperties"] as const
/** Value checks a structural schema may carry on a node (and inside a residual `allOf`). */
export const VALUE_KEYS = new Set([
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "pattern",
  "multipleOf",
  "format",
  "enum",
  "const",
  "uniqueItems"
])
export const SHAPE_KEYS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "patternProperties",
  "items",
  "additionalItems",
  "allOf",
  "anyOf",
  "oneOf",
  "not",
  "$ref",
  "definitions",
  "$defs"
])
export const SCALAR_TYPES = new Set(["string", "integer", "number", "boolean"])

/** Any JSON value: the only way a structural schema can leave a node untyped. */
export const anyValue = (): Mutable => ({ "x-kubernetes-preserve-unknown-fields": true })

export const annotationsOf = (raw: Raw): Mutable => {
  const out: Mutable = {}
  if (typeof raw.title === "string") out.title = raw.title
  if (typeof raw.description === "string") out.description = raw.description
  if (raw.default !== undefined) out.default = raw.default
  if (Array.isArray(raw.examples) && raw.examples.length > 0) out.example = raw.examples[0]
  else if (raw.example !== undefined) out.example = raw.example
  return out
}
