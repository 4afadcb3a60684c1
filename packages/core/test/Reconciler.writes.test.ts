/**
 * What the engine makes of the answers to its own writes: the watch events of its writes that arrive before the
 * answers cost no reconcile (while another writer's change in the same window still gets one), and status
 * fields the API server prunes are noticed once and never written again.
 */
import { describe, expect, it } from "@effect/vitest"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { type Duration, Effect, Layer, Logger, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Builtin from "../src/Builtin.ts"
import { Cluster, writeVerbs } from "../src/Cluster.ts"
import * as Child from "../src/Child.ts"
import * as Operator from "../src/Operator.ts"
import * as Resource from "../src/Resource.ts"
import { Registry, web, Web, WebOperator } from "./fixtures/Web.ts"

const at = (name: string) => ({ namespace: "default", name })

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => void lines.push(`${options.logLevel} ${JSON.stringify(options.message)}`))
  return { lines, layer: Logger.layer([logger]) }
}

/** Every write's answer trails its watch events by `delay`, as on a busy real API server. */
const answersTrail = (delay: Duration.Input) =>
  Effect.flatMap(FakeCluster.FakeCluster, (fake) =>
    Effect.forEach(writeVerbs, (verb) => fake.latency(delay, { verb }, { answer: true }), { discard: true }))

/** Yields until the fake has seen a request that `match` accepts, after the first `skip` requests. */
const untilRequest = (skip: number, match: (r: FakeCluster.Request) => boolean) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    for (let i = 0; i < 10_000; i++) {
      if ((yield* fake.requests).slice(skip).some(match)) return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error("the request never came"))
  })

describe("own writes", () => {
  const env = Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory)

  it.effect("the watch events of a reconcile's own writes, arriving before their answers, cost no reconcile", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      // The test's own writes would wait for the clock too: the parents exist first, then answers trail.
      for (const name of ["a", "b", "c"]) yield* cluster.create(Web, web(name))
      yield* answersTrail("50 millis")
      const controller = yield* TestKit.run(WebOperator)
      yield* TestKit.settle()
      // Finalizer, Deployment, Service and status were all echoed by the watch first; none ran a parent again.
      expect((yield* controller.stats).reconciles).toBe(3)
      const parent = yield* cluster.get(Web, at("a"))
      expect((parent["status"] as { observedGeneration?: number }).observedGeneration).toBe(1)
      const fake = yield* FakeCluster.FakeCluster
      yield* fake.clearFaults
      yield* cluster.patch(Web, at("a"), { type: "merge", body: { spec: { message: "two" } } })
      yield* answersTrail("50 millis")
      yield* TestKit.settle()
      expect((yield* controller.stats).reconciles).toBe(4)
    }).pipe(Effect.provide(env)))

  it.effect("another writer's change that lands while a reconcile waits for its answers gets a reconcile of its own", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const controller = yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, web("a"))
      yield* TestKit.settle()
      expect((yield* controller.stats).reconciles).toBe(1)
      const fake = yield* FakeCluster.FakeCluster
      yield* fake.latency("1 second", { verb: "apply" }, { answer: true })
      const seen = (yield* fake.requests).length
      yield* cluster.patch(Web, at("a"), { type: "merge", body: { spec: { message: "two" } } })
      // The reconcile's apply has gone out and waits for its answer: meanwhile the Deployment becomes available.
      yield* untilRequest(seen, (r) => r.verb === "apply" && r.resource === Resource.typeKey(Builtin.Deployment))
      yield* cluster.patchStatus(Builtin.Deployment, at("a"), { type: "merge", body: { status: { availableReplicas: 1 } } })
      yield* TestClock.adjust("1 second")
      yield* TestKit.settle()
      expect((yield* controller.stats).reconciles).toBe(3)
      const parent = yield* cluster.get(Web, at("a"))
      expect(parent["status"]).toMatchObject({ ready: true, availableReplicas: 1 })
    }).pipe(Effect.provide(env)))
})

describe("activity", () => {
  const env = Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory)

  it.effect("writes are counted by kind; Info gets one line of counts per period, not a line per write", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const cluster = yield* Cluster
      const controller = yield* TestKit.run(WebOperator)
      for (const name of ["a", "b"]) yield* cluster.create(Web, web(name))
      yield* TestKit.settle()
      expect((yield* controller.stats).writes).toEqual({ create: 2, apply: 2, replace: 0, delete: 0, status: 2, finalizer: 2 })
      expect(logs.lines.filter((l) => l.startsWith("Info"))).toEqual([])
      yield* TestClock.adjust("30 seconds")
      expect(logs.lines.filter((l) => l.startsWith("Info"))).toEqual([
        `Info ["in the last 30s: 2 reconcile(s); 8 write(s) (create 2, apply 2, status 2, finalizer 2)"]`
      ])
      // A quiet period logs nothing.
      yield* TestClock.adjust("30 seconds")
      expect(logs.lines.filter((l) => l.startsWith("Info"))).toHaveLength(1)
    }).pipe(Effect.provide(env), Effect.provide(logs.layer))
  })
})

describe("applied children", () => {
  const env = Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory)

  it.effect("are created by an apply that nothing of their name may precede: converging reads nothing", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      yield* TestKit.run(WebOperator)
      for (const name of ["a", "b"]) yield* cluster.create(Web, web(name))
      yield* TestKit.settle()
      const requests = yield* TestKit.requests()
      expect(requests.filter((r) => r.verb === "get")).toEqual([])
      const deployment = yield* cluster.get(Builtin.Deployment, at("a"))
      // Created by the apply itself, so its fields are owned by the operator's apply.
      expect(deployment.metadata.managedFields?.map((m) => [m.manager, m.operation])).toEqual([["web-operator", "Apply"]])
    }).pipe(Effect.provide(env)))

  it.effect("an unowned object where an applied child should be is never taken over, and is reported", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const squatter = yield* cluster.create(Builtin.Deployment, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "a", namespace: "default" },
        spec: {
          selector: { matchLabels: { app: "mine" } },
          template: { metadata: { labels: { app: "mine" } }, spec: { containers: [{ name: "c", image: "mine:1" }] } }
        }
      })
      yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, web("a"))
      yield* TestKit.settle({ horizon: "5 seconds" }).pipe(Effect.ignore)
      expect(yield* cluster.get(Builtin.Deployment, at("a"))).toEqual(squatter)
      const parent = yield* cluster.get(Web, at("a"))
      const error = (parent["status"] as { conditions?: ReadonlyArray<{ type: string; reason: string }> }).conditions?.find((c) => c.type === "ReconcileError")
      expect(error).toMatchObject({ reason: "ChildConflict" })
      // The Service, which is not blocked, was created.
      yield* cluster.get(Builtin.Service, at("a"))
    }).pipe(Effect.provide(env)))
})

describe("status fields the API server prunes", () => {
  const Item = Resource.custom({
    group: "test.kubefx.io",
    version: "v1",
    kind: "Item",
    plural: "items",
    spec: Schema.Struct({ size: Schema.Number }),
    status: Schema.Struct({ size: Schema.optionalKey(Schema.Number) })
  })
  // The CRD as a user might have installed it: its status schema declares `size` and nothing else.
  const BareItem: Resource.CustomResource<unknown, unknown> = { ...Item, status: Schema.Struct({ size: Schema.optionalKey(Schema.Number) }) }
  const env = Layer.mergeAll(FakeCluster.layer({ types: [BareItem] }), TestKit.TestKit.layer)
  const operator = Operator.make({
    name: "item-operator",
    parent: Item,
    children: [Child.of(Builtin.ConfigMap, { update: "replace" })],
    sync: (req) =>
      Effect.succeed({
        status: { size: req.parent.spec.size },
        children: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: req.parent.metadata.name! }, data: { size: String(req.parent.spec.size) } }]
      })
  })
  const item = (name: string, size: number): Resource.KubeObject => ({
    apiVersion: Item.apiVersion,
    kind: Item.kind,
    metadata: { name, namespace: "default" },
    spec: { size }
  })

  it.effect("are noticed from the write's answer, warned about once, and never written again", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const cluster = yield* Cluster
      yield* TestKit.run(operator)
      yield* cluster.create(Item, item("a", 1))
      yield* cluster.create(Item, item("b", 2))
      yield* TestKit.settle()
      const stored = yield* cluster.get(Item, at("a"))
      expect(stored["status"]).toEqual({ size: 1 })
      const warnings = logs.lines.filter((l) => l.startsWith("Warn"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("status.conditions")
      expect(warnings[0]).toContain("status.observedGeneration")
      // Resyncs: every parent is reconciled again and nothing is written.
      const before = (yield* TestKit.requests({ writesOnly: true })).length
      yield* TestClock.adjust("10 minutes")
      const report = yield* TestKit.settle()
      expect(report.writes).toBe(0)
      expect((yield* TestKit.requests({ writesOnly: true })).length).toBe(before)
      // A real change is still written, without the pruned fields.
      yield* cluster.patch(Item, at("a"), { type: "merge", body: { spec: { size: 5 } } })
      yield* TestKit.settle()
      expect((yield* cluster.get(Item, at("a")))["status"]).toEqual({ size: 5 })
      expect(logs.lines.filter((l) => l.startsWith("Warn"))).toHaveLength(1)
    }).pipe(Effect.provide(env), Effect.provide(logs.layer))
  })
})
