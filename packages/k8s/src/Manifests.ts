/**
 * Kubernetes manifests generated from kubefx definitions: the CustomResourceDefinition of a custom resource
 * (its schema derived from the type's `spec` and `status` Schemas), least-privilege RBAC and a Deployment for
 * an operator, and multi-document YAML for `kubectl apply -f`.
 *
 * Pure data in, data out: nothing here talks to a cluster. The `kubefx manifests` CLI is a thin shell over it.
 *
 * @since 0.1.0
 */
import type { Resource } from "@kubefx/core"
import { Effect, JsonSchema, Schema } from "effect"
import { dump } from "js-yaml"

// ---------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------

/**
 * A definition cannot be turned into a manifest: a Schema construct a CRD schema cannot express (a union of
 * object shapes, a tuple, a recursive type, ...), an invalid name, an empty namespace list.
 * `path` locates the offending schema node, e.g. `spec.items[*].mode` (`*` stands for any index or key).
 *
 * @since 0.1.0
 * @category errors
 */
export class ManifestError extends Schema.TaggedError<ManifestError>()("ManifestError", {
  message: Schema.String,
  /** What was being generated, e.g. `CustomResourceDefinition widgets.example.com`. */
  subject: Schema.String,
  /** Where in the definition, e.g. `spec.replicas` or `names.plural`; empty when the whole definition is at fault. */
  path: Schema.String
}) {}

/** Internal: thrown by the pure builders, turned into a `ManifestError` by `attempt`. */
class Invalid {
  readonly path: string
  readonly reason: string
  constructor(path: string, reason: string) {
    this.path = path
    this.reason = reason
  }
}

const attempt = <A>(subject: string, build: () => A): Effect.Effect<A, ManifestError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(build())
    } catch (e) {
      if (e instanceof Invalid) {
        const where = e.path === "" ? "" : `${e.path}: `
        return Effect.fail(
          new ManifestError({ message: `Cannot generate ${subject}: ${where}${e.reason}`, subject, path: e.path })
        )
      }
      throw e
    }
  })

// ---------------------------------------------------------------------------------------------------------
// structural schema
// ---------------------------------------------------------------------------------------------------------

/**
 * A node of a Kubernetes structural schema (`JSONSchemaProps` of `apiextensions.k8s.io/v1`), restricted to
 * what `structuralSchema` emits: every node has a `type` (or is an explicit "any value" /
 * int-or-string node), objects have either `properties` or `additionalProperties`, and there is no
 * `$ref`, `anyOf` or `oneOf`. A residual `allOf` carries only value checks (a second `pattern`, ...).
 *
 * @since 0.1.0
 * @category models
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

type Raw = { readonly [key: string]: unknown }
type Mutable = { [key: string]: unknown }

const isRecord = (u: unknown): u is Raw => typeof u === "object" && u !== null && !Array.isArray(u)

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

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

const finish = (o: Mutable): JSONSchemaProps => {
  const out: Mutable = {}
  for (const key of KEY_ORDER) if (o[key] !== undefined) out[key] = o[key]
  return out as JSONSchemaProps
}

/** Annotations: carried over as they are; `examples[0]` becomes OpenAPI's single `example`. */
const ANNOTATION_KEYS = new Set(["title", "description", "default", "examples", "example"])
/** Keywords with no validation meaning that CRDs do not have: dropped. */
const IGNORED_KEYS = new Set([
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
const LOWER_BOUNDS = ["minLength", "minItems", "minProperties"] as const
const UPPER_BOUNDS = ["maxLength", "maxItems", "maxProperties"] as const
/** Value checks a structural schema may carry on a node (and inside a residual `allOf`). */
const VALUE_KEYS = new Set([
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
const SHAPE_KEYS = new Set([
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
const SCALAR_TYPES = new Set(["string", "integer", "number", "boolean"])
const NON_FINITE = new Set(["Infinity", "-Infinity", "NaN"])

/** Any JSON value: the only way a structural schema can leave a node untyped. */
const anyValue = (): Mutable => ({ "x-kubernetes-preserve-unknown-fields": true })

interface Context {
  readonly definitions: Raw
  /** The chain of definitions being expanded, to detect recursion. */
  readonly expanding: ReadonlyArray<string>
}

const annotationsOf = (raw: Raw): Mutable => {
  const out: Mutable = {}
  if (typeof raw.title === "string") out.title = raw.title
  if (typeof raw.description === "string") out.description = raw.description
  if (raw.default !== undefined) out.default = raw.default
  if (Array.isArray(raw.examples) && raw.examples.length > 0) out.example = raw.examples[0]
  else if (raw.example !== undefined) out.example = raw.example
  return out
}

/** The annotations of a wrapper (a union, a `$ref`) win over the wrapped schema's own. */
const withAnnotations = (node: JSONSchemaProps, raw: Raw): JSONSchemaProps => finish({ ...node, ...annotationsOf(raw) })

const onlyAnnotations = (raw: Raw, except: ReadonlyArray<string>, path: string, what: string) => {
  for (const key of Object.keys(raw)) {
    if (!except.includes(key) && !ANNOTATION_KEYS.has(key) && !IGNORED_KEYS.has(key)) {
      throw new Invalid(path, `the keyword "${key}" next to ${what} has no CRD equivalent`)
    }
  }
}

const convert = (raw: unknown, path: string, ctx: Context): JSONSchemaProps => {
  if (raw === true) return finish(anyValue())
  if (!isRecord(raw)) {
    throw new Invalid(path, "a schema that accepts no value (Schema.Never) cannot be a CRD field")
  }
  for (const key of Object.keys(raw)) {
    if (!ANNOTATION_KEYS.has(key) && !IGNORED_KEYS.has(key) && !VALUE_KEYS.has(key) && !SHAPE_KEYS.has(key)) {
      throw new Invalid(path, `the JSON Schema keyword "${key}" has no CRD equivalent`)
    }
  }
  if (typeof raw.$ref === "string") {
    onlyAnnotations(raw, ["$ref"], path, "$ref")
    return withAnnotations(deref(raw.$ref, path, ctx), raw)
  }
  if (raw.anyOf !== undefined || raw.oneOf !== undefined) {
    onlyAnnotations(raw, ["anyOf", "oneOf"], path, "a union")
    return withAnnotations(union(raw, path, ctx), raw)
  }
  if (raw.not !== undefined) {
    onlyAnnotations(raw, ["not"], path, "not")
    if (isRecord(raw.not) && raw.not.type === "null" && Object.keys(raw.not).length === 1) {
      // Schema.Struct({}) and friends: "anything but null", which a CRD can only state as "anything"
      return finish({ ...anyValue(), ...annotationsOf(raw) })
    }
    if (isRecord(raw.not) && Object.keys(raw.not).length === 0) {
      throw new Invalid(path, "a schema that accepts no value (Schema.Never) cannot be a CRD field")
    }
    throw new Invalid(path, "a negated schema (not) has no CRD equivalent")
  }
  return single(raw, path, ctx)
}

const definitionName = (ref: string, path: string): string => {
  for (const prefix of ["#/definitions/", "#/$defs/"]) {
    if (ref.startsWith(prefix)) return ref.slice(prefix.length).replaceAll("~1", "/").replaceAll("~0", "~")
  }
  throw new Invalid(path, `the reference ${ref} points outside the schema`)
}

const resolve = (raw: unknown, path: string, ctx: Context): unknown => {
  if (!isRecord(raw) || typeof raw.$ref !== "string") return raw
  const name = definitionName(raw.$ref, path)
  return ctx.definitions[name] ?? raw
}

const deref = (ref: string, path: string, ctx: Context): JSONSchemaProps => {
  const name = definitionName(ref, path)
  if (ctx.expanding.includes(name)) {
    throw new Invalid(
      path,
      "a recursive schema (Schema.suspend) cannot be a CRD schema, which is a finite tree: " +
        "bound the depth, or use Schema.Unknown for the recursive part"
    )
  }
  const definition = ctx.definitions[name]
  if (definition === undefined) throw new Invalid(path, `the reference ${ref} names no definition`)
  return convert(definition, path, { ...ctx, expanding: [...ctx.expanding, name] })
}

const isNullBranch = (b: unknown): boolean =>
  isRecord(b) && b.type === "null" && Object.keys(b).every((k) => k === "type" || ANNOTATION_KEYS.has(k))

/** `Schema.Number`'s encoding of NaN and ±Infinity as strings: JSON has no such numbers, so neither does the CRD. */
const isNonFiniteBranch = (b: unknown): boolean =>
  isRecord(b) &&
  b.type === "string" &&
  Array.isArray(b.enum) &&
  b.enum.every((v) => typeof v === "string" && NON_FINITE.has(v)) &&
  Object.keys(b).every((k) => k === "type" || k === "enum" || ANNOTATION_KEYS.has(k))

const typeName = (b: unknown): string => {
  if (!isRecord(b)) return "never"
  if (typeof b.type === "string") return Array.isArray(b.enum) ? `${b.type} literal` : b.type
  if (Array.isArray(b.type)) return b.type.join(" | ")
  return b.anyOf !== undefined ? "union" : "any"
}

/** Branches that are all literals of one type: `Schema.Enum`, or `Literals` built by `Union`. */
const mergeEnums = (branches: ReadonlyArray<unknown>): JSONSchemaProps | undefined => {
  const types = new Set<string>()
  const values: Array<unknown> = []
  for (const b of branches) {
    if (!isRecord(b) || typeof b.type !== "string" || !SCALAR_TYPES.has(b.type) || !Array.isArray(b.enum)) return
    if (!Object.keys(b).every((k) => k === "type" || k === "enum" || k === "title" || k === "description")) return
    types.add(b.type)
    for (const v of b.enum) if (!values.some((x) => deepEqual(x, v))) values.push(v)
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
const isIntOrString = (branches: ReadonlyArray<unknown>): boolean =>
  branches.length === 2 && branches.some((b) => isPlain(b, "integer")) && branches.some((b) => isPlain(b, "string"))

const union = (raw: Raw, path: string, ctx: Context): JSONSchemaProps => {
  const list = raw.anyOf ?? raw.oneOf
  if (!Array.isArray(list)) throw new Invalid(path, "a malformed union (anyOf is not a list)")
  const branches = list.map((b) => resolve(b, path, ctx))
  const nullable = branches.some(isNullBranch)
  let rest = branches.filter((b) => !isNullBranch(b))
  if (rest.some((b) => isRecord(b) && (b.type === "number" || b.type === "integer"))) {
    rest = rest.filter((b) => !isNonFiniteBranch(b))
  }
  let node: JSONSchemaProps
  if (rest.length === 0) {
    throw new Invalid(path, "a schema that only accepts null (Schema.Null) cannot be a CRD field")
  } else if (rest.length === 1) {
    node = convert(rest[0], path, ctx)
  } else {
    const merged = mergeEnums(rest)
    if (merged !== undefined) node = merged
    else if (isIntOrString(rest)) node = finish({ "x-kubernetes-int-or-string": true })
    else if (rest.filter((b) => isRecord(b) && b.type === "object").length > 1) {
      throw new Invalid(
        path,
        "a union of different object shapes (anyOf) cannot be a CRD field, which has one shape: " +
          "use one Struct with optional fields"
      )
    } else {
      throw new Invalid(
        path,
        `a union of ${rest.map(typeName).join(" | ")} (anyOf) cannot be a CRD field, which has one type ` +
          "(only a plain integer | string is allowed, as IntOrString): use one type, or Schema.Literals for alternatives of one type"
      )
    }
  }
  return nullable ? finish({ ...node, nullable: true }) : node
}

/** Folds `allOf` members that only add checks into the node, keeping the tightest bounds. */
const mergeAllOf = (
  raw: Raw,
  path: string
): { readonly node: Mutable; readonly residual: ReadonlyArray<JSONSchemaProps>; readonly openRest: boolean } => {
  const node: Mutable = { ...raw }
  delete node.allOf
  const residual: Array<JSONSchemaProps> = []
  let openRest = false
  if (!Array.isArray(raw.allOf)) throw new Invalid(path, "a malformed intersection (allOf is not a list)")
  for (const m of raw.allOf) {
    if (!isRecord(m)) throw new Invalid(path, "a malformed intersection (allOf member is not a schema)")
    if (m.type === "object" && Object.keys(m).every((k) => k === "type" || k === "additionalProperties")) {
      const ap = m.additionalProperties
      if (ap === undefined || ap === true || (isRecord(ap) && Object.keys(ap).length === 0)) {
        // StructWithRest(..., [Record(String, Unknown)]): keep the keys the Struct does not name
        openRest = true
        continue
      }
      throw new Invalid(
        path,
        "a Struct with a typed index signature (StructWithRest) cannot be a CRD field: " +
          "Kubernetes allows properties or additionalProperties on an object, not both"
      )
    }
    for (const key of Object.keys(m)) {
      if (ANNOTATION_KEYS.has(key) || IGNORED_KEYS.has(key)) continue
      if (!VALUE_KEYS.has(key)) {
        throw new Invalid(path, `an intersection of schemas (allOf with "${key}") has no CRD equivalent`)
      }
    }
    for (const key of Object.keys(m)) {
      if (!VALUE_KEYS.has(key) || key === "exclusiveMinimum" || key === "exclusiveMaximum") continue
      const value = m[key]
      if (node[key] === undefined) {
        node[key] = value
        if (key === "minimum" && m.exclusiveMinimum !== undefined) node.exclusiveMinimum = m.exclusiveMinimum
        if (key === "maximum" && m.exclusiveMaximum !== undefined) node.exclusiveMaximum = m.exclusiveMaximum
      } else if (deepEqual(node[key], value)) {
        if (key === "minimum" && m.exclusiveMinimum === true) node.exclusiveMinimum = true
        if (key === "maximum" && m.exclusiveMaximum === true) node.exclusiveMaximum = true
      } else if ((LOWER_BOUNDS as ReadonlyArray<string>).includes(key)) {
        node[key] = Math.max(node[key] as number, value as number)
      } else if ((UPPER_BOUNDS as ReadonlyArray<string>).includes(key)) {
        node[key] = Math.min(node[key] as number, value as number)
      } else if (key === "minimum" && (value as number) > (node[key] as number)) {
        node[key] = value
        node.exclusiveMinimum = m.exclusiveMinimum
      } else if (key === "maximum" && (value as number) < (node[key] as number)) {
        node[key] = value
        node.exclusiveMaximum = m.exclusiveMaximum
      } else if (key !== "minimum" && key !== "maximum") {
        // a second pattern, multipleOf, ...: a validation-only allOf is allowed in a structural schema
        residual.push(finish({ [key]: value }))
      }
    }
  }
  return { node, residual, openRest }
}

const enumType = (values: ReadonlyArray<unknown>, path: string): string => {
  const types = new Set(
    values.map((v) => (typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v))
  )
  if (types.has("number")) types.delete("integer")
  const [only] = types
  if (types.size === 1 && only !== undefined && SCALAR_TYPES.has(only)) return only
  throw new Invalid(path, `literals of different types (${[...types].join(", ")}) cannot be one CRD field`)
}

const VALUE_COPY = [
  "format",
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
  "maxProperties"
] as const

const single = (raw: Raw, path: string, ctx: Context): JSONSchemaProps => {
  const merged = raw.allOf === undefined ? { node: { ...raw } as Mutable, residual: [], openRest: false } : mergeAllOf(raw, path)
  const r = merged.node
  let nullable = false
  let type: unknown = r.type
  if (Array.isArray(type)) {
    nullable = type.includes("null")
    const rest = type.filter((t) => t !== "null")
    if (rest.length !== 1) {
      throw new Invalid(path, `a value of several types (${rest.join(" | ")}) cannot be a CRD field, which has one type`)
    }
    type = rest[0]
  }
  if (r.const !== undefined) r.enum = [r.const]
  if (Array.isArray(r.enum) && r.enum.includes(null)) {
    nullable = true
    r.enum = r.enum.filter((v) => v !== null)
  }
  if (type === "null") {
    throw new Invalid(path, "a schema that only accepts null (Schema.Null) cannot be a CRD field")
  }
  if (type === undefined) {
    if (Array.isArray(r.enum)) type = enumType(r.enum, path)
    else if (r.properties !== undefined || r.additionalProperties !== undefined) type = "object"
    else if (r.items !== undefined) type = "array"
    else if (Object.keys(r).every((k) => ANNOTATION_KEYS.has(k) || IGNORED_KEYS.has(k))) {
      // Schema.Unknown / Schema.Any: any JSON value, kept as it is
      return finish({ ...anyValue(), ...annotationsOf(r), nullable: nullable || undefined })
    } else throw new Invalid(path, "a check without a type has no CRD equivalent")
  }
  const out: Mutable = { type, ...annotationsOf(r) }
  if (nullable) out.nullable = true
  for (const key of VALUE_COPY) if (r[key] !== undefined) out[key] = r[key]
  if (merged.residual.length > 0) out.allOf = merged.residual
  switch (type) {
    case "object":
      return object(r, out, merged.openRest, path, ctx)
    case "array":
      return array(r, out, path, ctx)
    case "string":
    case "integer":
    case "number":
    case "boolean": {
      if (Array.isArray(r.enum)) {
        if (r.enum.length === 0) throw new Invalid(path, "an empty literal union accepts no value")
        const actual = enumType(r.enum, path)
        if (actual !== type && !(type === "number" && actual === "integer")) {
          throw new Invalid(path, `literals of type ${actual} in a field of type ${type}`)
        }
        out.enum = r.enum
      }
      if (r.uniqueItems === true) throw new Invalid(path, `unique items on a ${type}`)
      return finish(out)
    }
    default:
      throw new Invalid(path, `the type ${JSON.stringify(type)} has no CRD equivalent`)
  }
}

const object = (r: Raw, out: Mutable, openRest: boolean, path: string, ctx: Context): JSONSchemaProps => {
  if (r.enum !== undefined) throw new Invalid(path, "object literals (enum of objects) have no CRD equivalent")
  if (isRecord(r.patternProperties) && Object.keys(r.patternProperties).length > 0) {
    throw new Invalid(
      path,
      "a record whose keys must match a pattern (patternProperties) has no CRD equivalent: " +
        "use Schema.Record(Schema.String, ...)"
    )
  }
  const ap = r.additionalProperties
  const apIsOpen = ap === undefined || ap === true || (isRecord(ap) && Object.keys(ap).length === 0)
  if (r.properties !== undefined) {
    if (!isRecord(r.properties)) throw new Invalid(path, "malformed properties")
    if (!apIsOpen && ap !== false) {
      throw new Invalid(
        path,
        "a Struct with a typed index signature cannot be a CRD field: " +
          "Kubernetes allows properties or additionalProperties on an object, not both"
      )
    }
    const properties: { [name: string]: JSONSchemaProps } = {}
    for (const [name, value] of Object.entries(r.properties)) properties[name] = convert(value, `${path}.${name}`, ctx)
    if (Object.keys(properties).length > 0) out.properties = properties
    const required = Array.isArray(r.required)
      ? r.required.filter((k): k is string => typeof k === "string" && k in properties)
      : []
    if (required.length > 0) out.required = required
    if (openRest) out["x-kubernetes-preserve-unknown-fields"] = true
  } else if (apIsOpen) {
    // Schema.Record(Schema.String, Schema.Unknown): keys and values are free
    out["x-kubernetes-preserve-unknown-fields"] = true
  } else if (ap !== false) {
    out.additionalProperties = convert(ap, `${path}.*`, ctx)
  }
  return finish(out)
}

const array = (r: Raw, out: Mutable, path: string, ctx: Context): JSONSchemaProps => {
  if (r.enum !== undefined) throw new Invalid(path, "array literals (enum of arrays) have no CRD equivalent")
  let items = r.items
  if (Array.isArray(items)) {
    const rest = r.additionalItems
    // Schema.NonEmptyArray(X) arrives as the tuple [X, ...X]: a plain list of X with minItems
    if (isRecord(rest) && items.every((i) => deepEqual(i, rest))) items = rest
    else {
      throw new Invalid(
        path,
        "a tuple (a fixed type per position) cannot be a CRD field, whose lists have one item type: " +
          "use Schema.Array or a Struct"
      )
    }
  }
  const itemSchema = items === undefined ? finish(anyValue()) : convert(items, `${path}[*]`, ctx)
  out.items = itemSchema
  if (r.uniqueItems === true) {
    if (itemSchema.type === undefined || !SCALAR_TYPES.has(itemSchema.type)) {
      throw new Invalid(
        path,
        "unique items of non-scalar values: Kubernetes checks uniqueness only for lists of scalars " +
          "(x-kubernetes-list-type: set)"
      )
    }
    out["x-kubernetes-list-type"] = "set"
  }
  return finish(out)
}

const structural = (schema: Schema.Top, path: string): JSONSchemaProps => {
  let document: JsonSchema.Document<"draft-04">
  try {
    document = JsonSchema.toDocumentDraft04(Schema.toJsonSchemaDocument(schema, { referencePolicy: () => undefined }))
  } catch (e) {
    throw new Invalid(path, `the Schema has no JSON Schema form: ${e instanceof Error ? e.message : String(e)}`)
  }
  return convert(document.schema, path, { definitions: document.definitions, expanding: [] })
}

/**
 * The Kubernetes structural schema of a Schema's encoded (JSON) form, as used in a CRD's `openAPIV3Schema`.
 *
 * Derived from `Schema.toJsonSchemaDocument` (draft-04 form), then made structural:
 * - Struct → `properties` + `required`, without `additionalProperties` (the API server prunes unknown keys);
 *   `Schema.Record(Schema.String, X)` → `additionalProperties: X`; a record of `Unknown` and `Schema.Unknown`
 *   itself → `x-kubernetes-preserve-unknown-fields: true`.
 * - `NullOr(X)`, `optional(X)` (`anyOf [X, null]`) → X with `nullable: true`.
 * - `Schema.Number`'s `"NaN" | "Infinity" | "-Infinity"` string branch is removed: the CRD accepts finite numbers
 *   only (what JSON can carry); prefer `Schema.Finite` so the Schema says the same.
 * - literal unions → `enum`; `integer | string` → `x-kubernetes-int-or-string`; `UniqueArray` of scalars →
 *   `x-kubernetes-list-type: set`; `NonEmptyArray(X)` → array of X with `minItems: 1`.
 * - descriptions, titles, `default`s and the first of `examples` are carried over; `$ref`s are inlined.
 * - `allOf` checks are folded in, keeping the tightest bounds.
 *
 * Fails with a `ManifestError` naming the path for what a structural schema cannot say: unions of different
 * types or object shapes, tuples, recursive schemas, Structs with a typed index signature, `Schema.Never`.
 *
 * Gotcha: the API server never accepts null for a field with an `enum`, even a nullable one.
 *
 * @example
 * ```ts
 * const schema = yield* Manifests.structuralSchema(Schema.Struct({ replicas: Schema.optionalKey(Schema.Int) }))
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const structuralSchema = (
  schema: Schema.Top,
  options?: { /** Prefix of error paths, e.g. `spec`. */ readonly path?: string }
): Effect.Effect<JSONSchemaProps, ManifestError> =>
  attempt("structural schema", () => structural(schema, options?.path ?? ""))

// ---------------------------------------------------------------------------------------------------------
// CustomResourceDefinition
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface CustomResourceColumnDefinition {
  readonly name: string
  readonly type: Resource.PrinterColumn["type"]
  readonly jsonPath: string
  readonly description?: string
  readonly priority?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CustomResourceDefinitionNames {
  readonly plural: string
  readonly singular: string
  readonly kind: string
  readonly listKind: string
  readonly shortNames?: ReadonlyArray<string>
  readonly categories?: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CustomResourceDefinitionVersion {
  readonly name: string
  readonly served: boolean
  readonly storage: boolean
  readonly schema: { readonly openAPIV3Schema: JSONSchemaProps }
  readonly subresources: { readonly status: Record<string, never> }
  readonly additionalPrinterColumns: ReadonlyArray<CustomResourceColumnDefinition>
}

/**
 * An `apiextensions.k8s.io/v1` CustomResourceDefinition, as `crd` generates it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomResourceDefinition extends Resource.KubeObject {
  readonly apiVersion: "apiextensions.k8s.io/v1"
  readonly kind: "CustomResourceDefinition"
  readonly metadata: {
    readonly name: string
    readonly labels?: Readonly<Record<string, string>>
    readonly annotations?: Readonly<Record<string, string>>
  }
  readonly spec: {
    readonly group: string
    readonly names: CustomResourceDefinitionNames
    readonly scope: "Namespaced" | "Cluster"
    readonly versions: ReadonlyArray<CustomResourceDefinitionVersion>
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CrdOptions {
  /** Defaults to the kind in lower case. */
  readonly singular?: string
  /** Groups the type joins, e.g. `["all"]` so that `kubectl get all` lists it. */
  readonly categories?: ReadonlyArray<string>
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const COLUMN_TYPES = new Set(["string", "integer", "number", "boolean", "date"])

const checkLabel = (value: string, path: string, what: string) => {
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new Invalid(path, `${what} ${JSON.stringify(value)} must be a lower-case DNS label (a-z, 0-9, '-'; at most 63)`)
  }
}

const checkSubdomain = (value: string, path: string, what: string) => {
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new Invalid(path, `${what} ${JSON.stringify(value)} must be a lower-case DNS subdomain`)
  }
}

const AGE: CustomResourceColumnDefinition = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }

const printerColumns = (
  columns: ReadonlyArray<Resource.PrinterColumn>
): ReadonlyArray<CustomResourceColumnDefinition> => {
  const names = new Set<string>()
  const out = columns.map((c, i): CustomResourceColumnDefinition => {
    const path = `printerColumns[${i}]`
    if (c.name === "") throw new Invalid(path, "a printer column needs a name")
    if (names.has(c.name)) throw new Invalid(path, `two printer columns are named ${JSON.stringify(c.name)}`)
    names.add(c.name)
    if (!COLUMN_TYPES.has(c.type)) throw new Invalid(path, `unknown column type ${JSON.stringify(c.type)}`)
    if (!c.jsonPath.startsWith(".")) {
      throw new Invalid(path, `jsonPath ${JSON.stringify(c.jsonPath)} must start with "." (e.g. ".spec.replicas")`)
    }
    return {
      name: c.name,
      type: c.type,
      jsonPath: c.jsonPath,
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.priority !== undefined ? { priority: c.priority } : {})
    }
  })
  // a CRD that lists columns loses kubectl's default Age column unless it lists it too
  return names.has(AGE.name) ? out : [...out, AGE]
}

/** The `metadata.name` a CRD for the type must have: `<plural>.<group>`. */
const crdName = (type: Resource.ResourceType): string => `${type.plural}.${type.group}`

const buildCrd = <S, St, SE, StE>(
  type: Resource.CustomResource<S, St, SE, StE>,
  options: CrdOptions | undefined
): CustomResourceDefinition => {
  if (type.group === "" || !type.group.includes(".")) {
    throw new Invalid("group", `group ${JSON.stringify(type.group)} must be a domain with at least one dot (e.g. example.com)`)
  }
  checkSubdomain(type.group, "group", "group")
  checkLabel(type.version, "version", "version")
  checkLabel(type.plural, "plural", "plural")
  const singular = options?.singular ?? type.kind.toLowerCase()
  checkLabel(singular, "singular", "singular")
  if (!/^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$/.test(type.kind) || type.kind.length > 63) {
    throw new Invalid("kind", `kind ${JSON.stringify(type.kind)} must be alphanumeric and start with a letter`)
  }
  type.shortNames.forEach((s, i) => checkLabel(s, `shortNames[${i}]`, "short name"))
  options?.categories?.forEach((s, i) => checkLabel(s, `categories[${i}]`, "category"))
  const openAPIV3Schema: JSONSchemaProps = finish({
    type: "object",
    description: type.description,
    properties: {
      apiVersion: {
        type: "string",
        description: "APIVersion defines the versioned schema of this representation of an object."
      },
      kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
      metadata: { type: "object" },
      spec: structural(type.spec, "spec"),
      status: structural(type.status, "status")
    },
    required: ["spec"]
  })
  const metadata = {
    name: crdName(type),
    ...(options?.labels !== undefined ? { labels: options.labels } : {}),
    ...(options?.annotations !== undefined ? { annotations: options.annotations } : {})
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata,
    spec: {
      group: type.group,
      names: {
        plural: type.plural,
        singular,
        kind: type.kind,
        listKind: `${type.kind}List`,
        ...(type.shortNames.length > 0 ? { shortNames: type.shortNames } : {}),
        ...(options?.categories !== undefined && options.categories.length > 0 ? { categories: options.categories } : {})
      },
      scope: type.namespaced ? "Namespaced" : "Cluster",
      versions: [
        {
          name: type.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns(type.printerColumns)
        }
      ]
    }
  }
}

/**
 * The CustomResourceDefinition of a custom resource: one served and stored version, the status subresource,
 * the type's printer columns (plus `Age`), its short names, and an `openAPIV3Schema` built from its `spec`
 * and `status` Schemas (see `structuralSchema`). `spec` is required, as `CustomObject` says.
 *
 * @example
 * ```ts
 * const crd = yield* Manifests.crd(EchoServer)
 * console.log(Manifests.toYaml([crd]))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const crd = <S, St, SE, StE>(
  type: Resource.CustomResource<S, St, SE, StE>,
  options?: CrdOptions
): Effect.Effect<CustomResourceDefinition, ManifestError> =>
  attempt(`CustomResourceDefinition ${crdName(type)}`, () => buildCrd(type, options))

// ---------------------------------------------------------------------------------------------------------
// RBAC
// ---------------------------------------------------------------------------------------------------------

/**
 * How the engine writes a child: `apply` (server-side apply, a patch), `replace` (update), `recreate`
 * (delete and create), `onDelete` (create once; changes wait until the child is deleted).
 *
 * @since 0.1.0
 * @category models
 */
export type UpdatePolicy = "apply" | "replace" | "recreate" | "onDelete"

/**
 * What RBAC and Deployment generation need to know about an operator: a structural subset of core's
 * operator definition, so a full definition can be passed as it is.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorDefinition {
  readonly name: string
  readonly parent: Resource.ResourceType
  readonly children: ReadonlyArray<{ readonly type: Resource.ResourceType; readonly update: UpdatePolicy }>
  /** Where the operator watches; `"all"` (the default) needs cluster-wide roles. */
  readonly namespaces?: ReadonlyArray<string> | "all"
  /** Whether the operator puts a finalizer on its parents. */
  readonly hasFinalizer?: boolean
  /** A definition with a `finalize` handler puts a finalizer on its parents, like `hasFinalizer: true`. */
  readonly finalize?: unknown
}

/**
 * One RBAC rule.
 *
 * @since 0.1.0
 * @category models
 */
export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<Verb>
}

/**
 * @since 0.1.0
 * @category models
 */
export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete"

const VERBS: ReadonlyArray<Verb> = ["get", "list", "watch", "create", "update", "patch", "delete"]

const POLICY_VERBS: Record<UpdatePolicy, ReadonlyArray<Verb>> = {
  apply: ["patch"],
  replace: ["update"],
  recreate: [],
  onDelete: []
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RbacOptions {
  /** The namespace the operator runs in: where its ServiceAccount and leader-election Role live. Default `default`. */
  readonly namespace?: string
  /** Default: the operator's name. */
  readonly serviceAccountName?: string
  /**
   * Grant `leases` for leader election, in the operator's namespace. Default false: the kubefx engine does not
   * elect a leader (its Deployment runs one replica); grant it when the operator adds leader election.
   */
  readonly leaderElection?: boolean
  /**
   * Grant creating `events` (core and `events.k8s.io`). Default false: the kubefx engine reports through
   * status conditions and records no events; grant it when the operator records events itself.
   */
  readonly events?: boolean
}

interface Grant {
  readonly group: string
  readonly resource: string
  readonly namespaced: boolean
  readonly verbs: ReadonlyArray<Verb>
}

/**
 * The permissions an operator needs, before they are split by scope and merged into rules: exactly the calls
 * the engine makes (see `rbac`).
 */
const grantsOf = (operator: OperatorDefinition, options: RbacOptions | undefined): ReadonlyArray<Grant> => {
  const { parent } = operator
  const finalizer = operator.hasFinalizer === true || operator.finalize !== undefined
  const grants: Array<Grant> = []
  // The engine adds and removes its finalizer with a merge patch of the parent's metadata. Without a status
  // subresource, status is part of the main resource and written with it.
  const parentWrites: ReadonlyArray<Verb> = !parent.statusSubresource ? ["update", "patch"] : finalizer ? ["patch"] : []
  grants.push({ group: parent.group, resource: parent.plural, namespaced: parent.namespaced, verbs: ["get", "list", "watch", ...parentWrites] })
  if (parent.statusSubresource) {
    // status is written with a PUT to /status (replaceStatus)
    grants.push({ group: parent.group, resource: `${parent.plural}/status`, namespaced: parent.namespaced, verbs: ["update"] })
  }
  for (const [i, child] of operator.children.entries()) {
    if (!Object.hasOwn(POLICY_VERBS, child.update)) {
      throw new Invalid(
        `children[${i}].update`,
        `unknown update policy ${JSON.stringify(child.update)} (one of: ${Object.keys(POLICY_VERBS).join(", ")})`
      )
    }
    grants.push({
      group: child.type.group,
      resource: child.type.plural,
      namespaced: child.type.namespaced,
      verbs: ["get", "list", "watch", "create", "delete", ...POLICY_VERBS[child.update]]
    })
  }
  if (options?.events === true) {
    grants.push({ group: "", resource: "events", namespaced: true, verbs: ["create", "patch"] })
    grants.push({ group: "events.k8s.io", resource: "events", namespaced: true, verbs: ["create", "patch"] })
  }
  return grants
}

/** Rules by apiGroup; resources of one group with the same verbs share a rule. Deterministic order. */
const rulesOf = (grants: ReadonlyArray<Grant>): ReadonlyArray<PolicyRule> => {
  const byGroup = new Map<string, Map<string, Set<Verb>>>()
  for (const g of grants) {
    const resources = byGroup.get(g.group) ?? new Map<string, Set<Verb>>()
    byGroup.set(g.group, resources)
    const verbs = resources.get(g.resource) ?? new Set<Verb>()
    resources.set(g.resource, verbs)
    for (const v of g.verbs) verbs.add(v)
  }
  const rules: Array<PolicyRule> = []
  for (const group of [...byGroup.keys()].sort()) {
    const bySet = new Map<string, Array<string>>()
    const resources = byGroup.get(group)!
    for (const resource of [...resources.keys()].sort()) {
      const verbs = VERBS.filter((v) => resources.get(resource)!.has(v)).join(",")
      bySet.set(verbs, [...(bySet.get(verbs) ?? []), resource])
    }
    for (const [verbs, names] of bySet) {
      rules.push({ apiGroups: [group], resources: names, verbs: verbs.split(",") as Array<Verb> })
    }
  }
  return rules
}

const labelsOf = (operator: OperatorDefinition) => ({ "app.kubernetes.io/name": operator.name })

const buildRbac = (operator: OperatorDefinition, options: RbacOptions | undefined): ReadonlyArray<Resource.KubeObject> => {
  checkSubdomain(operator.name, "name", "operator name")
  const namespace = options?.namespace ?? "default"
  checkLabel(namespace, "namespace", "namespace")
  const account = options?.serviceAccountName ?? operator.name
  checkSubdomain(account, "serviceAccountName", "service account name")
  const namespaces = operator.namespaces ?? "all"
  if (namespaces !== "all") {
    if (namespaces.length === 0) {
      throw new Invalid("namespaces", "the namespace list is empty: list at least one namespace, or use \"all\"")
    }
    namespaces.forEach((ns, i) => checkLabel(ns, `namespaces[${i}]`, "namespace"))
  }
  const labels = labelsOf(operator)
  const subjects = [{ kind: "ServiceAccount", name: account, namespace }]
  const grants = grantsOf(operator, options)
  const out: Array<Resource.KubeObject> = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: account, namespace, labels } }
  ]
  const clusterRole = (rules: ReadonlyArray<PolicyRule>) => {
    out.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: operator.name, labels }, rules },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: operator.name, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: operator.name },
        subjects
      }
    )
  }
  const role = (name: string, ns: string, rules: ReadonlyArray<PolicyRule>) => {
    out.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace: ns, labels }, rules },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name, namespace: ns, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects
      }
    )
  }
  if (namespaces === "all" || !operator.parent.namespaced) {
    // A cluster-scoped parent's children may be in any namespace: the engine watches them cluster-wide.
    clusterRole(rulesOf(grants))
  } else {
    // a Role cannot grant cluster-scoped types: those go to a ClusterRole of their own
    const clusterScoped = grants.filter((g) => !g.namespaced)
    if (clusterScoped.length > 0) clusterRole(rulesOf(clusterScoped))
    const namespaced = rulesOf(grants.filter((g) => g.namespaced))
    for (const ns of new Set(namespaces)) role(operator.name, ns, namespaced)
  }
  if (options?.leaderElection === true) {
    // the lease lives next to the operator, whatever it watches
    role(`${operator.name}-leader-election`, namespace, [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }
    ])
  }
  return out
}

/**
 * Least-privilege RBAC for an operator: a ServiceAccount, and the rules it needs bound to it. The verbs are the
 * calls the kubefx engine makes, no more:
 *
 * - parent: get/list/watch; `patch` when the operator has a finalizer (the engine merge-patches
 *   `metadata.finalizers`); `<plural>/status`: `update` (the engine PUTs status). A parent type without a status
 *   subresource gets update/patch on the main resource instead.
 * - each child type: get/list/watch (the watch, and the check that no unowned object sits where a child is to be
 *   created), create and delete (children no longer desired), plus `patch` for `apply` (server-side apply; when
 *   an apply creates the object the API server also checks `create`), `update` for `replace`; `recreate`
 *   (delete, then create) and `onDelete` (create only) need nothing more.
 * - with `events: true`: `events` (core and `events.k8s.io`) create/patch.
 * - with `leaderElection: true`: `coordination.k8s.io` `leases` get/create/update, in a Role
 *   `<name>-leader-election` in the operator's own namespace (not cluster-wide).
 *
 * Rules are grouped by apiGroup, and resources with the same verbs share a rule. With `namespaces: "all"` (the
 * default) the rules go into a ClusterRole + ClusterRoleBinding; with a namespace list, into a Role +
 * RoleBinding in each namespace, and cluster-scoped types (if any) into a ClusterRole of their own. A
 * cluster-scoped parent puts everything into the ClusterRole: its children are watched in all namespaces.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rbac = (
  operator: OperatorDefinition,
  options?: RbacOptions
): Effect.Effect<ReadonlyArray<Resource.KubeObject>, ManifestError> =>
  attempt(`RBAC for operator ${operator.name}`, () => buildRbac(operator, options))

// ---------------------------------------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface DeploymentOptions {
  readonly image: string
  /** Default `default`; must match the RBAC's `namespace`. */
  readonly namespace?: string
  /** Default: the operator's name, as in `rbac`. */
  readonly serviceAccountName?: string
  readonly imagePullPolicy?: "Always" | "IfNotPresent" | "Never"
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string>>
    readonly limits?: Readonly<Record<string, string>>
  }
}

const buildDeployment = (operator: OperatorDefinition, options: DeploymentOptions): Resource.KubeObject => {
  checkSubdomain(operator.name, "name", "operator name")
  if (options.image.trim() === "") throw new Invalid("image", "the image is empty")
  const namespace = options.namespace ?? "default"
  checkLabel(namespace, "namespace", "namespace")
  const labels = labelsOf(operator)
  const container = {
    name: "operator",
    image: options.image,
    ...(options.imagePullPolicy !== undefined ? { imagePullPolicy: options.imagePullPolicy } : {}),
    ...(options.args !== undefined ? { args: options.args } : {}),
    env: [
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      ...(options.env ?? [])
    ],
    ...(options.resources !== undefined ? { resources: options.resources } : {}),
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } }
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: operator.name, namespace, labels },
    spec: {
      replicas: 1,
      // never two copies writing at once, even during a rollout
      strategy: { type: "Recreate" },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: options.serviceAccountName ?? operator.name,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
          containers: [container]
        }
      }
    }
  }
}

/**
 * A single-replica Deployment running the operator under its ServiceAccount (one replica, `Recreate`
 * strategy: one writer at a time). The pod runs as uid 65532 with a read-only root filesystem and no
 * capabilities; `POD_NAMESPACE` is set from the downward API.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deployment = (
  operator: OperatorDefinition,
  options: DeploymentOptions
): Effect.Effect<Resource.KubeObject, ManifestError> =>
  attempt(`Deployment for operator ${operator.name}`, () => buildDeployment(operator, options))

// ---------------------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------------------

/**
 * js-yaml's default dump schema already quotes every string that YAML 1.1 (kubectl's go-yaml) or YAML 1.2
 * would read as another type (`yes`, `on`, `0755`, `1e3`, `12:30`, `2024-01-01`); the tests hold it to that.
 */
const YAML_OPTIONS = { noRefs: true, lineWidth: -1 }

/**
 * Objects as one multi-document YAML stream (`---` before each), for `kubectl apply -f`.
 * Values are first taken as `JSON.stringify` would (`undefined` keys dropped, `toJSON` applied).
 * Strings that YAML 1.1 or 1.2 would read as another type are quoted; no anchors or aliases are emitted.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toYaml = (objects: ReadonlyArray<object>): string =>
  objects.map((o) => `---\n${dump(JSON.parse(JSON.stringify(o)), YAML_OPTIONS)}`).join("")
