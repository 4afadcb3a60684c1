/**
 * The README's five-minute tutorial, as a test: if this file changes, change the README with it.
 */
// --- tutorial: begin ---
import { describe, expect, it } from "@effect/vitest"
import { Builtin, Child, Cluster, type Handler, Operator, Resource } from "@kubefx/core"
import { FakeCluster, Laws, TestKit } from "@kubefx/testkit"
import { Effect, Layer, Schema } from "effect"

// 1. The parent type: a custom resource described by Schemas (the CRD is generated from them).
const Greeting = Resource.custom({
  group: "tutorial.example.com", version: "v1", kind: "Greeting", plural: "greetings",
  spec: Schema.Struct({ name: Schema.String, shout: Schema.optionalKey(Schema.Boolean) }),
  status: Schema.Struct({ text: Schema.optionalKey(Schema.String) })
})
type Spec = typeof Greeting.spec.Type
type Status = typeof Greeting.status.Type

// 2. The handler: a pure function from what exists to what should exist.
const sync = (req: Handler.SyncRequest<Spec, Status>) =>
  Effect.sync(() => {
    const text = `Hello, ${req.parent.spec.name}!`
    const shown = req.parent.spec.shout ? text.toUpperCase() : text
    return {
      status: { text: shown },
      children: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${req.parent.metadata.name}-greeting` }, data: { text: shown } }]
    }
  })

// 3. The operator: the parent, the children it owns, the handler.
const GreetingOperator = Operator.make({
  name: "greeting-operator",
  parent: Greeting,
  children: [Child.of(Builtin.ConfigMap)],
  sync
})

// 4. Test it against the in-memory cluster, under the TestClock.
const testCluster = Layer.mergeAll(FakeCluster.layer({ types: [Greeting] }), TestKit.TestKit.layer)

describe("greeting operator", () => {
  it.effect("writes the greeting into a ConfigMap", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* TestKit.run(GreetingOperator)
      yield* cluster.create(Greeting, {
        apiVersion: Greeting.apiVersion, kind: Greeting.kind,
        metadata: { name: "world", namespace: "default" }, spec: { name: "World", shout: true }
      })
      yield* TestKit.settle()
      const cm = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "world-greeting" })
      expect(cm.data).toEqual({ text: "HELLO, WORLD!" })
    }).pipe(Effect.provide(testCluster)))

  // 5. And check the operator laws on random histories generated from the spec Schema.
  it.effect("obeys the operator laws", () => Laws.check(GreetingOperator))
})
// --- tutorial: end ---
