import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import type * as http from "node:http"
import { Duration, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"

const watchWith = <A, E, R>(
  server: Loopback.LoopbackApiServer,
  f: (cluster: Cluster.Cluster["Service"]) => Effect.Effect<A, E, R>,
  options: KubeCluster.Options = {},
  config: Parameters<typeof Loopback.clientConfig>[1] = {}
) =>
  Effect.gen(function*() {
    return yield* f(yield* Cluster.Cluster)
  }).pipe(Effect.provide(KubeCluster.layerOptions(options).pipe(Layer.provide(Loopback.clientConfig(server, config)))))

/**
 * Waits in real time (socket I/O) while the test's own clock stands still: polls `check` every 5 ms, for at
 * most 5 s. For tests under `TestClock`, where `Effect.sleep` would wait for the clock.
 */
const until = (what: string, check: () => boolean) =>
  Effect.promise(() =>
    new Promise<void>((resolve, reject) => {
      const started = Date.now()
      const poll = () => {
        if (check()) return resolve()
        if (Date.now() - started > 5000) return reject(new Error(`timed out waiting until ${what}`))
        setTimeout(poll, 5)
      }
      poll()
    })
  )

/** Under `TestClock` the client's request timeout must not fire while the test moves the clock by minutes. */
const patient = { timeout: Duration.hours(1) }

const cmObject = (name: string, rv: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", resourceVersion: rv }
})
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`

const startStream = (res: http.ServerResponse) =>
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" })

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

const base: Cluster.WatchOptions = { resourceVersion: "5" }

describe("KubeCluster.watch", () => {
  it.live("streams events (lines split across chunks), bookmarks, and ends when the server ends", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        const modified = line("MODIFIED", cmObject("a", "7"))
        res.write(line("ADDED", cmObject("a", "6")) + modified.slice(0, 10))
        setTimeout(() => {
          res.write(modified.slice(10))
          res.write(line("BOOKMARK", { apiVersion: "v1", kind: "ConfigMap", metadata: { resourceVersion: "9" } }))
          res.end(line("DELETED", cmObject("a", "10")))
        }, 20)
      })
      const events = yield* watchWith(server, (c) =>
        Stream.runCollect(c.watch(Builtin.ConfigMap, {
          resourceVersion: "5",
          namespace: "default",
          allowBookmarks: true,
          timeoutSeconds: 30,
          labelSelector: "app=web",
          fieldSelector: "metadata.name=a"
        })))
      assert.deepStrictEqual(events.map((e) => `${e.type} ${e.object.metadata.resourceVersion}`), [
        "ADDED 6",
        "MODIFIED 7",
        "BOOKMARK 9",
        "DELETED 10"
      ])
      assert.deepStrictEqual(events[0]!.object, cmObject("a", "6"))
      const [r] = server.requests
      assert.strictEqual(r!.path, "/api/v1/namespaces/default/configmaps")
      assert.deepStrictEqual(Object.fromEntries(r!.query), {
        watch: "1",
        resourceVersion: "5",
        allowWatchBookmarks: "true",
        timeoutSeconds: "30",
        labelSelector: "app=web",
        fieldSelector: "metadata.name=a"
      })
    }))

  it.live("each request asks the server for 45 s (3/4 of the 60 s stall timeout); a request ended within 1 s ends the stream", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.end()
      })
      const events = yield* watchWith(server, (c) =>
        Effect.gen(function*() {
          const out = []
          for (let i = 0; i < 3; i++) out.push(...(yield* Stream.runCollect(c.watch(Builtin.ConfigMap, base))))
          out.push(...(yield* Stream.runCollect(c.watch(Builtin.ConfigMap, { ...base, timeoutSeconds: 600 }))))
          return out
        }))
      assert.strictEqual(events.length, 0)
      assert.deepStrictEqual(server.requests.map((r) => r.query.get("timeoutSeconds")), ["45", "45", "45", "45"])
      assert.isNull(server.requests[0]!.query.get("allowWatchBookmarks"), "no bookmarks unless asked")
      assert.strictEqual(server.requests[0]!.path, "/api/v1/configmaps", "all namespaces")
    }))

  it.live("watchStallTimeout infinity: no stall detection, one request for the whole timeout", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.end()
      })
      yield* watchWith(server, (c) => Stream.runDrain(c.watch(Builtin.ConfigMap, { ...base, timeoutSeconds: 600 })), {
        watchStallTimeout: Duration.infinity
      })
      assert.deepStrictEqual(server.requests.map((r) => r.query.get("timeoutSeconds")), ["600"])
    }))

  it.effect("by default a connection silent for 60 s (half-open) fails the watch with Transport, and not sooner", () =>
    Effect.gen(function*() {
      // The server never ends the response, whatever timeout was asked for: what a dead peer looks like.
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.write(line("ADDED", cmObject("a", "6")))
      })
      const seen: Array<string> = []
      const fiber = yield* watchWith(
        server,
        (c) => Effect.forkChild(Effect.exit(Stream.runForEach(c.watch(Builtin.ConfigMap, base), (e) => Effect.sync(() => seen.push(e.type))))),
        {},
        patient
      )
      yield* until("the first event arrived", () => seen.length === 1)
      yield* TestClock.adjust("59 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "59 s of silence is not yet a dead connection")
      yield* TestClock.adjust("1 second")
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "Transport")
      assert.include(error.message, "watch v1/ConfigMap: the watch stalled: no data for 1m")
      assert.strictEqual(server.requests[0]!.query.get("timeoutSeconds"), "45")
      yield* until("the dead request was aborted", () => server.abortedResponses() === 1)
    }))

  it.effect("by default a quiet healthy watch is never failed: each 45 s request the server ends is resumed from the last version", () =>
    Effect.gen(function*() {
      const open: Array<http.ServerResponse> = []
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        if (open.length === 0) res.write(line("ADDED", cmObject("a", "6")))
        if (open.length === 1) res.write(line("BOOKMARK", { apiVersion: "v1", kind: "ConfigMap", metadata: { resourceVersion: "9" } }))
        open.push(res)
      })
      const fiber = yield* watchWith(
        server,
        (c) => Effect.forkChild(Stream.runCollect(c.watch(Builtin.ConfigMap, { ...base, allowBookmarks: true, timeoutSeconds: 150 }))),
        {},
        patient
      )
      // The server ends each request when the timeout it was asked for has passed; between those ends, nothing.
      for (let n = 1; n <= 4; n++) {
        yield* until(`request ${n} arrived`, () => open.length === n)
        yield* TestClock.adjust(Duration.seconds(Number(server.requests[n - 1]!.query.get("timeoutSeconds"))))
        assert.isUndefined(fiber.pollUnsafe(), `not failed during request ${n}`)
        open[n - 1]!.end()
      }
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(events.map((e) => `${e.type} ${e.object.metadata.resourceVersion}`), ["ADDED 6", "BOOKMARK 9"])
      assert.deepStrictEqual(
        server.requests.map((r) => `${r.query.get("resourceVersion")}/${r.query.get("timeoutSeconds")}`),
        ["5/45", "6/45", "9/45", "9/15"],
        "resumed from the last version seen; the stream lasts the 150 s asked for"
      )
      assert.strictEqual(server.abortedResponses(), 0)
    }))

  it.effect("a request left without an exact version to resume from (\"0\") ends the stream", () =>
    Effect.gen(function*() {
      const open: Array<http.ServerResponse> = []
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        open.push(res)
      })
      const fiber = yield* watchWith(
        server,
        (c) => Effect.forkChild(Stream.runCollect(c.watch(Builtin.ConfigMap, { resourceVersion: "0", timeoutSeconds: 300 }))),
        {},
        patient
      )
      yield* until("the request arrived", () => open.length === 1)
      yield* TestClock.adjust("45 seconds")
      open[0]!.end()
      assert.strictEqual((yield* Fiber.join(fiber)).length, 0)
      assert.strictEqual(server.requests.length, 1)
    }))

  it.live("on the real clock, a silent server that ends requests on time keeps a short-stall watch up", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((req, res) => {
        startStream(res)
        const end = setTimeout(() => res.end(), Number(req.query.get("timeoutSeconds")) * 1000)
        res.on("close", () => clearTimeout(end))
      })
      const started = Date.now()
      const events = yield* watchWith(
        server,
        (c) => Stream.runCollect(c.watch(Builtin.ConfigMap, { ...base, timeoutSeconds: 3 })),
        { watchStallTimeout: "1500 millis" }
      )
      assert.strictEqual(events.length, 0)
      assert.deepStrictEqual(server.requests.map((r) => r.query.get("timeoutSeconds")), ["1", "1", "1"])
      assert.isAtLeast(Date.now() - started, 2900)
      assert.strictEqual(server.abortedResponses(), 0, "no request was torn down")
    }), 10_000)

  it.live("an ERROR event carrying a 410 Status fails the stream with Gone, after the events before it", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.write(line("ADDED", cmObject("a", "6")))
        res.write(line("ERROR", Loopback.status(410, "Expired", "too old resource version: 5 (8)")))
        // a real server closes here; keep the connection open to prove the error alone ends the stream
      })
      const seen: Array<string> = []
      const exit = yield* watchWith(server, (c) =>
        Effect.exit(Stream.runForEach(c.watch(Builtin.ConfigMap, base), (e) => Effect.sync(() => seen.push(e.type)))))
      const error = failure(exit)
      assert.deepStrictEqual(seen, ["ADDED"])
      assert.strictEqual(error._tag, "Gone")
      assert.include(error.message, "watch v1/ConfigMap: too old resource version: 5 (8)")
    }))

  it.live("an HTTP 410 answer is Gone", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) =>
        Loopback.json(res, 410, Loopback.status(410, "Gone", "resourceVersion too old"))
      )
      const error = failure(yield* watchWith(server, (c) => Effect.exit(Stream.runDrain(c.watch(Builtin.ConfigMap, base)))))
      assert.strictEqual(error._tag, "Gone")
      assert.strictEqual(server.requests.length, 1, "Gone is not retried")
    }))

  it.live("an undecodable line fails the stream with Transport; nothing is dropped silently", () =>
    Effect.gen(function*() {
      const cases = [
        "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\"", // truncated JSON
        JSON.stringify({ type: "RENAMED", object: cmObject("a", "1") }),
        JSON.stringify({ type: "ADDED", object: { apiVersion: "v1", kind: "ConfigMap" } }) // no metadata
      ]
      for (const bad of cases) {
        const server = yield* Loopback.start((_, res) => {
          startStream(res)
          res.write(line("ADDED", cmObject("a", "6")))
          res.end(`${bad}\n${line("ADDED", cmObject("b", "7"))}`)
        })
        const seen: Array<string> = []
        const exit = yield* watchWith(server, (c) =>
          Effect.exit(
            Stream.runForEach(c.watch(Builtin.ConfigMap, base), (e) => Effect.sync(() => seen.push(e.object.metadata.name!)))
          ))
        const error = failure(exit)
        assert.strictEqual(error._tag, "Transport")
        assert.include(error.message, "watch v1/ConfigMap: undecodable watch event")
        assert.strictEqual(error._tag === "Transport" ? error.reason : undefined, "UndecodableEvent", "so the Watcher relists")
        assert.deepStrictEqual(seen, ["a"], "the stream stops at the bad line")
      }
    }))

  it.live("a stalled watch (no bytes for the stall timeout) fails with Transport", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.write(line("ADDED", cmObject("a", "6")))
      })
      const started = Date.now()
      const seen: Array<string> = []
      const exit = yield* watchWith(
        server,
        (c) => Effect.exit(Stream.runForEach(c.watch(Builtin.ConfigMap, base), (e) => Effect.sync(() => seen.push(e.type)))),
        { watchStallTimeout: "300 millis" }
      )
      const error = failure(exit)
      assert.strictEqual(error._tag, "Transport")
      assert.include(error.message, "watch v1/ConfigMap: the watch stalled: no data for 300ms")
      assert.deepStrictEqual(seen, ["ADDED"])
      assert.isAtLeast(Date.now() - started, 290)
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(server.abortedResponses(), 1, "the stalled request is aborted")
    }))

  it.live("bookmarks arriving within the stall timeout keep the watch alive", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        let n = 0
        const tick = setInterval(() => {
          n++
          const bookmark = line("BOOKMARK", { apiVersion: "v1", kind: "ConfigMap", metadata: { resourceVersion: String(n) } })
          if (n === 6) {
            clearInterval(tick)
            res.end(bookmark)
          } else res.write(bookmark)
        }, 100)
        res.on("close", () => clearInterval(tick))
      })
      const events = yield* watchWith(
        server,
        (c) => Stream.runCollect(c.watch(Builtin.ConfigMap, { ...base, allowBookmarks: true })),
        { watchStallTimeout: "300 millis" }
      )
      assert.strictEqual(events.length, 6)
      assert.isTrue(events.every((e) => e.type === "BOOKMARK"))
    }))

  it.live("interrupting the consumer aborts the watch request: the server sees the connection closed", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.write(line("ADDED", cmObject("a", "6")))
      })
      const first = yield* watchWith(server, (c) => Stream.runHead(c.watch(Builtin.ConfigMap, base)))
      assert.strictEqual(first._tag, "Some")
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(server.abortedResponses(), 1)
    }))

  it.live("opening the watch is retried on 5xx; events then flow", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* Loopback.start((_, res) => {
        if (++calls === 1) return Loopback.json(res, 503, Loopback.status(503, "ServiceUnavailable", "starting"))
        startStream(res)
        res.end(line("ADDED", cmObject("a", "6")))
      })
      const events = yield* watchWith(server, (c) => Stream.runCollect(c.watch(Builtin.ConfigMap, base)), {
        retry: { baseDelay: "10 millis" }
      })
      assert.strictEqual(events.length, 1)
      assert.strictEqual(server.requests.length, 2)
    }))

  it.live("a watch cut off mid-response fails with Transport", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        startStream(res)
        res.write(line("ADDED", cmObject("a", "6")))
        setTimeout(() => res.socket?.destroy(), 20)
      })
      const error = failure(yield* watchWith(server, (c) => Effect.exit(Stream.runDrain(c.watch(Builtin.ConfigMap, base)))))
      assert.strictEqual(error._tag, "Transport")
      assert.match(error.message, /^watch v1\/ConfigMap: connection to https:\/\/127\.0\.0\.1:\d+ was reset \(aborted\)$/)
    }))
})
