/**
 * Equality of JSON documents, the one testkit uses everywhere (patches, server-side apply, the fake
 * API server's no-op and generation checks).
 *
 * @internal
 */

/**
 * Whether two values are the same JSON document: equal as `JSON.stringify` would write them, up to
 * the order of object keys. So a key whose value is `undefined` counts as absent (the encoder drops
 * it), an `undefined` array item counts as `null` (the encoder writes it so), and arrays are ordered.
 * A top-level `undefined` (no document) only equals `undefined`.
 *
 * Only plain JSON values are expected: objects built by handlers or decoded from the wire.
 *
 * @internal
 */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i] ?? null, b[i] ?? null)) return false
    return true
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  if (ak.length !== bk.length) return false
  for (const k of ak) if (!jsonEqual(ao[k], bo[k])) return false
  return true
}
