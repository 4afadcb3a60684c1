/**
 * The one JSON equality of the k8s package. Two values are equal when they are the same JSON document:
 * what `JSON.stringify` makes of them (`toJSON` applied, `undefined`-valued keys and functions dropped,
 * `NaN` and ±Infinity read as `null`), with the order of object keys irrelevant and the order of array
 * items significant. Use it wherever JSON values are compared; `JSON.stringify(a) === JSON.stringify(b)`
 * depends on key order, which JSON does not give a meaning.
 *
 * @internal
 */

/**
 * Sorts the keys of every object `JSON.stringify` visits (after `toJSON`); arrays, scalars and boxed
 * scalars (which `JSON.stringify` unwraps) pass through.
 */
const sortKeys = (_key: string, value: unknown): unknown => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value
  const sorted: { [key: string]: unknown } = {}
  for (const key of Object.keys(value).sort()) sorted[key] = (value as { readonly [key: string]: unknown })[key]
  return sorted
}

/**
 * The canonical JSON text of a value: `JSON.stringify`'s, with the keys of every object sorted, so that
 * equal documents have equal texts. `undefined` for a value JSON cannot carry at all (`undefined`, a
 * function). Throws on a cycle, as `JSON.stringify` does.
 */
export const canonical = (value: unknown): string | undefined => JSON.stringify(value, sortKeys)

/** Whether two values are the same JSON document (see the module header). */
export const equals = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b)
