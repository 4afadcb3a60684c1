/**
 * The credential plugin policy (kubectl 1.35's `credentialPluginPolicy` and `credentialPluginAllowlist`):
 * which exec plugins a kubeconfig may make us run. The decision table, first match wins:
 *
 * | given | policy |
 * |---|---|
 * | `execPolicy` (or `allowExec`) in code | that |
 * | an untrusted kubeconfig (`untrusted: true`) | `DenyAll` |
 * | kubeconfig data (not a file the user keeps) | `DenyAll` |
 * | `KUBEFX_EXEC_PLUGIN_POLICY` / `KUBEFX_EXEC_PLUGIN_ALLOWLIST` | that |
 * | otherwise (the user's own kubeconfig files) | `AllowAll`, as kubectl |
 *
 * An allowlist is checked against the binary that would run: a command name is looked up on `PATH` here
 * (not by the OS at spawn time), the allowlist's names are looked up the same way, and the plugin then runs
 * by its resolved absolute path, so the binary checked is the binary run.
 *
 * @internal
 */
import { Config, Effect, FileSystem, Option } from "effect"
import * as nodePath from "node:path"
import { ConfigError } from "../../ClientConfigError.ts"
import type { ExecConfig, Policy } from "../../ExecCredential.ts"

export const policyVariable = "KUBEFX_EXEC_PLUGIN_POLICY"
export const allowlistVariable = "KUBEFX_EXEC_PLUGIN_ALLOWLIST"

/** Where the policy in force came from: it decides what the refusal says to do about it. */
export type PolicyOrigin = "execPolicy" | "allowExec" | "environment" | "untrusted" | "data" | "default"

export interface Effective {
  readonly policy: Policy
  readonly origin: PolicyOrigin
}

const variable = (name: string): Effect.Effect<string | undefined, ConfigError> =>
  Config.option(Config.String(name)).pipe(
    Effect.map((value) => Option.getOrUndefined(Option.filter(Option.map(value, (text) => text.trim()), (t) => t !== ""))),
    Effect.mapError((error) => new ConfigError({ message: `cannot read ${name}: ${error.message}`, source: name }))
  )

const fail = (message: string, source: string) => Effect.fail(new ConfigError({ message, source }))

/** `KUBEFX_EXEC_PLUGIN_POLICY` and `KUBEFX_EXEC_PLUGIN_ALLOWLIST`; `undefined` when neither is set. */
export const fromEnvironment: Effect.Effect<Policy | undefined, ConfigError> = Effect.gen(function*() {
  const policy = yield* variable(policyVariable)
  const list = yield* variable(allowlistVariable)
  const entries = list?.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
  const mode = policy?.toLowerCase()
  if (mode === undefined) return entries === undefined ? undefined : { allowlist: entries }
  if (mode === "allowall" || mode === "denyall") {
    if (entries !== undefined) {
      return yield* fail(
        `${allowlistVariable} is set but ${policyVariable}=${policy}: set ${policyVariable}=Allowlist, or unset one of them`,
        policyVariable
      )
    }
    return mode === "allowall" ? "AllowAll" : "DenyAll"
  }
  if (mode === "allowlist") {
    if (entries === undefined || entries.length === 0) {
      return yield* fail(
        `${policyVariable}=Allowlist needs ${allowlistVariable} (command names or absolute paths, separated by ",")`,
        allowlistVariable
      )
    }
    return { allowlist: entries }
  }
  return yield* fail(`${policyVariable} must be AllowAll, DenyAll or Allowlist, got ${JSON.stringify(policy)}`, policyVariable)
})

/** The policy in force for a plugin of a kubeconfig; reads the environment only when it decides. */
export const decide = (
  options: {
    readonly execPolicy?: Policy | undefined
    readonly allowExec?: boolean | undefined
    readonly untrusted?: boolean | undefined
  },
  isFile: boolean,
  label: string
): Effect.Effect<Effective, ConfigError> =>
  Effect.gen(function*() {
    if (options.execPolicy !== undefined && options.allowExec !== undefined) {
      return yield* fail(`${label}: set execPolicy or allowExec, not both`, "execPolicy")
    }
    if (options.execPolicy !== undefined) return { policy: options.execPolicy, origin: "execPolicy" }
    if (options.allowExec !== undefined) {
      return { policy: options.allowExec ? "AllowAll" : "DenyAll", origin: "allowExec" }
    }
    if (options.untrusted === true) return { policy: "DenyAll", origin: "untrusted" }
    if (!isFile) return { policy: "DenyAll", origin: "data" }
    const fromEnv = yield* fromEnvironment
    return fromEnv === undefined ? { policy: "AllowAll", origin: "default" } : { policy: fromEnv, origin: "environment" }
  })

const hasSeparator = (command: string) => command.includes("/") || command.includes(nodePath.sep)

/**
 * The executable `name` resolves to on `PATH`, as a shell would find it; `undefined` when there is none.
 * Relative `PATH` entries (and empty ones, which mean the working directory) are skipped, as Go's
 * `exec.LookPath` refuses them: a command must not be found in whatever directory we happen to run in.
 */
export const lookPath = (name: string): Effect.Effect<string | undefined, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = (yield* variable("PATH")) ?? ""
    for (const dir of path.split(nodePath.delimiter)) {
      if (dir === "" || !nodePath.isAbsolute(dir)) continue
      const candidate = nodePath.join(dir, name)
      const info = yield* fs.stat(candidate).pipe(Effect.option)
      if (Option.isSome(info) && info.value.type === "File" && (info.value.mode & 0o111) !== 0) return candidate
    }
    return undefined
  })

/** `command` as an absolute path: a path against the working directory, a name through `PATH`. */
const resolveCommand = (command: string) =>
  hasSeparator(command) ? Effect.succeed<string | undefined>(nodePath.resolve(command)) : lookPath(command)

const realPath = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.realPath(path).pipe(Effect.orElseSucceed(() => path))
  })

const allowlistSource = (origin: PolicyOrigin) => (origin === "environment" ? allowlistVariable : "execPolicy.allowlist")

/** What to do to let this plugin run, for the refusal. */
const howToAllow = (origin: PolicyOrigin, command: string): string => {
  const entry = JSON.stringify(command)
  switch (origin) {
    case "data":
      return "; a kubeconfig given as data can run any command it names: " +
        `if you trust it, pass execPolicy: { allowlist: [${entry}] } (or allowExec: true)`
    case "untrusted":
      return "; an untrusted kubeconfig runs no command (it could name any program): " +
        `to allow this one, pass execPolicy: { allowlist: [${entry}] }`
    case "environment":
      return ` (${policyVariable}=DenyAll); to allow it, set ${policyVariable}=Allowlist and ${allowlistVariable}=${command}`
    case "allowExec":
      return " (allowExec: false)"
    default:
      return ` (execPolicy: DenyAll); to allow it, pass execPolicy: { allowlist: [${entry}] }`
  }
}

/**
 * Checks a plugin against the policy. Returns its configuration to run: under an allowlist, with the
 * command replaced by the resolved absolute path that was checked. A refusal is a `ConfigError` with
 * reason `ExecPluginRefused`, naming the command and how to allow it.
 */
export const authorize = (
  exec: ExecConfig,
  effective: Effective,
  label: string
): Effect.Effect<ExecConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { origin, policy } = effective
    if (policy === "AllowAll") {
      // Run what we looked up, so the binary is the same whatever PATH the child would see; a command
      // not found is left to fail when it is started, with its install hint.
      const found = yield* resolveCommand(exec.command)
      return found === undefined ? exec : { ...exec, command: found }
    }
    if (policy === "DenyAll") {
      return yield* new ConfigError({
        message: `${label}: exec plugin "${exec.command}" is not allowed to run${howToAllow(origin, exec.command)}`,
        source: label,
        reason: { _tag: "ExecPluginRefused", command: exec.command, policy: "DenyAll" }
      })
    }
    for (const entry of policy.allowlist) {
      if (entry.trim() === "" || (hasSeparator(entry) && !nodePath.isAbsolute(entry))) {
        return yield* fail(
          `${allowlistSource(origin)}: entry ${JSON.stringify(entry)} must be a command name or an absolute path`,
          allowlistSource(origin)
        )
      }
    }
    const resolved = yield* resolveCommand(exec.command)
    if (resolved === undefined) {
      return yield* fail(
        `${label}: exec plugin "${exec.command}" was not found on PATH` +
          (exec.installHint !== undefined ? `. ${exec.installHint.trim()}` : ""),
        label
      )
    }
    const target = yield* realPath(resolved)
    for (const entry of policy.allowlist) {
      const allowed = yield* resolveCommand(entry)
      if (allowed !== undefined && (allowed === resolved || (yield* realPath(allowed)) === target)) {
        return { ...exec, command: resolved }
      }
    }
    const shown = resolved === exec.command ? `"${exec.command}"` : `"${exec.command}" (${resolved})`
    return yield* new ConfigError({
      message: `${label}: exec plugin ${shown} is not in the allowlist (${allowlistSource(origin)}); ` +
        `to allow it, add ${JSON.stringify(resolved)} to ${allowlistSource(origin)}`,
      source: label,
      reason: { _tag: "ExecPluginRefused", command: exec.command, resolved, policy: "Allowlist" }
    })
  })
