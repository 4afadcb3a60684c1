import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Http from "../src/internal/http.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

/** Collects garbage after the current job, when WeakRefs made in it may be cleared. */
const collect = Effect.promise(async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
})

describe("Http.exchange", () => {
  it.live("a finished exchange leaves nothing holding its response, though the keep-alive socket lives on", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, { items: Array.from({ length: 50 }, (_, i) => ({ i })) }))
      const pool = Http.makePool({
        server: new URL(server.url),
        tls: { ca: Loopback.certs().ca, insecureSkipTlsVerify: false },
        proxy: undefined,
        source: "test"
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => pool.destroy()))
      const agent = pool.agentFor(undefined)
      const request: Http.HttpRequest = { method: "GET", path: "/api/v1/configmaps", headers: { accept: "application/json" } }
      // The first request of a TLS socket is the one Node keeps reachable through the socket's session listener.
      // With a timeout, as the client sends it: the timeout's fiber ends holding the response as its result.
      const ref = yield* Effect.map(Http.exchange(pool, agent, request).pipe(Effect.timeoutOption("10 seconds")), (answer) => {
        assert.isTrue(Option.isSome(answer))
        const first = Option.getOrThrow(answer)
        assert.strictEqual(first.status, 200)
        return new WeakRef(first)
      })
      const again = yield* Http.exchange(pool, agent, request)
      assert.strictEqual(again.status, 200)
      assert.strictEqual(server.connections(), 1, "the socket was kept alive and reused")
      yield* collect
      assert.isUndefined(ref.deref(), "the first response is garbage once its caller dropped it")
    }).pipe(Effect.scoped))

  it.live("an error status is answered with its body; a refused connection is a connect failure", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 404, Loopback.status(404, "NotFound", "gone")))
      const pool = Http.makePool({
        server: new URL(server.url),
        tls: { ca: Loopback.certs().ca, insecureSkipTlsVerify: false },
        proxy: undefined,
        source: "test"
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => pool.destroy()))
      const res = yield* Http.exchange(pool, pool.agentFor(undefined), { method: "GET", path: "/x", headers: {} })
      assert.strictEqual(res.status, 404)
      assert.include(res.text, "\"reason\":\"NotFound\"")
    }).pipe(Effect.scoped))
})
