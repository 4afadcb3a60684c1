/**
 * The live `Cluster` against an `Envtest`: one layer that starts etcd and kube-apiserver (and, with
 * `controllerManager: true`, kube-controller-manager), builds a `ClientConfig` from the envtest's own
 * kubeconfig and puts `KubeCluster.layer` on top. Tests then run the same code an operator runs in
 * production (kubeconfig parsing, mTLS or bearer-token auth, the HTTP client, typed errors) against a
 * real API server, with no cluster to set up.
 *
 * The control plane lives as long as the layer: share it across the tests of a file with
 * `layer(EnvtestCluster.layer(...), { timeout: "3 minutes", excludeTestServices: true })` from
 * `@effect/vitest` (excluding the test services keeps the real clock, which the API server runs on).
 * For a second identity on the same server (say, the restricted user next to the admin), provide
 * {@link clientFor} with the `EnvtestCluster` of the running envtest.
 *
 * @example
 * ```ts
 * import { layer } from "@effect/vitest"
 * import { EnvtestCluster } from "@kubefx/envtest"
 * declare const crd: unknown                      // e.g. Manifests.crd(Widget)
 * declare const configMap: Resource.KubeObject
 *
 * layer(EnvtestCluster.layer({ crds: [crd], controllerManager: true }), { timeout: "3 minutes", excludeTestServices: true })(
 *   "against a real API server", (it) => {
 *     it.effect("creates", () => Effect.gen(function*() {
 *       const cluster = yield* Cluster.Cluster
 *       yield* cluster.create(Builtin.ConfigMap, configMap)
 *     }), 60_000)
 *   })
 * ```
 *
 * @since 0.1.0
 */
import type { Cluster } from "@kubefx/core"
import { ClientConfig, type ClientConfigError, KubeCluster } from "@kubefx/k8s"
import { Context, Effect, Layer } from "effect"
import * as Envtest from "./Envtest.ts"

/**
 * The running envtest behind the layer: its server URL, kubeconfig path, credentials and processes.
 *
 * @since 0.1.0
 * @category services
 */
export class EnvtestCluster extends Context.Service<EnvtestCluster, Envtest.Envtest>()(
  "@kubefx/envtest/EnvtestCluster"
) {}

/**
 * Who the client authenticates as: `admin` (a client certificate in `system:masters`, context `envtest`)
 * or `restricted` (a bearer token bound to no role, context `envtest-restricted`: RBAC denies it everything).
 *
 * @since 0.1.0
 * @category models
 */
export type User = "admin" | "restricted"

/**
 * What to start (see `Envtest.Options`) and how the client talks to it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Envtest.Options {
  /** Default `admin`. */
  readonly user?: User
  /** The `User-Agent` the API server sees. Default `kubefx-envtest`. */
  readonly userAgent?: string
  /** Tuning of the live `Cluster` (retries, watch stall timeout). */
  readonly kubeCluster?: KubeCluster.Options
}

/**
 * The kubeconfig context of each user, as `Envtest` writes the kubeconfig.
 *
 * @since 0.1.0
 * @category constants
 */
export const contextOf = (user: User): string => (user === "admin" ? "envtest" : "envtest-restricted")

/**
 * A `ClientConfig` and the live `Cluster` for one user of an envtest that is already running (the
 * `EnvtestCluster` in context). The config is read from the envtest's kubeconfig file, so this also checks
 * that the kubeconfig it writes is one kubefx understands.
 *
 * @since 0.1.0
 * @category layers
 */
export const clientFor = (
  user: User,
  options: Pick<Options, "userAgent" | "kubeCluster"> = {}
): Layer.Layer<Cluster.Cluster | ClientConfig.ClientConfig, ClientConfigError.ConfigError, EnvtestCluster> => {
  const config = Layer.effect(
    ClientConfig.ClientConfig,
    Effect.gen(function*() {
      const env = yield* EnvtestCluster
      return yield* ClientConfig.fromKubeconfig({
        paths: [env.kubeconfigPath],
        context: contextOf(user),
        userAgent: options.userAgent ?? "kubefx-envtest"
      })
    })
  )
  // Fresh: layers are memoized by identity, and the live Cluster's connection layer is one constant. Built
  // inside a program that already has a Cluster (the admin's, say), it would otherwise reuse that one's
  // connection, with its server and credentials, whatever this config says.
  return Layer.fresh(KubeCluster.layerOptions(options.kubeCluster ?? {}).pipe(Layer.provideMerge(config)))
}

/**
 * Starts an envtest and provides it (`EnvtestCluster`), a `ClientConfig` from its kubeconfig and the live
 * `Cluster`. Releasing the layer stops every process and removes the envtest's directory. Fails with
 * `EnvtestError` when the control plane cannot start (missing binaries included: it never skips) and with
 * `ConfigError` when its kubeconfig cannot be used.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Cluster.Cluster | ClientConfig.ClientConfig | EnvtestCluster, Envtest.EnvtestError | ClientConfigError.ConfigError> => {
  const { kubeCluster, user, userAgent, ...envtest } = options
  return clientFor(user ?? "admin", {
    ...(userAgent === undefined ? {} : { userAgent }),
    ...(kubeCluster === undefined ? {} : { kubeCluster })
  }).pipe(Layer.provideMerge(Layer.effect(EnvtestCluster, Envtest.make(envtest))))
}
