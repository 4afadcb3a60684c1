/**
 * The control plane of one measurement: a fresh etcd + kube-apiserver (envtest), a client of it, and the CPU
 * time its two processes spend (from `/proc`), which counts in the cost of every measurement.
 *
 * @since 0.1.0
 */
import { ClientConfig, KubeCluster, Manifests } from "@kubefx/k8s"
import { Envtest } from "@kubefx/envtest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { EchoServer } from "../../examples/echo-server/src/EchoServer.ts"

const crd = Manifests.crd(EchoServer)

/**
 * A fresh etcd + kube-apiserver with the EchoServer CRD, for the scope; 1,000 Services need more than the default
 * /24 of cluster IPs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startEnvtest = Effect.gen(function*() {
  return yield* Envtest.make({ crds: [yield* crd], apiServerArgs: ["--service-cluster-ip-range=10.0.0.0/16"] })
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
  const env = yield* startEnvtest
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

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime of a process, in ms, from /proc. */
const processCpuMillis = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1000
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
