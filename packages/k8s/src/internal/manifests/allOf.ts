/**
 * Intersections (`allOf`): the members that only add value checks are folded into the node, keeping the
 * tightest bounds; what cannot be folded stays as a validation-only residual `allOf`.
 *
 * @internal
 */
import * as Json from "../json.ts"
import { Invalid } from "./invalid.ts"
import {
  ANNOTATION_KEYS,
  finish,
  IGNORED_KEYS,
  isRecord,
  type JSONSchemaProps,
  LOWER_BOUNDS,
  type Mutable,
  type Raw,
  UPPER_BOUNDS,
  VALUE_KEYS
} from "./jsonSchemaProps.ts"

/** Folds `allOf` members that only add checks into the node, keeping the tightest bounds. */
export const mergeAllOf = (
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
      } else if (Json.equals(node[key], value)) {
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
