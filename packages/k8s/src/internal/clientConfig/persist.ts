/**
 * Writing refreshed OIDC tokens back to the kubeconfig file they came from, as kubectl does: a provider
 * that rotates refresh tokens with reuse detection revokes the session when a used one is replayed, which
 * is what a restart would do if the new one stayed in memory.
 *
 * The file is replaced atomically (a temporary file in the same directory, renamed over it) with the mode
 * it had. The edit is textual when it can be: each old token value occurs exactly once and is replaced in
 * place, so comments and layout survive; the result is parsed again and must equal the old document with
 * only those values changed. Otherwise the document is parsed, changed and written out again as YAML
 * (content kept, comments lost, as kubectl's rewrite loses them).
 *
 * @internal
 */
import * as yaml from "js-yaml"
import { Effect, FileSystem } from "effect"
import { randomBytes } from "node:crypto"
import * as nodePath from "node:path"
import { isDeepStrictEqual } from "node:util"
import { problem } from "../files.ts"

/** The `auth-provider.config` of user `name` in a parsed kubeconfig, or `undefined`. */
const providerConfig = (document: unknown, name: string): Record<string, unknown> | undefined => {
  const users = (document as { users?: unknown } | null)?.users
  if (!Array.isArray(users)) return undefined
  const entry = users.find((item) => (item as { name?: unknown } | null)?.name === name) as
    | { user?: { "auth-provider"?: { config?: unknown } } }
    | undefined
  const config = entry?.user?.["auth-provider"]?.config
  return typeof config === "object" && config !== null && !Array.isArray(config)
    ? config as Record<string, unknown>
    : undefined
}

/** Characters that mean the same in a plain, single- or double-quoted YAML scalar. */
const inert = /^[A-Za-z0-9._~+/=-]+$/

const occurrences = (text: string, value: string): number => {
  let count = 0
  for (let at = text.indexOf(value); at !== -1; at = text.indexOf(value, at + 1)) count++
  return count
}

/** `text` with the user's provider config values set to `updates`, keeping everything else. */
export const rewrite = (
  text: string,
  user: string,
  updates: Readonly<Record<string, string>>
): { readonly text: string; readonly inPlace: boolean } | string => {
  let before: unknown
  try {
    before = yaml.load(text)
  } catch {
    return "it is no longer valid YAML"
  }
  const config = providerConfig(before, user)
  if (config === undefined) return `users[${user}].user.auth-provider.config is no longer in it`
  const expected = structuredClone(before)
  Object.assign(providerConfig(expected, user)!, updates)

  let edited = text
  let inPlace = true
  for (const [key, value] of Object.entries(updates)) {
    const old = config[key]
    if (old === value) continue
    if (typeof old !== "string" || !inert.test(old) || !inert.test(value) || occurrences(edited, old) !== 1) {
      inPlace = false
      break
    }
    edited = edited.replace(old, () => value)
  }
  if (inPlace) {
    try {
      if (isDeepStrictEqual(yaml.load(edited), expected)) return { text: edited, inPlace: true }
    } catch {
      // fall through to the full rewrite
    }
  }
  return { text: yaml.dump(expected, { lineWidth: -1, noRefs: true }), inPlace: false }
}

/**
 * Sets `updates` in the provider config of user `user` in the kubeconfig at `path`. Fails with a message
 * that names the file and the reason, never a value.
 */
export const writeBack = (
  path: string,
  user: string,
  updates: Readonly<Record<string, string>>
): Effect.Effect<void, string, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // a symlinked kubeconfig is updated where it lives, and stays a symlink
    const target = yield* fs.realPath(path).pipe(Effect.mapError((error) => problem(error)))
    const info = yield* fs.stat(target).pipe(Effect.mapError((error) => problem(error)))
    const text = yield* fs.readFileString(target).pipe(Effect.mapError((error) => problem(error)))
    const next = rewrite(text, user, updates)
    if (typeof next === "string") return yield* Effect.fail(next)
    const mode = info.mode & 0o777
    const temp = nodePath.join(
      nodePath.dirname(target),
      `.${nodePath.basename(target)}.kubefx-${randomBytes(6).toString("hex")}.tmp`
    )
    yield* Effect.gen(function*() {
      // created with no access for others; the file's own mode is applied before it becomes visible
      yield* fs.writeFileString(temp, next.text, { flag: "wx", mode: 0o600 })
      yield* fs.chmod(temp, mode)
      yield* fs.rename(temp, target)
    }).pipe(
      Effect.mapError((error) => problem(error)),
      Effect.onError(() => fs.remove(temp).pipe(Effect.ignore))
    )
  })
