/**
 * Schema-less structured merge: the walks server-side apply needs over JSON values (field sets,
 * comparison, merge, removal), guided only by a `ListKeys` table. Objects are granular maps,
 * arrays are atomic unless the table says otherwise.
 *
 * @internal
 */
import * as FieldSet from "../FieldSet.ts"
import { jsonEqual } from "./json.ts"
import type { ListKeys, ListType } from "./listKeys.ts"

/** @internal */
export type JsonObject = Record<string, unknown>

/** @internal */
export const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A pattern names a place in an object regardless of which list item it is in:
 * `spec.template.spec.containers[].ports`.
 *
 * @internal
 */
export const fieldPattern = (pattern: string, name: string): string => (pattern === "" ? name : `${pattern}.${name}`)

/** @internal */
export const itemPattern = (pattern: string): string => `${pattern}[]`

/** @internal */
export const typeAt = (listKeys: ListKeys, pattern: string): ListType | undefined =>
  Object.hasOwn(listKeys, pattern) ? listKeys[pattern] : undefined

type Kind = "object" | "list" | "leaf"

const kindOf = (v: unknown, t: ListType | undefined): Kind => {
  if (isObject(v)) return t?.type === "atomic" ? "leaf" : "object"
  if (Array.isArray(v)) return t !== undefined && t.type !== "atomic" ? "list" : "leaf"
  return "leaf"
}

/**
 * The path element naming a list item, or why it has none.
 *
 * @internal
 */
export const itemElement = (
  t: Extract<ListType, { type: "map" | "set" }>,
  item: unknown
): { readonly pe: FieldSet.PathElement } | { readonly error: string } => {
  if (t.type === "set") {
    return isObject(item) || Array.isArray(item)
      ? { error: "associative list without keys has an element that's a map type" }
      : { pe: FieldSet.value(item) }
  }
  if (!isObject(item)) return { error: "associative list with keys has an element that's not a map type" }
  const fields: Record<string, unknown> = {}
  for (const k of t.keys) {
    const v = item[k] ?? t.defaults?.[k]
    if (v === undefined || v === null) {
      return { error: `associative list with keys has an element that omits key field ${JSON.stringify(k)} (and doesn't have default value)` }
    }
    if (isObject(v) || Array.isArray(v)) return { error: `key field ${JSON.stringify(k)} is not a scalar` }
    fields[k] = v
  }
  return { pe: FieldSet.key(fields) }
}

type Granular = Extract<ListType, { type: "map" | "set" }>

const isGranular = (t: ListType | undefined): t is Granular => t !== undefined && t.type !== "atomic"

/**
 * Items of a granular list with their path elements, or `undefined` when an item has none.
 *
 * @internal
 */
export const indexItems = (
  t: Granular,
  list: ReadonlyArray<unknown>
): Array<readonly [FieldSet.PathElement, unknown]> | undefined => {
  const out: Array<readonly [FieldSet.PathElement, unknown]> = []
  for (const item of list) {
    const r = itemElement(t, item)
    if ("error" in r) return undefined
    out.push([r.pe, item])
  }
  return out
}

/**
 * Problems that make a value unusable as an applied configuration: associative list items without
 * their keys, and duplicate keys. Each is `path: message`, like the API server's.
 *
 * @internal
 */
export const validate = (value: unknown, listKeys: ListKeys): Array<string> => {
  const errors: Array<string> = []
  const walk = (v: unknown, path: Array<string>, pattern: string) => {
    const t = typeAt(listKeys, pattern)
    const kind = kindOf(v, t)
    if (kind === "object") {
      for (const [k, c] of Object.entries(v as JsonObject)) {
        path.push(FieldSet.field(k))
        walk(c, path, fieldPattern(pattern, k))
        path.pop()
      }
    } else if (kind === "list" && isGranular(t)) {
      const seen = new Set<string>()
      ;(v as ReadonlyArray<unknown>).forEach((item, i) => {
        const r = itemElement(t, item)
        if ("error" in r) {
          errors.push(`${FieldSet.formatPath(path)}: element ${i}: ${r.error}`)
          return
        }
        if (seen.has(r.pe)) {
          errors.push(`${FieldSet.formatPath(path)}: duplicate entries for key ${FieldSet.formatElement(r.pe)}`)
          return
        }
        seen.add(r.pe)
        path.push(r.pe)
        walk(item, path, itemPattern(pattern))
        path.pop()
      })
    }
  }
  walk(value, [], "")
  return errors
}

interface Builder {
  member: boolean
  readonly children: Map<string, Builder>
}

const builder = (): Builder => ({ member: false, children: new Map() })

const insert = (root: Builder, path: ReadonlyArray<string>) => {
  let cur = root
  for (const pe of path) {
    let next = cur.children.get(pe)
    if (next === undefined) {
      next = builder()
      cur.children.set(pe, next)
    }
    cur = next
  }
  cur.member = true
}

const freeze = (b: Builder): FieldSet.FieldSet => FieldSet.make(collect(b))

function* collect(b: Builder, prefix: Array<string> = []): Generator<FieldSet.Path> {
  if (b.member) yield prefix.slice()
  for (const [pe, c] of b.children) {
    prefix.push(pe)
    yield* collect(c, prefix)
    prefix.pop()
  }
}

/**
 * The fields a value sets, as server-side apply counts them for the applier: every scalar,
 * atomic list or map, empty map and `null`; every item of a granular list (and its fields).
 * Non-empty objects are not members themselves.
 *
 * @internal
 */
export const toFieldSet = (value: unknown, listKeys: ListKeys): FieldSet.FieldSet => {
  const root = builder()
  const walk = (v: unknown, path: Array<string>, pattern: string, isItem: boolean) => {
    const t = typeAt(listKeys, pattern)
    const kind = kindOf(v, t)
    if (kind === "object") {
      const entries = Object.entries(v as JsonObject)
      if (entries.length === 0 || isItem) {
        if (path.length > 0) insert(root, path)
      }
      for (const [k, c] of entries) {
        path.push(FieldSet.field(k))
        walk(c, path, fieldPattern(pattern, k), false)
        path.pop()
      }
    } else if (kind === "list" && isGranular(t)) {
      const items = indexItems(t, v as ReadonlyArray<unknown>)
      // An empty granular list owns nothing (as in structured-merge-diff); unnamed items make it atomic.
      if (items === undefined) {
        insert(root, path)
        return
      }
      for (const [pe, item] of items) {
        path.push(pe)
        walk(item, path, itemPattern(pattern), true)
        path.pop()
      }
    } else {
      if (path.length > 0) insert(root, path)
    }
  }
  walk(value, [], "", false)
  return freeze(root)
}

/**
 * How `rhs` differs from `lhs`, as the API server computes it for ownership: a path is added when
 * it appears (with everything below it), removed when it disappears, modified when a leaf changes.
 *
 * @internal
 */
export interface Comparison {
  readonly added: FieldSet.FieldSet
  readonly modified: FieldSet.FieldSet
  readonly removed: FieldSet.FieldSet
}

/** @internal */
export const compare = (lhs: unknown, rhs: unknown, listKeys: ListKeys): Comparison => {
  const added = builder()
  const modified = builder()
  const removed = builder()
  const leaf = (path: Array<string>, l: unknown, r: unknown) => {
    if (path.length === 0) return
    if (l === undefined) insert(added, path)
    else if (r === undefined) insert(removed, path)
    else if (!jsonEqual(l, r)) insert(modified, path)
  }
  const walk = (l: unknown, r: unknown, path: Array<string>, pattern: string) => {
    const t = typeAt(listKeys, pattern)
    const lk = l === undefined ? undefined : kindOf(l, t)
    const rk = r === undefined ? undefined : kindOf(r, t)
    if (lk !== undefined && rk !== undefined && lk !== rk) {
      // A value changed shape (say, an object became a string): what was below is gone.
      walk(l, undefined, path, pattern)
      walk(undefined, r, path, pattern)
      const clear = (b: Builder) => {
        let cur: Builder | undefined = b
        for (const pe of path) cur = cur?.children.get(pe)
        if (cur !== undefined) cur.member = false
      }
      clear(added)
      clear(removed)
      insert(modified, path)
      return
    }
    const kind = lk ?? rk
    if (kind === "object") {
      const lo = l as JsonObject | undefined
      const ro = r as JsonObject | undefined
      const lEmpty = lo === undefined || Object.keys(lo).length === 0
      const rEmpty = ro === undefined || Object.keys(ro).length === 0
      if (lEmpty && rEmpty) return leaf(path, l, r)
      const keys = new Set([...Object.keys(lo ?? {}), ...Object.keys(ro ?? {})])
      for (const k of keys) {
        path.push(FieldSet.field(k))
        walk(lo?.[k], ro?.[k], path, fieldPattern(pattern, k))
        path.pop()
      }
    } else if (kind === "list" && isGranular(t)) {
      const ll = (l as ReadonlyArray<unknown> | undefined) ?? []
      const rl = (r as ReadonlyArray<unknown> | undefined) ?? []
      const li = indexItems(t, ll)
      const ri = indexItems(t, rl)
      // Empty on both sides, or items the list's keys cannot name: compare as one value.
      if ((ll.length === 0 && rl.length === 0) || li === undefined || ri === undefined) return leaf(path, l, r)
      const groups = new Map<string, { l: Array<unknown>; r: Array<unknown> }>()
      for (const [pe, item] of li) {
        const g = groups.get(pe) ?? { l: [], r: [] }
        g.l.push(item)
        groups.set(pe, g)
      }
      for (const [pe, item] of ri) {
        const g = groups.get(pe) ?? { l: [], r: [] }
        g.r.push(item)
        groups.set(pe, g)
      }
      for (const [pe, g] of groups) {
        path.push(pe)
        if (g.l.length <= 1 && g.r.length <= 1) {
          walk(g.l[0], g.r[0], path, itemPattern(pattern))
        } else if (g.r.length === 0) {
          insert(removed, path)
        } else if (g.l.length === 0) {
          insert(added, path)
        } else if (!jsonEqual(g.l, g.r)) {
          // Duplicate keys (only reachable through non-apply writes) are compared as one value.
          insert(modified, path)
        }
        path.pop()
      }
    } else {
      return leaf(path, l, r)
    }
    if (path.length > 0) {
      if (l === undefined) insert(added, path)
      else if (r === undefined) insert(removed, path)
    }
  }
  walk(lhs, rhs, [], "")
  return { added: freeze(added), modified: freeze(modified), removed: freeze(removed) }
}

/**
 * Orders the items of two granular lists the way the API server merges them: items only in `lhs`
 * keep their place, shared items follow `rhs`'s order, new items come where `rhs` puts them.
 */
const mergeOrder = (
  lhs: ReadonlyArray<readonly [string, unknown]>,
  rhs: ReadonlyArray<readonly [string, unknown]>
): Array<{ readonly pe: string; readonly l: unknown; readonly r: unknown }> => {
  const lByPe = new Map<string, unknown>()
  const lDup = new Set<string>()
  for (const [pe, item] of lhs) {
    if (lByPe.has(pe)) lDup.add(pe)
    else lByPe.set(pe, item)
  }
  const rByPe = new Map(rhs.map(([pe, item]) => [pe, item] as const))
  // A key duplicated in the live list is replaced by the applied item, not merged into it.
  const lOf = (pe: string) => (lDup.has(pe) ? undefined : lByPe.get(pe))
  const shared = rhs.map(([pe]) => pe).filter((pe) => lByPe.has(pe))
  let next = 0
  const out: Array<{ pe: string; l: unknown; r: unknown }> = []
  const done = new Set<string>()
  let li = 0
  let ri = 0
  const emitR = (pe: string) => {
    done.add(pe)
    out.push({ pe, l: lOf(pe), r: rByPe.get(pe) })
    if (shared[next] === pe) next++
  }
  while (li < lhs.length || ri < rhs.length) {
    const lpe = li < lhs.length ? lhs[li]![0] : undefined
    const rpe = ri < rhs.length ? rhs[ri]![0] : undefined
    if (lpe !== undefined && lpe === rpe) {
      if (!done.has(lpe)) emitR(lpe)
      li++
      ri++
      continue
    }
    if (lpe !== undefined) {
      if (!rByPe.has(lpe)) {
        out.push({ pe: lpe, l: lhs[li]![1], r: undefined })
        li++
        continue
      }
      if (done.has(lpe) || shared[next] !== lpe) {
        // Shared, but placed later by rhs (or already placed): skip it here.
        li++
        continue
      }
    }
    if (rpe === undefined) {
      li++
      continue
    }
    if (!done.has(rpe)) emitR(rpe)
    ri++
  }
  return out
}

/**
 * Merges an applied configuration into a live value: objects merge key by key, granular lists item
 * by item, everything else is replaced. `null` in the configuration is kept when `keepNulls`
 * (the API server's intermediate form), else it removes the field.
 *
 * @internal
 */
export const merge = (lhs: unknown, rhs: unknown, listKeys: ListKeys, keepNulls: boolean): unknown => {
  const walk = (l: unknown, r: unknown, pattern: string): unknown => {
    if (r === undefined) return l
    const t = typeAt(listKeys, pattern)
    const kind = kindOf(r, t)
    if (kind === "object") {
      const base = isObject(l) ? l : {}
      const out: JsonObject = { ...base }
      for (const [k, rv] of Object.entries(r as JsonObject)) {
        if (rv === null && !keepNulls) delete out[k]
        else out[k] = walk(base[k], rv, fieldPattern(pattern, k))
      }
      return out
    }
    if (kind === "list" && isGranular(t)) {
      const ri = indexItems(t, r as ReadonlyArray<unknown>)
      const li = Array.isArray(l) ? indexItems(t, l) : []
      if (ri === undefined) return r
      if (li === undefined) return (r as ReadonlyArray<unknown>).map((item) => walk(undefined, item, itemPattern(pattern)))
      return mergeOrder(li, ri).map(({ l: lItem, r: rItem }) =>
        rItem === undefined ? lItem : walk(lItem, rItem, itemPattern(pattern))
      )
    }
    return r
  }
  return walk(lhs, rhs, "")
}

/**
 * Removes the values at the member paths of `toRemove` (with everything below them). A container
 * left empty by the removal goes too, unless `keep` holds its path.
 *
 * @internal
 */
export const remove = (
  value: unknown,
  toRemove: FieldSet.FieldSet,
  keep: FieldSet.FieldSet,
  listKeys: ListKeys
): unknown => {
  const walk = (v: unknown, set: FieldSet.FieldSet, kept: FieldSet.FieldSet, pattern: string): unknown => {
    const t = typeAt(listKeys, pattern)
    const kind = kindOf(v, t)
    if (kind === "object") {
      const out: JsonObject = { ...(v as JsonObject) }
      for (const [pe, sub] of set.children) {
        if (!pe.startsWith("f:")) continue
        const name = pe.slice(2)
        if (!Object.hasOwn(out, name)) continue
        if (sub.member) {
          delete out[name]
          continue
        }
        const before = out[name]
        const keptChild = FieldSet.child(kept, pe)
        const after = walk(before, sub, keptChild, fieldPattern(pattern, name))
        if (becameEmpty(before, after) && !keptChild.member) delete out[name]
        else out[name] = after
      }
      return out
    }
    if (kind === "list" && isGranular(t)) {
      const items = indexItems(t, v as ReadonlyArray<unknown>)
      if (items === undefined) return v
      const out: Array<unknown> = []
      for (const [pe, item] of items) {
        const sub = set.children.get(pe)
        if (sub === undefined) {
          out.push(item)
          continue
        }
        if (sub.member) continue
        out.push(walk(item, sub, FieldSet.child(kept, pe), itemPattern(pattern)))
      }
      return out
    }
    return v
  }
  return walk(value, toRemove, keep, "")
}

const becameEmpty = (before: unknown, after: unknown): boolean => {
  const size = (u: unknown) => (Array.isArray(u) ? u.length : isObject(u) ? Object.keys(u).length : -1)
  return size(before) > 0 && size(after) === 0
}

/**
 * Drops the `null`s an applied configuration set (the API server stores such fields as absent).
 *
 * @internal
 */
export const dropConfigNulls = (value: unknown, config: unknown, listKeys: ListKeys): unknown => {
  const walk = (v: unknown, c: unknown, pattern: string): unknown => {
    const t = typeAt(listKeys, pattern)
    if (kindOf(c, t) === "object" && isObject(v)) {
      const out: JsonObject = { ...v }
      for (const [k, cv] of Object.entries(c as JsonObject)) {
        if (!Object.hasOwn(out, k)) continue
        if (cv === null) {
          if (out[k] === null) delete out[k]
        } else {
          out[k] = walk(out[k], cv, fieldPattern(pattern, k))
        }
      }
      return out
    }
    if (kindOf(c, t) === "list" && isGranular(t) && Array.isArray(v)) {
      const ci = indexItems(t, c as ReadonlyArray<unknown>)
      const vi = indexItems(t, v)
      if (ci === undefined || vi === undefined) return v
      const byPe = new Map(ci)
      return vi.map(([pe, item]) => (byPe.has(pe) ? walk(item, byPe.get(pe), itemPattern(pattern)) : item))
    }
    return v
  }
  return walk(value, config, "")
}

/**
 * Reads the value at a path of field names.
 *
 * @internal
 */
export const getIn = (value: unknown, path: ReadonlyArray<string>): unknown => {
  let cur = value
  for (const name of path) {
    if (!isObject(cur) || !Object.hasOwn(cur, name)) return undefined
    cur = cur[name]
  }
  return cur
}

/**
 * Sets (or, with `undefined`, removes) the value at a path of field names, copying along the way.
 *
 * @internal
 */
export const setIn = (value: unknown, path: ReadonlyArray<string>, next: unknown): unknown => {
  if (path.length === 0) return next
  const [head, ...rest] = path as [string, ...Array<string>]
  const obj: JsonObject = isObject(value) ? { ...value } : {}
  if (rest.length > 0 && next === undefined && !isObject(obj[head])) return value
  const child = setIn(obj[head], rest, next)
  if (child === undefined) delete obj[head]
  else obj[head] = child
  return obj
}
