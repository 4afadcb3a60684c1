/**
 * Probes and metrics of a running operator: /readyz turns ready once caches sync, /metrics reports reconciles.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cluster, Controller, Health } from "@kubefx/core"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Deferred, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Directory } from "../src/Directory.ts"
import { EchoServer } from "../src/EchoServer.ts"
import { EchoOperator } from "../src/operator.ts"

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
        stats: Effect.succeed({ queued: 0, processing: 0, delayed: 0, nextDueInMillis: undefined, reconciles: 0, failures: 0, parents: 0, watchers: 1, watchersReady: 0 })
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
      yield* TestKit.run(EchoOperator)
      const cluster = yield* Cluster.Cluster
      yield* cluster.create(EchoServer, { apiVersion: EchoServer.apiVersion, kind: "EchoServer", metadata: { name: "a", namespace: "default" }, spec: { message: "hi" } })
      yield* TestKit.settle()
      expect((yield* registry.all).map((c) => c.name)).toEqual(["echo-operator"])
      const handler = yield* app
      expect(yield* get(handler, "/readyz")).toEqual({ status: 200, text: "ok\n" })
      const metrics = (yield* get(handler, "/metrics")).text
      expect(metrics).toMatch(/kubefx_reconcile_total\{[^}]*operator="echo-operator"[^}]*\} [1-9]/)
      expect(metrics).toMatch(/kubefx_reconcile_duration_seconds_bucket/)
    }).pipe(Effect.provide(Layer.mergeAll(FakeCluster.layer({ types: [EchoServer] }), TestKit.TestKit.layer, Directory.layerMemory, Controller.Controllers.layer))))
})
