/**
 * The controller's own stages (the wiring in src/internal/controller): which watches it opens, per-key
 * retry state, and registration with the `Controllers` registry. The engine rules end to end are in
 * Operator.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as Builtin from "../src/Builtin.ts"
import * as Cluster from "../src/Cluster.ts"
import * as Child from "../src/Child.ts"
import * as Controller from "../src/Controller.ts"
import * as Retry from "../src/internal/controller/retry.ts"
import * as Watches from "../src/internal/controller/watches.ts"
import * as Operator from "../src/Operator.ts"
import { ReconcileFailure } from "../src/Reconciler.ts"
import * as Resource from "../src/Resource.ts"
import { Registry, Web, WebOperator } from "./fixtures/Web.ts"

const failure = (retryAfterSeconds?: number) =>
  new ReconcileFailure({ reason: "WriteFailed", message: "x", retry: true, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) })

describe("Controller", () => {
  describe("watches", () => {
    it("one per (type, namespace); children by the tracking label, the parent by its selector", () => {
      const specs = Watches.plan({ ...WebOperator, namespaces: ["a", "b"], parentSelector: "tier=web" })
      expect(specs.map((s) => [Resource.typeKey(s.type), s.options])).toEqual([
        ["test.kubefx.io/v1/Web", { namespace: "a", labelSelector: "tier=web" }],
        ["test.kubefx.io/v1/Web", { namespace: "b", labelSelector: "tier=web" }],
        ["apps/v1/Deployment", { namespace: "a", labelSelector: "kubefx.io/operator=web-operator" }],
        ["apps/v1/Deployment", { namespace: "b", labelSelector: "kubefx.io/operator=web-operator" }],
        ["v1/Service", { namespace: "a", labelSelector: "kubefx.io/operator=web-operator" }],
        ["v1/Service", { namespace: "b", labelSelector: "kubefx.io/operator=web-operator" }]
      ])
    })

    it("cluster-scoped children are watched once, whatever the namespaces", () => {
      const specs = Watches.plan({ ...WebOperator, children: [Child.of(Builtin.ClusterRole)], namespaces: ["a", "b"], parentSelector: undefined })
      expect(specs.filter((s) => s.type === Builtin.ClusterRole).map((s) => s.options)).toEqual([{ labelSelector: "kubefx.io/operator=web-operator" }])
      expect(Watches.plan({ ...WebOperator, namespaces: "all", parentSelector: undefined })[0]!.options).toEqual({})
    })
  })

  describe("retry", () => {
    const schedule = Schedule.exponential("1 second", 2)
    const millis = (o: Option.Option<Duration.Duration>) => Option.map(o, Duration.toMillis)

    it.effect("each key steps its own schedule; a reset starts it afresh", () =>
      Effect.gen(function*() {
        const retry = Retry.make(schedule)
        expect(millis(yield* retry.next("a", failure()))).toEqual(Option.some(1000))
        expect(millis(yield* retry.next("a", failure()))).toEqual(Option.some(2000))
        expect(millis(yield* retry.next("b", failure()))).toEqual(Option.some(1000))
        retry.reset("a")
        expect(millis(yield* retry.next("a", failure()))).toEqual(Option.some(1000))
      }))

    it.effect("never sooner than the server's Retry-After", () =>
      Effect.gen(function*() {
        const retry = Retry.make(schedule)
        expect(millis(yield* retry.next("a", failure(30)))).toEqual(Option.some(30_000))
        expect(millis(yield* retry.next("a", failure(1)))).toEqual(Option.some(2000))
      }))

    it.effect("an exhausted policy says so and forgets the key", () =>
      Effect.gen(function*() {
        const retry = Retry.make(Schedule.max([Schedule.spaced("1 second"), Schedule.recurs(1)]))
        expect(millis(yield* retry.next("a", failure()))).toEqual(Option.some(1000))
        expect(yield* retry.next("a", failure())).toEqual(Option.none())
        expect(millis(yield* retry.next("a", failure()))).toEqual(Option.some(1000))
      }))

    it("formats delays for log lines", () => {
      expect([850, 2400, 300_000].map((ms) => Retry.formatDelay(Duration.millis(ms)))).toEqual(["850ms", "2.4s", "5.0m"])
    })
  })

  it.effect("a running controller joins the Controllers registry and reports its watches", () =>
    Effect.gen(function*() {
      const controller = yield* Operator.run(WebOperator)
      yield* TestClock.adjust("1 second")
      yield* controller.synced
      const all = yield* (yield* Controller.Controllers).all
      expect(all.map((c) => c.name)).toEqual(["web-operator"])
      const stats = yield* all[0]!.stats
      expect({ watchers: stats.watchers, watchersReady: stats.watchersReady, parents: stats.parents }).toEqual({ watchers: 3, watchersReady: 3, parents: 0 })
    }).pipe(
      Effect.scoped,
      Effect.provide(Controller.Controllers.layer),
      Effect.provide(FakeCluster.layer({ types: [Web] })),
      Effect.provide(Registry.layerMemory)
    ))
})

describe("Controller hazards", () => {
  const delays = (schedule: Schedule.Schedule<unknown, any>, n: number) =>
    Effect.gen(function*() {
      const step = yield* Schedule.toStep(schedule)
      const out: Array<number> = []
      for (let i = 0; i < n; i++) out.push(Duration.toMillis((yield* step(0, undefined))[1]))
      return out
    })

  it.effect("the default retry is jittered below its 5-minute cap, never above it", () =>
    Effect.gen(function*() {
      const all = yield* delays(Operator.defaultRetry, 200)
      expect(Math.max(...all)).toBeLessThanOrEqual(300_000)
      expect(all.slice(-50).some((d) => d < 300_000)).toBe(true) // still jittered at the cap
    }))

  it("a cluster-scoped parent is watched once, whatever the namespaces list", () => {
    const Tenant = Resource.custom({
      group: "test.kubefx.io", version: "v1", kind: "Tenant", plural: "tenants", namespaced: false,
      spec: WebOperator.parent.spec, status: WebOperator.parent.status
    })
    const specs = Watches.plan({ ...WebOperator, parent: Tenant, namespaces: ["a", "b"], parentSelector: undefined })
    expect(specs.filter((s) => s.type === Tenant).map((s) => s.options)).toEqual([{}])
  })

  it.effect("a stopped controller leaves the Controllers registry", () =>
    Effect.gen(function*() {
      const registry = yield* Controller.Controllers
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Operator.run(WebOperator)
        expect((yield* registry.all).map((c) => c.name)).toEqual(["web-operator"])
      }))
      expect(yield* registry.all).toEqual([])
    }).pipe(
      Effect.provide(Controller.Controllers.layer),
      Effect.provide(FakeCluster.layer({ types: [Web] })),
      Effect.provide(Registry.layerMemory)
    ))

  it.effect("1,000 changes to one parent's children collapse into a few reconciles", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const controller = yield* TestKit.run(WebOperator)
      yield* cluster.create(Web, { apiVersion: Web.apiVersion, kind: Web.kind, metadata: { name: "a", namespace: "default" }, spec: { message: "hi" } })
      yield* TestKit.settle()
      const before = (yield* controller.stats).reconciles
      for (let i = 0; i < 1000; i++) {
        yield* cluster.patch(Builtin.Deployment, { namespace: "default", name: "a" }, { type: "merge", body: { metadata: { annotations: { tick: String(i) } } } })
      }
      yield* TestKit.settle()
      const extra = (yield* controller.stats).reconciles - before
      expect(extra).toBeGreaterThanOrEqual(1)
      expect(extra).toBeLessThanOrEqual(20) // the patches interleave with reconciles; each one runs once for all the events queued meanwhile
    }).pipe(Effect.provide(Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory))))
})
