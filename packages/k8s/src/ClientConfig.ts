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
 * `@kubernetes/client-node` is not used at run time: importing it adds 75–85 MiB of RSS, its generated
 * APIs build a new agent per request (a new TLS connection per call), it merges `KUBECONFIG` unlike
 * kubectl, its errors are untyped, and its exec plugins (spawned asynchronously in 2.x) have no timeout
 * and no shared refresh. See `Kubeconfig` and `ExecCredential`.
 *
 * @since 0.1.0
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Context, Duration, Effect, type FileSystem, Layer, Redacted, type Scope } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import * as tty from "node:tty"
import type { AuthError, ConfigError } from "./ClientConfigError.ts"
import * as InCluster from "./InCluster.ts"
import { configError, duration } from "./internal/clientConfig/checks.ts"
import { connectionOf, normalizeServer } from "./internal/clientConfig/connection.ts"
import { credentialsOf } from "./internal/clientConfig/credentials.ts"
import { fromServiceAccount } from "./internal/clientConfig/inCluster.ts"
import { fromSelected } from "./internal/clientConfig/kubeconfig.ts"
import * as Model from "./internal/clientConfig/model.ts"
import * as Proxy from "./internal/proxy.ts"
import * as ProxyAgent from "./internal/proxyAgent.ts"
import * as Kubeconfig from "./Kubeconfig.ts"

/**
 * Credentials for one request. They may change over time (rotated token files, exec plugins,
 * OIDC refresh), so the live layer asks for them per request; implementations cache.
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials = Model.Credentials

/**
 * TLS settings. Verification is on unless the kubeconfig explicitly said `insecure-skip-tls-verify`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfig {
  /**
   * PEM bundle of trusted CAs. Undefined means the operating system's trust store together with Node's
   * bundled roots.
   */
  readonly ca?: string
  /**
   * The file `ca` was read from, if any: read again when it changes on disk (checked on each new
   * connection), so a rotated cluster CA is trusted without a restart.
   */
  readonly caFile?: string
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
  /**
   * `http`, `https`, `socks5` or `socks5h` proxy URL (`proxy-url`); it may carry credentials, hence
   * `Redacted`. When unset, `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` apply, as in client-go.
   */
  readonly proxyUrl?: Redacted.Redacted<string>
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
export type Identity = Model.Identity

/**
 * Options every constructor takes.
 *
 * @since 0.1.0
 * @category options
 */
export type CommonOptions = Model.CommonOptions

/**
 * How to authenticate, as in a kubeconfig user. At most one of: `token`/`tokenFile`,
 * `username`/`password`, `exec`, `oidc`, `credentials`. A client certificate may accompany any.
 *
 * @since 0.1.0
 * @category options
 */
export type Auth = Model.Auth

/**
 * Act as another user (`kubectl --as`): sent as `Impersonate-*` headers.
 *
 * @since 0.1.0
 * @category options
 */
export type Impersonation = Model.Impersonation

/**
 * A configuration spelled out in code.
 *
 * @since 0.1.0
 * @category options
 */
export type Options = Model.Options

/**
 * Where to find a kubeconfig and what to take from it.
 *
 * @since 0.1.0
 * @category options
 */
export type KubeconfigOptions = Model.KubeconfigOptions

/**
 * Where the service account is mounted; see `InCluster.Paths`.
 *
 * @since 0.1.0
 * @category options
 */
export type InClusterOptions = Model.InClusterOptions

/**
 * Options of {@link layerFromEnvironment}: those of both sources.
 *
 * @since 0.1.0
 * @category options
 */
export type EnvironmentOptions = Model.EnvironmentOptions

/** The file system, paths and processes the constructors use, from Node. */
const platform = NodeChildProcessSpawner.layer.pipe(
  Layer.provideMerge(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)

type Platform = FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner

/** The core every constructor ends in. */
const build = (
  options: Options,
  labels: Model.Labels,
  extras: Model.Extras
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
    const { ca, insecureSkipTlsVerify, proxyUrl, tlsServerName } = yield* connectionOf(options, labels)
    // The OIDC issuer is reached with the API's proxy settings; NO_PROXY is applied to the issuer's host.
    const proxy = yield* Proxy.settingsOf(proxyUrl, labels.proxyUrl)
    const credentials = yield* credentialsOf(options.auth ?? {}, options.impersonate, labels, {
      tokenFileMaxAge,
      httpAgents: (issuerCa) => ProxyAgent.make(proxy, issuerCa),
      exec: {
        stdinIsTerminal: options.stdinIsTerminal ?? tty.isatty(0),
        timeout: execTimeout,
        // A plugin learns where the proxy is, never its credentials (client-go passes them on).
        cluster: {
          server,
          tlsServerName,
          insecureSkipTlsVerify,
          ca,
          proxyUrl: proxyUrl === undefined ? undefined : Proxy.withoutCredentials(proxyUrl),
          config: extras.execClusterConfig
        }
      }
    })
    const caFile = (options.ca === undefined || options.ca === "") && options.caFile !== undefined && options.caFile !== ""
      ? options.caFile
      : undefined
    return ClientConfig.of({
      server,
      namespace: options.namespace !== undefined && options.namespace !== "" ? options.namespace : "default",
      userAgent,
      tls: {
        insecureSkipTlsVerify,
        ...(ca !== undefined ? { ca } : {}),
        ...(caFile !== undefined ? { caFile } : {}),
        ...(tlsServerName !== undefined ? { serverName: tlsServerName } : {})
      },
      ...(proxyUrl !== undefined ? { proxyUrl: Redacted.make(proxyUrl) } : {}),
      timeout,
      credentials: credentials.get,
      refreshCredentials: credentials.refresh,
      source: options.source ?? "ClientConfig options"
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
  build(options, Model.optionLabels, {}).pipe(Effect.provide(platform))

/**
 * {@link make} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<ClientConfig, ConfigError> =>
  Layer.effect(ClientConfig, make(options))

const kubeconfigInternal = (options: KubeconfigOptions) =>
  Effect.gen(function*() {
    const merged = options.kubeconfig !== undefined
      ? Kubeconfig.merge([yield* Kubeconfig.fromData(options.kubeconfig, { baseDir: options.baseDir })])
      : yield* Kubeconfig.load({ paths: options.paths })
    const selected = yield* Kubeconfig.select(merged, options.context)
    const source = `${merged.sources.join(", ")} (context ${selected.context.name})`
    const resolved = yield* fromSelected(selected, options, source)
    return yield* build(resolved.options, resolved.labels, resolved.extras)
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
    const resolved = fromServiceAccount(yield* InCluster.load(options), options)
    return yield* build(resolved.options, resolved.labels, resolved.extras)
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
