/**
 * The control plane of one measurement: a fresh etcd + kube-apiserver (envtest), a client of it, and the CPU
 * time its two processes spend (from `/proc`), which counts in the cost of every measurement.
 *
 * @since 0.1.0
 */
import { ClientConfig, KubeCluster, Manifests } from "@kubefx/k8s"
import { Envtest } from "@kubefx/envtest"
import { Effect, Layer } from "effect"
import { EchoServer } from "../../examples/echo-server/src/EchoServer.ts"
import { processCpuMillis } from "./procfs.ts"

const crd = Manifests.crd(EchoServer)

/**
 * Which EchoServer CRD the server gets: `conditions`, the one kubefx generates from the Schemas (its status
 * declares `conditions`); `no-conditions`, the same without `status.conditions`, so that the API server prunes the
 * conditions an operator writes (as with a CRD whose author left them out of the schema).
 *
 * @since 0.1.0
 * @category models
 */
export type CrdShape = "conditions" | "no-conditions"

type Schemaish = { properties?: Record<string, Schemaish> }

/** The CRD manifest without `status.conditions` in any version's schema. */
const withoutConditions = (manifest: unknown): unknown => {
  const copy = structuredClone(manifest) as { spec: { versions: ReadonlyArray<{ schema?: { openAPIV3Schema?: Schemaish } }> } }
  for (const version of copy.spec.versions) delete version.schema?.openAPIV3Schema?.properties?.["status"]?.properties?.["conditions"]
  return copy
}

/**
 * A fresh etcd + kube-apiserver with the EchoServer CRD (of `shape`), for the scope; 1,000 Services need more
 * than the default /24 of cluster IPs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startEnvtest = (shape: CrdShape = "conditions") =>
  Effect.gen(function*() {
    const manifest = yield* crd
    return yield* Envtest.make({
      crds: [shape === "conditions" ? manifest : withoutConditions(manifest)],
      apiServerArgs: ["--service-cluster-ip-range=10.0.0.0/16"]
    })
  })

/**
 * kubefx's live `Cluster` for this process (admin, mTLS), uncounted.
 *
 * @since 0.1.0
 * @category layers
 */
export const clientLayer = (env: Envtest.Envtest) =>
  KubeCluster.layer.pipe(Layer.provide(ClientConfig.layerFromKubeconfig({ paths: [env.kubeconfigPath], userAgent: "kubefx-bench" })))

/**
 * The version line of the report, from a server of its own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverVersion = Effect.gen(function*() {
  const env = yield* startEnvtest()
  const res = yield* Envtest.request(env, { path: "/version" })
  const body = res.body as { gitVersion?: string; platform?: string }
  return `kube-apiserver ${body.gitVersion ?? "?"}`
}).pipe(Effect.scoped)

/**
 * CPU time of the control plane (since its start, or over a phase).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerCpu {
  readonly apiserverMs: number
  readonly etcdMs: number
}

/**
 * The control plane's CPU time since it started.
 *
 * @since 0.1.0
 * @category sampling
 */
export const serverCpu = (env: Envtest.Envtest): ServerCpu => {
  const of = (name: string) => {
    const proc = env.processes.find((p) => p.name === name)
    return proc === undefined ? 0 : processCpuMillis(proc.pid)
  }
  return { apiserverMs: of("kube-apiserver"), etcdMs: of("etcd") }
}

/**
 * The CPU time spent between two samples (`b` the later).
 *
 * @since 0.1.0
 * @category sampling
 */
export const cpuDelta = (a: ServerCpu, b: ServerCpu): ServerCpu => ({ apiserverMs: b.apiserverMs - a.apiserverMs, etcdMs: b.etcdMs - a.etcdMs })
