/**
 * Sets of field paths, the unit of ownership in server-side apply, and their `fieldsV1` encoding.
 *
 * This follows `sigs.k8s.io/structured-merge-diff` (`fieldpath`): a path is a list of path elements,
 * each serialized the way `metadata.managedFields[].fieldsV1` spells it:
 * - `f:<name>`: a field of an object,
 * - `k:{"name":"web"}`: the item of an associative list whose key fields have these values
 *   (key names sorted, compact JSON),
 * - `v:<json>`: the item of a set list with this value,
 * - `i:<n>`: an index (only read, never produced here: atomic lists are owned as a whole).
 *
 * A set is a tree. In `fieldsV1` a node that is itself a member and has children carries `".": {}`;
 * a member without children is `{}`.
 *
 * @since 0.1.0
 */
import { Predicate, Result, Schema } from "effect"

/**
 * One serialized path element, e.g. `f:spec` or `k:{"name":"web"}`.
 *
 * @since 0.1.0
 * @category models
 */
export type PathElement = string

/**
 * A field path: the path elements from the object root.
 *
 * @since 0.1.0
 * @category models
 */
export type Path = ReadonlyArray<PathElement>

/**
 * An immutable set of paths, as a tree: `member` says whether the path leading to this node is in
 * the set; `children` holds the paths below it. Empty non-member nodes never occur.
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldSet {
  readonly member: boolean
  readonly children: ReadonlyMap<PathElement, FieldSet>
}

/**
 * The JSON form stored in `managedFields[].fieldsV1`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldsV1 {
  readonly [element: string]: FieldsV1
}

/**
 * A `fieldsV1` value that is not a valid field set.
 *
 * @since 0.1.0
 * @category errors
 */
export class FieldsV1Error extends Schema.TaggedError<FieldsV1Error>()("FieldsV1Error", {
  message: Schema.String
}) {}

interface MutableNode {
  member: boolean
  readonly children: Map<PathElement, MutableNode>
}

const node = (member: boolean, children: Map<PathElement, MutableNode | FieldSet> = new Map()): FieldSet => ({
  member,
  children: children as Map<PathElement, FieldSet>
})

/**
 * The empty set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: FieldSet = node(false)

const emptyLeaf: FieldSet = node(true)

/**
 * `f:<name>`: a field of an object.
 *
 * @since 0.1.0
 * @category path elements
 */
export const field = (name: string): PathElement => `f:${name}`

/**
 * `k:{...}`: an associative list item, named by the values of its key fields.
 *
 * @since 0.1.0
 * @category path elements
 */
export const key = (fields: Readonly<Record<string, unknown>>): PathElement =>
  `k:{${
    Object.keys(fields).sort().map((name) => `${JSON.stringify(name)}:${JSON.stringify(fields[name])}`).join(",")
  }}`

/**
 * `v:<json>`: a set list item, named by its value.
 *
 * @since 0.1.0
 * @category path elements
 */
export const value = (v: unknown): PathElement => `v:${JSON.stringify(v)}`

/**
 * `i:<n>`: a list index.
 *
 * @since 0.1.0
 * @category path elements
 */
export const index = (i: number): PathElement => `i:${i}`

const isValidElement = (pe: string): boolean => {
  const kind = pe.slice(0, 2)
  const rest = pe.slice(2)
  switch (kind) {
    case "f:":
      return true
    case "i:":
      return /^(0|[1-9]\d*)$/.test(rest)
    case "k:":
    case "v:": {
      try {
        const parsed: unknown = JSON.parse(rest)
        return kind === "v:" || (Predicate.isObject(parsed) && !Array.isArray(parsed))
      } catch {
        return false
      }
    }
    default:
      return false
  }
}

const formatScalar = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(JSON.stringify(v)))

/**
 * The human form of a path element, as the API server prints it in conflict messages:
 * `.replicas`, `[name="web"]`, `[containerPort=80,protocol="TCP"]`, `[="a"]`, `[0]`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatElement = (pe: PathElement): string => {
  const rest = pe.slice(2)
  switch (pe.slice(0, 2)) {
    case "f:":
      return `.${rest}`
    case "i:":
      return `[${rest}]`
    case "k:": {
      const fields = JSON.parse(rest) as Record<string, unknown>
      return `[${
        Object.keys(fields).sort().map((name) => `${name}=${formatScalar(fields[name])}`).join(",")
      }]`
    }
    case "v:":
      return `[=${formatScalar(JSON.parse(rest))}]`
    default:
      return pe
  }
}

/**
 * The human form of a path, e.g. `.spec.template.spec.containers[name="web"].image`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatPath = (path: Path): string => path.map(formatElement).join("")

const kindRank = (pe: PathElement): number => {
  switch (pe.charCodeAt(0)) {
    case 102: // f
      return 0
    case 107: // k
      return 1
    case 118: // v
      return 2
    default:
      return 3
  }
}

/**
 * The order of path elements: fields, then keys, then values, then indexes (as the API server
 * orders them), each group sorted by its text (indexes by number).
 *
 * @since 0.1.0
 * @category ordering
 */
export const compareElements = (a: PathElement, b: PathElement): number => {
  const ra = kindRank(a)
  const rb = kindRank(b)
  if (ra !== rb) return ra - rb
  if (ra === 3) return Number(a.slice(2)) - Number(b.slice(2))
  return a < b ? -1 : a > b ? 1 : 0
}

const normalize = (member: boolean, children: Map<PathElement, FieldSet>): FieldSet | undefined => {
  if (!member && children.size === 0) return undefined
  if (member && children.size === 0) return emptyLeaf
  return node(member, children)
}

/**
 * The set holding exactly these paths.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (paths: Iterable<Path>): FieldSet => {
  const root: MutableNode = { member: false, children: new Map() }
  for (const path of paths) {
    let cur = root
    for (const pe of path) {
      let next = cur.children.get(pe)
      if (next === undefined) {
        next = { member: false, children: new Map() }
        cur.children.set(pe, next)
      }
      cur = next
    }
    cur.member = true
  }
  return root
}

/**
 * Whether a path is in the set.
 *
 * @since 0.1.0
 * @category predicates
 */
export const has = (set: FieldSet, path: Path): boolean => {
  let cur: FieldSet | undefined = set
  for (const pe of path) {
    cur = cur.children.get(pe)
    if (cur === undefined) return false
  }
  return cur.member
}

/**
 * Whether the set holds no path.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isEmpty = (set: FieldSet): boolean => !set.member && set.children.size === 0

/**
 * The subset below a path element, with the element removed from the front of every path.
 *
 * @since 0.1.0
 * @category combinators
 */
export const child = (set: FieldSet, pe: PathElement): FieldSet => set.children.get(pe) ?? empty

/**
 * Paths in either set.
 *
 * @since 0.1.0
 * @category combinators
 */
export const union = (a: FieldSet, b: FieldSet): FieldSet => {
  if (isEmpty(a)) return b
  if (isEmpty(b)) return a
  const children = new Map(a.children)
  for (const [pe, bc] of b.children) {
    const ac = children.get(pe)
    children.set(pe, ac === undefined ? bc : union(ac, bc))
  }
  return normalize(a.member || b.member, children) ?? empty
}

/**
 * Paths in both sets.
 *
 * @since 0.1.0
 * @category combinators
 */
export const intersection = (a: FieldSet, b: FieldSet): FieldSet => {
  const children = new Map<PathElement, FieldSet>()
  for (const [pe, ac] of a.children) {
    const bc = b.children.get(pe)
    if (bc === undefined) continue
    const c = intersection(ac, bc)
    if (!isEmpty(c)) children.set(pe, c)
  }
  return normalize(a.member && b.member, children) ?? empty
}

/**
 * Paths in `a` that are not in `b`. Paths below a path of `b` stay: use `recursiveDifference`
 * to drop whole subtrees.
 *
 * @since 0.1.0
 * @category combinators
 */
export const difference = (a: FieldSet, b: FieldSet): FieldSet => {
  if (isEmpty(b)) return a
  const children = new Map<PathElement, FieldSet>()
  for (const [pe, ac] of a.children) {
    const bc = b.children.get(pe)
    const c = bc === undefined ? ac : difference(ac, bc)
    if (!isEmpty(c)) children.set(pe, c)
  }
  return normalize(a.member && !b.member, children) ?? empty
}

/**
 * Paths in `a` that are neither in `b` nor below a path of `b`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const recursiveDifference = (a: FieldSet, b: FieldSet): FieldSet => {
  if (b.member) return empty
  if (isEmpty(b)) return a
  const children = new Map<PathElement, FieldSet>()
  for (const [pe, ac] of a.children) {
    const bc = b.children.get(pe)
    const c = bc === undefined ? ac : recursiveDifference(ac, bc)
    if (!isEmpty(c)) children.set(pe, c)
  }
  return normalize(a.member, children) ?? empty
}

const sortedEntries = (set: FieldSet): Array<[PathElement, FieldSet]> =>
  Array.from(set.children).sort(([a], [b]) => compareElements(a, b))

/**
 * Every path in the set, in the API server's order (depth first, parents before children).
 *
 * @since 0.1.0
 * @category getters
 */
export const paths = (set: FieldSet): Array<Path> => {
  const out: Array<Path> = []
  const walk = (s: FieldSet, prefix: Array<PathElement>) => {
    if (s.member && prefix.length > 0) out.push(prefix.slice())
    for (const [pe, c] of sortedEntries(s)) {
      prefix.push(pe)
      walk(c, prefix)
      prefix.pop()
    }
  }
  walk(set, [])
  return out
}

/**
 * Whether two sets hold the same paths.
 *
 * @since 0.1.0
 * @category predicates
 */
export const equals = (a: FieldSet, b: FieldSet): boolean => {
  if (a === b) return true
  if (a.member !== b.member || a.children.size !== b.children.size) return false
  for (const [pe, ac] of a.children) {
    const bc = b.children.get(pe)
    if (bc === undefined || !equals(ac, bc)) return false
  }
  return true
}

/**
 * The `fieldsV1` JSON of a set, with keys in the API server's order.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toFieldsV1 = (set: FieldSet): FieldsV1 => {
  const encode = (s: FieldSet, includeSelf: boolean): FieldsV1 => {
    const out: Record<string, FieldsV1> = {}
    if (includeSelf && s.member && s.children.size > 0) out["."] = {}
    for (const [pe, c] of sortedEntries(s)) out[pe] = encode(c, true)
    return out
  }
  return encode(set, false)
}

/**
 * Reads a `fieldsV1` value. Fails on anything the API server would not have written.
 *
 * @since 0.1.0
 * @category encoding
 */
export const fromFieldsV1 = (json: unknown): Result.Result<FieldSet, FieldsV1Error> => {
  const decode = (u: unknown, at: string): FieldSet | string => {
    if (!Predicate.isObject(u) || Array.isArray(u)) return `${at || "fieldsV1"}: expected an object`
    const children = new Map<PathElement, FieldSet>()
    let member = false
    for (const [k, v] of Object.entries(u)) {
      if (k === ".") {
        member = true
        continue
      }
      if (!isValidElement(k)) return `${at || "fieldsV1"}: invalid path element ${JSON.stringify(k)}`
      const c = decode(v, `${at}${formatElement(k)}`)
      if (typeof c === "string") return c
      // `{}` is a member without children; a node with only "." is the same.
      children.set(k, isEmpty(c) ? emptyLeaf : c)
    }
    return normalize(member, children) ?? empty
  }
  const decoded = decode(json, "")
  return typeof decoded === "string"
    ? Result.fail(new FieldsV1Error({ message: decoded }))
    : Result.succeed(decoded.member ? node(false, new Map(decoded.children)) : decoded)
}
