/**
 * Probes and metrics of a running operator: /readyz turns ready once caches sync and says why it is not (a
 * missing CRD, an RBAC denial), /metrics reports reconciles.
 */
import { describe, expect, it } from "@effect/vitest"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Deferred, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TestClock } from "effect/testing"
import * as Builtin from "../src/Builtin.ts"
import * as Cluster from "../src/Cluster.ts"
import * as ClusterError from "../src/ClusterError.ts"
import * as Controller from "../src/Controller.ts"
import * as Health from "../src/Health.ts"
import * as Operator from "../src/Operator.ts"
import { Registry, Web, WebOperator } from "./fixtures/Web.ts"

const get = (handler: (r: Request) => Promise<Response>, path: string) =>
  Effect.promise(async () => {
    const res = await handler(new Request(`http://localhost${path}`))
    return { status: res.status, text: await res.text() }
  })

/** The routes as a fetch-style handler, bound to a registry. */
const app = Effect.gen(function*() {
  const registry = yield* Controller.Controllers
  const web = yield* Effect.acquireRelease(
    Effect.sync(() =>
      HttpRouter.toWebHandler(
        Health.routes.pipe(Layer.provide(Layer.succeed(Controller.Controllers, registry)), Layer.provide(HttpServer.layerServices)),
        { disableLogger: true }
      )
    ),
    (web) => Effect.promise(() => web.dispose())
  )
  return (r: Request) => web.handler(r)
})

describe("Health", () => {
  it.effect("readyz is 503 until every operator has synced, then 200; healthz always 200", () =>
    Effect.gen(function*() {
      const registry = yield* Controller.Controllers
      const gate = yield* Deferred.make<void>()
      const stuck: Controller.Controller = {
        name: "stuck",
        synced: Deferred.await(gate),
        hasSynced: Deferred.isDone(gate),
        isIdle: Effect.succeed(true),
        stats: Effect.succeed({ queued: 0, processing: 0, delayed: 0, nextDueInMillis: undefined, reconciles: 0, failures: 0, writes: { create: 0, apply: 0, replace: 0, delete: 0, status: 0, finalizer: 0 }, parents: 0, watchers: 1, watchersReady: 0, watchProblems: [] })
      }
      yield* registry.register(stuck)
      const handler = yield* app
      expect(yield* get(handler, "/healthz")).toEqual({ status: 200, text: "ok\n" })
      expect(yield* get(handler, "/readyz")).toEqual({ status: 503, text: "stuck: caches not synced\n" })
      yield* Deferred.succeed(gate, undefined)
      expect((yield* get(handler, "/readyz")).text).toBe("stuck: 1 watch(es) reconnecting\n")
    }).pipe(Effect.provide(Controller.Controllers.layer)))

  it.effect("a running operator registers itself and its reconciles show in /metrics", () =>
    Effect.gen(function*() {
      const registry = yield* Controller.Controllers
      yield* TestKit.run(WebOperator)
      const cluster = yield* Cluster.Cluster
      yield* cluster.create(Web, { apiVersion: Web.apiVersion, kind: "Web", metadata: { name: "a", namespace: "default" }, spec: { message: "hi" } })
      yield* TestKit.settle()
      expect((yield* registry.all).map((c) => c.name)).toEqual(["web-operator"])
      const handler = yield* app
      expect(yield* get(handler, "/readyz")).toEqual({ status: 200, text: "ok\n" })
      const metrics = (yield* get(handler, "/metrics")).text
      expect(metrics).toMatch(/kubefx_reconcile_total\{[^}]*operator="web-operator"[^}]*\} [1-9]/)
      expect(metrics).toMatch(/kubefx_reconcile_duration_seconds_bucket/)
    }).pipe(Effect.provide(Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory, Controller.Controllers.layer))))

  it.effect("a missing CRD keeps /readyz at 503 saying which type the server does not know; installing it recovers", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const handler = yield* app
      const controller = yield* Operator.run(WebOperator)
      yield* TestClock.adjust("1 second")
      const down = yield* get(handler, "/readyz")
      expect(down.status).toBe(503)
      expect(down.text).toMatch(/web-operator: caches not synced \(watch of test\.kubefx\.io\/v1\/Web: NotFound: /)
      yield* fake.register(Web)
      yield* TestClock.adjust("1 minute")
      yield* controller.synced
      expect(yield* get(handler, "/readyz")).toEqual({ status: 200, text: "ok\n" })
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(FakeCluster.layer(), Registry.layerMemory, Controller.Controllers.layer))))

  it.effect("an RBAC denial of a watch is reported by /readyz with the server's message, and recovery follows the fix", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const handler = yield* app
      yield* fake.failNext({
        verb: "watch", type: Builtin.Service, times: 3,
        error: new ClusterError.Forbidden({ message: "services is forbidden: User \"system:serviceaccount:ops:web\" cannot watch resource \"services\"" })
      })
      const controller = yield* Operator.run(WebOperator)
      yield* TestClock.adjust("100 millis")
      const down = yield* get(handler, "/readyz")
      expect(down.status).toBe(503)
      expect(down.text).toMatch(/watch of v1\/Service: Forbidden: services is forbidden/)
      yield* TestClock.adjust("1 minute")
      yield* controller.synced
      expect(yield* get(handler, "/readyz")).toEqual({ status: 200, text: "ok\n" })
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(FakeCluster.layer({ types: [Web] }), Registry.layerMemory, Controller.Controllers.layer))))
})
