/**
 * The three patch formats the API server accepts, as pure functions over JSON: RFC 7386 merge
 * patch, RFC 6902 JSON patch and Kubernetes strategic merge patch; plus `createMergePatch`, the
 * minimal merge patch between two values.
 *
 * `effect/JsonPatch` was not reused: it implements only add/remove/replace (no move, copy, test)
 * and throws untyped errors.
 *
 * @since 0.1.0
 */
import type { Cluster } from "@kubefx/core"
import { JsonPointer, Result, Schema } from "effect"
import { jsonEqual } from "./internal/json.ts"
import { defaultListKeys, type ListKeys } from "./internal/listKeys.ts"
import { fieldPattern, isObject, itemPattern, type JsonObject, typeAt } from "./internal/structured.ts"

/**
 * A patch that cannot be applied. `operation` is the index of the failing JSON patch operation and
 * `path` the place at fault. Values are never quoted, so a Secret's data cannot leak into logs.
 *
 * @since 0.1.0
 * @category errors
 */
export class PatchError extends Schema.TaggedError<PatchError>()("PatchError", {
  message: Schema.String,
  operation: Schema.optionalKey(Schema.Number),
  path: Schema.optionalKey(Schema.String)
}) {}

/**
 * RFC 7386 JSON merge patch: objects merge recursively, `null` deletes a key, anything else
 * (arrays included) replaces. Never fails; the inputs are not mutated.
 *
 * @since 0.1.0
 * @category merge patch
 */
export const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isObject(patch)) return patch
  const out: JsonObject = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/**
 * The smallest RFC 7386 merge patch turning `from` into `to`: changed keys only, `null` for removed
 * ones, arrays whole. A merge patch cannot set a key to `null`, so `null`s inside objects of `to`
 * come out as removals.
 *
 * @since 0.1.0
 * @category merge patch
 */
export const createMergePatch = (from: unknown, to: unknown): unknown => {
  if (!isObject(to)) return to
  // Against a non-object, a patch object merges into `{}`: it must carry every key of `to`.
  const base: JsonObject = isObject(from) ? from : {}
  const out: JsonObject = {}
  for (const k of Object.keys(base)) if (!Object.hasOwn(to, k)) out[k] = null
  for (const [k, v] of Object.entries(to)) {
    if (Object.hasOwn(base, k)) {
      if (jsonEqual(base[k], v)) continue
      out[k] = isObject(v) && isObject(base[k]) ? createMergePatch(base[k], v) : v
    } else {
      out[k] = isObject(v) ? createMergePatch(undefined, v) : v
    }
  }
  return out
}

class Failure {
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

const parsePointer = (pointer: string): Array<string> => {
  if (pointer === "") return []
  if (!pointer.startsWith("/")) throw new Failure(`invalid JSON pointer ${JSON.stringify(pointer)}: must start with "/"`)
  if (/~(?![01])/.test(pointer)) throw new Failure(`invalid JSON pointer ${JSON.stringify(pointer)}: bad "~" escape`)
  return pointer.slice(1).split("/").map(JsonPointer.unescapeToken)
}

const arrayIndex = (token: string, length: number, forInsert: boolean): number => {
  if (token === "-" && forInsert) return length
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Failure(`invalid array index ${JSON.stringify(token)}`)
  const i = Number(token)
  if (i > (forInsert ? length : length - 1)) throw new Failure(`array index ${i} out of bounds`)
  return i
}

// The container holding the last token, in a document the patch owns (copied up front).
const parentOf = (doc: unknown, tokens: ReadonlyArray<string>): unknown => {
  let cur = doc
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(token, cur.length, false)]
    else if (isObject(cur) && Object.hasOwn(cur, token)) cur = cur[token]
    else throw new Failure("path does not exist")
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new Failure("path does not exist")
  return cur
}

const getAt = (doc: unknown, tokens: ReadonlyArray<string>): unknown => {
  if (tokens.length === 0) return doc
  const parent = parentOf(doc, tokens)
  const last = tokens[tokens.length - 1]!
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false)]
  const obj = parent as JsonObject
  if (!Object.hasOwn(obj, last)) throw new Failure("path does not exist")
  return obj[last]
}

const addAt = (doc: unknown, tokens: ReadonlyArray<string>, value: unknown): unknown => {
  if (tokens.length === 0) return value
  const parent = parentOf(doc, tokens)
  const last = tokens[tokens.length - 1]!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value)
  else (parent as JsonObject)[last] = value
  return doc
}

const removeAt = (doc: unknown, tokens: ReadonlyArray<string>): unknown => {
  if (tokens.length === 0) throw new Failure("cannot remove the whole document")
  const parent = parentOf(doc, tokens)
  const last = tokens[tokens.length - 1]!
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1)
  else {
    const obj = parent as JsonObject
    if (!Object.hasOwn(obj, last)) throw new Failure("path does not exist")
    delete obj[last]
  }
  return doc
}

const replaceAt = (doc: unknown, tokens: ReadonlyArray<string>, value: unknown): unknown => {
  if (tokens.length === 0) return value
  const parent = parentOf(doc, tokens)
  const last = tokens[tokens.length - 1]!
  if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false)] = value
  else {
    const obj = parent as JsonObject
    if (!Object.hasOwn(obj, last)) throw new Failure("path does not exist")
    obj[last] = value
  }
  return doc
}

const clone = (u: unknown): unknown => (u === undefined ? undefined : structuredClone(u))

/**
 * RFC 6902 JSON patch: `add`, `remove`, `replace`, `move`, `copy` and `test`, with JSON pointers
 * (`~0` is `~`, `~1` is `/`; `-` appends to an array). The whole patch applies or none of it does:
 * the first failing operation is reported with its index and path.
 *
 * @since 0.1.0
 * @category json patch
 */
export const jsonPatch = (
  target: unknown,
  ops: ReadonlyArray<Cluster.JsonPatchOperation>
): Result.Result<unknown, PatchError> => {
  let doc = clone(target)
  for (const [i, op] of ops.entries()) {
    try {
      if (!isObject(op) || typeof op.path !== "string") throw new Failure("an operation needs an op and a path")
      const path = parsePointer(op.path)
      const needValue = () => {
        if (!Object.hasOwn(op, "value")) throw new Failure("missing value")
        return clone(op.value)
      }
      const from = () => {
        if (typeof op.from !== "string") throw new Failure("missing from")
        return parsePointer(op.from)
      }
      switch (op.op) {
        case "add":
          doc = addAt(doc, path, needValue())
          break
        case "remove":
          doc = removeAt(doc, path)
          break
        case "replace":
          doc = replaceAt(doc, path, needValue())
          break
        case "move": {
          const source = from()
          if (source.length < path.length && source.every((t, j) => path[j] === t)) {
            throw new Failure("cannot move a value into itself")
          }
          const value = getAt(doc, source)
          doc = addAt(removeAt(doc, source), path, value)
          break
        }
        case "copy":
          doc = addAt(doc, path, clone(getAt(doc, from())))
          break
        case "test":
          if (!jsonEqual(getAt(doc, path), needValue())) throw new Failure("test failed: the value differs")
          break
        default:
          throw new Failure(`unknown operation ${JSON.stringify((op as { op: unknown }).op)}`)
      }
    } catch (e) {
      if (!(e instanceof Failure)) throw e
      const path = isObject(op) && typeof op.path === "string" ? op.path : undefined
      return Result.fail(
        new PatchError({
          message: `json patch operation ${i} (${String(isObject(op) ? op.op : op)} ${path ?? "?"}): ${e.reason}`,
          operation: i,
          ...(path === undefined ? {} : { path })
        })
      )
    }
  }
  return Result.succeed(doc)
}

const DELETE = Symbol("delete")

/**
 * Kubernetes strategic merge patch, the part of it controllers use: objects merge (`null` deletes a
 * key), lists with a merge key (from `ListKeys`: `patchMergeKey`, else the first key) merge item by
 * item, set lists take the union, other lists are replaced. Directives: `$patch: delete` (on an
 * object or a list item), `$patch: replace` (on an object, or as a list item to replace the list),
 * `$deleteFromPrimitiveList/<field>`. `$retainKeys` and `$setElementOrder/<field>` are accepted and
 * ignored: new list items are appended and no other key is cleared.
 *
 * @since 0.1.0
 * @category strategic merge patch
 */
export const strategicMergePatch = (
  target: unknown,
  patch: unknown,
  listKeys: ListKeys = defaultListKeys
): Result.Result<unknown, PatchError> => {
  const fail = (path: string, reason: string): never => {
    throw new PatchError({ message: `strategic merge patch at ${path || "/"}: ${reason}`, path: path || "/" })
  }

  const mergeObject = (original: unknown, p: JsonObject, pattern: string, at: string): unknown => {
    const directive = p.$patch
    if (directive === "delete") return DELETE
    if (directive === "replace") {
      const { $patch: _, ...rest } = p
      return rest
    }
    if (directive !== undefined && directive !== "merge") fail(at, `unknown patch type ${JSON.stringify(directive)}`)
    const out: JsonObject = isObject(original) ? { ...original } : {}
    for (const [k, v] of Object.entries(p)) {
      if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue
      if (k.startsWith("$deleteFromPrimitiveList/")) {
        const name = k.slice("$deleteFromPrimitiveList/".length)
        if (!Array.isArray(v)) fail(`${at}/${name}`, "$deleteFromPrimitiveList needs a list")
        const current = out[name]
        if (Array.isArray(current)) {
          out[name] = current.filter((item) => !(v as Array<unknown>).some((d) => jsonEqual(d, item)))
        }
        continue
      }
      if (v === null) {
        delete out[k]
        continue
      }
      const merged = mergeValue(out[k], v, fieldPattern(pattern, k), `${at}/${k}`)
      if (merged === DELETE) delete out[k]
      else out[k] = merged
    }
    return out
  }

  const mergeList = (original: unknown, p: ReadonlyArray<unknown>, pattern: string, at: string): unknown => {
    const t = typeAt(listKeys, pattern)
    const mergeKey = t?.type === "map" ? (t.patchMergeKey ?? t.keys[0]) : t?.type === "atomic" ? t.patchMergeKey : undefined
    const replaceAll = p.some((item) => isObject(item) && item.$patch === "replace")
    if (replaceAll) {
      return p.filter((item) => !(isObject(item) && item.$patch === "replace")).map((item, i) =>
        isObject(item) ? mergeObject(undefined, item, itemPattern(pattern), `${at}/${i}`) : item
      )
    }
    const base = Array.isArray(original) ? original.slice() : []
    if (t?.type === "set") {
      for (const item of p) if (!base.some((b) => jsonEqual(b, item))) base.push(item)
      return base
    }
    if (mergeKey === undefined) return p
    p.forEach((item, i) => {
      if (!isObject(item)) return fail(`${at}/${i}`, `list item is not an object (merge key ${mergeKey})`)
      if (!Object.hasOwn(item, mergeKey)) return fail(`${at}/${i}`, `item does not contain declared merge key: ${mergeKey}`)
      const idx = base.findIndex((b) => isObject(b) && jsonEqual(b[mergeKey], item[mergeKey]))
      if (item.$patch === "delete") {
        const keep = base.filter((b) => !(isObject(b) && jsonEqual(b[mergeKey], item[mergeKey])))
        base.length = 0
        base.push(...keep)
        return
      }
      const merged = mergeObject(idx < 0 ? undefined : base[idx], item, itemPattern(pattern), `${at}/${i}`)
      if (merged === DELETE) {
        if (idx >= 0) base.splice(idx, 1)
      } else if (idx < 0) base.push(merged)
      else base[idx] = merged
    })
    return base
  }

  const mergeValue = (original: unknown, p: unknown, pattern: string, at: string): unknown => {
    if (isObject(p)) return mergeObject(original, p, pattern, at)
    if (Array.isArray(p)) return mergeList(original, p, pattern, at)
    return p
  }

  try {
    const out = mergeValue(target, patch, "", "")
    return Result.succeed(out === DELETE ? {} : out)
  } catch (e) {
    if (e instanceof PatchError) return Result.fail(e)
    throw e
  }
}
