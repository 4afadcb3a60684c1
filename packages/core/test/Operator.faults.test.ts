/**
 * The engine under API faults, injected into the fake cluster: retries, 409 conflicts, 410 relists after
 * compaction, 429 with Retry-After, a restarted API server.
 */
import { describe, expect, it } from "@effect/vitest"
import { Builtin, Cluster, Conditions, type Resource } from "@kubefx/core"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Registry, web, Web, WebOperator } from "./fixtures/Web.ts"

const env = Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory)
const webWith = (name: string, message = "hi"): Resource.KubeObject => web(name, { message })
const at = (name: string) => ({ namespace: "default", name })
const argsOf = (d: Resource.KubeObject) => (d["spec"] as any).template.spec.containers[0].args[0] as string

describe("engine under API faults", () => {
  it.effect("a 500 on create is retried with backoff until the child exists", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const cluster = yield* Cluster.Cluster
      yield* fake.failNext({ verb: "create", type: Builtin.Service, times: 3, error: FakeCluster.errors.internalError() })
      yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, webWith("a"))
      yield* TestKit.settle()
      expect(yield* cluster.get(Builtin.Service, at("a"))).toBeDefined()
      const creates = (yield* fake.requests).filter((r) => r.verb === "create" && r.resource === "v1/Service")
      expect(creates).toHaveLength(4)
      // Backoff, not a hot loop: the four attempts are spread over time (0.5 s, 1 s, 2 s, jittered).
      expect(creates.at(-1)!.time - creates[0]!.time).toBeGreaterThanOrEqual(2500)
      const parent = yield* cluster.get(Web, at("a"))
      expect(Conditions.get(Conditions.fromStatus(parent["status"]), Conditions.ReconcileError)?.status).toBe("False")
    }).pipe(Effect.provide(env)))

  it.effect("a 409 on the status write is retried and the status lands", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const cluster = yield* Cluster.Cluster
      yield* fake.failNext({ verb: "updateStatus", type: Web, times: 2, error: FakeCluster.errors.conflict() })
      yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, webWith("a"))
      yield* TestKit.settle()
      const parent = yield* cluster.get(Web, at("a"))
      expect((parent["status"] as { observedGeneration?: number }).observedGeneration).toBe(1)
      expect((yield* fake.requests).filter((r) => r.verb === "updateStatus").length).toBeGreaterThanOrEqual(3)
    }).pipe(Effect.provide(env)))

  it.effect("a 429 with Retry-After is honoured: the next attempt waits at least that long", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const cluster = yield* Cluster.Cluster
      yield* fake.failNext({ verb: "apply", type: Builtin.Deployment, times: 1, error: FakeCluster.errors.tooManyRequests(30) })
      yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, webWith("a"))
      yield* TestKit.settle()
      const applies = (yield* fake.requests).filter((r) => r.verb === "apply" && r.resource === "apps/v1/Deployment")
      expect(applies.length).toBeGreaterThanOrEqual(2)
      expect(applies[1]!.time - applies[0]!.time).toBeGreaterThanOrEqual(30_000)
      expect(yield* cluster.get(Builtin.Deployment, at("a"))).toBeDefined()
    }).pipe(Effect.provide(env)))

  it.effect("after compaction and dropped watches (410 on resume) the operator relists and sees what it missed", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const cluster = yield* Cluster.Cluster
      const controller = yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, webWith("a", "one"))
      yield* cluster.create(Web, webWith("b"))
      yield* TestKit.settle()
      // The watches stall; meanwhile a parent changes, another is deleted, a child is deleted; then history is compacted.
      yield* fake.stallWatches
      yield* cluster.patch(Web, at("a"), { type: "merge", body: { spec: { message: "two" } } })
      yield* cluster.delete(Builtin.Service, at("b"))
      yield* fake.compact
      yield* fake.dropWatches({ error: true })
      yield* fake.clearFaults
      yield* TestKit.settle()
      expect(argsOf(yield* cluster.get(Builtin.Deployment, at("a")))).toBe("-text=two")
      expect(yield* cluster.get(Builtin.Service, at("b"))).toBeDefined()
      const lists = (yield* fake.requests).filter((r) => r.verb === "list" || r.initialEvents === true)
      // One initial state per watcher (3, streamed by the watch) and at least one more after the 410.
      expect(lists.length).toBeGreaterThan(3)
      expect((yield* controller.stats).watchersReady).toBe(3)
    }).pipe(Effect.provide(env)))

  it.effect("an API server restart (every watch fails, history gone) loses no work", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const cluster = yield* Cluster.Cluster
      yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, webWith("a"))
      yield* TestKit.settle()
      yield* fake.restart
      yield* cluster.create(Web, webWith("late"))
      yield* TestClock.adjust("1 minute")
      yield* TestKit.settle()
      expect(yield* cluster.get(Builtin.Deployment, at("late"))).toBeDefined()
    }).pipe(Effect.provide(env)))
})
