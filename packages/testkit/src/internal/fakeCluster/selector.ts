/**
 * Label and field selectors with the API server's grammar (`k8s.io/apimachinery/pkg/labels` and
 * `pkg/fields`): parsed once per request, then applied as plain predicates.
 *
 * @internal
 */
import type { Cluster, Resource } from "@kubefx/core"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** A parse failure; the caller turns it into a 400 BadRequest. @internal */
export class SelectorError extends Error {}

/** @internal */
export type Matcher = (obj: Resource.KubeObject) => boolean

const matchAll: Matcher = () => true

const qualifiedNamePart = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

const nameRegexError =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

const subdomainRegexError =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

/**
 * `IsQualifiedName`: why a label key (annotation key, finalizer) is not a qualified name, every reason
 * as the server lists them (kube-apiserver 1.37 wording); empty when it is one. @internal
 */
export const qualifiedNameErrors = (key: string): Array<string> => {
  const errs: Array<string> = []
  const parts = key.split("/")
  let name = key
  if (parts.length === 2) {
    const prefix = parts[0]!
    name = parts[1]!
    if (prefix.length === 0) errs.push("prefix part must be non-empty")
    else {
      if (prefix.length > 253) errs.push("prefix part must be no more than 253 bytes")
      if (!dnsSubdomain.test(prefix)) errs.push(`prefix part ${subdomainRegexError}`)
    }
  } else if (parts.length > 2) {
    return [`a valid label key ${nameRegexError} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`]
  }
  if (name.length === 0) errs.push("name part must be non-empty")
  else if (name.length > 63) errs.push("name part must be no more than 63 bytes")
  if (!qualifiedNamePart.test(name)) errs.push(`name part ${nameRegexError}`)
  return errs
}

/** `IsValidLabelValue`: why a string is not a valid label value; empty when it is one. @internal */
export const labelValueErrors = (value: string): Array<string> => {
  const errs: Array<string> = []
  if (value.length > 63) errs.push("must be no more than 63 bytes")
  if (value.length > 0 && !qualifiedNamePart.test(value)) {
    errs.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    )
  }
  return errs
}

type Requirement =
  | { readonly op: "exists" | "!"; readonly key: string }
  | { readonly op: "=" | "!=" | "in" | "notin"; readonly key: string; readonly values: ReadonlyArray<string> }
  | { readonly op: ">" | "<"; readonly key: string; readonly bound: number }

const tokenize = (input: string): Array<string> => {
  const tokens: Array<string> = []
  let i = 0
  while (i < input.length) {
    const c = input[i]!
    if (c === " " || c === "\t" || c === "\n") {
      i++
    } else if (c === "(" || c === ")" || c === ",") {
      tokens.push(c)
      i++
    } else if (c === "!" || c === "=" || c === ">" || c === "<") {
      const two = input.slice(i, i + 2)
      if (two === "!=" || two === "==") {
        tokens.push(two)
        i += 2
      } else {
        tokens.push(c)
        i++
      }
    } else {
      let j = i
      while (j < input.length && !" \t\n(),!=<>".includes(input[j]!)) j++
      tokens.push(input.slice(i, j))
      i = j
    }
  }
  return tokens
}

const isIdentifier = (t: string | undefined): t is string =>
  t !== undefined && !["(", ")", ",", "!", "=", "==", "!=", ">", "<"].includes(t)

const checkKey = (key: string): string => {
  const errs = qualifiedNameErrors(key)
  // The key's error carries no field path (printed as Go's nil).
  if (errs.length > 0) throw new SelectorError(`unable to parse requirement: <nil>: Invalid value: "${key}": ${errs.join("; ")}`)
  return key
}

const checkValue = (key: string, value: string): string => {
  const errs = labelValueErrors(value)
  if (errs.length > 0) {
    throw new SelectorError(`unable to parse requirement: values[0][${key}]: Invalid value: "${value}": ${errs.join("; ")}`)
  }
  return value
}

/**
 * Parses a label selector (`a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1`) with the server's error
 * messages. An empty string selects everything; `in ()` selects nothing and `notin ()` everything,
 * as the server accepts them.
 *
 * @internal
 */
export const parseLabelSelector = (input: string | undefined): Matcher => {
  if (input === undefined || input.trim() === "") return matchAll
  const tokens = tokenize(input)
  const reqs: Array<Requirement> = []
  let i = 0
  const peek = () => tokens[i]
  const next = () => tokens[i++]
  let afterComma = false
  for (;;) {
    const t = peek()
    if (t === undefined) {
      if (afterComma) throw new SelectorError("found '', expected: identifier after ','")
      break
    }
    if (t === "!") {
      next()
      const key = next()
      if (!isIdentifier(key)) throw new SelectorError(`unable to parse requirement: found '${key ?? ""}', expected: identifier`)
      reqs.push({ op: "!", key: checkKey(key) })
    } else if (!isIdentifier(t)) {
      throw new SelectorError(`found '${t}', expected: !, identifier, or 'end of string'`)
    } else {
      const key = checkKey(next()!)
      const op = peek()
      if (op === undefined || op === ",") {
        reqs.push({ op: "exists", key })
      } else if (op === "=" || op === "==" || op === "!=") {
        next()
        const v = peek()
        let value = ""
        if (v !== undefined && v !== ",") {
          if (!isIdentifier(v)) throw new SelectorError(`unable to parse requirement: found '${v}', expected: identifier`)
          value = next()!
        }
        reqs.push({ op: op === "!=" ? "!=" : "=", key, values: [checkValue(key, value)] })
      } else if (op === "in" || op === "notin") {
        next()
        const open = next()
        if (open !== "(") throw new SelectorError(`unable to parse requirement: found '${open ?? ""}', expected: '('`)
        const values: Array<string> = []
        for (;;) {
          const v = next()
          if (v === undefined) throw new SelectorError("unable to parse requirement: found '', expected: ',', ')' or identifier")
          if (v === ")") break
          if (v === ",") continue
          if (!isIdentifier(v)) throw new SelectorError(`unable to parse requirement: found '${v}', expected: ',', ')' or identifier`)
          values.push(checkValue(key, v))
        }
        reqs.push({ op, key, values })
      } else if (op === ">" || op === "<") {
        next()
        const v = next()
        if (v === undefined || !/^-?\d+$/.test(v)) {
          throw new SelectorError(`unable to parse requirement: values[0]: Invalid value: "${v ?? ""}": for 'Gt', 'Lt' operators, the value must be an integer`)
        }
        reqs.push({ op, key, bound: Number(v) })
      } else {
        throw new SelectorError(`unable to parse requirement: found '${op}', expected: in, notin, =, ==, !=, gt, lt`)
      }
    }
    const sep = next()
    if (sep === undefined) break
    if (sep !== ",") throw new SelectorError(`found '${sep}', expected: ',' or 'end of string'`)
    afterComma = true
  }
  return (obj) => {
    const labels = obj.metadata.labels ?? {}
    for (const r of reqs) {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key)
      const value = has ? labels[r.key] : undefined
      switch (r.op) {
        case "exists":
          if (!has) return false
          break
        case "!":
          if (has) return false
          break
        case "=":
        case "in":
          if (!has || !r.values.includes(value as string)) return false
          break
        case "!=":
        case "notin":
          if (has && r.values.includes(value as string)) return false
          break
        case ">":
        case "<": {
          if (!has || !/^-?\d+$/.test(value as string)) return false
          const n = Number(value)
          if (r.op === ">" ? !(n > r.bound) : !(n < r.bound)) return false
          break
        }
      }
    }
    return true
  }
}

const splitUnescaped = (input: string, sep: string): Array<string> => {
  const out: Array<string> = []
  let cur = ""
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!
    if (c === "\\" && i + 1 < input.length) {
      cur += c + input[i + 1]
      i++
    } else if (c === sep) {
      out.push(cur)
      cur = ""
    } else {
      cur += c
    }
  }
  out.push(cur)
  return out
}

const unescape = (s: string) => s.replace(/\\(.)/g, "$1")

/**
 * Parses a field selector over `metadata.name` and `metadata.namespace` (`=`, `==`, `!=`), the
 * fields every type supports. `unsupported` builds the type-specific message for any other field.
 *
 * @internal
 */
export const parseFieldSelector = (
  input: string | undefined,
  unsupported: (field: string) => string
): Matcher => {
  if (input === undefined || input.trim() === "") return matchAll
  const terms = splitUnescaped(input, ",").map((term) => {
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(term)
    if (m === null) throw new SelectorError(`invalid selector: '${input}'; can't understand '${term}'`)
    const field = m[1]!.trim()
    const op = m[2]!
    const value = unescape(m[3]!)
    if (field !== "metadata.name" && field !== "metadata.namespace") throw new SelectorError(unsupported(field))
    return { field, negate: op === "!=", value }
  })
  return (obj) =>
    terms.every((t) => {
      const actual = t.field === "metadata.name" ? obj.metadata.name ?? "" : obj.metadata.namespace ?? ""
      return t.negate ? actual !== t.value : actual === t.value
    })
}

/**
 * The label and field matchers of a list or watch request; a selector that does not parse is a 400
 * with the server's message (custom resources name the field label, built-ins the fields they know).
 *
 * @internal
 */
export const matchersFor = (info: TypeInfo, selection: Cluster.Selection): { labels: Matcher; fields: Matcher } => {
  try {
    return {
      labels: parseLabelSelector(selection.labelSelector),
      fields: parseFieldSelector(
        selection.fieldSelector,
        (field) =>
          info.isCustom
            ? `field label not supported: ${field}`
            : `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`
      )
    }
  } catch (e) {
    if (e instanceof SelectorError) throw errors.badRequest(info, e.message)
    throw e
  }
}
