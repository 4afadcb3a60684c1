import { assert, describe, it } from "@effect/vitest"
import { Builtin } from "@kubefx/core"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { cm, failure, provide, services, Widget, widget } from "./FakeClusterFixtures.ts"

const deployment = (name: string, containers: ReadonlyArray<Record<string, unknown>>) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "default" },
  spec: { replicas: 1, template: { spec: { containers } } }
})

const at = { namespace: "default", name: "a" }

describe("FakeCluster: patch", () => {
  it.effect("merge patch: null deletes, objects merge; the result is stored with a new resourceVersion", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a", { data: { x: "1", y: "2" } }))
      const p = yield* cluster.patch(Builtin.ConfigMap, at, { type: "merge", body: { data: { x: null, z: "3" } } })
      assert.deepStrictEqual((p as any).data, { y: "2", z: "3" })
      assert.isAbove(Number(p.metadata.resourceVersion), Number(a.metadata.resourceVersion))
    }).pipe(provide()))

  it.effect("json patch: a failing test op is 422 and changes nothing", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("a", { data: { x: "1" } }))
      const e = yield* failure(cluster.patch(Builtin.ConfigMap, at, {
        type: "json",
        body: [{ op: "test", path: "/data/x", value: "2" }, { op: "replace", path: "/data/x", value: "3" }]
      }))
      assert.strictEqual(e._tag, "Invalid")
      assert.strictEqual(e._tag === "Invalid" ? e.status : 0, 422)
      const ok = yield* cluster.patch(Builtin.ConfigMap, at, {
        type: "json",
        body: [{ op: "test", path: "/data/x", value: "1" }, { op: "add", path: "/data/y", value: "2" }]
      })
      assert.deepStrictEqual((ok as any).data, { x: "1", y: "2" })
    }).pipe(provide()))

  it.effect("strategic merge patch merges containers by name; custom resources answer 415", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.Deployment, deployment("a", [{ name: "app", image: "a:1" }, { name: "side", image: "s:1" }]))
      const p = yield* cluster.patch(Builtin.Deployment, at, {
        type: "strategic",
        body: { spec: { template: { spec: { containers: [{ name: "side", image: "s:2" }] } } } }
      })
      assert.deepStrictEqual((p as any).spec.template.spec.containers, [{ name: "app", image: "a:1" }, { name: "side", image: "s:2" }])
      // Spec changed: generation bumped.
      assert.strictEqual(p.metadata.generation, 2)
      yield* cluster.create(Widget, widget("a"))
      const e = yield* failure(cluster.patch(Widget, at, { type: "strategic", body: { spec: { size: 2 } } }))
      assert.strictEqual(e._tag, "ServerError")
      assert.strictEqual(e._tag === "ServerError" ? e.status : 0, 415)
    }).pipe(provide()))

  it.effect("a patch carrying a stale resourceVersion is a 409; a patch of a missing object is NotFound", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const missing = yield* failure(cluster.patch(Builtin.ConfigMap, at, { type: "merge", body: {} }))
      assert.strictEqual(missing._tag, "NotFound")
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* cluster.patch(Builtin.ConfigMap, at, { type: "merge", body: { data: { x: "1" } } })
      const stale = yield* failure(cluster.patch(Builtin.ConfigMap, at, {
        type: "merge",
        body: { metadata: { resourceVersion: a.metadata.resourceVersion }, data: { x: "2" } }
      }))
      assert.strictEqual(stale._tag, "Conflict")
    }).pipe(provide()))

  it.effect("patchStatus changes only status, and a custom resource's status is validated", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Widget, widget("a"))
      const s = yield* cluster.patchStatus(Widget, at, { type: "merge", body: { spec: { size: 5 }, status: { ready: true } } })
      assert.deepStrictEqual(s.spec, { size: 1 })
      assert.deepStrictEqual(s.status, { ready: true })
      const bad = yield* failure(cluster.patchStatus(Widget, at, { type: "merge", body: { status: { ready: "yes" } } }))
      assert.strictEqual(bad._tag, "Invalid")
      assert.deepStrictEqual(bad._tag === "Invalid" ? bad.causes.map((c) => c.field) : [], ["status.ready"])
    }).pipe(provide()))
})

describe("FakeCluster: server-side apply", () => {
  it.effect("apply creates when absent and records the manager in managedFields", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("10 seconds")
      const { cluster } = yield* services
      const a = yield* cluster.apply(Builtin.ConfigMap, cm("a", { data: { x: "1" } }), { fieldManager: "op" })
      assert.isDefined(a.metadata.uid)
      assert.deepStrictEqual(a.metadata.managedFields?.map((m) => [m.manager, m.operation, m.time]), [["op", "Apply", "1970-01-01T00:00:10Z"]])
      const again = yield* cluster.apply(Builtin.ConfigMap, cm("a", { data: { x: "1" } }), { fieldManager: "op" })
      // A no-op apply is not a write.
      assert.strictEqual(again.metadata.resourceVersion, a.metadata.resourceVersion)
    }).pipe(provide()))

  it.effect("apply conflicts with another manager's field unless forced", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.apply(Builtin.ConfigMap, cm("a", { data: { x: "1" } }), { fieldManager: "one" })
      const e = yield* failure(cluster.apply(Builtin.ConfigMap, cm("a", { data: { x: "2" } }), { fieldManager: "two" }))
      assert.strictEqual(e._tag, "Conflict")
      assert.include(e.message, `conflict with "one"`)
      assert.isAbove(e._tag === "Conflict" ? e.causes.length : 0, 0)
      const forced = yield* cluster.apply(Builtin.ConfigMap, cm("a", { data: { x: "2" } }), { fieldManager: "two", force: true })
      assert.deepStrictEqual((forced as any).data, { x: "2" })
    }).pipe(provide()))

  it.effect("create, update and patch record Update entries for their field manager", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a", { data: { x: "1" } }), { fieldManager: "creator" })
      assert.deepStrictEqual(a.metadata.managedFields?.map((m) => [m.manager, m.operation]), [["creator", "Update"]])
      const p = yield* cluster.patch(Builtin.ConfigMap, at, { type: "merge", body: { data: { y: "2" } } }, { fieldManager: "patcher" })
      assert.deepStrictEqual(p.metadata.managedFields?.map((m) => m.manager), ["creator", "patcher"])
    }).pipe(provide()))
})

describe("FakeCluster: requests and copies", () => {
  it.effect("every port call is recorded; writes counts the mutating ones; clearRequests resets", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("5 seconds")
      const { cluster, fake } = yield* services
      yield* fake.seed(Builtin.ConfigMap, [cm("seeded")])
      assert.deepStrictEqual(yield* fake.requests, [])
      yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "seeded" })
      yield* cluster.list(Builtin.ConfigMap)
      yield* cluster.create(Builtin.ConfigMap, cm("a"), { dryRun: true })
      yield* cluster.patchStatus(Widget, at, { type: "merge", body: {} }).pipe(Effect.ignore)
      const requests = yield* fake.requests
      assert.deepStrictEqual(requests, [
        { verb: "get", resource: "v1/ConfigMap", namespace: "default", name: "seeded", dryRun: false, time: 5000 },
        { verb: "list", resource: "v1/ConfigMap", dryRun: false, time: 5000 },
        { verb: "create", resource: "v1/ConfigMap", namespace: "default", name: "a", dryRun: true, time: 5000 },
        { verb: "patchStatus", resource: "test.kubefx.io/v1/Widget", namespace: "default", name: "a", subresource: "status", dryRun: false, time: 5000 }
      ])
      assert.strictEqual(yield* fake.writes, 2)
      yield* fake.clearRequests
      assert.strictEqual(yield* fake.writes, 0)
    }).pipe(provide()))

  it.effect("inputs are never mutated and outputs are private copies", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const input = cm("a", { data: { x: "1" } })
      const frozen = JSON.stringify(input)
      const out = yield* cluster.create(Builtin.ConfigMap, input)
      assert.strictEqual(JSON.stringify(input), frozen)
      ;(out as any).data.x = "mutated"
      const [stored] = yield* fake.objects(Builtin.ConfigMap)
      assert.strictEqual((stored as any).data.x, "1")
      ;(stored as any).data.x = "mutated"
      const got = yield* cluster.get(Builtin.ConfigMap, at)
      assert.strictEqual((got as any).data.x, "1")
    }).pipe(provide()))
})
