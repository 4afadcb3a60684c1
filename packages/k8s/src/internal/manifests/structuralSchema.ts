/**
 * Effect Schema → Kubernetes structural schema: the draft-04 JSON Schema of a Schema's encoded form,
 * rewritten node by node into what a CRD's `openAPIV3Schema` may say (see `Manifests.structuralSchema`
 * for the rules). Fails by throwing `Invalid` with the path of the node at fault.
 *
 * @internal
 */
import { JsonSchema, Schema } from "effect"
import * as Json from "../json.ts"
import { mergeAllOf } from "./allOf.ts"
import { Invalid } from "./invalid.ts"
import {
  ANNOTATION_KEYS,
  annotationsOf,
  anyValue,
  finish,
  IGNORED_KEYS,
  isRecord,
  type JSONSchemaProps,
  type Mutable,
  type Raw,
  SCALAR_TYPES,
  SHAPE_KEYS,
  VALUE_KEYS
} from "./jsonSchemaProps.ts"
import { isIntOrString, isNonFiniteBranch, isNullBranch, mergeEnums, typeName } from "./unionBranches.ts"

interface Context {
  readonly definitions: Raw
  /** The chain of definitions being expanded, to detect recursion. */
  readonly expanding: ReadonlyArray<string>
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
    if (isRecord(rest) && items.every((i) => Json.equals(i, rest))) items = rest
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

export const structural = (schema: Schema.Top, path: string): JSONSchemaProps => {
  let document: JsonSchema.Document<"draft-04">
  try {
    document = JsonSchema.toDocumentDraft04(Schema.toJsonSchemaDocument(schema, { referencePolicy: () => undefined }))
  } catch (e) {
    throw new Invalid(path, `the Schema has no JSON Schema form: ${e instanceof Error ? e.message : String(e)}`)
  }
  return convert(document.schema, path, { definitions: document.definitions, expanding: [] })
}
