/**
 * What the echo-server operator itself does (the engine's rules are tested in packages/core/test): a
 * Deployment and a Service per EchoServer, readiness and the URL in status, the directory kept in step.
 */
import { describe, expect, it } from "@effect/vitest"
import { Builtin, Cluster, Conditions, type Resource } from "@kubefx/core"
import { FakeCluster, TestKit, Workloads } from "@kubefx/testkit"
import { Effect, Layer } from "effect"
import { Directory } from "../src/Directory.ts"
import { EchoServer, type EchoServerStatus } from "../src/EchoServer.ts"
import { EchoOperator } from "../src/operator.ts"

const env = Layer.mergeAll(FakeCluster.layer({ types: [EchoServer] }), TestKit.TestKit.layer, Directory.layerMemory)
const echo = (name: string, spec: Record<string, unknown>): Resource.KubeObject => ({
  apiVersion: EchoServer.apiVersion,
  kind: EchoServer.kind,
  metadata: { name, namespace: "default" },
  spec
})
const at = (name: string) => ({ namespace: "default", name })
const statusOf = (o: Resource.KubeObject) => (o["status"] ?? {}) as EchoServerStatus
const ready = (o: Resource.KubeObject) => Conditions.get(Conditions.fromStatus(o["status"]), "Ready")

describe("echo-server operator", () => {
  it.effect("runs the message as an echo server behind a Service", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* TestKit.run(EchoOperator)
      yield* cluster.create(EchoServer, echo("hello", { message: "hi there", replicas: 2 }))
      yield* TestKit.settle()
      const deployment = yield* cluster.get(Builtin.Deployment, at("hello"))
      const spec = deployment["spec"] as any
      expect(spec.replicas).toBe(2)
      expect(spec.template.spec.containers[0].args).toEqual(["-text=hi there", "-listen=:5678"])
      expect(spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "echo-server", "app.kubernetes.io/instance": "hello" })
      const service = yield* cluster.get(Builtin.Service, at("hello"))
      expect((service["spec"] as any).ports).toEqual([{ name: "http", port: 80, targetPort: 5678, protocol: "TCP" }])
      expect((service["spec"] as any).selector).toEqual(spec.selector.matchLabels)
    }).pipe(Effect.provide(env)))

  it.effect("reports readiness from the Deployment and the in-cluster URL", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* Workloads.simulate({ readyAfter: "2 seconds" })
      yield* TestKit.run(EchoOperator)
      yield* cluster.create(EchoServer, echo("a", { message: "hi", replicas: 3 }))
      // Settled short of the simulated readiness (due in 2 s): the Deployment is still progressing.
      yield* TestKit.settle({ horizon: "1 second" })
      const progressing = yield* cluster.get(EchoServer, at("a"))
      expect(statusOf(progressing).url).toBe("http://a.default.svc")
      expect(ready(progressing)).toMatchObject({ status: "False", reason: "Progressing", message: "0/3 replicas available" })
      // settle advances the clock to the simulation's timer as it does to the operator's own.
      yield* TestKit.settle()
      const available = yield* cluster.get(EchoServer, at("a"))
      expect(statusOf(available)).toMatchObject({ ready: true, availableReplicas: 3 })
      expect(ready(available)).toMatchObject({ status: "True", reason: "Available", message: "3/3 replicas available" })
    }).pipe(Effect.provide(env)))

  it.effect("keeps the directory in step: registered on sync, removed by finalize before the EchoServer goes", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const directory = yield* Directory
      yield* TestKit.run(EchoOperator)
      yield* cluster.create(EchoServer, echo("a", { message: "hi" }))
      yield* cluster.create(EchoServer, echo("b", { message: "hi" }))
      yield* TestKit.settle()
      expect(Object.fromEntries(yield* directory.entries)).toEqual({ "default/a": "http://a.default.svc", "default/b": "http://b.default.svc" })
      yield* cluster.delete(EchoServer, at("a"))
      yield* TestKit.settle()
      expect(Object.fromEntries(yield* directory.entries)).toEqual({ "default/b": "http://b.default.svc" })
      const gone = yield* Effect.flip(cluster.get(EchoServer, at("a")))
      expect(gone._tag).toBe("NotFound")
    }).pipe(Effect.provide(env)))
})
