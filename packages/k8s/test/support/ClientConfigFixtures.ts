/**
 * Temp files, exec plugin scripts, fake JWTs and a self-signed certificate for the client
 * configuration tests.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { ConfigProvider, Effect, Redacted } from "effect"
import { afterAll } from "@effect/vitest"
import type { Credentials } from "../../src/ClientConfig.ts"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temp directory, removed after the test file. */
export const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "kubefx-clientconfig-"))
  dirs.push(dir)
  return dir
}

/** Writes `content` at `dir/name` (creating parents) and returns the path. */
export const write = (dir: string, name: string, content: string): string => {
  const path = join(dir, name)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content)
  return path
}

/** An executable `#!/bin/sh` script. */
export const script = (dir: string, name: string, body: string): string => {
  const path = write(dir, name, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

/** How many times a plugin wrote a line to its `count` file. */
export const countIn = (dir: string): number => {
  try {
    return readFileSync(join(dir, "count"), "utf8").split("\n").filter((line) => line !== "").length
  } catch {
    return 0
  }
}

/**
 * A plugin that counts its runs in `<dir>/count`, saves its args, `$PLUGIN_GREETING` and
 * `KUBERNETES_EXEC_INFO`, and prints the token `tok-<n>`, expiring at the RFC 3339 time in
 * `<dir>/expiry` when that file exists.
 */
export const countingPlugin = (dir: string, options?: { readonly apiVersion?: string }): string =>
  script(
    dir,
    "plugin.sh",
    [
      `echo run >> "${dir}/count"`,
      `n=$(wc -l < "${dir}/count" | tr -d ' ')`,
      `printf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/exec-info"`,
      `printf '%s' "$*" > "${dir}/args"`,
      `printf '%s' "$PLUGIN_GREETING" > "${dir}/env"`,
      `exp=""`,
      `if [ -f "${dir}/expiry" ]; then exp=$(printf ',"expirationTimestamp":"%s"' "$(cat "${dir}/expiry")"); fi`,
      `printf '{"apiVersion":"${options?.apiVersion ?? "client.authentication.k8s.io/v1"}",` +
      `"kind":"ExecCredential","status":{"token":"tok-%s"%s}}' "$n" "$exp"`
    ].join("\n")
  )

/** What the counting plugin saw: its args, `$PLUGIN_GREETING` and the parsed `KUBERNETES_EXEC_INFO`. */
export const pluginSaw = (dir: string): { readonly args: string; readonly env: string; readonly info: any } => ({
  args: readFileSync(join(dir, "args"), "utf8"),
  env: readFileSync(join(dir, "env"), "utf8"),
  info: JSON.parse(readFileSync(join(dir, "exec-info"), "utf8"))
})

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** An unsigned JWT with the given `exp` (seconds) and a marker to tell tokens apart. */
export const jwt = (exp: number | undefined, marker: string): string =>
  `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: marker, ...(exp === undefined ? {} : { exp }) })}.sig`

/** A PEM-looking text for configs that are never used for TLS. */
export const fakePem = (label: string, body = "ZmFrZQ=="): string =>
  `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`

let cert: { readonly cert: string; readonly key: string } | undefined

/** A self-signed certificate for 127.0.0.1 (made once per test file with openssl). */
export const selfSigned = (): { readonly cert: string; readonly key: string } => {
  if (cert !== undefined) return cert
  const dir = tempDir()
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1"
  ], { cwd: dir, stdio: "pipe" })
  cert = { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") }
  return cert
}

/** Runs with exactly these environment variables visible to `Config`. */
export const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

/** The `Authorization` header in clear, for assertions. */
export const authorization = (credentials: Credentials): string | undefined => {
  const header = credentials.headers.Authorization
  return header === undefined ? undefined : Redacted.value(header)
}

/** A kubeconfig as YAML text, from a compact description. */
export const kubeconfig = (config: {
  readonly current?: string
  readonly clusters?: Record<string, Record<string, unknown>>
  readonly contexts?: Record<string, Record<string, unknown>>
  readonly users?: Record<string, Record<string, unknown>>
}): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    ...(config.current !== undefined ? { "current-context": config.current } : {}),
    clusters: Object.entries(config.clusters ?? {}).map(([name, cluster]) => ({ name, cluster })),
    contexts: Object.entries(config.contexts ?? {}).map(([name, context]) => ({ name, context })),
    users: Object.entries(config.users ?? {}).map(([name, user]) => ({ name, user }))
  }, null, 2)
