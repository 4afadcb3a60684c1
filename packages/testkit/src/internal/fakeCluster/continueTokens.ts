/**
 * Continue tokens of paged lists, as `k8s.io/apiserver/pkg/storage` encodes and decodes them: the
 * encoding, and the server's exact 400 messages for tokens it cannot read.
 *
 * @internal
 */
import { posix } from "node:path"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** Where a paged list resumes: the snapshot's resourceVersion and the first key not yet listed. @internal */
export interface ContinueToken {
  readonly rv: number
  readonly start: string
}

/** @internal */
export const encodeContinue = (t: ContinueToken): string =>
  Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: t.rv, start: t.start }), "utf8").toString("base64url")

/** Go's `strconv.Quote` of one byte as a rune, in the single quotes of `encoding/json` syntax errors. */
const goQuoteChar = (byte: number): string => {
  if (byte === 0x27) return `'\\''`
  if (byte === 0x22) return `'"'`
  const escapes: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 0x5c: "\\\\" }
  const printable = (byte >= 0x20 && byte < 0x7f) || (byte >= 0xa1 && byte !== 0xad)
  const body = escapes[byte] ??
    (printable ? String.fromCharCode(byte) : byte < 0x80 ? `\\x${byte.toString(16).padStart(2, "0")}` : `\\u${byte.toString(16).padStart(4, "0")}`)
  return `'${body}'`
}

/** `base64.RawURLEncoding.DecodeString` as Go does it, with Go's error for corrupt input. */
const goRawUrlBase64 = (token: string): Buffer | string => {
  let inQuantum = 0
  for (let i = 0; i < token.length; i++) {
    const c = token[i]!
    if (c === "\n" || c === "\r") continue
    if (!/[A-Za-z0-9_-]/.test(c)) return `illegal base64 data at input byte ${i}`
    inQuantum = (inQuantum + 1) % 4
  }
  if (inQuantum === 1) return `illegal base64 data at input byte ${token.length - 1}`
  return Buffer.from(token.replace(/[\r\n]/g, ""), "base64url")
}

/**
 * `storage.DecodeContinue`: the token is base64url JSON `{ v, rv, start }`; a bad one is a 400 with the
 * server's reason (corrupt base64, JSON that does not start a value, an unknown version, no version or
 * start key, a start key that is not a clean path).
 *
 * @internal
 */
export const decodeContinue = (info: TypeInfo, token: string): ContinueToken => {
  const invalid = (detail: string) => errors.badRequest(info, `invalid continue token: ${detail}`)
  const generic = "continue key is not valid"
  const data = goRawUrlBase64(token)
  if (typeof data === "string") throw invalid(`${generic}: ${data}`)
  let parsed: any
  try {
    parsed = JSON.parse(data.toString("latin1"))
  } catch {
    const first = [...data].find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)
    throw invalid(
      first === undefined
        ? `${generic}: unexpected end of JSON input`
        : !/[{["\-0-9tfn]/.test(String.fromCharCode(first))
        ? `${generic}: invalid character ${goQuoteChar(first)} looking for beginning of value`
        : `${generic}: ${JSON.stringify(token)} is not an encoded continue token`
    )
  }
  const version = typeof parsed?.v === "string" ? parsed.v : ""
  if (version !== "meta.k8s.io/v1") throw invalid(`${generic}: server does not recognize this encoded version ${version}`)
  const rv = typeof parsed.rv === "number" ? parsed.rv : 0
  if (rv === 0) throw invalid(`${generic}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`)
  const start = typeof parsed.start === "string" ? parsed.start : ""
  if (start === "") throw invalid(`${generic}: encoded start key empty (version meta.k8s.io/v1)`)
  // Go's path.Clean: a start key that climbs out of the listed prefix is refused.
  const key = start.startsWith("/") ? start : `/${start}`
  if (posix.normalize(key).replace(/(.)\/$/, "$1") !== key) throw invalid(`${generic}: ${start}`)
  return { rv, start }
}
