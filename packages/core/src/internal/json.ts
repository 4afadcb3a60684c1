/**
 * JSON values as the engine compares them: object key order does not matter, a key whose value is
 * `undefined` is absent (as on the wire), arrays are ordered. One semantics for hashing desired children,
 * comparing status and deciding whether a parent change matters.
 */

/** Whether JSON.stringify prints the string as is between quotes: no quote, backslash, control character or surrogate. */
const isPlain = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false
  }
  return true
}
const quote = (s: string): string => (isPlain(s) ? `"${s}"` : JSON.stringify(s))

/**
 * Canonical JSON: keys sorted, undefined-valued keys dropped, so equal values print equally. Built by
 * concatenation, without the intermediate arrays of `map`/`filter`/`join`: it runs on every desired child of
 * every reconcile.
 */
export const canonical = (value: unknown): string => {
  if (typeof value === "string") return quote(value)
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? "null"
  if (Array.isArray(value)) {
    let out = "["
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonical(value[i])
    return out + "]"
  }
  const record = value as Record<string, unknown>
  const keys = Object.keys(record).sort()
  let out = "{"
  let first = true
  for (const key of keys) {
    const v = record[key]
    if (v === undefined) continue
    out += (first ? "" : ",") + quote(key) + ":" + canonical(v)
    first = false
  }
  return out + "}"
}

/** Whether two JSON values are equal, without building their canonical strings. */
export const equal = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]))
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && !Array.isArray(b)) {
    const ra = a as Record<string, unknown>
    const rb = b as Record<string, unknown>
    const ka = Object.keys(ra).filter((k) => ra[k] !== undefined)
    const kb = Object.keys(rb).filter((k) => rb[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => equal(ra[k], rb[k]))
  }
  return false
}

/** A 64-bit FNV-1a hash of a value's canonical form, as 16 hex digits. Not cryptographic: it detects change. */
export const hash = (value: unknown): string => hashText(canonical(value))

/** The hash of a canonical form already computed (see `canonical`). */
export const hashText = (s: string): string => {
  // Two 32-bit lanes of FNV-1a with different offsets approximate a 64-bit hash without BigInt.
  let h1 = 0x811c9dc5
  let h2 = 0xcbf29ce4
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h1 >>> 15)
  }
  return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0")
}
