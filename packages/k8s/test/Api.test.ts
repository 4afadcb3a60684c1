import { assert, describe, it } from "@effect/vitest"
import { Builtin, Resource } from "@kubefx/core"
import { Effect, Exit, Layer, Schema, Stream } from "effect"
import * as Api from "../src/Api.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"
import * as MiniApi from "./support/MiniApi.ts"

/** Size travels as a string on the wire and is a number in code: proves both decode and encode run. */
const Widget = Resource.custom({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  spec: Schema.Struct({ size: Schema.NumberFromString, color: Schema.Literals(["red", "blue"]) }),
  status: Schema.Struct({ ready: Schema.Boolean })
})
const Widgets = Api.custom(Widget)

const live = (server: Loopback.LoopbackApiServer) => KubeCluster.layer.pipe(Layer.provide(Loopback.clientConfig(server)))

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return reason.error
}

const widget = (name: string, size: number): Resource.CustomObject<typeof Widget.spec.Type, typeof Widget.status.Type> => ({
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name, namespace: "team" },
  spec: { size, color: "red" }
})

describe("Api", () => {
  it.live("custom resources: writes encode with the spec Schema, reads decode", () =>
    Effect.gen(function*() {
      const api = MiniApi.make()
      const server = yield* Loopback.start(api.handler)
      yield* Effect.gen(function*() {
        const created = yield* Widgets.create(widget("w1", 3))
        assert.strictEqual(created.spec.size, 3)
        assert.deepStrictEqual(JSON.parse(server.requests[0]!.body).spec, { size: "3", color: "red" }, "encoded on the wire")
        const withStatus = yield* Widgets.replaceStatus({ ...created, status: { ready: true } })
        assert.deepStrictEqual(withStatus.status, { ready: true })
        const got = yield* Widgets.get({ namespace: "team", name: "w1" })
        assert.strictEqual(got.spec.size, 3)
        yield* Widgets.create(widget("w2", 5))
        const page = yield* Widgets.list({ namespace: "team" })
        assert.deepStrictEqual(page.items.map((w) => [w.metadata.name, w.spec.size, w.apiVersion]), [
          ["w1", 3, "example.com/v1"],
          ["w2", 5, "example.com/v1"]
        ])
        const patched = yield* Widgets.patch({ namespace: "team", name: "w2" }, { type: "merge", body: { spec: { size: "9" } } })
        assert.strictEqual(patched.spec.size, 9)
        const deleted = yield* Widgets.delete({ namespace: "team", name: "w2" })
        assert.strictEqual(deleted.metadata.name, "w2")
      }).pipe(Effect.provide(live(server)))
    }))

  it.live("an object that does not match the Schema is a DecodeError naming it", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) =>
        Loopback.json(res, 200, { ...widget("w1", 1), spec: { size: "1", color: "green" } })
      )
      const error = failure(yield* Effect.exit(Widgets.get({ namespace: "team", name: "w1" }).pipe(Effect.provide(live(server)))))
      assert.strictEqual(error._tag, "DecodeError")
      assert.strictEqual((error as Api.DecodeError).name, "w1")
      assert.include(error.message, "decode example.com/v1/Widget team/w1:")
      assert.include(error.message, `["spec"]["color"]`)
    }))

  it.live("a value the Schema cannot encode is an EncodeError and nothing is sent", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start()
      const NoEnvelope = Api.make(Builtin.ConfigMap, Schema.Struct({ data: Schema.Record(Schema.String, Schema.String) }))
      const error = failure(yield* Effect.exit(NoEnvelope.create({ data: { a: "1" } }).pipe(Effect.provide(live(server)))))
      assert.strictEqual(error._tag, "EncodeError")
      assert.include(error.message, "does not produce an object with apiVersion, kind and metadata")
      assert.strictEqual(server.requests.length, 0)
    }))

  it.live("watch decodes objects and passes bookmarks through", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.write(`${JSON.stringify({ type: "ADDED", object: { ...widget("w1", 1), spec: { size: "4", color: "blue" } } })}\n`)
        res.end(`${JSON.stringify({ type: "BOOKMARK", object: { apiVersion: "example.com/v1", kind: "Widget", metadata: { resourceVersion: "12" } } })}\n`)
      })
      const events = yield* Stream.runCollect(Widgets.watch({ resourceVersion: "1", allowBookmarks: true })).pipe(
        Effect.provide(live(server))
      )
      assert.strictEqual(events.length, 2)
      const [added, bookmark] = events
      assert.isTrue(added!.type === "ADDED" && added!.object.spec.size === 4 && added!.object.spec.color === "blue")
      assert.strictEqual(bookmark!.object.metadata.resourceVersion, "12")
    }))
})
