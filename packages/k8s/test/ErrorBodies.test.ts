import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { Effect, Layer, Redacted } from "effect"
import { scrub, snippet, snippetLength } from "../src/internal/client.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"

const token = "tok-SECRET-4242"

const getWeb = (server: Loopback.LoopbackApiServer) =>
  Effect.gen(function*() {
    return yield* (yield* Cluster.Cluster).get(Builtin.ConfigMap, { name: "web" })
  }).pipe(
    Effect.provide(KubeCluster.layerOptions({ retry: { maxAttempts: 1 } }).pipe(Layer.provide(Loopback.clientConfig(server, {
      credentials: Effect.succeed({ headers: { Authorization: Redacted.make(`Bearer ${token}`) } })
    })))),
    Effect.flip
  )

describe("error bodies that are not a Kubernetes Status", () => {
  it.live("are quoted only up to a short bound, without markup and without the request's headers", () =>
    Effect.gen(function*() {
      // A proxy's error page that echoes the request, headers and all, with a long tail.
      const server = yield* Loopback.start((req, res) => {
        const echo = Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`).join("\n")
        res.writeHead(502, { "content-type": "text/html" })
        res.end(`<html><head><style>p{}</style></head><body><h1>Bad gateway</h1><pre>${echo}</pre>${"<p>x</p>".repeat(5000)}</body></html>`)
      })
      const error = yield* getWeb(server)
      assert.strictEqual(error._tag, "ServerError")
      assert.match(error.message, /^get v1\/ConfigMap default\/web: HTTP 502: Bad gateway /)
      assert.notInclude(error.message, token)
      assert.notInclude(error.message, "<")
      assert.isAtMost(error.message.length, "get v1/ConfigMap default/web: HTTP 502: ".length + snippetLength + 1)
      assert.notInclude(JSON.stringify(error) + String(error), token)
    }))

  it.live("a Status-shaped answer that quotes the token has it removed too", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((req, res) =>
        Loopback.json(res, 400, Loopback.status(400, "BadRequest", `rejected header ${String(req.headers.authorization)}`)))
      const error = yield* getWeb(server)
      assert.strictEqual(error.message, "get v1/ConfigMap default/web: rejected header [redacted]")
    }))

  it("scrub removes the request's secrets and any echoed credential header; snippet bounds", () => {
    assert.strictEqual(scrub("seen abcd1234 here", ["abcd1234"]), "seen [redacted] here")
    assert.strictEqual(
      scrub("Proxy-Authorization: Basic dXNlcjpwYXNz\nCookie=session=1", []),
      "Proxy-Authorization: [redacted]\nCookie=[redacted]"
    )
    assert.strictEqual(snippet("a".repeat(500)).length, snippetLength + 1)
  })
})
