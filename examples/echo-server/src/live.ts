/**
 * The operator against a real cluster: client configuration from a kubeconfig or the pod's service account,
 * the live `Cluster`, a check that the CRD and permissions are in place, then the operator until interrupted.
 */
import { Data, Effect, Layer } from "effect"
import { Cluster, type ClusterError, Operator } from "@kubefx/core"
import { ClientConfig, type ClientConfigError, KubeCluster } from "@kubefx/k8s"
import { Directory } from "./Directory.ts"
import { EchoServer } from "./EchoServer.ts"
import type * as Mode from "./Mode.ts"
import { EchoOperator } from "./operator.ts"

/** The cluster cannot run this operator yet; `message` says what to apply. */
export class NotReady extends Data.TaggedError("NotReady")<{ readonly message: string }> {}

const crdName = `${EchoServer.plural}.${EchoServer.group}`

/** Where the client configuration comes from. Identifies itself to the API server as `echo-operator`. */
export const clientConfig = (mode: Mode.Live): Layer.Layer<ClientConfig.ClientConfig, ClientConfigError.ConfigError> =>
  mode.source === "in-cluster"
    ? ClientConfig.layerInCluster({ operatorName: EchoOperator.name })
    : ClientConfig.layerFromKubeconfig({
      operatorName: EchoOperator.name,
      ...(mode.kubeconfigPath === undefined ? {} : { paths: [mode.kubeconfigPath] }),
      ...(mode.context === undefined ? {} : { context: mode.context })
    })

/** The server's scheme, host and port: never anything else from the configuration. */
const origin = (server: string) => {
  const url = new URL(server)
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`
}

/** One cheap read that fails with the fix when the CRD is missing or the operator may not list EchoServers. */
const preflight = (namespace: string | undefined) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* cluster.list(EchoServer, { limit: 1, ...(namespace === undefined ? {} : { namespace }) }).pipe(
      Effect.catchTag("NotFound", () =>
        Effect.fail(new NotReady({ message: `the CustomResourceDefinition ${crdName} is not installed: kubectl apply -f deploy/crd.yaml` }))),
      Effect.catchTag("Forbidden", (e) =>
        Effect.fail(new NotReady({ message: `${e.message}; grant the operator its RBAC: kubectl apply -f deploy/rbac.yaml` })))
    )
  })

const operate = (mode: Mode.Live) =>
  Effect.gen(function*() {
    const config = yield* ClientConfig.ClientConfig
    // The source names a kubeconfig path and context, or the service account: no credential is logged.
    yield* Effect.logInfo(`using cluster ${origin(config.server)} from ${config.source}`)
    yield* preflight(mode.namespace)
    const operator = mode.namespace === undefined
      ? EchoOperator
      : Operator.make({ ...EchoOperator, namespaces: [mode.namespace] })
    const controller = yield* Operator.run(operator)
    yield* controller.synced
    const where = mode.namespace === undefined ? "all namespaces" : `namespace ${mode.namespace}`
    yield* Effect.logInfo(`echo-operator is watching EchoServers in ${where}; stop it with Ctrl-C or SIGTERM`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

/** Runs until interrupted; fails when the configuration is unusable or the cluster is not ready for the operator. */
export const program = (
  mode: Mode.Live
): Effect.Effect<never, ClientConfigError.ConfigError | ClusterError.ClusterError | NotReady> =>
  operate(mode).pipe(
    Effect.provide(
      Layer.mergeAll(KubeCluster.layer, Directory.layerMemory).pipe(Layer.provideMerge(clientConfig(mode)))
    )
  )
