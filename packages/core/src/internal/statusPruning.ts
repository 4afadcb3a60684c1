/**
 * Status fields an API server will not keep. A CRD's structural schema prunes every field it does not declare,
 * silently: a status written with such a field comes back without it, never compares equal to what the
 * operator wants, and would be written again on every reconcile. The server's answer to the write shows what
 * it dropped; those paths are then left out of every later write.
 *
 * A path is a JSON array of segments, `"[]"` standing for every item of a list: `["conditions","[]","reason"]`.
 *
 * @internal
 */

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v)

const walk = (sent: unknown, kept: unknown, path: ReadonlyArray<string>, out: Set<string>): void => {
  if (Array.isArray(sent)) {
    if (!Array.isArray(kept)) return
    sent.forEach((item, i) => walk(item, kept[i], [...path, "[]"], out))
    return
  }
  if (!isObject(sent) || !isObject(kept)) return
  for (const [k, v] of Object.entries(sent)) {
    if (v === undefined) continue
    if (Object.hasOwn(kept, k)) walk(v, kept[k], [...path, k], out)
    else out.add(JSON.stringify([...path, k]))
  }
}

/**
 * The paths of `sent` (object keys, at any depth) that `kept` lacks: what the server dropped from a write whose
 * answer is `kept`. Values it changed are not drops; list items are compared by position.
 *
 * @internal
 */
export const dropped = (sent: unknown, kept: unknown): ReadonlyArray<string> => {
  const out = new Set<string>()
  walk(sent, isObject(kept) || Array.isArray(kept) ? kept : {}, [], out)
  return Array.from(out)
}

interface Trie {
  readonly leaf: boolean
  readonly next: Map<string, Trie>
}

const trieOf = (paths: Iterable<string>): Trie => {
  const root: { leaf: boolean; next: Map<string, Trie> } = { leaf: false, next: new Map() }
  for (const text of paths) {
    let node = root
    for (const segment of JSON.parse(text) as ReadonlyArray<string>) {
      let child = node.next.get(segment) as { leaf: boolean; next: Map<string, Trie> } | undefined
      if (child === undefined) {
        child = { leaf: false, next: new Map() }
        node.next.set(segment, child)
      }
      node = child
    }
    node.leaf = true
  }
  return root
}

const strip = (value: unknown, trie: Trie): unknown => {
  if (Array.isArray(value)) {
    const items = trie.next.get("[]")
    return items === undefined ? value : value.map((v) => strip(v, items))
  }
  if (!isObject(value)) return value
  let out: Json | undefined
  for (const [segment, child] of trie.next) {
    if (segment === "[]" || !Object.hasOwn(value, segment)) continue
    out ??= { ...value }
    if (child.leaf) delete out[segment]
    else out[segment] = strip(value[segment], child)
  }
  return out ?? value
}

/**
 * `status` without the `pruned` paths (the same object when none is present).
 *
 * @internal
 */
export const without = (status: Record<string, unknown>, pruned: ReadonlySet<string>): Record<string, unknown> =>
  pruned.size === 0 ? status : (strip(status, trieOf(pruned)) as Record<string, unknown>)

const show = (text: string): string =>
  `status${(JSON.parse(text) as ReadonlyArray<string>).map((s) => (s === "[]" ? "[]" : /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join("")}`

/**
 * The warning for newly dropped paths: what, why, and what to do.
 *
 * @internal
 */
export const describe = (kind: string, paths: ReadonlyArray<string>): string => {
  const fields = paths.map(show).join(", ")
  const them = paths.length === 1 ? "it" : "them"
  return `the API server dropped ${fields} from the ${kind} status kubefx wrote: the CRD's schema does not declare ${
    paths.length === 1 ? "that field" : "those fields"
  }, so it prunes ${them} from every write. kubefx leaves ${them} out from now on (else every reconcile would write the status again); ` +
    `declare ${them} in the CRD's openAPIV3Schema under status to keep ${them}${
      paths.some((p) => p.startsWith("[\"conditions\"")) ? " (conditions carry Ready and ReconcileError, so failures are not recorded on the parent until then)" : ""
    }`
}
