/**
 * The shorter soak on a real kube-apiserver (envtest): the echo-server operator behind a `FaultProxy`, a seeded
 * random schedule of parent creates, edits and deletes interleaved with network faults (connection resets,
 * latency, pauses), then the faults healed and every live parent checked for convergence. Run by
 * `npm run soak -- --apiserver [--rounds 200] [--seed 1]`.
 */
import { Builtin, Cluster, Conditions, Operator, type Resource } from "@kubefx/core"
import { EnvtestCluster } from "@kubefx/envtest"
import { ClientConfig, KubeCluster, Manifests } from "@kubefx/k8s"
import { FaultProxy } from "@kubefx/testkit"
import { Context, Duration, Effect, Layer } from "effect"
import { Directory } from "../examples/echo-server/src/Directory.ts"
import { EchoServer } from "../examples/echo-server/src/EchoServer.ts"
import { EchoOperator } from "../examples/echo-server/src/operator.ts"

export interface ApiserverSoakOptions {
  readonly rounds: number
  readonly seed: number
}

/** mulberry32: a small seeded PRNG, so a schedule can be replayed from its seed. */
const random = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const echo = (name: string, message: string): Resource.KubeObject => ({
  apiVersion: EchoServer.apiVersion, kind: EchoServer.kind, metadata: { name, namespace: "default" }, spec: { message }
})

/** Why `name` has not converged to `message`, or undefined. */
const notConverged = (cluster: Cluster.Cluster["Service"], name: string, message: string) =>
  Effect.gen(function*() {
    const at = { namespace: "default", name }
    const parent = yield* Effect.option(cluster.get(EchoServer, at))
    if (parent._tag === "None") return "parent missing"
    const status = (parent.value["status"] ?? {}) as { observedGeneration?: number }
    if (status.observedGeneration !== parent.value.metadata.generation) return "status not current"
    if (Conditions.get(Conditions.fromStatus(parent.value["status"]), Conditions.ReconcileError)?.status !== "False") return "ReconcileError"
    const d = yield* Effect.option(cluster.get(Builtin.Deployment, at))
    if (d._tag === "None") return "no Deployment"
    const args = (d.value["spec"] as any)?.template?.spec?.containers?.[0]?.args?.[0]
    if (args !== `-text=${message}`) return `Deployment says ${args}`
    const s = yield* Effect.option(cluster.get(Builtin.Service, at))
    return s._tag === "None" ? "no Service" : undefined
  })

export const soakApiserver = (options: ApiserverSoakOptions) =>
  Effect.gen(function*() {
    const next = random(options.seed)
    const env = yield* EnvtestCluster.EnvtestCluster
    const admin = yield* Cluster.Cluster
    const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: Number(new URL(env.server).port) } })
    const config = Layer.effect(ClientConfig.ClientConfig, Effect.gen(function*() {
      const base = yield* ClientConfig.fromKubeconfig({ paths: [env.kubeconfigPath], context: "envtest", userAgent: "kubefx-soak" })
      return ClientConfig.ClientConfig.of({ ...base, server: `https://127.0.0.1:${proxy.port}`, timeout: Duration.seconds(5) })
    }))
    const context = yield* Layer.build(Layer.fresh(KubeCluster.layer.pipe(Layer.provide(config))))
    const proxied = Context.get(context, Cluster.Cluster)
    const controller = yield* Operator.run(EchoOperator).pipe(Effect.provideService(Cluster.Cluster, proxied))
    yield* controller.synced

    const live = new Map<string, string>()
    const counts: Record<string, number> = { create: 0, update: 0, delete: 0, reset: 0, delay: 0, pause: 0 }
    const rss: Array<number> = [process.memoryUsage().rss / 2 ** 20]
    let serial = 0
    const started = performance.now()
    for (let round = 0; round < options.rounds; round++) {
      const r = next()
      const names = [...live.keys()]
      const pick = () => names[Math.floor(next() * names.length)]!
      if (r < 0.3 || names.length === 0) {
        const name = `soak-${serial++}`
        const message = `m${Math.floor(next() * 1000)}`
        yield* admin.create(EchoServer, echo(name, message))
        live.set(name, message)
        counts["create"]!++
      } else if (r < 0.6) {
        const name = pick()
        const message = `m${Math.floor(next() * 1000)}`
        yield* admin.patch(EchoServer, { namespace: "default", name }, { type: "merge", body: { spec: { message } } })
        live.set(name, message)
        counts["update"]!++
      } else if (r < 0.75) {
        const name = pick()
        yield* admin.delete(EchoServer, { namespace: "default", name })
        live.delete(name)
        counts["delete"]!++
      } else if (r < 0.85) {
        yield* proxy.reset
        counts["reset"]!++
      } else if (r < 0.93) {
        yield* proxy.delay(Duration.millis(200))
        yield* Effect.sleep("1 second")
        yield* proxy.heal
        counts["delay"]!++
      } else {
        yield* proxy.pause
        yield* Effect.sleep("1 second")
        yield* proxy.resume
        counts["pause"]!++
      }
      yield* Effect.sleep(Duration.millis(50 + Math.floor(next() * 100)))
      if (round % 10 === 0) rss.push(process.memoryUsage().rss / 2 ** 20)
    }
    yield* proxy.heal
    const healedAt = performance.now()
    // Converged: every live parent's children and status match its last spec, within a minute of the heal.
    let pending: Array<string> = []
    for (let i = 0; i < 240; i++) {
      pending = []
      for (const [name, message] of live) {
        const why = yield* notConverged(admin, name, message)
        if (why !== undefined) pending.push(`${name}: ${why}`)
      }
      if (pending.length === 0) break
      yield* Effect.sleep("250 millis")
    }
    rss.push(process.memoryUsage().rss / 2 ** 20)
    const stats = yield* controller.stats
    return {
      rounds: options.rounds,
      seconds: (healedAt - started) / 1000,
      convergedAfterHeal: (performance.now() - healedAt) / 1000,
      counts,
      live: live.size,
      violations: pending,
      reconciles: stats.reconciles,
      failures: stats.failures,
      rss: { start: rss[0]!, max: Math.max(...rss), end: rss.at(-1)! }
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(EnvtestCluster.layer({ crds: [Effect.runSync(Manifests.crd(EchoServer))], userAgent: "kubefx-soak-admin" }), Directory.layerMemory))
  )
