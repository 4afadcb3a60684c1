/**
 * What the engine makes of the answers to its own writes: the watch events of its writes that arrive before the
 * answers cost no reconcile (while another writer's change in the same window still gets one), and status
 * fields the API server prunes are noticed once and never written again.
 */
import { describe, expect, it } from "@effect/vitest"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Effect, Layer, Logger, Schema } from "effect"
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
const answersTrail = (delay: string) =>
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
