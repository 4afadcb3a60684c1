import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { Effect, Exit, Layer } from "effect"
import * as Discovery from "../src/Discovery.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"

const resource = (name: string, kind: string, namespaced: boolean, extra: object = {}) => ({
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  kind,
  verbs: ["get", "list", "watch"],
  ...extra
})

/** A discovery tree; `crdInstalled` toggles the example.com group. */
const discoveryServer = (state: { crdInstalled: boolean }) =>
  Loopback.start((req, res) => {
    const groups = [
      { name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }], preferredVersion: { groupVersion: "apps/v1", version: "v1" } },
      {
        name: "metrics.k8s.io",
        versions: [{ groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" }],
        preferredVersion: { groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" }
      },
      ...(state.crdInstalled
        ? [{
          name: "example.com",
          versions: [{ groupVersion: "example.com/v1", version: "v1" }, { groupVersion: "example.com/v2", version: "v2" }],
          preferredVersion: { groupVersion: "example.com/v2", version: "v2" }
        }]
        : [])
    ]
    switch (req.path) {
      case "/api":
        return Loopback.json(res, 200, { kind: "APIVersions", versions: ["v1"] })
      case "/apis":
        return Loopback.json(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups })
      case "/api/v1":
        return Loopback.json(res, 200, {
          kind: "APIResourceList",
          groupVersion: "v1",
          resources: [
            resource("configmaps", "ConfigMap", true, { shortNames: ["cm"] }),
            resource("namespaces", "Namespace", false, { shortNames: ["ns"] }),
            resource("namespaces/status", "Namespace", false),
            resource("pods", "Pod", true),
            resource("pods/log", "Pod", true),
            resource("pods/status", "Pod", true)
          ]
        })
      case "/apis/apps/v1":
        return Loopback.json(res, 200, {
          kind: "APIResourceList",
          groupVersion: "apps/v1",
          resources: [
            resource("deployments", "Deployment", true, { shortNames: ["deploy"] }),
            resource("deployments/status", "Deployment", true),
            resource("deployments/scale", "Scale", true)
          ]
        })
      case "/apis/metrics.k8s.io/v1beta1":
        return Loopback.json(res, 503, Loopback.status(503, "ServiceUnavailable", "the server is currently unable to handle the request"))
      case "/apis/example.com/v1":
      case "/apis/example.com/v2":
        if (!state.crdInstalled) break
        return Loopback.json(res, 200, {
          kind: "APIResourceList",
          groupVersion: req.path.slice(6),
          resources: [
            resource("widgets", "Widget", true),
            resource("widgets/status", "Widget", true),
            ...(req.path.endsWith("v1") ? [resource("gadgets", "Gadget", false)] : [])
          ]
        })
    }
    Loopback.json(res, 404, Loopback.status(404, "NotFound", "the server could not find the requested resource"))
  })

const withDiscovery = <A, E>(server: Loopback.LoopbackApiServer, f: (d: Discovery.Discovery["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    return yield* f(yield* Discovery.Discovery)
  }).pipe(Effect.provide(Discovery.layer.pipe(Layer.provide(Loopback.clientConfig(server)))))

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

describe("Discovery", () => {
  it.live("resolves kinds to resource types: group, plural, scope, status subresource", () =>
    Effect.gen(function*() {
      const server = yield* discoveryServer({ crdInstalled: true })
      yield* withDiscovery(server, (d) =>
        Effect.gen(function*() {
          const deployment = yield* d.resolve({ kind: "Deployment" })
          assert.deepStrictEqual(deployment, Builtin.Deployment)
          assert.deepStrictEqual(yield* d.resolve({ kind: "Namespace" }), Builtin.Namespace)
          assert.deepStrictEqual(yield* d.resolve({ kind: "ConfigMap", group: "", version: "v1" }), Builtin.ConfigMap)
          const pod = yield* d.resolve(Discovery.query("v1", "Pod"))
          assert.isTrue(pod.statusSubresource)
          const widget = yield* d.resolve({ kind: "Widget" })
          assert.strictEqual(widget.apiVersion, "example.com/v2", "the preferred version")
          assert.strictEqual(widget.plural, "widgets")
          assert.isTrue(widget.statusSubresource)
          const gadget = yield* d.resolve({ kind: "Gadget", group: "example.com" })
          assert.strictEqual(gadget.apiVersion, "example.com/v1", "found in a non-preferred version")
          assert.isFalse(gadget.namespaced)
          assert.isFalse(gadget.statusSubresource)
          assert.strictEqual((yield* d.resolve({ kind: "deploy" })).kind, "Deployment", "short name")
          assert.strictEqual((yield* d.resolve({ kind: "configmaps" })).kind, "ConfigMap", "plural")
          const groups = yield* d.groups
          assert.deepStrictEqual(groups.map((g) => g.name), ["", "apps", "metrics.k8s.io", "example.com"])
          assert.deepStrictEqual(groups[3]!.versions, ["v2", "v1"])
        }))
    }))

  it.live("caches discovery documents", () =>
    Effect.gen(function*() {
      const server = yield* discoveryServer({ crdInstalled: true })
      yield* withDiscovery(server, (d) =>
        Effect.gen(function*() {
          yield* d.resolve({ kind: "Deployment" })
          const after = server.requests.length
          yield* d.resolve({ kind: "Deployment" })
          yield* d.resolve({ kind: "ConfigMap" })
          assert.strictEqual(server.requests.length, after)
          yield* d.invalidate
          yield* d.resolve({ kind: "ConfigMap" })
          assert.isAbove(server.requests.length, after)
        }))
    }))

  it.live("unknown kinds are NotFound; a CRD installed later is found after the automatic refresh", () =>
    Effect.gen(function*() {
      const state = { crdInstalled: false }
      const server = yield* discoveryServer(state)
      yield* withDiscovery(server, (d) =>
        Effect.gen(function*() {
          yield* d.resolve({ kind: "Deployment" })
          const error = failure(yield* Effect.exit(d.resolve({ kind: "Widget", group: "example.com" })))
          assert.strictEqual(error._tag, "NotFound")
          assert.strictEqual(
            error.message,
            `discover: the API server serves no kind Widget in group "example.com"; is its CustomResourceDefinition installed?`
          )
          assert.strictEqual(server.requests.filter((r) => r.path === "/apis").length, 2, "refreshed once before NotFound")
          state.crdInstalled = true
          const widget = yield* d.resolve({ kind: "Widget", group: "example.com" })
          assert.strictEqual(widget.plural, "widgets")
        }))
    }))

  it.live("an unavailable aggregated API is skipped when searching every group, and reported when asked for", () =>
    Effect.gen(function*() {
      const server = yield* discoveryServer({ crdInstalled: true })
      yield* withDiscovery(server, (d) =>
        Effect.gen(function*() {
          assert.strictEqual((yield* d.resolve({ kind: "Widget" })).group, "example.com")
          const error = failure(yield* Effect.exit(d.resolve({ kind: "PodMetrics", group: "metrics.k8s.io" })))
          assert.strictEqual(error._tag, "ServerError")
          assert.include(error.message, "discover /apis/metrics.k8s.io/v1beta1: the server is currently unable")
          const unknown = failure(yield* Effect.exit(d.resolve({ kind: "Nothing" })))
          assert.strictEqual(unknown._tag, "ServerError", "not NotFound: the kind may be in the group that is down")
        }))
    }))

  it.live("built with KubeCluster.layer, discovery and the cluster share one connection", () =>
    Effect.gen(function*() {
      const server = yield* discoveryServer({ crdInstalled: true })
      yield* Effect.gen(function*() {
        const d = yield* Discovery.Discovery
        const cluster = yield* Cluster.Cluster
        const type = yield* d.resolve({ kind: "ConfigMap" })
        const error = failure(yield* Effect.exit(cluster.get(type, { name: "nope" })))
        assert.strictEqual(error._tag, "NotFound")
      }).pipe(
        Effect.provide(Layer.mergeAll(Discovery.layer, KubeCluster.layer).pipe(Layer.provide(Loopback.clientConfig(server))))
      )
      assert.strictEqual(server.requests.at(-1)!.path, "/api/v1/namespaces/default/configmaps/nope")
      assert.strictEqual(server.connections(), 1)
    }))
})
