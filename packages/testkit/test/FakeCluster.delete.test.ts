import { assert, describe, it } from "@effect/vitest"
import { Builtin, type Resource } from "@kubefx/core"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { cm, failure, provide, services, Widget, widget } from "./FakeClusterFixtures.ts"

const ownerRef = (owner: Resource.KubeObject, extra: Record<string, unknown> = {}) => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.metadata.name!,
  uid: owner.metadata.uid!,
  ...extra
})

describe("FakeCluster: deletion and finalizers", () => {
  it.effect("without finalizers an object is gone at once; with them it gets deletionTimestamp and stays", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("plain"))
      yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "plain" })
      assert.strictEqual((yield* failure(cluster.get(Builtin.ConfigMap, { namespace: "default", name: "plain" })))._tag, "NotFound")

      yield* TestClock.adjust("1 hour")
      const w = yield* cluster.create(Widget, widget("w", { size: 1 }, { finalizers: ["test.kubefx.io/cleanup"] }))
      const d = yield* cluster.delete(Widget, { namespace: "default", name: "w" })
      assert.strictEqual(d.metadata.deletionTimestamp, "1970-01-01T01:00:00Z")
      assert.strictEqual(d.metadata.deletionGracePeriodSeconds, 0)
      // markAsDeleting bumps the generation of types that track one.
      assert.strictEqual(d.metadata.generation, (w.metadata.generation ?? 0) + 1)
      const still = yield* cluster.get(Widget, { namespace: "default", name: "w" })
      assert.strictEqual(still.metadata.resourceVersion, d.metadata.resourceVersion)
      // A second delete changes nothing.
      const again = yield* cluster.delete(Widget, { namespace: "default", name: "w" })
      assert.strictEqual(again.metadata.resourceVersion, d.metadata.resourceVersion)
    }).pipe(provide()))

  it.effect("no new finalizer on an object being deleted: 422 Forbidden cause on metadata.finalizers", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, { ...cm("a"), metadata: { name: "a", namespace: "default", finalizers: ["x.io/a"] } })
      const d = yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" })
      const e = yield* failure(cluster.replace(Builtin.ConfigMap, { ...d, metadata: { ...d.metadata, finalizers: ["x.io/a", "x.io/b"] } }))
      assert.strictEqual(e._tag, "Invalid")
      if (e._tag !== "Invalid") return
      assert.strictEqual(e.status, 422)
      const cause = {
        field: "metadata.finalizers",
        reason: "FieldValueForbidden",
        message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"x.io/b"}`
      }
      // Built-in types report it once (custom resources twice: their handler validates the update again).
      assert.deepStrictEqual(e.causes, [cause])
    }).pipe(provide()))

  it.effect("removing the last finalizer deletes the object; the update returns the body it was given", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, { ...cm("a"), metadata: { name: "a", namespace: "default", finalizers: ["x.io/a"] } })
      const d = yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" })
      const out = yield* cluster.replace(Builtin.ConfigMap, { ...d, metadata: { ...d.metadata, finalizers: [] } })
      // The body as given, with the empty list omitted as the server serializes it.
      assert.isUndefined(out.metadata.finalizers)
      assert.isDefined(out.metadata.deletionTimestamp)
      assert.strictEqual((yield* failure(cluster.get(Builtin.ConfigMap, { namespace: "default", name: "a" })))._tag, "NotFound")
    }).pipe(provide()))

  it.effect("delete preconditions on uid and resourceVersion fail with 409", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a"))
      const uid = yield* failure(cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" }, { preconditions: { uid: "x" } }))
      assert.strictEqual(uid._tag, "Conflict")
      assert.include(uid.message, "the UID in the precondition (x) does not match the UID in record")
      const rv = yield* failure(cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" }, { preconditions: { resourceVersion: "1" } }))
      assert.strictEqual(rv._tag, "Conflict")
      yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" }, {
        preconditions: { uid: a.metadata.uid!, resourceVersion: a.metadata.resourceVersion! }
      })
      const missing = yield* failure(cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" }))
      assert.strictEqual(missing._tag, "NotFound")
    }).pipe(provide()))

  it.effect("dryRun deletes nothing", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" }, { dryRun: true })
      yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "a" })
      const dry = yield* cluster.create(Builtin.ConfigMap, cm("b"), { dryRun: true })
      assert.isUndefined(dry.metadata.resourceVersion)
      assert.strictEqual((yield* failure(cluster.get(Builtin.ConfigMap, { namespace: "default", name: "b" })))._tag, "NotFound")
    }).pipe(provide()))
})

describe("FakeCluster: garbage collection", () => {
  it.effect("Background: dependents of a deleted owner are deleted", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const owner = yield* cluster.create(Widget, widget("w"))
      yield* cluster.create(Builtin.ConfigMap, { ...cm("child"), metadata: { name: "child", namespace: "default", ownerReferences: [ownerRef(owner, { controller: true })] } })
      yield* cluster.create(Builtin.ConfigMap, cm("other"))
      yield* cluster.delete(Widget, { namespace: "default", name: "w" })
      const left = (yield* fake.objects(Builtin.ConfigMap)).map((o) => o.metadata.name)
      assert.deepStrictEqual(left, ["other"])
    }).pipe(provide()))

  it.effect("Foreground: the owner waits, with the foregroundDeletion finalizer, until blocking dependents are gone", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const owner = yield* cluster.create(Widget, widget("w"))
      // This dependent has its own finalizer, so it outlives the first GC pass and blocks its owner.
      yield* cluster.create(Builtin.ConfigMap, {
        ...cm("blocker"),
        metadata: { name: "blocker", namespace: "default", finalizers: ["x.io/hold"], ownerReferences: [ownerRef(owner, { blockOwnerDeletion: true })] }
      })
      const d = yield* cluster.delete(Widget, { namespace: "default", name: "w" }, { propagationPolicy: "Foreground" })
      assert.deepStrictEqual(d.metadata.finalizers, ["foregroundDeletion"])
      const waiting = yield* cluster.get(Widget, { namespace: "default", name: "w" })
      assert.isDefined(waiting.metadata.deletionTimestamp)
      const blocker = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "blocker" })
      assert.isDefined(blocker.metadata.deletionTimestamp)
      yield* cluster.patch(Builtin.ConfigMap, { namespace: "default", name: "blocker" }, { type: "merge", body: { metadata: { finalizers: null } } })
      assert.deepStrictEqual(yield* fake.objects(Widget), [])
    }).pipe(provide()))

  it.effect("Orphan: dependents lose the ownerReference and stay", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const owner = yield* cluster.create(Widget, widget("w"))
      const other = yield* cluster.create(Widget, widget("v"))
      yield* cluster.create(Builtin.ConfigMap, { ...cm("child"), metadata: { name: "child", namespace: "default", ownerReferences: [ownerRef(owner), ownerRef(other)] } })
      yield* cluster.delete(Widget, { namespace: "default", name: "w" }, { propagationPolicy: "Orphan" })
      const child = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "child" })
      assert.deepStrictEqual(child.metadata.ownerReferences?.map((o) => o.name), ["v"])
      assert.strictEqual((yield* failure(cluster.get(Widget, { namespace: "default", name: "w" })))._tag, "NotFound")
    }).pipe(provide()))

  it.effect("a dependent whose owner uid does not exist is collected; one with a live owner left keeps only it", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const live = yield* cluster.create(Widget, widget("live"))
      yield* cluster.create(Builtin.ConfigMap, {
        ...cm("orphaned"),
        metadata: { name: "orphaned", namespace: "default", ownerReferences: [{ apiVersion: "test.kubefx.io/v1", kind: "Widget", name: "gone", uid: "no-such-uid" }] }
      })
      yield* cluster.create(Builtin.ConfigMap, {
        ...cm("mixed"),
        metadata: {
          name: "mixed",
          namespace: "default",
          ownerReferences: [ownerRef(live), { apiVersion: "test.kubefx.io/v1", kind: "Widget", name: "gone", uid: "no-such-uid" }]
        }
      })
      const left = yield* fake.objects(Builtin.ConfigMap)
      assert.deepStrictEqual(left.map((o) => o.metadata.name), ["mixed"])
      assert.deepStrictEqual(left[0]!.metadata.ownerReferences?.map((o) => o.uid), [live.metadata.uid])
    }).pipe(provide()))

  it.effect("manual garbage collection leaves dependents until collectGarbage runs", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const owner = yield* cluster.create(Widget, widget("w"))
      yield* cluster.create(Builtin.ConfigMap, { ...cm("child"), metadata: { name: "child", namespace: "default", ownerReferences: [ownerRef(owner)] } })
      yield* cluster.delete(Widget, { namespace: "default", name: "w" })
      assert.strictEqual((yield* fake.objects(Builtin.ConfigMap)).length, 1)
      yield* fake.collectGarbage
      assert.strictEqual((yield* fake.objects(Builtin.ConfigMap)).length, 0)
    }).pipe(provide({ garbageCollection: "manual" })))
})
