/**
 * The demo `npm start` runs against the embedded fake cluster: create three EchoServers, change one, delete
 * one, and show what the operator does, then a summary.
 */
import { Builtin, Cluster, type ClusterError, Conditions, type Controller, Operator, type Resource } from "@kubefx/core"
import { FakeCluster, Workloads } from "@kubefx/testkit"
import { Duration, Effect } from "effect"
import { Directory } from "./Directory.ts"
import { EchoServer } from "./EchoServer.ts"
import { EchoOperator } from "./operator.ts"

const echo = (name: string, message: string, replicas: number): Resource.KubeObject => ({
  apiVersion: EchoServer.apiVersion,
  kind: EchoServer.kind,
  metadata: { name, namespace: "default" },
  spec: { message, replicas }
})

const say = (text: string) => Effect.sync(() => console.log(`\n== ${text}`))

/** Waits until the operator is idle and every EchoServer reports the status of its current generation, ready. */
export const waitSettled = (
  controller: Controller.Controller,
  timeout: Duration.Input = "60 seconds"
): Effect.Effect<void, Error | ClusterError.ClusterError, Cluster.Cluster> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    let quiet = 0
    while (quiet < 3) {
      yield* Effect.sleep("100 millis")
      const idle = yield* controller.isIdle
      const parents = (yield* cluster.list(EchoServer)).items
      const converged = parents.every((p) => {
        const status = (p["status"] ?? {}) as { observedGeneration?: number; ready?: boolean }
        return p.metadata.deletionTimestamp === undefined && status.observedGeneration === p.metadata.generation && status.ready === true
      })
      quiet = idle && converged ? quiet + 1 : 0
    }
  }).pipe(
    Effect.timeoutOption(timeout),
    Effect.flatMap((r) => (r._tag === "None" ? Effect.fail(new Error(`the demo did not settle within ${Duration.format(Duration.fromInputUnsafe(timeout))}`)) : Effect.void))
  )

/** A table of parents, their children and status, and the directory. */
export const summary: Effect.Effect<{ parents: number; orphans: number }, ClusterError.ClusterError, Cluster.Cluster | Directory> = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  const directory = yield* Directory
  const parents = (yield* cluster.list(EchoServer)).items
  const deployments = (yield* cluster.list(Builtin.Deployment)).items
  const services = (yield* cluster.list(Builtin.Service)).items
  const lines = [
    "",
    "== Summary",
    "ECHOSERVER        MESSAGE               REPLICAS  READY  GEN/OBSERVED  CHILDREN"
  ]
  for (const p of parents) {
    const spec = p["spec"] as { message: string; replicas?: number }
    const status = (p["status"] ?? {}) as { ready?: boolean; observedGeneration?: number; conditions?: unknown }
    const owned = [...deployments, ...services]
      .filter((c) => c.metadata.ownerReferences?.some((o) => o.uid === p.metadata.uid))
      .map((c) => `${c.kind}/${c.metadata.name}`)
    const ready = Conditions.get(Conditions.fromStatus(status), Conditions.Ready)?.status ?? "?"
    lines.push(
      `${(p.metadata.name ?? "").padEnd(17)} ${JSON.stringify(spec.message).padEnd(21)} ${String(spec.replicas ?? 1).padEnd(9)} ${
        String(status.ready ?? false).padEnd(6)
      } ${`${p.metadata.generation}/${status.observedGeneration ?? "-"}`.padEnd(13)} ${owned.join(", ")} (Ready=${ready})`
    )
  }
  const orphans = [...deployments, ...services].filter((c) => !parents.some((p) => c.metadata.ownerReferences?.some((o) => o.uid === p.metadata.uid)))
  lines.push(`children without a live parent: ${orphans.length}`)
  lines.push(`directory: ${[...(yield* directory.entries)].map(([k, v]) => `${k} → ${v}`).join("; ") || "(empty)"}`)
  yield* Effect.sync(() => console.log(lines.join("\n")))
  return { parents: parents.length, orphans: orphans.length }
})

/** The scripted scenario. */
export const scenario = (
  controller: Controller.Controller
): Effect.Effect<{ parents: number; orphans: number }, Error | ClusterError.ClusterError, Cluster.Cluster | Directory> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* controller.synced
    yield* say("Creating EchoServers hello, bonjour and goodbye")
    for (const o of [echo("hello", "Hello, world!", 2), echo("bonjour", "Bonjour !", 1), echo("goodbye", "So long", 1)]) {
      yield* cluster.create(EchoServer, o)
    }
    yield* waitSettled(controller)
    yield* say("Changing hello's message (the Deployment is updated by server-side apply)")
    yield* cluster.patch(EchoServer, { namespace: "default", name: "hello" }, { type: "merge", body: { spec: { message: "Hello again!", replicas: 3 } } })
    yield* waitSettled(controller)
    yield* say("Deleting goodbye (finalize cleans the directory; Kubernetes collects its children)")
    yield* cluster.delete(EchoServer, { namespace: "default", name: "goodbye" })
    yield* waitSettled(controller)
    return yield* summary
  })

/** `npm start` without a cluster: the operator and the scenario on an embedded fake cluster. */
export const program = (exitWhenSettled: boolean) =>
  Effect.gen(function*() {
    yield* Effect.logInfo("starting echo-operator against an embedded fake cluster (no Kubernetes needed)")
    yield* Workloads.simulate({ readyAfter: "1 second" })
    const controller = yield* Operator.run(EchoOperator)
    const result = yield* scenario(controller)
    if (result.orphans > 0) return yield* Effect.fail(new Error(`${result.orphans} children were left without a parent`))
    if (exitWhenSettled) {
      yield* Effect.logInfo("settled; exiting (--exit-when-settled)")
      return
    }
    yield* Effect.logInfo("settled; the operator keeps running. Press Ctrl-C to stop.")
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Directory.layerMemory),
    Effect.provide(FakeCluster.layer({ types: [EchoServer] }))
  )
