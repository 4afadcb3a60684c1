/**
 * Health and metrics over HTTP, for Kubernetes probes and Prometheus: `/healthz` (the process answers),
 * `/readyz` (every operator has synced its caches and none is stuck reconnecting) and `/metrics` (Effect's
 * metrics in the Prometheus text format: reconcile counts and durations, and anything the user adds).
 *
 * The routes are an `HttpRouter` layer; serve them with any Effect HTTP server, e.g. `NodeHttpServer.layer`.
 *
 * @example
 * ```ts
 * declare const op: Operator.Operator<unknown, unknown, never, never>
 *
 * const Main = Layer.mergeAll(Operator.layer(op), HttpRouter.serve(Health.routes)).pipe(
 *   Layer.provide(Controller.Controllers.layer),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 8080 })))
 * ```
 * @since 0.1.0
 */
import { Effect, type Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { Controllers } from "./Controller.ts"

/**
 * Why each operator that is not ready is not, or an empty list.
 *
 * @since 0.1.0
 * @category accessors
 */
export const notReady: Effect.Effect<ReadonlyArray<string>, never, Controllers> = Effect.gen(function*() {
  const controllers = yield* (yield* Controllers).all
  const problems: Array<string> = []
  for (const c of controllers) {
    const stats = yield* c.stats
    // Say why: "caches not synced" alone sends an operator hunting; the watch's error names the fix.
    const why = stats.watchProblems.length === 0 ? "" : ` (${stats.watchProblems.join("; ")})`
    if (!(yield* c.hasSynced)) {
      problems.push(`${c.name}: caches not synced${why}`)
      continue
    }
    if (stats.watchersReady < stats.watchers) problems.push(`${c.name}: ${stats.watchers - stats.watchersReady} watch(es) reconnecting${why}`)
  }
  return problems
})

/**
 * `GET /healthz`, `GET /readyz`, `GET /metrics`.
 *
 * @since 0.1.0
 * @category layers
 */
export const routes: Layer.Layer<never, never, HttpRouter.HttpRouter | Controllers> = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const controllers = yield* Controllers
    const ready = notReady.pipe(Effect.provideService(Controllers, controllers))
    yield* router.add("GET", "/healthz", Effect.succeed(HttpServerResponse.text("ok\n")))
    yield* router.add(
      "GET",
      "/readyz",
      Effect.map(ready, (problems) =>
        problems.length === 0
          ? HttpServerResponse.text("ok\n")
          : HttpServerResponse.text(`${problems.join("\n")}\n`, { status: 503 }))
    )
    yield* router.add(
      "GET",
      "/metrics",
      Effect.map(PrometheusMetrics.format(), (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4" }))
    )
  })
)
