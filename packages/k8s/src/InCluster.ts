/**
 * The service account a pod runs as: the token, CA bundle and namespace the kubelet mounts at
 * `/var/run/secrets/kubernetes.io/serviceaccount`, and the API server address from
 * `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`.
 *
 * @since 0.1.0
 */
import { Config, Effect, FileSystem, Option } from "effect"
import * as net from "node:net"
import * as nodePath from "node:path"
import { ConfigError } from "./ClientConfigError.ts"
import { exists, readText } from "./internal/files.ts"

/**
 * Where the kubelet mounts the service account.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

/**
 * Where to look; every path can be moved (tests, unusual mounts).
 *
 * @since 0.1.0
 * @category models
 */
export interface Paths {
  /** Holds `token`, `ca.crt` and `namespace`; default {@link defaultDirectory}. */
  readonly directory?: string | undefined
  readonly tokenPath?: string | undefined
  readonly caPath?: string | undefined
  readonly namespacePath?: string | undefined
}

/**
 * The service account as found on disk and in the environment. The token itself is read by
 * `TokenFile`, which re-reads it as the kubelet rotates it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceAccount {
  /** `https://<KUBERNETES_SERVICE_HOST>:<KUBERNETES_SERVICE_PORT>` (IPv6 hosts bracketed). */
  readonly server: string
  readonly tokenPath: string
  /** The mounted CA bundle; `undefined` when `ca.crt` is absent (then the system roots are used). */
  readonly ca: string | undefined
  readonly caPath: string
  /** From the `namespace` file; `undefined` when it is absent. */
  readonly namespace: string | undefined
}

/**
 * The three file paths after defaults.
 *
 * @since 0.1.0
 * @category paths
 */
export const resolvePaths = (paths?: Paths): { readonly token: string; readonly ca: string; readonly namespace: string } => {
  const dir = paths?.directory ?? defaultDirectory
  return {
    token: paths?.tokenPath ?? nodePath.join(dir, "token"),
    ca: paths?.caPath ?? nodePath.join(dir, "ca.crt"),
    namespace: paths?.namespacePath ?? nodePath.join(dir, "namespace")
  }
}

/**
 * Whether a service-account token is mounted: the test Roperator and client-node use to choose
 * in-cluster over kubeconfig.
 *
 * @since 0.1.0
 * @category loading
 */
export const isMounted = (paths?: Paths): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  exists(resolvePaths(paths).token)

const env = (name: string) =>
  Config.option(Config.String(name)).pipe(
    Effect.mapError((error) => new ConfigError({ message: `cannot read ${name}: ${error.message}`, source: name })),
    Effect.map((value) => Option.getOrUndefined(Option.filter(value, (text) => text.trim() !== ""))?.trim())
  )

/**
 * Reads the mounted service account and the service address. Fails when the address variables are
 * not set or the token file is missing; a missing `ca.crt` or `namespace` is allowed.
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (paths?: Paths): Effect.Effect<ServiceAccount, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const files = resolvePaths(paths)
    const host = yield* env("KUBERNETES_SERVICE_HOST")
    const port = yield* env("KUBERNETES_SERVICE_PORT")
    if (host === undefined || port === undefined) {
      return yield* new ConfigError({
        message:
          "in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which the kubelet sets in every pod",
        source: "KUBERNETES_SERVICE_HOST"
      })
    }
    if (!/^\d{1,5}$/.test(port)) {
      return yield* new ConfigError({
        message: `KUBERNETES_SERVICE_PORT is not a port number: ${JSON.stringify(port)}`,
        source: "KUBERNETES_SERVICE_PORT"
      })
    }
    if (!(yield* exists(files.token))) {
      return yield* new ConfigError({
        message: `in-cluster service account token ${files.token} does not exist (is automountServiceAccountToken off?)`,
        source: files.token
      })
    }
    const optional = (path: string) =>
      Effect.flatMap(exists(path), (present) =>
        present
          ? readText(path).pipe(
            Effect.mapError((message) => new ConfigError({ message: `in-cluster ${message}`, source: path }))
          )
          : Effect.succeed(undefined))
    const ca = yield* optional(files.ca)
    const namespace = (yield* optional(files.namespace))?.trim()
    return {
      server: `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
      tokenPath: files.token,
      ca,
      caPath: files.ca,
      namespace: namespace === "" ? undefined : namespace
    }
  })
