/**
 * How to reach and authenticate to an API server. Layers build it from the environment, a kubeconfig,
 * the in-cluster service account or plain options; the live `Cluster` layer only consumes it.
 *
 * - {@link layerFromEnvironment}: the service account when one is mounted, else the kubeconfig
 *   (Roperator's order).
 * - {@link layerFromKubeconfig}: `KUBECONFIG` (merged as kubectl merges) or `~/.kube/config`, or a
 *   kubeconfig given as data.
 * - {@link layerInCluster}: the mounted service account only.
 * - {@link layer}: everything spelled out in code.
 *
 * Every way kubectl authenticates is supported except the deprecated `gcp` and `azure` auth-providers
 * (their replacements are exec plugins): basic, bearer token, token file, client certificate files or
 * data, exec plugins, OIDC, and impersonation. Credentials that expire (token files, exec plugins,
 * OIDC) are refreshed; `refreshCredentials` forces it after a 401.
 *
 * `@kubernetes/client-node` is not used at run time: importing it costs ~85 MiB of RSS, it runs exec
 * plugins synchronously (blocking the event loop for as long as the plugin takes), it merges
 * `KUBECONFIG` unlike kubectl, and its errors are untyped. See `Kubeconfig` and `ExecCredential`.
 *
 * @since 0.1.0
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodePath from "@effect/platform-node/NodePath"
import { Context, Duration, Effect, type FileSystem, Layer, Option, Redacted, type Scope } from "effect"
import { HttpClient } from "effect/http"
import type { ChildProcessSpawner } from "effect/process"
import * as tty from "node:tty"
import { AuthError, ConfigError } from "./ClientConfigError.ts"
import * as ExecCredential from "./ExecCredential.ts"
import * as InCluster from "./InCluster.ts"
import { readText } from "./internal/files.ts"
import * as Kubeconfig from "./Kubeconfig.ts"
import * as Oidc from "./Oidc.ts"
import * as TokenFile from "./TokenFile.ts"

/**
 * Credentials for one request. They may change over time (rotated token files, exec plugins,
 * OIDC refresh), so the live layer asks for them per request; implementations cache.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /** Headers to add: `Authorization`, `Impersonate-User`, `Impersonate-Uid`. Values are secret. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string>>>
  /**
   * Headers sent once per value, as separate header lines: `Impersonate-Group` and
   * `Impersonate-Extra-<key>`. The API server reads each line as one value, so they must not be
   * joined with commas. Not secret. Absent when there are none.
   */
  readonly multiHeaders?: Readonly<Record<string, ReadonlyArray<string>>>
  /** A client certificate (PEM) from the kubeconfig or an exec plugin. */
  readonly clientCertificate?: {
    readonly cert: string
    readonly key: Redacted.Redacted<string>
  }
}

/**
 * TLS settings. Verification is on unless the kubeconfig explicitly said `insecure-skip-tls-verify`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfig {
  /** PEM bundle of trusted CAs; undefined means the system roots. */
  readonly ca?: string
  /** Overrides the name checked against the server certificate (`tls-server-name`). */
  readonly serverName?: string
  readonly insecureSkipTlsVerify: boolean
}

/**
 * @since 0.1.0
 * @category services
 */
export class ClientConfig extends Context.Service<ClientConfig, {
  /** Base URL, e.g. `https://10.0.0.1:6443`, without a trailing slash. */
  readonly server: string
  /** The namespace of the context or service account; `default` when none is set. */
  readonly namespace: string
  readonly userAgent: string
  readonly tls: TlsConfig
  /** `http`, `https` or `socks5` proxy URL. It may carry a password: do not log it. */
  readonly proxyUrl?: string
  /** Timeout of a non-watch request. */
  readonly timeout: Duration.Duration
  /** Current credentials; refreshes expired ones. Never logs their values. */
  readonly credentials: Effect.Effect<Credentials, AuthError>
  /**
   * Drops cached credentials and obtains new ones (re-reads the token file, re-runs the exec plugin,
   * refreshes the OIDC token). Call it once when the server answers 401, then retry. Concurrent calls
   * share one refresh. Optional so hand-written configs need not provide it.
   */
  readonly refreshCredentials?: Effect.Effect<Credentials, AuthError>
  /** Where this configuration came from, for messages: a kubeconfig path and context, or `in-cluster`. */
  readonly source: string
}>()("@kubefx/k8s/ClientConfig") {}

/**
 * Who is calling. The user agent is required; it defaults to the operator's name, so the API
 * server's logs show which operator made a request.
 *
 * @since 0.1.0
 * @category options
 */
export type Identity =
  | { readonly userAgent: string; readonly operatorName?: string | undefined }
  | { readonly operatorName: string; readonly userAgent?: string | undefined }

/**
 * Options every constructor takes.
 *
 * @since 0.1.0
 * @category options
 */
export interface CommonOptions {
  /** Overrides the namespace of the context or service account. */
  readonly namespace?: string | undefined
  /** Timeout of a non-watch request; default 60 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** Permit an `http://` server. Off by default: credentials would cross the network in clear text. */
  readonly allowInsecureHttp?: boolean | undefined
  /** How long a non-interactive exec plugin may run; default 60 seconds. */
  readonly execTimeout?: Duration.Input | undefined
  /** Whether standard input is a terminal an exec plugin may prompt on; default `tty.isatty(0)`. */
  readonly stdinIsTerminal?: boolean | undefined
  /** How long a token read from a file is used before the file is read again; default 1 minute. */
  readonly tokenFileMaxAge?: Duration.Input | undefined
}

/**
 * How to authenticate, as in a kubeconfig user. At most one of: `token`/`tokenFile`,
 * `username`/`password`, `exec`, `oidc`, `credentials`. A client certificate may accompany any.
 *
 * @since 0.1.0
 * @category options
 */
export interface Auth {
  readonly token?: Redacted.Redacted<string> | undefined
  /** Read now and again every `tokenFileMaxAge`; takes precedence over `token`, as in client-go. */
  readonly tokenFile?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** PEM, or `clientCertificateFile`. */
  readonly clientCertificate?: string | undefined
  readonly clientCertificateFile?: string | undefined
  /** PEM, or `clientKeyFile`. */
  readonly clientKey?: Redacted.Redacted<string> | undefined
  readonly clientKeyFile?: string | undefined
  readonly exec?: ExecCredential.ExecConfig | undefined
  readonly oidc?: Oidc.OidcConfig | undefined
  /** Any other source of credentials (Roperator's "header" credentials); impersonation is added on top. */
  readonly credentials?: Effect.Effect<Credentials, AuthError> | undefined
}

/**
 * Act as another user (`kubectl --as`): sent as `Impersonate-*` headers.
 *
 * @since 0.1.0
 * @category options
 */
export interface Impersonation {
  readonly user: string
  readonly uid?: string | undefined
  readonly groups?: ReadonlyArray<string> | undefined
  readonly extra?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
}

/**
 * A configuration spelled out in code.
 *
 * @since 0.1.0
 * @category options
 */
export type Options = Identity & CommonOptions & {
  /** `https://host:port`; `host:port` means https. */
  readonly server: string
  /** PEM of the CAs to trust, or `caFile`; neither means the system roots. */
  readonly ca?: string | undefined
  readonly caFile?: string | undefined
  readonly tlsServerName?: string | undefined
  /** Do not verify the server certificate. Refused together with a CA, as kubectl refuses it. */
  readonly insecureSkipTlsVerify?: boolean | undefined
  /** `http`, `https` or `socks5` proxy. */
  readonly proxyUrl?: string | undefined
  readonly auth?: Auth | undefined
  readonly impersonate?: Impersonation | undefined
  /** Shown in messages; default `ClientConfig options`. */
  readonly source?: string | undefined
}

/**
 * Where to find a kubeconfig and what to take from it.
 *
 * @since 0.1.0
 * @category options
 */
export type KubeconfigOptions = Identity & CommonOptions & {
  /** Files to read and merge instead of `KUBECONFIG` or `~/.kube/config`; each must exist. */
  readonly paths?: ReadonlyArray<string> | undefined
  /**
   * A kubeconfig given as data (YAML/JSON text or a parsed object) instead of files. Such a config
   * runs no exec plugin unless `allowExec: true`, and refers to no file unless `baseDir` is given.
   */
  readonly kubeconfig?: string | object | undefined
  /** Resolves the relative paths of `kubeconfig` data and permits its file references. */
  readonly baseDir?: string | undefined
  /** The context to use; default the `current-context`. */
  readonly context?: string | undefined
  /**
   * Whether an exec plugin named in the kubeconfig may run. Default: yes for the user's own files,
   * no for `kubeconfig` data. A kubeconfig from elsewhere can run any command it names.
   */
  readonly allowExec?: boolean | undefined
}

/**
 * Where the service account is mounted; see `InCluster.Paths`.
 *
 * @since 0.1.0
 * @category options
 */
export type InClusterOptions = Identity & CommonOptions & InCluster.Paths

/**
 * Options of {@link layerFromEnvironment}: those of both sources.
 *
 * @since 0.1.0
 * @category options
 */
export type EnvironmentOptions = KubeconfigOptions & InCluster.Paths

/** Labels of the fields of `Options` in messages, so kubeconfig problems name kubeconfig fields. */
interface Labels {
  readonly server: string
  readonly ca: string
  readonly caFile: string
  readonly proxyUrl: string
  readonly user: string
  readonly tokenFile: string
  readonly clientCertificate: string
  readonly clientCertificateFile: string
  readonly clientKey: string
  readonly clientKeyFile: string
  readonly exec: string
  readonly oidc: string
  readonly impersonate: string
}

const optionLabels: Labels = {
  server: "server",
  ca: "ca",
  caFile: "caFile",
  proxyUrl: "proxyUrl",
  user: "auth",
  tokenFile: "auth.tokenFile",
  clientCertificate: "auth.clientCertificate",
  clientCertificateFile: "auth.clientCertificateFile",
  clientKey: "auth.clientKey",
  clientKeyFile: "auth.clientKeyFile",
  exec: "auth.exec",
  oidc: "auth.oidc",
  impersonate: "impersonate"
}

/** What a kubeconfig knows beyond `Options`. */
interface Extras {
  /** The cluster's `client.authentication.k8s.io/exec` extension, for `provideClusterInfo`. */
  readonly execClusterConfig?: unknown
}

/** The file system, paths and processes the constructors use, from Node. */
const platform = NodeChildProcessSpawner.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)

type Platform = FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner

const configError = (message: string, source: string) => new ConfigError({ message, source })

const duration = (input: Duration.Input | undefined, fallback: Duration.Duration, name: string) => {
  if (input === undefined) return Effect.succeed(fallback)
  const parsed = Duration.fromInput(input)
  return Option.isSome(parsed) && Duration.isPositive(parsed.value)
    ? Effect.succeed(parsed.value)
    : Effect.fail(configError(`${name} must be a positive duration`, name))
}

/** `https://host:6443/` → `https://host:6443`; `host:6443` → `https://host:6443`. */
const normalizeServer = (raw: string, label: string, allowInsecureHttp: boolean): Effect.Effect<string, ConfigError> => {
  const text = raw.trim()
  if (text === "") return Effect.fail(configError(`${label}: no server is set`, label))
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text) ? text : `https://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return Effect.fail(configError(`${label}: ${JSON.stringify(text)} is not a URL`, label))
  }
  if (url.protocol === "http:" && !allowInsecureHttp) {
    return Effect.fail(configError(
      `${label}: refusing http:// server ${url.host}: credentials and data would cross the network unencrypted; ` +
        "use https, or set allowInsecureHttp: true for a local test server",
      label
    ))
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return Effect.fail(configError(`${label}: server must be an https:// URL, got ${url.protocol}//`, label))
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return Effect.fail(configError(`${label}: server URL must not carry a query, fragment or credentials`, label))
  }
  return Effect.succeed(url.href.replace(/\/+$/, ""))
}

const checkProxy = (raw: string, label: string): Effect.Effect<string, ConfigError> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // not quoted: a proxy URL may carry a password
    return Effect.fail(configError(`${label}: the proxy URL is not a URL`, label))
  }
  return ["http:", "https:", "socks5:", "socks5h:"].includes(url.protocol)
    ? Effect.succeed(raw)
    : Effect.fail(configError(`${label}: proxy scheme must be http, https or socks5, got ${url.protocol}`, label))
}

/** A PEM from a string or a file, checked to at least look like PEM (catches double base64). */
const pem = (
  inline: string | undefined,
  file: string | undefined,
  labels: { readonly inline: string; readonly file: string },
  what: string
): Effect.Effect<string | undefined, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const text = inline !== undefined && inline !== ""
      ? inline
      : file !== undefined && file !== ""
      ? yield* readText(file).pipe(Effect.mapError((message) => configError(`${labels.file}: ${message}`, labels.file)))
      : undefined
    if (text !== undefined && !text.includes("-----BEGIN ")) {
      const label = inline !== undefined && inline !== "" ? labels.inline : labels.file
      return yield* configError(`${label}: the ${what} is not PEM (no "-----BEGIN" line)`, label)
    }
    return text
  })

/**
 * A header name allows fewer characters than an extra key: percent-escape all but the unreserved ones,
 * as client-go does; the API server unescapes.
 */
const escapeExtraKey = (key: string) =>
  Array.from(new TextEncoder().encode(key), (byte) =>
    /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) && byte < 0x80
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")

const impersonationHeaders = (
  impersonate: Impersonation | undefined,
  label: string
): Effect.Effect<Pick<Credentials, "headers" | "multiHeaders">, ConfigError> => {
  if (impersonate === undefined) return Effect.succeed({ headers: {} })
  if (impersonate.user === "") {
    return Effect.fail(configError(`${label}: uid, groups or extra need a user to impersonate`, label))
  }
  const headers: Record<string, Redacted.Redacted<string>> = { "Impersonate-User": Redacted.make(impersonate.user) }
  if (impersonate.uid !== undefined && impersonate.uid !== "") headers["Impersonate-Uid"] = Redacted.make(impersonate.uid)
  const multi: Record<string, ReadonlyArray<string>> = {}
  if (impersonate.groups !== undefined && impersonate.groups.length > 0) multi["Impersonate-Group"] = impersonate.groups
  for (const [key, values] of Object.entries(impersonate.extra ?? {})) {
    if (values.length > 0) multi[`Impersonate-Extra-${escapeExtraKey(key)}`] = values
  }
  return Effect.succeed(Object.keys(multi).length > 0 ? { headers, multiHeaders: multi } : { headers })
}

const bearer = (token: Redacted.Redacted<string>) => Redacted.make(`Bearer ${Redacted.value(token)}`)

/** A part of the credentials that may change, with a forced refresh. */
interface Dynamic {
  readonly get: Effect.Effect<Partial<Credentials>, AuthError>
  readonly refresh: Effect.Effect<Partial<Credentials>, AuthError>
}

const staticPart = (part: Partial<Credentials>): Dynamic => ({ get: Effect.succeed(part), refresh: Effect.succeed(part) })

/** The credentials source the auth options describe (without impersonation and static client certs). */
const authSource = (
  auth: Auth,
  labels: Labels,
  common: {
    readonly tokenFileMaxAge: Duration.Duration
    readonly exec: Omit<ExecCredential.RunOptions, "source">
  }
): Effect.Effect<Dynamic, ConfigError, Platform | Scope.Scope> =>
  Effect.gen(function*() {
    const methods = [
      auth.token !== undefined || (auth.tokenFile !== undefined && auth.tokenFile !== "") ? "token" : undefined,
      auth.username !== undefined || auth.password !== undefined ? "basic (username/password)" : undefined,
      auth.exec !== undefined ? "exec" : undefined,
      auth.oidc !== undefined ? "auth-provider (oidc)" : undefined,
      auth.credentials !== undefined ? "credentials" : undefined
    ].filter((method) => method !== undefined)
    if (methods.length > 1) {
      return yield* configError(
        `${labels.user}: more than one authentication method (${methods.join(", ")}); keep one`,
        labels.user
      )
    }
    if (auth.tokenFile !== undefined && auth.tokenFile !== "") {
      const file = yield* TokenFile.make(auth.tokenFile, { field: labels.tokenFile, maxAge: common.tokenFileMaxAge })
      const part = (token: Redacted.Redacted<string>) => ({ headers: { Authorization: bearer(token) } })
      return { get: Effect.map(file.get, part), refresh: Effect.map(file.refresh, part) }
    }
    if (auth.token !== undefined) return staticPart({ headers: { Authorization: bearer(auth.token) } })
    if (auth.username !== undefined || auth.password !== undefined) {
      if (auth.username === undefined || auth.username === "") {
        return yield* configError(`${labels.user}: a password needs a username`, labels.user)
      }
      const pair = `${auth.username}:${auth.password === undefined ? "" : Redacted.value(auth.password)}`
      return staticPart({
        headers: { Authorization: Redacted.make(`Basic ${Buffer.from(pair, "utf8").toString("base64")}`) }
      })
    }
    if (auth.exec !== undefined) {
      const plugin = yield* ExecCredential.make(auth.exec, { ...common.exec, source: labels.exec })
      const part = (issued: ExecCredential.Issued): Partial<Credentials> => ({
        headers: issued.token !== undefined ? { Authorization: bearer(issued.token) } : {},
        ...(issued.clientCertificate !== undefined ? { clientCertificate: issued.clientCertificate } : {})
      })
      return { get: Effect.map(plugin.get, part), refresh: Effect.map(plugin.refresh, part) }
    }
    if (auth.oidc !== undefined) {
      const oidc = auth.oidc
      const agent = yield* NodeHttpClient.makeAgent(oidc.ca !== undefined ? { ca: oidc.ca } : {})
      const client = yield* NodeHttpClient.makeNodeHttp.pipe(Effect.provideService(NodeHttpClient.HttpAgent, agent))
      const provider = yield* Oidc.make(oidc, { source: labels.oidc }).pipe(
        Effect.provideService(HttpClient.HttpClient, client)
      )
      const part = (token: Redacted.Redacted<string>) => ({ headers: { Authorization: bearer(token) } })
      return { get: Effect.map(provider.get, part), refresh: Effect.map(provider.refresh, part) }
    }
    if (auth.credentials !== undefined) return { get: auth.credentials, refresh: auth.credentials }
    return staticPart({ headers: {} })
  })

/** The core every constructor ends in. */
const build = (
  options: Options,
  labels: Labels,
  extras: Extras
): Effect.Effect<ClientConfig["Service"], ConfigError, Platform | Scope.Scope> =>
  Effect.gen(function*() {
    const userAgent = (options.userAgent ?? options.operatorName ?? "").trim()
    if (userAgent === "") {
      return yield* configError("a user agent is required: pass userAgent or operatorName", "userAgent")
    }
    const server = yield* normalizeServer(options.server, labels.server, options.allowInsecureHttp === true)
    const timeout = yield* duration(options.timeout, Duration.seconds(60), "timeout")
    const execTimeout = yield* duration(options.execTimeout, Duration.seconds(60), "execTimeout")
    const tokenFileMaxAge = yield* duration(options.tokenFileMaxAge, Duration.minutes(1), "tokenFileMaxAge")
    const insecure = options.insecureSkipTlsVerify === true
    const hasCa = (options.ca !== undefined && options.ca !== "") || (options.caFile !== undefined && options.caFile !== "")
    if (insecure && hasCa) {
      return yield* configError(
        `${labels.ca}: a CA together with insecure-skip-tls-verify is refused (kubectl refuses it too); drop one`,
        labels.ca
      )
    }
    const ca = yield* pem(options.ca, options.caFile, { inline: labels.ca, file: labels.caFile }, "CA certificate")
    const proxyUrl = options.proxyUrl !== undefined && options.proxyUrl !== ""
      ? yield* checkProxy(options.proxyUrl, labels.proxyUrl)
      : undefined
    const tlsServerName = options.tlsServerName !== undefined && options.tlsServerName !== ""
      ? options.tlsServerName
      : undefined

    const auth = options.auth ?? {}
    const cert = yield* pem(
      auth.clientCertificate,
      auth.clientCertificateFile,
      { inline: labels.clientCertificate, file: labels.clientCertificateFile },
      "client certificate"
    )
    const key = yield* pem(
      auth.clientKey === undefined ? undefined : Redacted.value(auth.clientKey),
      auth.clientKeyFile,
      { inline: labels.clientKey, file: labels.clientKeyFile },
      "client key"
    )
    if ((cert === undefined) !== (key === undefined)) {
      const label = cert === undefined ? labels.clientCertificate : labels.clientKey
      return yield* configError(`${label}: a client certificate needs its key and a key its certificate`, label)
    }
    const clientCertificate = cert !== undefined && key !== undefined ? { cert, key: Redacted.make(key) } : undefined

    const impersonation = yield* impersonationHeaders(options.impersonate, labels.impersonate)
    const source = options.source ?? "ClientConfig options"
    const dynamic = yield* authSource(auth, labels, {
      tokenFileMaxAge,
      exec: {
        stdinIsTerminal: options.stdinIsTerminal ?? tty.isatty(0),
        timeout: execTimeout,
        cluster: {
          server,
          tlsServerName,
          insecureSkipTlsVerify: insecure,
          ca,
          proxyUrl,
          config: extras.execClusterConfig
        }
      }
    })
    const assemble = (part: Partial<Credentials>): Credentials => {
      const certificate = part.clientCertificate ?? clientCertificate
      const multiHeaders = part.multiHeaders === undefined
        ? impersonation.multiHeaders
        : { ...part.multiHeaders, ...impersonation.multiHeaders }
      return {
        headers: { ...part.headers, ...impersonation.headers },
        ...(multiHeaders !== undefined ? { multiHeaders } : {}),
        ...(certificate !== undefined ? { clientCertificate: certificate } : {})
      }
    }
    return ClientConfig.of({
      server,
      namespace: options.namespace !== undefined && options.namespace !== "" ? options.namespace : "default",
      userAgent,
      tls: {
        insecureSkipTlsVerify: insecure,
        ...(ca !== undefined ? { ca } : {}),
        ...(tlsServerName !== undefined ? { serverName: tlsServerName } : {})
      },
      ...(proxyUrl !== undefined ? { proxyUrl } : {}),
      timeout,
      credentials: Effect.map(dynamic.get, assemble),
      refreshCredentials: Effect.map(dynamic.refresh, assemble),
      source
    })
  })

/**
 * Builds a configuration from options in code. Files it names are read now; a missing one fails with a
 * `ConfigError` naming the option.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<ClientConfig["Service"], ConfigError, Scope.Scope> =>
  build(options, optionLabels, {}).pipe(Effect.provide(platform))

/**
 * {@link make} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<ClientConfig, ConfigError> =>
  Layer.effect(ClientConfig, make(options))

const decodeBase64 = (text: string, label: string): Effect.Effect<string, ConfigError> => {
  const compact = text.replace(/\s+/g, "")
  return /^[A-Za-z0-9+/]*={0,2}$/.test(compact) && compact.length % 4 === 0
    ? Effect.succeed(Buffer.from(compact, "base64").toString("utf8"))
    : Effect.fail(configError(`${label}: not valid base64`, label))
}

const nonEmpty = (text: string | undefined) => (text === undefined || text === "" ? undefined : text)

/**
 * Turns the selected kubeconfig context into `Options`, with labels that point into the kubeconfig.
 * File references and exec plugins are checked against what the origin permits.
 */
const fromSelected = (
  selected: Kubeconfig.Selected,
  options: KubeconfigOptions,
  source: string
): Effect.Effect<{ readonly options: Options; readonly labels: Labels; readonly extras: Extras }, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { cluster, user } = selected
    const c = cluster.value
    const u = user?.value ?? {}
    const cf = (field: string) => Kubeconfig.fieldOf(cluster, "clusters", field)
    const uf = (field: string) => (user === undefined ? field : Kubeconfig.fieldOf(user, "users", field))
    const fileRef = <E extends Kubeconfig.Entry<unknown>>(entry: E | undefined, path: string | undefined, label: string) =>
      path === undefined || path === "" || entry === undefined || entry.origin.dir !== undefined
        ? Effect.succeed(nonEmpty(path))
        : Effect.fail(configError(
          `${label}: kubeconfig data may not refer to files (${path}); pass baseDir to permit file references`,
          label
        ))

    const caData = nonEmpty(c["certificate-authority-data"])
    const certData = nonEmpty(u["client-certificate-data"])
    const keyData = u["client-key-data"] === undefined ? undefined : nonEmpty(Redacted.value(u["client-key-data"]))

    const exec = u.exec
    if (exec !== undefined && user !== undefined && !(options.allowExec ?? user.origin.isFile)) {
      return yield* configError(
        `${uf("exec")}: exec plugin "${exec.command}" is not allowed to run` +
          (user.origin.isFile
            ? " (allowExec: false)"
            : "; a kubeconfig given as data can run any command it names: set allowExec: true if you trust it"),
        uf("exec")
      )
    }

    let oidc: Oidc.OidcConfig | undefined
    const provider = u["auth-provider"]
    if (provider !== undefined) {
      if (provider.name !== "oidc") {
        return yield* configError(
          `${uf("auth-provider")}: auth-provider "${provider.name}" is not supported; ` +
            "use its exec plugin instead (gcp: gke-gcloud-auth-plugin, azure: kubelogin)",
          uf("auth-provider")
        )
      }
      oidc = yield* Oidc.fromAuthProviderConfig(provider.config ?? {}, uf("auth-provider"), (path) =>
        Effect.flatMap(
          fileRef(user, path, uf("auth-provider.config.idp-certificate-authority")),
          (checked) =>
            readText(checked ?? path).pipe(
              Effect.mapError((message) =>
                configError(
                  `${uf("auth-provider.config.idp-certificate-authority")}: ${message}`,
                  uf("auth-provider.config.idp-certificate-authority")
                )
              )
            )
        ))
    }

    const as = nonEmpty(u.as)
    const groups = u["as-groups"] ?? []
    const extra = u["as-user-extra"] ?? {}
    const uid = nonEmpty(u["as-uid"])
    if (as === undefined && (uid !== undefined || groups.length > 0 || Object.keys(extra).length > 0)) {
      return yield* configError(`${uf("as")}: as-uid, as-groups or as-user-extra need "as" (the user to impersonate)`, uf("as"))
    }

    const auth: Auth = {
      token: u.token !== undefined && Redacted.value(u.token) !== "" ? u.token : undefined,
      tokenFile: yield* fileRef(user, u.tokenFile, uf("tokenFile")),
      username: nonEmpty(u.username),
      password: u.password,
      clientCertificate: certData === undefined ? undefined : yield* decodeBase64(certData, uf("client-certificate-data")),
      clientCertificateFile: certData === undefined
        ? yield* fileRef(user, u["client-certificate"], uf("client-certificate"))
        : undefined,
      clientKey: keyData === undefined ? undefined : Redacted.make(yield* decodeBase64(keyData, uf("client-key-data"))),
      clientKeyFile: keyData === undefined ? yield* fileRef(user, u["client-key"], uf("client-key")) : undefined,
      exec,
      oidc
    }
    const extension = c.extensions?.find((named) => named.name === "client.authentication.k8s.io/exec")?.extension
    return {
      options: {
        userAgent: options.userAgent ?? options.operatorName ?? "",
        server: c.server ?? "",
        ca: caData === undefined ? undefined : yield* decodeBase64(caData, cf("certificate-authority-data")),
        caFile: caData === undefined ? yield* fileRef(cluster, c["certificate-authority"], cf("certificate-authority")) : undefined,
        tlsServerName: nonEmpty(c["tls-server-name"]),
        insecureSkipTlsVerify: c["insecure-skip-tls-verify"] === true,
        proxyUrl: nonEmpty(c["proxy-url"]),
        namespace: nonEmpty(options.namespace) ?? selected.namespace,
        timeout: options.timeout,
        allowInsecureHttp: options.allowInsecureHttp,
        execTimeout: options.execTimeout,
        stdinIsTerminal: options.stdinIsTerminal,
        tokenFileMaxAge: options.tokenFileMaxAge,
        auth,
        impersonate: as === undefined ? undefined : { user: as, uid, groups, extra },
        source
      },
      labels: {
        server: cf("server"),
        ca: cf("certificate-authority-data"),
        caFile: cf("certificate-authority"),
        proxyUrl: cf("proxy-url"),
        user: user === undefined ? source : Kubeconfig.locate(user, "users"),
        tokenFile: uf("tokenFile"),
        clientCertificate: uf("client-certificate-data"),
        clientCertificateFile: uf("client-certificate"),
        clientKey: uf("client-key-data"),
        clientKeyFile: uf("client-key"),
        exec: uf("exec"),
        oidc: uf("auth-provider"),
        impersonate: uf("as")
      },
      extras: extension === undefined ? {} : { execClusterConfig: extension }
    }
  })

const kubeconfigInternal = (options: KubeconfigOptions) =>
  Effect.gen(function*() {
    const merged = options.kubeconfig !== undefined
      ? Kubeconfig.merge([yield* Kubeconfig.fromData(options.kubeconfig, { baseDir: options.baseDir })])
      : yield* Kubeconfig.load({ paths: options.paths })
    const selected = yield* Kubeconfig.select(merged, options.context)
    const source = `${merged.sources.join(", ")} (context ${selected.context.name})`
    const converted = yield* fromSelected(selected, options, source)
    return yield* build(converted.options, converted.labels, converted.extras)
  })

/**
 * Builds a configuration from a kubeconfig: `options.kubeconfig` data, `options.paths`, the files in
 * `KUBECONFIG` merged as kubectl merges them, or `~/.kube/config`; then `options.context` or the
 * current context, and the context's namespace unless `options.namespace` overrides it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKubeconfig = (
  options: KubeconfigOptions
): Effect.Effect<ClientConfig["Service"], ConfigError, Scope.Scope> =>
  kubeconfigInternal(options).pipe(Effect.provide(platform))

/**
 * {@link fromKubeconfig} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKubeconfig = (options: KubeconfigOptions): Layer.Layer<ClientConfig, ConfigError> =>
  Layer.effect(ClientConfig, fromKubeconfig(options))

const inClusterInternal = (options: InClusterOptions) =>
  Effect.gen(function*() {
    const account = yield* InCluster.load(options)
    return yield* build(
      {
        userAgent: options.userAgent ?? options.operatorName ?? "",
        server: account.server,
        ca: account.ca,
        namespace: nonEmpty(options.namespace) ?? account.namespace,
        timeout: options.timeout,
        allowInsecureHttp: options.allowInsecureHttp,
        tokenFileMaxAge: options.tokenFileMaxAge,
        auth: { tokenFile: account.tokenPath },
        source: `in-cluster service account (${account.tokenPath})`
      },
      {
        ...optionLabels,
        server: "KUBERNETES_SERVICE_HOST",
        ca: account.caPath,
        tokenFile: "in-cluster service account token"
      },
      {}
    )
  })

/**
 * Builds a configuration from the service account mounted in the pod. The token file is re-read
 * every minute (bound tokens rotate) and on `refreshCredentials`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromInCluster = (options: InClusterOptions): Effect.Effect<ClientConfig["Service"], ConfigError, Scope.Scope> =>
  inClusterInternal(options).pipe(Effect.provide(platform))

/**
 * {@link fromInCluster} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerInCluster = (options: InClusterOptions): Layer.Layer<ClientConfig, ConfigError> =>
  Layer.effect(ClientConfig, fromInCluster(options))

/**
 * The in-cluster service account when a token is mounted, otherwise the kubeconfig: the same
 * configuration works in a pod and on a laptop.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnvironment = (
  options: EnvironmentOptions
): Effect.Effect<ClientConfig["Service"], ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    return (yield* InCluster.isMounted(options))
      ? yield* inClusterInternal(options)
      : yield* kubeconfigInternal(options)
  }).pipe(Effect.provide(platform))

/**
 * {@link fromEnvironment} as a layer: what an operator's `main` usually provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromEnvironment = (options: EnvironmentOptions): Layer.Layer<ClientConfig, ConfigError> =>
  Layer.effect(ClientConfig, fromEnvironment(options))
