/**
 * Exec credential plugins (`users[].user.exec` in a kubeconfig): a command that prints an
 * `ExecCredential` with a token or a client certificate, as used by `aws eks get-token`,
 * `gke-gcloud-auth-plugin`, `kubelogin` and others.
 *
 * The plugin runs asynchronously through Effect's `ChildProcessSpawner`, with a timeout, and concurrent
 * callers share one run (client-node 2.x also spawns plugins asynchronously, but with no timeout, one
 * run per concurrent caller, and untyped errors). Its output is cached
 * until `status.expirationTimestamp` and the plugin runs again after that. A headless operator never
 * waits on a prompt: without a terminal the plugin gets no standard input, a plugin that insists on
 * one (`interactiveMode: Always`) is refused, and a hanging plugin is stopped after a timeout. What a
 * plugin prints is never copied into a message or a log: stdout holds the credential, and stderr often
 * does too (debug output); an error says only how much stderr there was.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Redacted, Schema, SchemaTransformation, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { AuthError, ConfigError } from "./ClientConfigError.ts"
import * as Expiring from "./internal/expiring.ts"

/**
 * The ExecCredential API versions this client speaks. `v1alpha1` was removed from Kubernetes in 1.24.
 *
 * @since 0.1.0
 * @category models
 */
export const ApiVersion = Schema.Literals(["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])

/**
 * @since 0.1.0
 * @category models
 */
export type ApiVersion = typeof ApiVersion.Type

/**
 * Whether the plugin may prompt: `Never`, `IfAvailable` (only with a terminal on standard input),
 * `Always` (refused without a terminal).
 *
 * @since 0.1.0
 * @category models
 */
export const InteractiveMode = Schema.Literals(["Never", "IfAvailable", "Always"])

/**
 * @since 0.1.0
 * @category models
 */
export type InteractiveMode = typeof InteractiveMode.Type

const textFromScalar = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean]).pipe(
  Schema.decodeTo(
    Schema.String,
    SchemaTransformation.transform({ decode: (value) => String(value), encode: (value) => value })
  )
)

/**
 * A YAML scalar read as text. kubectl reads an unquoted `123` or `true` in a string field as its text,
 * and so do we.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Text: Schema.Codec<string, string | number | boolean> = textFromScalar

/**
 * Text that is a secret (a token, a password, a key): decoded straight into `Redacted`, so a decoded
 * kubeconfig can be logged or inspected without revealing it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Secret: Schema.Codec<Redacted.Redacted<string>, string | number | boolean> = Schema.RedactedFromValue(
  textFromScalar
)

/**
 * A boolean that also accepts the strings `"true"` and `"false"`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Flag: Schema.Codec<boolean, boolean | "true" | "false"> = Schema.Union([
  Schema.Boolean,
  Schema.Literals(["true", "false"]).pipe(
    Schema.decodeTo(
      Schema.Boolean,
      SchemaTransformation.transform({
        decode: (value) => value === "true",
        encode: (value): "true" | "false" => (value ? "true" : "false")
      })
    )
  )
])

/**
 * The `exec` section of a kubeconfig user. Environment values are `Redacted`: plugins are often given
 * secrets that way.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExecConfig = Schema.Struct({
  apiVersion: Schema.optionalKey(Text),
  command: Text,
  args: Schema.optionalKey(Schema.Array(Text)),
  env: Schema.optionalKey(Schema.Array(Schema.Struct({ name: Text, value: Secret }))),
  installHint: Schema.optionalKey(Text),
  provideClusterInfo: Schema.optionalKey(Flag),
  interactiveMode: Schema.optionalKey(Text)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ExecConfig = typeof ExecConfig.Type

/**
 * What a plugin prints on standard output. `token` and `clientKeyData` are decoded into `Redacted`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExecCredential = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.Literal("ExecCredential"),
  status: Schema.optionalKey(Schema.Struct({
    token: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
    clientCertificateData: Schema.optionalKey(Schema.String),
    clientKeyData: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
    expirationTimestamp: Schema.optionalKey(Schema.String)
  }))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ExecCredential = typeof ExecCredential.Type

/**
 * The cluster a plugin is asked about when `provideClusterInfo: true` (`spec.cluster` in
 * `KUBERNETES_EXEC_INFO`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterInfo {
  readonly server: string
  readonly tlsServerName?: string | undefined
  readonly insecureSkipTlsVerify?: boolean | undefined
  /** PEM; sent base64-encoded as `certificate-authority-data`. */
  readonly ca?: string | undefined
  readonly proxyUrl?: string | undefined
  /** The cluster's `client.authentication.k8s.io/exec` extension, passed on as `config`. */
  readonly config?: unknown
}

/**
 * What a plugin issued. `expiresAt` is epoch milliseconds; absent means "until refreshed".
 *
 * @since 0.1.0
 * @category models
 */
export interface Issued {
  readonly token?: Redacted.Redacted<string> | undefined
  readonly clientCertificate?: { readonly cert: string; readonly key: Redacted.Redacted<string> } | undefined
  readonly expiresAt?: number | undefined
}

/**
 * Which exec plugins a kubeconfig may run, as kubectl 1.35's `credentialPluginPolicy`: `AllowAll`,
 * `DenyAll`, or only the commands of an allowlist. An allowlist entry is a command name (looked up on
 * `PATH`) or an absolute path; the plugin's own command is looked up the same way, the two resolved
 * paths must be the same file, and the resolved path is what runs, so `aws` in the allowlist allows
 * `/usr/local/bin/aws`, not an `aws` in a directory the kubeconfig chose.
 *
 * From the environment: `KUBEFX_EXEC_PLUGIN_POLICY` (`AllowAll`, `DenyAll`, `Allowlist`) and
 * `KUBEFX_EXEC_PLUGIN_ALLOWLIST` (entries separated by `,`; setting it alone implies `Allowlist`).
 *
 * @example
 * ```ts
 * ClientConfig.layerFromKubeconfig({ operatorName: "op", execPolicy: { allowlist: ["aws", "/opt/bin/kubelogin"] } })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = "AllowAll" | "DenyAll" | { readonly allowlist: ReadonlyArray<string> }

/**
 * How and where a plugin runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Names the plugin's place in messages, e.g. `/home/me/.kube/config: users[eks].exec`. */
  readonly source: string
  /** Whether this process has a terminal on standard input (`process.stdin.isTTY`). */
  readonly stdinIsTerminal: boolean
  /** How long a non-interactive run may take before it is stopped. */
  readonly timeout: Duration.Duration
  /** Sent to the plugin only when its config says `provideClusterInfo: true`. */
  readonly cluster?: ClusterInfo | undefined
}

/** A credential is a few KiB. */
const maxStdoutBytes = 1024 * 1024

/**
 * A checked plugin configuration: its API version and whether it runs interactively.
 *
 * @since 0.1.0
 * @category models
 */
export interface Checked {
  readonly apiVersion: ApiVersion
  readonly interactive: boolean
}

/**
 * Checks a plugin configuration and decides whether it runs interactively. Fails for an unsupported
 * `apiVersion`, a `v1` config without `interactiveMode` (as kubectl does), an unknown mode, and
 * `interactiveMode: Always` without a terminal.
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (
  config: ExecConfig,
  options: Pick<RunOptions, "source" | "stdinIsTerminal">
): Effect.Effect<Checked, ConfigError> => {
  const fail = (message: string) =>
    Effect.fail(
      new ConfigError({ message: `${options.source}: exec plugin "${config.command}" ${message}`, source: options.source })
    )
  const apiVersion = config.apiVersion
  if (apiVersion === undefined || !Schema.is(ApiVersion)(apiVersion)) {
    return fail(
      `has apiVersion ${apiVersion === undefined ? "(none)" : JSON.stringify(apiVersion)}; ` +
        "supported: client.authentication.k8s.io/v1, client.authentication.k8s.io/v1beta1"
    )
  }
  const mode = config.interactiveMode ??
    (apiVersion === "client.authentication.k8s.io/v1beta1" ? "IfAvailable" : undefined)
  if (mode === undefined) {
    return fail(`must set interactiveMode (Never, IfAvailable or Always) with ${apiVersion}`)
  }
  if (!Schema.is(InteractiveMode)(mode)) {
    return fail(`has interactiveMode ${JSON.stringify(mode)}; expected Never, IfAvailable or Always`)
  }
  if (mode === "Always" && !options.stdinIsTerminal) {
    return fail(
      "needs a terminal (interactiveMode: Always), but standard input is not a terminal; " +
        "a headless process cannot answer its prompt: log in beforehand or use a non-interactive credential"
    )
  }
  return Effect.succeed({ apiVersion, interactive: mode !== "Never" && options.stdinIsTerminal })
}

/** `KUBERNETES_EXEC_INFO`: what the plugin may know about this request. */
const execInfo = (config: ExecConfig, checked: Checked, cluster: ClusterInfo | undefined): string => {
  const spec: Record<string, unknown> = { interactive: checked.interactive }
  if (config.provideClusterInfo === true && cluster !== undefined) {
    spec.cluster = {
      server: cluster.server,
      ...(cluster.tlsServerName !== undefined ? { "tls-server-name": cluster.tlsServerName } : {}),
      ...(cluster.insecureSkipTlsVerify === true ? { "insecure-skip-tls-verify": true } : {}),
      ...(cluster.ca !== undefined ? { "certificate-authority-data": Buffer.from(cluster.ca).toString("base64") } : {}),
      ...(cluster.proxyUrl !== undefined ? { "proxy-url": cluster.proxyUrl } : {}),
      ...(cluster.config !== undefined ? { config: cluster.config } : {})
    }
  }
  return JSON.stringify({ apiVersion: checked.apiVersion, kind: "ExecCredential", spec })
}

const decodeCredential = Schema.decodeUnknownEffect(Schema.fromJsonString(ExecCredential))

/**
 * Turns plugin output into an `Issued` credential, or the reason it is not one. The reason never
 * quotes stdout: stdout holds the secret.
 */
const parseOutput = (stdout: string, expected: ApiVersion): Effect.Effect<Issued, string> =>
  Effect.gen(function*() {
    const credential = yield* decodeCredential(stdout).pipe(
      Effect.mapError(() =>
        "did not print an ExecCredential on stdout (expected JSON with apiVersion, kind: ExecCredential and status)"
      )
    )
    if (credential.apiVersion !== expected) {
      return yield* Effect.fail(
        `printed apiVersion ${JSON.stringify(credential.apiVersion)}, but its configuration says ${expected}`
      )
    }
    const status = credential.status
    if (status === undefined) return yield* Effect.fail("printed an ExecCredential without status")
    const cert = status.clientCertificateData !== undefined && status.clientCertificateData !== ""
      ? status.clientCertificateData
      : undefined
    const key = status.clientKeyData !== undefined && Redacted.value(status.clientKeyData) !== ""
      ? status.clientKeyData
      : undefined
    if ((cert === undefined) !== (key === undefined)) {
      return yield* Effect.fail("printed only one of status.clientCertificateData and status.clientKeyData")
    }
    const token = status.token !== undefined && Redacted.value(status.token) !== "" ? status.token : undefined
    if (token === undefined && cert === undefined) {
      return yield* Effect.fail(
        "printed neither status.token nor status.clientCertificateData and status.clientKeyData"
      )
    }
    let expiresAt: number | undefined
    if (status.expirationTimestamp !== undefined) {
      expiresAt = Date.parse(status.expirationTimestamp)
      if (Number.isNaN(expiresAt)) {
        return yield* Effect.fail(
          `printed status.expirationTimestamp ${JSON.stringify(status.expirationTimestamp)}, which is not an RFC 3339 time`
        )
      }
    }
    return {
      token,
      clientCertificate: cert !== undefined && key !== undefined ? { cert, key } : undefined,
      expiresAt
    }
  })

/**
 * What an error message says about stderr: only that there was some, and how much. Its content is never
 * kept, shown or logged: plugins print tokens there (debug output, `set -x`, a verbose SDK), and the
 * message ends up in logs and in `ClusterError`s.
 */
const stderrNote = (bytes: number, command: string): string =>
  bytes === 0 ? "" : `; it wrote ${bytes} byte${bytes === 1 ? "" : "s"} to stderr, not shown because it may hold ` +
    `secrets: run "${command}" by hand to see it`

/** Runs a checked plugin once. */
const invoke = (
  config: ExecConfig,
  checked: Checked,
  options: RunOptions
): Effect.Effect<Issued, AuthError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const fail = (message: string) =>
      new AuthError({
        message: `${options.source}: exec plugin "${config.command}" ${message}`,
        source: options.source
      })
    const env: Record<string, string | Redacted.Redacted<string>> = {}
    for (const variable of config.env ?? []) env[variable.name] = variable.value
    env.KUBERNETES_EXEC_INFO = execInfo(config, checked, options.cluster)
    const command = ChildProcess.make(config.command, config.args ?? [], {
      env,
      extendEnv: true,
      // A prompt needs the terminal; without one the plugin reads end-of-file and cannot wait on us.
      stdin: checked.interactive ? "inherit" : "ignore",
      stdout: "pipe",
      stderr: checked.interactive ? "inherit" : "pipe",
      forceKillAfter: "2 seconds"
    })
    const stdout: Array<Uint8Array> = []
    let stdoutBytes = 0
    let stderrBytes = 0
    const exitCode = yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* spawner.spawn(command).pipe(
        Effect.mapError((error) =>
          fail(
            `could not be started: ${error.message}` +
              (config.installHint !== undefined ? `. ${config.installHint.trim()}` : "")
          )
        )
      )
      const collectStdout = Stream.runForEach(handle.stdout, (chunk) =>
        Effect.suspend(() => {
          stdoutBytes += chunk.length
          if (stdoutBytes > maxStdoutBytes) return Effect.fail(fail("printed more than 1 MiB on stdout"))
          stdout.push(chunk)
          return Effect.void
        }))
      // Drained (a full pipe would block the plugin) and counted; the bytes themselves are dropped.
      const collectStderr = Stream.runForEach(handle.stderr, (chunk) =>
        Effect.sync(() => {
          stderrBytes += chunk.length
        }))
      const completed = Effect.all([collectStdout, collectStderr, handle.exitCode], { concurrency: "unbounded" }).pipe(
        Effect.map(([, , code]) => code),
        Effect.mapError((error) => error._tag === "AuthError" ? error : fail(`failed: ${error.message}`))
      )
      // An interactive plugin waits on a person; anything else must not hold up the operator.
      return yield* checked.interactive ? completed : completed.pipe(
        Effect.timeoutOrElse({
          duration: options.timeout,
          orElse: () =>
            Effect.fail(
              fail(`did not finish within ${Duration.format(options.timeout)}${stderrNote(stderrBytes, config.command)}`)
            )
        })
      )
    }))
    if (exitCode !== 0) return yield* fail(`exited with code ${exitCode}${stderrNote(stderrBytes, config.command)}`)
    return yield* parseOutput(Buffer.concat(stdout).toString("utf8"), checked.apiVersion).pipe(Effect.mapError(fail))
  })

/**
 * Runs the plugin once: the command with its args, the process environment plus the configured `env`
 * and `KUBERNETES_EXEC_INFO`. A refused configuration fails with a `ConfigError`; a plugin that cannot
 * start, exits non-zero, times out or prints no valid credential fails with an `AuthError` naming the
 * command and saying how many bytes it wrote to stderr; neither its stdout nor its stderr is ever quoted
 * (either may hold a token).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  config: ExecConfig,
  options: RunOptions
): Effect.Effect<Issued, ConfigError | AuthError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.flatMap(check(config, options), (checked) => invoke(config, checked, options))

/**
 * A cached plugin credential: `get` runs the plugin the first time and again once the credential is
 * within `refreshSkew` (default 10 seconds) of its `expirationTimestamp`; one without an expiry is kept
 * until `refresh`. The configuration is checked here, so a refused plugin fails when the layer is built.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: ExecConfig,
  options: RunOptions & { readonly refreshSkew?: Duration.Duration | undefined }
): Effect.Effect<Expiring.Expiring<Issued, AuthError>, ConfigError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const checked = yield* check(config, options)
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const acquire = invoke(config, checked, options).pipe(
      Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
      Effect.map((issued) => ({ value: issued, expiresAt: issued.expiresAt }))
    )
    return yield* Expiring.make(acquire, {
      skewMillis: Duration.toMillis(options.refreshSkew ?? Duration.seconds(10))
    })
  })
