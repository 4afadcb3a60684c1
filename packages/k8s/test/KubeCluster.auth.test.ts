/**
 * How the live `Cluster` uses what `ClientConfig` provides beyond a static token: one retry with refreshed
 * credentials after a 401, and repeated headers (`multiHeaders`) sent as separate header lines.
 */
import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster, type ClusterError } from "@kubefx/core"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import type * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Layer, Redacted, Stream } from "effect"
import * as ClientConfig from "../src/ClientConfig.ts"
import { AuthError } from "../src/ClientConfigError.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"

const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web", namespace: "default", resourceVersion: "1" } }

const unauthorized = (res: http.ServerResponse) => Loopback.json(res, 401, Loopback.status(401, "Unauthorized", "Unauthorized"))

/** A server that accepts only `Bearer <token>` and answers every accepted request with `ok`. */
const acceptingOnly = (token: string, ok: (req: Loopback.Recorded, res: http.ServerResponse) => void) =>
  Loopback.start((req, res) => (req.headers.authorization === `Bearer ${token}` ? ok(req, res) : unauthorized(res)))

/** Credentials that start as `stale` and become `fresh` when refreshed; counts the refreshes. */
const rotating = (stale: string, fresh: string) => {
  const state = { token: stale, refreshes: 0 }
  const current = Effect.sync((): ClientConfig.Credentials => ({ headers: { Authorization: Redacted.make(`Bearer ${state.token}`) } }))
  return {
    state,
    overrides: {
      credentials: current,
      refreshCredentials: Effect.suspend(() => {
        state.refreshes++
        state.token = fresh
        return current
      })
    }
  }
}

const withCluster = <A, E>(
  config: Layer.Layer<ClientConfig.ClientConfig, unknown>,
  f: (cluster: Cluster.Cluster["Service"]) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    return yield* f(yield* Cluster.Cluster)
  }).pipe(Effect.provide(KubeCluster.layer.pipe(Layer.provide(config))), Effect.orDie)

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

const authorizations = (server: Loopback.LoopbackApiServer) => server.requests.map((r) => r.headers.authorization)

describe("KubeCluster credentials", () => {
  it.live("a 401 refreshes the credentials once and retries the request once with them", () =>
    Effect.gen(function*() {
      const server = yield* acceptingOnly("fresh", (_, res) => Loopback.json(res, 200, configMap))
      const creds = rotating("stale", "fresh")
      yield* withCluster(Loopback.clientConfig(server, creds.overrides), (c) =>
        Effect.gen(function*() {
          const got = yield* c.get(Builtin.ConfigMap, { name: "web" })
          assert.strictEqual(got.metadata.name, "web")
          // later calls use the refreshed credentials directly
          yield* c.get(Builtin.ConfigMap, { name: "web" })
        }))
      assert.deepStrictEqual(authorizations(server), ["Bearer stale", "Bearer fresh", "Bearer fresh"])
      assert.strictEqual(creds.state.refreshes, 1)
    }))

  it.live("refreshed credentials rejected again: a typed Unauthorized naming the config source, no token", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => unauthorized(res))
      const creds = rotating("s3cr3t-stale", "s3cr3t-fresh")
      const error = yield* withCluster(Loopback.clientConfig(server, creds.overrides), (c) =>
        Effect.exit(c.create(Builtin.ConfigMap, configMap))).pipe(Effect.map(failure))
      assert.strictEqual(error._tag, "Unauthorized")
      assert.strictEqual(
        error.message,
        "create v1/ConfigMap default/web: Unauthorized " +
          "(credentials from test-kubeconfig (context loopback); they were refreshed and rejected again)"
      )
      assert.notInclude(JSON.stringify(error), "s3cr3t")
      assert.deepStrictEqual(authorizations(server), ["Bearer s3cr3t-stale", "Bearer s3cr3t-fresh"])
      assert.strictEqual(creds.state.refreshes, 1)
    }))

  it.live("without refreshCredentials a 401 is returned at once; a failed refresh is Unauthorized naming the source", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => unauthorized(res))
      const plain = failure(yield* withCluster(Loopback.clientConfig(server), (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "web" }))))
      assert.strictEqual(plain._tag, "Unauthorized")
      assert.strictEqual(server.requests.length, 1)

      const broken = failure(
        yield* withCluster(
          Loopback.clientConfig(server, {
            refreshCredentials: Effect.fail(new AuthError({ source: "exec plugin", message: "plugin exited with 1" }))
          }),
          (c) => Effect.exit(c.get(Builtin.ConfigMap, { name: "web" }))
        )
      )
      assert.strictEqual(broken._tag, "Unauthorized")
      assert.include(broken.message, "cannot obtain credentials from test-kubeconfig (context loopback): plugin exited with 1")
      assert.strictEqual(server.requests.length, 2, "nothing is sent without credentials")
    }))

  it.live("a 403 is not retried: refreshing cannot grant a permission", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 403, Loopback.status(403, "Forbidden", "forbidden")))
      const creds = rotating("a", "b")
      const error = failure(yield* withCluster(Loopback.clientConfig(server, creds.overrides), (c) =>
        Effect.exit(c.get(Builtin.ConfigMap, { name: "web" }))))
      assert.strictEqual((error as ClusterError.ClusterError)._tag, "Forbidden")
      assert.strictEqual(server.requests.length, 1)
      assert.strictEqual(creds.state.refreshes, 0)
    }))

  it.live("a watch answered 401 is reopened with refreshed credentials", () =>
    Effect.gen(function*() {
      const server = yield* acceptingOnly("fresh", (_, res) => {
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" })
        res.end(`${JSON.stringify({ type: "ADDED", object: configMap })}\n`)
      })
      const creds = rotating("stale", "fresh")
      const events = yield* withCluster(Loopback.clientConfig(server, creds.overrides), (c) =>
        Stream.runCollect(c.watch(Builtin.ConfigMap, { resourceVersion: "0", timeoutSeconds: 30 })))
      assert.deepStrictEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ["ADDED web"])
      assert.deepStrictEqual(authorizations(server), ["Bearer stale", "Bearer fresh"])
      assert.strictEqual(creds.state.refreshes, 1)
    }))

  it.live("concurrent calls rejected with the same credentials share one refresh", () =>
    Effect.gen(function*() {
      // Both stale requests are held until both have arrived, so both are rejected with the same token.
      const held: Array<http.ServerResponse> = []
      const server = yield* Loopback.start((req, res) => {
        if (req.headers.authorization === "Bearer fresh") return Loopback.json(res, 200, configMap)
        held.push(res)
        if (held.length === 2) held.forEach(unauthorized)
      })
      const creds = rotating("stale", "fresh")
      yield* withCluster(Loopback.clientConfig(server, creds.overrides), (c) =>
        Effect.all([c.get(Builtin.ConfigMap, { name: "web" }), c.get(Builtin.ConfigMap, { name: "web" })], {
          concurrency: 2
        }))
      assert.strictEqual(creds.state.refreshes, 1)
      assert.deepStrictEqual(authorizations(server), ["Bearer stale", "Bearer stale", "Bearer fresh", "Bearer fresh"])
    }))

  it.live("a rotated token file: the 401 makes ClientConfig re-read it before its max age", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "kubefx-token-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      const tokenFile = join(dir, "token")
      writeFileSync(tokenFile, "old-token\n")
      const server = yield* acceptingOnly("new-token", (_, res) => Loopback.json(res, 200, configMap))
      const config = ClientConfig.layer({
        operatorName: "auth-test",
        server: server.url,
        ca: Loopback.certs().ca,
        auth: { tokenFile },
        tokenFileMaxAge: "1 hour"
      })
      yield* withCluster(config, (c) =>
        Effect.gen(function*() {
          yield* c.get(Builtin.ConfigMap, { name: "web" }).pipe(Effect.flip)
          writeFileSync(tokenFile, "new-token\n")
          yield* c.get(Builtin.ConfigMap, { name: "web" })
        }))
      assert.deepStrictEqual(authorizations(server), [
        "Bearer old-token",
        "Bearer old-token", // same token from the file: rejected again
        "Bearer old-token",
        "Bearer new-token"
      ])
    }))
})

describe("KubeCluster repeated headers", () => {
  const headerLines = (r: Loopback.Recorded, name: string) =>
    r.rawHeaders.flatMap((value, i) => (i % 2 === 1 && r.rawHeaders[i - 1]!.toLowerCase() === name ? [value] : []))

  it.live("impersonated groups and extras from ClientConfig go out as one header line per value", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, configMap))
      const config = ClientConfig.layer({
        operatorName: "auth-test",
        server: server.url,
        ca: Loopback.certs().ca,
        auth: { token: Redacted.make("t0ken") },
        impersonate: {
          user: "jane",
          // a comma inside a value shows why the lines must not be joined
          groups: ["developers", "team,a"],
          extra: { scopes: ["view", "edit"] }
        }
      })
      yield* withCluster(config, (c) => c.get(Builtin.ConfigMap, { name: "web" }))
      const [r] = server.requests
      assert.deepStrictEqual(headerLines(r!, "impersonate-group"), ["developers", "team,a"])
      assert.deepStrictEqual(headerLines(r!, "impersonate-extra-scopes"), ["view", "edit"])
      assert.deepStrictEqual(headerLines(r!, "impersonate-user"), ["jane"])
      assert.deepStrictEqual(headerLines(r!, "authorization"), ["Bearer t0ken"])
    }))

  it.live("a header with no values is not sent", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, configMap))
      yield* withCluster(
        Loopback.clientConfig(server, {
          credentials: Effect.succeed({ headers: {}, multiHeaders: { "Impersonate-Group": [], "X-Two": ["1", "2"] } })
        }),
        (c) => c.get(Builtin.ConfigMap, { name: "web" })
      )
      const [r] = server.requests
      assert.deepStrictEqual(headerLines(r!, "impersonate-group"), [])
      assert.deepStrictEqual(headerLines(r!, "x-two"), ["1", "2"])
    }))
})
