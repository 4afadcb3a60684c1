import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster, ClusterError, Resource } from "@kubefx/core"
import * as http from "node:http"
import * as net from "node:net"
import { Clock, Duration, Effect, Exit, Fiber, Layer, Redacted, Schema } from "effect"
import { TestClock } from "effect/testing"
import { AuthError } from "../src/ClientConfigError.ts"
import { defaultRetry, retrying, shouldRetry } from "../src/internal/client.ts"
import { HttpFailure } from "../src/internal/http.ts"
import { collectionPath, objectPath, withQuery } from "../src/internal/paths.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"
import * as MiniApi from "./support/MiniApi.ts"

type Overrides = Parameters<typeof Loopback.clientConfig>[1]

/** Runs `f` with a live `Cluster` pointed at the loopback server. */
const withCluster = <A, E>(
  server: Loopback.LoopbackApiServer,
  f: (cluster: Cluster.Cluster["Service"]) => Effect.Effect<A, E>,
  overrides: Overrides = {},
  options: KubeCluster.Options = {}
) =>
  Effect.gen(function*() {
    return yield* f(yield* Cluster.Cluster)
  }).pipe(
    Effect.provide(KubeCluster.layerOptions(options).pipe(Layer.provide(Loopback.clientConfig(server, overrides))))
  )

const Widget = Resource.custom({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  spec: Schema.Struct({ size: Schema.Number }),
  status: Schema.Struct({ ready: Schema.Boolean })
})

const cm = (name: string, data: Record<string, string>, namespace?: string): Builtin.ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
  data
})

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return error.error
}

describe("KubeCluster", () => {
  it.live("CRUD round trip: paths, methods, headers, bodies", () =>
    Effect.gen(function*() {
      const api = MiniApi.make()
      const server = yield* Loopback.start(api.handler)
      yield* withCluster(server, (cluster) =>
        Effect.gen(function*() {
          const created = yield* cluster.create(Builtin.ConfigMap, cm("web", { a: "1" }))
          assert.strictEqual(created.metadata.namespace, "default")
          assert.strictEqual(created.metadata.uid, "uid-web")
          const got = yield* cluster.get(Builtin.ConfigMap, { name: "web" })
          assert.deepStrictEqual(got.data, { a: "1" })
          const replaced = yield* cluster.replace(Builtin.ConfigMap, { ...got, data: { a: "2" } })
          assert.deepStrictEqual(replaced.data, { a: "2" })
          const patched = yield* cluster.patch(Builtin.ConfigMap, { namespace: "default", name: "web" }, {
            type: "merge",
            body: { data: { b: "3" } }
          })
          assert.deepStrictEqual(patched.data, { a: "2", b: "3" })
          const deleted = yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "web" })
          assert.strictEqual(deleted.metadata.name, "web")
          const missing = yield* Effect.exit(cluster.get(Builtin.ConfigMap, { name: "web" }))
          const error = failure(missing)
          assert.strictEqual(error._tag, "NotFound")
          assert.include(error.message, `get v1/ConfigMap default/web: configmaps "web" not found`)
        })
      )
      const seen = server.requests.map((r) => `${r.method} ${r.path}`)
      assert.deepStrictEqual(seen, [
        "POST /api/v1/namespaces/default/configmaps",
        "GET /api/v1/namespaces/default/configmaps/web",
        "PUT /api/v1/namespaces/default/configmaps/web",
        "PATCH /api/v1/namespaces/default/configmaps/web",
        "DELETE /api/v1/namespaces/default/configmaps/web",
        "GET /api/v1/namespaces/default/configmaps/web"
      ])
      for (const r of server.requests) {
        assert.strictEqual(r.headers["user-agent"], "kubefx-test/0.1.0")
        assert.strictEqual(r.headers.authorization, "Bearer s3cr3t-token")
        assert.strictEqual(r.headers.accept, "application/json")
      }
      assert.strictEqual(server.requests[0]!.headers["content-type"], "application/json")
      assert.deepStrictEqual(JSON.parse(server.requests[0]!.body), cm("web", { a: "1" }))
      assert.strictEqual(JSON.parse(server.requests[2]!.body).metadata.resourceVersion, "101")
      assert.strictEqual(server.requests[3]!.headers["content-type"], "application/merge-patch+json")
      assert.strictEqual(server.requests[4]!.body, "", "no DeleteOptions body without options")
    }))

  it.live("server-side apply: content type, fieldManager, force, dryRun", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((req, res) => Loopback.json(res, 200, JSON.parse(req.body)))
      const object = cm("web", { a: "1" }, "apps")
      const applied = yield* withCluster(server, (cluster) =>
        cluster.apply(Builtin.ConfigMap, object, { fieldManager: "kubefx-test", force: true, dryRun: true }))
      assert.deepStrictEqual(applied, object)
      const [r] = server.requests
      assert.strictEqual(r!.method, "PATCH")
      assert.strictEqual(r!.path, "/api/v1/namespaces/apps/configmaps/web")
      assert.strictEqual(r!.headers["content-type"], "application/apply-patch+yaml")
      assert.strictEqual(r!.query.get("fieldManager"), "kubefx-test")
      assert.strictEqual(r!.query.get("force"), "true")
      assert.strictEqual(r!.query.get("dryRun"), "All")
      assert.deepStrictEqual(JSON.parse(r!.body), object)

      yield* withCluster(server, (cluster) => cluster.apply(Builtin.ConfigMap, object, { fieldManager: "m" }))
      assert.isNull(server.requests[1]!.query.get("force"))
      assert.isNull(server.requests[1]!.query.get("dryRun"))
    }))

  it.live("patch content types: merge, json, strategic", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      yield* withCluster(server, (cluster) =>
        Effect.gen(function*() {
          const at = { namespace: "ns1", name: "web" }
          yield* cluster.patch(Builtin.ConfigMap, at, { type: "merge", body: { data: { a: null } } })
          yield* cluster.patch(Builtin.ConfigMap, at, {
            type: "json",
            body: [{ op: "replace", path: "/data/a", value: "x" }]
          }, { fieldManager: "fm" })
          yield* cluster.patch(Builtin.ConfigMap, at, { type: "strategic", body: { data: { a: "y" } } })
        }))
      assert.deepStrictEqual(server.requests.map((r) => r.headers["content-type"]), [
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json"
      ])
      assert.deepStrictEqual(JSON.parse(server.requests[1]!.body), [{ op: "replace", path: "/data/a", value: "x" }])
      assert.strictEqual(server.requests[1]!.query.get("fieldManager"), "fm")
      assert.deepStrictEqual(JSON.parse(server.requests[0]!.body), { data: { a: null } })
    }))

  it.live("status subresource: replaceStatus and patchStatus address /status", () =>
    Effect.gen(function*() {
      const api = MiniApi.make()
      const server = yield* Loopback.start(api.handler)
      yield* withCluster(server, (cluster) =>
        Effect.gen(function*() {
          const w = yield* cluster.create(Widget, {
            apiVersion: "example.com/v1",
            kind: "Widget",
            metadata: { name: "w1", namespace: "team" },
            spec: { size: 1 }
          })
          const updated = yield* cluster.replaceStatus(Widget, { ...w, status: { ready: false } })
          assert.deepStrictEqual(updated.status, { ready: false })
          const patched = yield* cluster.patchStatus(Widget, { namespace: "team", name: "w1" }, {
            type: "merge",
            body: { status: { ready: true } }
          })
          assert.deepStrictEqual(patched.status, { ready: true })
        }))
      assert.deepStrictEqual(server.requests.map((r) => `${r.method} ${r.path}`), [
        "POST /apis/example.com/v1/namespaces/team/widgets",
        "PUT /apis/example.com/v1/namespaces/team/widgets/w1/status",
        "PATCH /apis/example.com/v1/namespaces/team/widgets/w1/status"
      ])
    }))

  it.live("delete sends DeleteOptions (propagationPolicy, preconditions, grace) and dryRun", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) =>
        Loopback.json(res, 200, { ...cm("web", {}), metadata: { name: "web", deletionTimestamp: "2024-01-01T00:00:00Z" } })
      )
      const result = yield* withCluster(server, (cluster) =>
        cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "web" }, {
          propagationPolicy: "Foreground",
          preconditions: { uid: "u-1", resourceVersion: "42" },
          gracePeriodSeconds: 0,
          dryRun: true
        }))
      assert.strictEqual(result.metadata.deletionTimestamp, "2024-01-01T00:00:00Z")
      const [r] = server.requests
      assert.strictEqual(r!.method, "DELETE")
      assert.strictEqual(r!.query.get("dryRun"), "All")
      assert.strictEqual(r!.headers["content-type"], "application/json")
      assert.deepStrictEqual(JSON.parse(r!.body), {
        apiVersion: "v1",
        kind: "DeleteOptions",
        propagationPolicy: "Foreground",
        preconditions: { uid: "u-1", resourceVersion: "42" },
        gracePeriodSeconds: 0,
        dryRun: ["All"]
      })
    }))

  it.live("delete answered with a success Status returns an object naming the deleted one", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) =>
        Loopback.json(res, 200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name: "web", kind: "configmaps", uid: "u-9" }
        })
      )
      const result = yield* withCluster(server, (cluster) =>
        cluster.delete(Builtin.ConfigMap, { namespace: "ns", name: "web" }))
      assert.deepStrictEqual(result, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "web", namespace: "ns", uid: "u-9" }
      })
    }))

  it.live("list: two pages with limit and continue; items get apiVersion and kind", () =>
    Effect.gen(function*() {
      const api = MiniApi.make()
      const server = yield* Loopback.start(api.handler)
      yield* withCluster(server, (cluster) =>
        Effect.gen(function*() {
          yield* cluster.create(Builtin.ConfigMap, cm("a", { n: "1" }, "x"))
          yield* cluster.create(Builtin.ConfigMap, cm("b", { n: "2" }, "x"))
          yield* cluster.create(Builtin.ConfigMap, cm("c", { n: "3" }, "y"))
          const first = yield* cluster.list(Builtin.ConfigMap, { namespace: "x", limit: 1, labelSelector: "app=web" })
          assert.strictEqual(first.items.length, 1)
          assert.strictEqual(first.continue, "1")
          assert.strictEqual(first.resourceVersion, "103")
          assert.deepStrictEqual(first.items[0]!.apiVersion, "v1")
          assert.deepStrictEqual(first.items[0]!.kind, "ConfigMap")
          assert.deepStrictEqual(first.items[0]!.data, { n: "1" })
          const second = yield* cluster.list(Builtin.ConfigMap, { namespace: "x", limit: 1, continue: first.continue! })
          assert.deepStrictEqual(second.items.map((i) => i.metadata.name), ["b"])
          assert.isUndefined(second.continue)
          const all = yield* cluster.list(Builtin.ConfigMap, { resourceVersion: "0", fieldSelector: "metadata.name=a" })
          assert.strictEqual(all.items.length, 3)
        }))
      const lists = server.requests.filter((r) => r.method === "GET")
      assert.strictEqual(lists[0]!.path, "/api/v1/namespaces/x/configmaps")
      assert.strictEqual(lists[0]!.query.get("limit"), "1")
      assert.strictEqual(lists[0]!.query.get("labelSelector"), "app=web")
      assert.strictEqual(lists[1]!.query.get("continue"), "1")
      assert.strictEqual(lists[2]!.path, "/api/v1/configmaps", "no namespace: all namespaces")
      assert.strictEqual(lists[2]!.query.get("resourceVersion"), "0")
      assert.strictEqual(lists[2]!.query.get("fieldSelector"), "metadata.name=a")
    }))

  it.live("cluster-scoped types have no namespace segment", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) =>
        Loopback.json(res, 200, { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } })
      )
      yield* withCluster(server, (cluster) => cluster.get(Builtin.Namespace, { namespace: "ignored", name: "team" }))
      assert.strictEqual(server.requests[0]!.path, "/api/v1/namespaces/team")
    }))

  it.live("a missing name is a typed Invalid error and sends nothing", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start()
      const exit = yield* withCluster(server, (cluster) => Effect.exit(cluster.get(Builtin.ConfigMap, { name: "" })))
      const error = failure(exit)
      assert.strictEqual(error._tag, "Invalid")
      assert.include(error.message, "metadata.name is required")
      assert.strictEqual(server.requests.length, 0)
    }))
})

describe("KubeCluster errors", () => {
  const answer = (code: number, body: unknown, headers: Record<string, string> = {}) =>
    Loopback.start((_, res) => Loopback.json(res, code, body, headers))

  it.live("409 AlreadyExists and 409 Conflict", () =>
    Effect.gen(function*() {
      const exists = yield* answer(409, Loopback.status(409, "AlreadyExists", `configmaps "web" already exists`))
      const e1 = failure(yield* withCluster(exists, (c) => Effect.exit(c.create(Builtin.ConfigMap, cm("web", {})))))
      assert.strictEqual(e1._tag, "AlreadyExists")
      assert.strictEqual(e1.name, "web")
      assert.strictEqual(e1.namespace, "default")
      assert.strictEqual(e1.resource, "v1/ConfigMap")

      const conflict = yield* answer(409, Loopback.status(409, "Conflict", "the object has been modified", {
        causes: [{ field: ".spec.replicas", reason: "FieldManagerConflict", message: "conflict with kubectl" }]
      }))
      const e2 = failure(yield* withCluster(conflict, (c) => Effect.exit(c.replace(Builtin.ConfigMap, cm("web", {})))))
      assert.strictEqual(e2._tag, "Conflict")
      assert.deepStrictEqual((e2 as ClusterError.Conflict).causes, [
        { field: ".spec.replicas", reason: "FieldManagerConflict", message: "conflict with kubectl" }
      ])
    }))

  it.live("410 Gone and 422 Invalid with causes", () =>
    Effect.gen(function*() {
      const gone = yield* answer(410, Loopback.status(410, "Expired", "too old resource version: 1 (2)"))
      const e1 = failure(yield* withCluster(gone, (c) => Effect.exit(c.list(Builtin.ConfigMap, { continue: "x" }))))
      assert.strictEqual(e1._tag, "Gone")
      assert.include(e1.message, "too old resource version")

      const invalid = yield* answer(422, Loopback.status(422, "Invalid", `ConfigMap "Bad" is invalid`, {
        causes: [{ field: "metadata.name", reason: "FieldValueInvalid", message: "must be lowercase" }]
      }))
      const e2 = failure(yield* withCluster(invalid, (c) => Effect.exit(c.create(Builtin.ConfigMap, cm("Bad", {})))))
      assert.strictEqual(e2._tag, "Invalid")
      assert.strictEqual((e2 as ClusterError.Invalid).status, 422)
      assert.deepStrictEqual((e2 as ClusterError.Invalid).causes, [
        { field: "metadata.name", reason: "FieldValueInvalid", message: "must be lowercase" }
      ])
    }))

  it.live("403 and 401 name the verb, resource and config source, never the token", () =>
    Effect.gen(function*() {
      const forbidden = yield* answer(403, Loopback.status(403, "Forbidden",
        `deployments.apps "web" is forbidden: User "ci" cannot get resource "deployments"`))
      const e1 = failure(yield* withCluster(forbidden, (c) => Effect.exit(c.get(Builtin.Deployment, { namespace: "prod", name: "web" }))))
      assert.strictEqual(e1._tag, "Forbidden")
      assert.strictEqual(
        e1.message,
        `get apps/v1/Deployment prod/web: deployments.apps "web" is forbidden: User "ci" cannot get resource "deployments" ` +
          `(credentials from test-kubeconfig (context loopback))`
      )
      const unauthorized = yield* answer(401, Loopback.status(401, "Unauthorized", "Unauthorized"))
      const e2 = failure(yield* withCluster(unauthorized, (c) => Effect.exit(c.list(Builtin.Pod, { namespace: "a" }))))
      assert.strictEqual(e2._tag, "Unauthorized")
      assert.include(e2.message, "list v1/Pod in namespace a: Unauthorized (credentials from test-kubeconfig (context loopback))")
      assert.notInclude(e2.message, "s3cr3t")
      assert.notInclude(JSON.stringify(e2), "s3cr3t")
    }))

  it.live("credentials that cannot be obtained fail as Unauthorized naming the source", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start()
      const exit = yield* withCluster(server, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "x" })), {
        credentials: Effect.fail(new AuthError({ source: "exec plugin aws", message: "plugin exited with 1" })) as never
      })
      const error = failure(exit)
      assert.strictEqual(error._tag, "Unauthorized")
      assert.include(error.message, "cannot obtain credentials from test-kubeconfig (context loopback): plugin exited with 1")
      assert.strictEqual(server.requests.length, 0)
    }))

  it.live("a non-Status error body still maps by status code", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        res.writeHead(404, { "content-type": "text/plain" })
        res.end("404 page not found\n")
      })
      const e = failure(yield* withCluster(server, (c) => Effect.exit(c.get(Widget, { name: "w" }))))
      assert.strictEqual(e._tag, "NotFound")
      assert.strictEqual(e.message, "get example.com/v1/Widget default/w: HTTP 404: 404 page not found")
    }))

  it.live("429 with Retry-After is retried after the delay, then succeeds", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* Loopback.start((_, res) => {
        if (++calls === 1) {
          return Loopback.json(res, 429, Loopback.status(429, "TooManyRequests", "slow down"), { "retry-after": "1" })
        }
        Loopback.json(res, 200, cm("web", {}))
      })
      const started = Date.now()
      const created = yield* withCluster(server, (c) => c.create(Builtin.ConfigMap, cm("web", {})))
      assert.strictEqual(created.metadata.name, "web")
      assert.strictEqual(server.requests.length, 2)
      assert.isAtLeast(Date.now() - started, 950)
    }))

  it.live("500 on a read is retried; 500 on a write is not, unless the server sent Retry-After", () =>
    Effect.gen(function*() {
      let calls = 0
      const flaky = yield* Loopback.start((_, res) =>
        ++calls === 1
          ? Loopback.json(res, 500, Loopback.status(500, "InternalError", "etcdserver: leader changed"))
          : Loopback.json(res, 200, cm("web", {}))
      )
      const got = yield* withCluster(flaky, (c) => c.get(Builtin.ConfigMap, { name: "web" }))
      assert.strictEqual(got.metadata.name, "web")
      assert.strictEqual(flaky.requests.length, 2)

      const broken = yield* answer(500, Loopback.status(500, "InternalError", "failed calling webhook"))
      const e = failure(yield* withCluster(broken, (c) => Effect.exit(c.create(Builtin.ConfigMap, cm("web", {})))))
      assert.strictEqual(e._tag, "ServerError")
      assert.strictEqual((e as ClusterError.ServerError).status, 500)
      assert.strictEqual(broken.requests.length, 1, "a write that may have been processed is not repeated")

      let writes = 0
      const unavailable = yield* Loopback.start((_, res) =>
        ++writes === 1
          ? Loopback.json(res, 503, Loopback.status(503, "ServiceUnavailable", "shutting down"), { "retry-after": "0" })
          : Loopback.json(res, 201, cm("web", {}))
      )
      yield* withCluster(unavailable, (c) => c.create(Builtin.ConfigMap, cm("web", {})))
      assert.strictEqual(unavailable.requests.length, 2)
    }))

  it.live("retries are bounded: the last error carries retryAfterSeconds", () =>
    Effect.gen(function*() {
      const server = yield* answer(429, Loopback.status(429, "TooManyRequests", "throttled"), { "retry-after": "0" })
      const e = failure(
        yield* withCluster(server, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "x" })), {}, {
          retry: { maxAttempts: 3 }
        })
      )
      assert.strictEqual(e._tag, "TooManyRequests")
      assert.strictEqual(ClusterError.retryAfterSeconds(e), 0)
      assert.strictEqual(server.requests.length, 3)

      const slow = yield* answer(429, Loopback.status(429, "TooManyRequests", "throttled"), { "retry-after": "60" })
      const e2 = failure(yield* withCluster(slow, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "x" }))))
      assert.strictEqual(ClusterError.retryAfterSeconds(e2), 60)
      assert.strictEqual(slow.requests.length, 1, "a Retry-After beyond the 30 s budget is returned to the caller")
    }))

  it.live("an unreadable success body is a Transport error", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{not json")
      })
      const e = failure(yield* withCluster(server, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "x" }))))
      assert.strictEqual(e._tag, "Transport")
      assert.include(e.message, "unreadable response body: not JSON")
      assert.notInclude(e.message, "{not json")
    }))

  it.live("a body cut off mid-way: a write fails as Transport (not retried); an error status is still reported", () =>
    Effect.gen(function*() {
      const cut = (status: number) =>
        Loopback.start((_, res) => {
          res.writeHead(status, { "content-type": "application/json", "content-length": "1000" })
          res.write("{\"kind\":\"Sta")
          setTimeout(() => res.socket?.destroy(), 20)
        })
      const ok = yield* cut(201)
      const e = failure(yield* withCluster(ok, (c) => Effect.exit(c.create(Builtin.ConfigMap, cm("x", {})))))
      assert.strictEqual(e._tag, "Transport")
      assert.include(e.message, "create v1/ConfigMap default/x: ")
      assert.strictEqual(ok.requests.length, 1, "the write may have happened: not sent again")
      const missing = yield* cut(404)
      const e2 = failure(yield* withCluster(missing, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "x" }))))
      assert.strictEqual(e2._tag, "NotFound")
      assert.include(e2.message, "HTTP 404")
    }))

  it.live("a request without an answer times out as Transport and is aborted", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start(() => {})
      const e = failure(
        yield* withCluster(server, (c) => Effect.exit(c.create(Builtin.ConfigMap, cm("x", {}))), {
          timeout: Duration.millis(300)
        })
      )
      assert.strictEqual(e._tag, "Transport")
      assert.match(e.message, /^create v1\/ConfigMap default\/x: no response from https:\/\/127\.0\.0\.1:\d+ within 300ms$/)
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(server.abortedResponses(), 1)
    }))

  it.live("the request timeout does not count time spent obtaining credentials (a slow exec plugin)", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("x", {})))
      const got = yield* withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "x" }), {
        timeout: Duration.millis(200),
        credentials: Effect.sleep(Duration.millis(400)).pipe(
          Effect.as({ headers: { Authorization: Redacted.make("Bearer slow") } })
        )
      })
      assert.strictEqual(got.metadata.name, "x")
      assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer slow")
    }))

  it.live("connection refused is a Transport error (retried for reads, then returned)", () =>
    Effect.gen(function*() {
      const port = yield* Effect.callback<number>((resume) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
          const p = (s.address() as net.AddressInfo).port
          s.close(() => resume(Effect.succeed(p)))
        })
      })
      const fake = { url: `https://127.0.0.1:${port}` } as Loopback.LoopbackApiServer
      const e = failure(
        yield* withCluster(fake, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "x" })), {}, {
          retry: { maxAttempts: 2, baseDelay: "10 millis" }
        })
      )
      assert.strictEqual(e._tag, "Transport")
      assert.strictEqual(e.message, `get v1/ConfigMap default/x: connection refused: https://127.0.0.1:${port}`)
      assert.isTrue(ClusterError.isTransient(e))
    }))
})

/** A minimal HTTP CONNECT proxy on loopback that records each tunnel's target and Proxy-Authorization. */
const connectProxy = Effect.gen(function*() {
  const connects: Array<{ target: string; auth: string | undefined }> = []
  const proxy = yield* Effect.acquireRelease(
    Effect.callback<net.Server>((resume) => {
      const p = net.createServer((client) => {
        client.once("data", (head) => {
          const text = head.toString("latin1")
          const [line, ...headerLines] = text.split("\r\n")
          const target = line!.split(" ")[1]!
          const auth = headerLines.find((h) => h.toLowerCase().startsWith("proxy-authorization:"))?.slice(21).trim()
          connects.push({ target, auth })
          const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))]
          const upstream = net.connect(port, host, () => {
            client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
            upstream.pipe(client)
            client.pipe(upstream)
          })
          upstream.on("error", () => client.destroy())
          client.on("error", () => upstream.destroy())
        })
      })
      p.listen(0, "127.0.0.1", () => resume(Effect.succeed(p)))
    }),
    (p) => Effect.sync(() => p.close())
  )
  return { connects, port: (proxy.address() as net.AddressInfo).port }
})

describe("KubeCluster connections and TLS", () => {
  it.live("sequential requests reuse one keep-alive connection", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      yield* withCluster(server, (c) =>
        Effect.repeat(c.get(Builtin.ConfigMap, { name: "web" }), { times: 19 }))
      assert.strictEqual(server.requests.length, 20)
      assert.strictEqual(server.connections(), 1)
      assert.deepStrictEqual(new Set(server.requests.map((r) => r.connection)), new Set([1]))
    }))

  it.live("mTLS: the client certificate is presented; a rotated certificate gets a new pool", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      const c = Loopback.certs()
      let identity = { cert: c.clientCert, key: Redacted.make(c.clientKey) }
      yield* withCluster(server, (cluster) =>
        Effect.gen(function*() {
          yield* cluster.get(Builtin.ConfigMap, { name: "web" })
          yield* cluster.get(Builtin.ConfigMap, { name: "web" })
          identity = { cert: c.clientCert2, key: Redacted.make(c.clientKey2) }
          yield* cluster.get(Builtin.ConfigMap, { name: "web" })
        }), { credentials: Effect.sync(() => ({ headers: {}, clientCertificate: identity })) })
      assert.deepStrictEqual(server.requests.map((r) => r.clientCn), ["alice", "alice", "bob"])
      assert.deepStrictEqual(server.requests.map((r) => r.connection), [1, 1, 2])
      assert.isUndefined(server.requests[0]!.headers.authorization)
    }))

  it.live("a server certificate not signed by the configured CA fails with a clear Transport error", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      const e = failure(
        yield* withCluster(server, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "web" })), {
          tls: { ca: Loopback.certs().wrongCa, insecureSkipTlsVerify: false }
        })
      )
      assert.strictEqual(e._tag, "Transport")
      assert.match(
        e.message,
        /^get v1\/ConfigMap default\/web: TLS verification of https:\/\/127\.0\.0\.1:\d+ failed: .+ \(\w+\); the server certificate is not trusted by the certificate authority configured in test-kubeconfig \(context loopback\)$/
      )
      assert.isFalse(ClusterError.isTransient(e) && server.connections() > 1, "no retry storm on a wrong CA")
      assert.strictEqual(server.requests.length, 0)
    }))

  it.live("a server name the certificate does not carry fails verification; tls-server-name fixes it", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      const e = failure(
        yield* withCluster(server, (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "web" })), {
          tls: { ca: Loopback.certs().ca, serverName: "other.example", insecureSkipTlsVerify: false }
        })
      )
      assert.strictEqual(e._tag, "Transport")
      assert.include(e.message, "does not name this host")
      yield* withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), {
        tls: { ca: Loopback.certs().ca, serverName: "localhost", insecureSkipTlsVerify: false }
      })
      assert.strictEqual(server.requests.length, 1)
    }))

  it.live("insecureSkipTlsVerify accepts an untrusted server certificate", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      const got = yield* withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), {
        tls: { ca: Loopback.certs().wrongCa, insecureSkipTlsVerify: true }
      })
      assert.strictEqual(got.metadata.name, "web")
    }))

  it.live("interruption aborts the request: the server sees the connection closed", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start(() => {})
      yield* withCluster(server, (c) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(c.get(Builtin.ConfigMap, { name: "web" }))
          while (server.requests.length === 0) yield* Effect.sleep(Duration.millis(10))
          yield* Fiber.interrupt(fiber)
        }))
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(server.abortedResponses(), 1)
    }))

  it.live("HTTP CONNECT proxy: requests tunnel through it with Proxy-Authorization", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm("web", {})))
      const { connects, port: proxyPort } = yield* connectProxy
      yield* withCluster(server, (c) =>
        Effect.repeat(c.get(Builtin.ConfigMap, { name: "web" }), { times: 2 }), {
        proxyUrl: Redacted.make(`http://user:p%40ss@127.0.0.1:${proxyPort}`)
      })
      assert.strictEqual(server.requests.length, 3)
      assert.strictEqual(connects.length, 1, "the tunnel is a kept-alive connection")
      assert.strictEqual(connects[0]!.target, server.url.replace("https://", ""))
      assert.strictEqual(connects[0]!.auth, `Basic ${Buffer.from("user:p@ss").toString("base64")}`)
    }))

  it.live("an unsupported proxy scheme fails the layer build with a ConfigError that does not quote the URL", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start()
      const exit = yield* Effect.exit(
        withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "x" }), {
          proxyUrl: Redacted.make("ftp://user:hunter2@127.0.0.1:1080")
        })
      )
      const error = failure(exit) as { _tag: string; message: string }
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(
        error.message,
        "proxy-url in test-kubeconfig (context loopback): proxy scheme ftp: is not supported " +
          "(use http://, https://, socks5:// or socks5h://)"
      )
      assert.notInclude(JSON.stringify(error), "hunter2")
      assert.strictEqual(server.requests.length, 0)
    }))
})

describe("KubeCluster retry policy (TestClock)", () => {
  const throttled = (retryAfterSeconds?: number) =>
    new ClusterError.TooManyRequests({
      message: "throttled",
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds })
    })

  it.effect("follows Retry-After exactly and stops at maxAttempts", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      const fiber = yield* Effect.forkChild(
        Effect.exit(retrying(defaultRetry, "get")(
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            attempts.push(now)
            return Effect.fail(throttled(2))
          })
        ))
      )
      for (let i = 0; i < 5; i++) yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(failure(exit)._tag, "TooManyRequests")
      assert.deepStrictEqual(attempts, [0, 2000, 4000, 6000, 8000])
    }))

  it.effect("backs off exponentially (jittered, capped) without Retry-After, within the budget", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      const policy = { ...defaultRetry, maxAttempts: 10, budget: Duration.seconds(12) }
      const fiber = yield* Effect.forkChild(
        Effect.exit(retrying(policy, "list")(
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            attempts.push(now)
            return Effect.fail(new ClusterError.ServerError({ message: "etcd", status: 500 }))
          })
        ))
      )
      for (let i = 0; i < 200; i++) yield* TestClock.adjust("100 millis")
      yield* Fiber.join(fiber)
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!)
      // 200·2^n ms, capped at 5 s, times a factor in [0.5, 1)
      gaps.forEach((gap, n) => {
        const nominal = Math.min(200 * 2 ** n, 5000)
        assert.isTrue(gap >= nominal * 0.5 - 100 && gap <= nominal + 100, `gap ${n}: ${gap} vs ${nominal}`)
      })
      assert.isAtMost(attempts.at(-1)!, 12_000, "no try starts after the budget")
      assert.isBelow(attempts.length, 10)
    }))

  it("writes: 429 retried, a bare 5xx and a possibly-sent Transport failure are not", () => {
    assert.isTrue(shouldRetry("create", throttled()))
    assert.isFalse(shouldRetry("create", new ClusterError.ServerError({ message: "x", status: 500 })))
    assert.isTrue(shouldRetry("create", new ClusterError.ServerError({ message: "x", status: 503, retryAfterSeconds: 1 })))
    assert.isTrue(shouldRetry("get", new ClusterError.ServerError({ message: "x", status: 500 })))
    assert.isFalse(shouldRetry("get", new ClusterError.ServerError({ message: "x", status: 418 })))
    const io = new ClusterError.Transport({ message: "reset", cause: new HttpFailure({ kind: "io", message: "reset" }) })
    const refused = new ClusterError.Transport({ message: "refused", cause: new HttpFailure({ kind: "connect", message: "refused" }) })
    const tls = new ClusterError.Transport({ message: "tls", cause: new HttpFailure({ kind: "tls", message: "bad ca" }) })
    assert.isTrue(shouldRetry("list", io))
    assert.isFalse(shouldRetry("patch", io))
    assert.isTrue(shouldRetry("patch", refused))
    assert.isFalse(shouldRetry("get", tls))
    assert.isFalse(shouldRetry("get", new ClusterError.Transport({ message: "unreadable body" })))
    assert.isFalse(shouldRetry("get", new ClusterError.NotFound({ message: "x" })))
  })
})

describe("KubeCluster paths", () => {
  it("core, grouped, namespaced, cluster-scoped and subresource paths; query encoding", () => {
    assert.strictEqual(collectionPath(Builtin.ConfigMap, "a"), "/api/v1/namespaces/a/configmaps")
    assert.strictEqual(collectionPath(Builtin.Deployment, undefined), "/apis/apps/v1/deployments")
    assert.strictEqual(objectPath(Builtin.Namespace, "x", "team"), "/api/v1/namespaces/team")
    assert.strictEqual(objectPath(Widget, "n", "w/1", "status"), "/apis/example.com/v1/namespaces/n/widgets/w%2F1/status")
    assert.strictEqual(
      withQuery("/p", { labelSelector: "app in (a,b)", limit: 5, continue: undefined, watch: 1 }),
      "/p?labelSelector=app+in+%28a%2Cb%29&limit=5&watch=1"
    )
    assert.strictEqual(KubeCluster.patchContentType("json"), "application/json-patch+json")
    assert.strictEqual(KubeCluster.applyContentType, "application/apply-patch+yaml")
  })

  it.live("an http:// server (e.g. kubectl proxy), directly and through the CONNECT proxy, with keep-alive", () =>
    Effect.gen(function*() {
      let connections = 0
      const paths: Array<string> = []
      const plain = yield* Effect.acquireRelease(
        Effect.callback<http.Server>((resume) => {
          const srv = http.createServer((req, res) => {
            paths.push(req.url ?? "")
            Loopback.json(res, 200, cm("web", {}))
          })
          srv.on("connection", () => connections++)
          srv.listen(0, "127.0.0.1", () => resume(Effect.succeed(srv)))
        }),
        (srv) => Effect.sync(() => srv.close())
      )
      const url = `http://127.0.0.1:${(plain.address() as net.AddressInfo).port}`
      const fake = { url } as Loopback.LoopbackApiServer
      yield* withCluster(fake, (c) => Effect.repeat(c.get(Builtin.ConfigMap, { name: "web" }), { times: 2 }))
      assert.strictEqual(connections, 1)
      const { connects, port } = yield* connectProxy
      yield* withCluster(fake, (c) => Effect.repeat(c.get(Builtin.ConfigMap, { name: "web" }), { times: 2 }), {
        proxyUrl: Redacted.make(`http://127.0.0.1:${port}`)
      })
      assert.strictEqual(paths.length, 6)
      assert.strictEqual(connections, 2)
      assert.deepStrictEqual(connects, [{ target: url.replace("http://", ""), auth: undefined }])
    }))
})
