import { assert, describe, it } from "@effect/vitest"
import { Builtin, Resource } from "@kubefx/core"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { cm, failure, provide, services, Widget, widget } from "./FakeClusterFixtures.ts"

// Each assertion states the real API server's behaviour it checks (kube-apiserver 1.32, generic
// registry `store.go`, `rest.BeforeCreate/BeforeUpdate/BeforeDelete`, apimachinery validation).

describe("FakeCluster: types", () => {
  it.effect("an unregistered type is NotFound, like a CRD that is not installed", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const Gadget = Resource.make({ group: "test.kubefx.io", version: "v1", kind: "Gadget", plural: "gadgets" })
      const gadget = { apiVersion: "test.kubefx.io/v1", kind: "Gadget", metadata: { name: "g", namespace: "default" } }
      const e = yield* failure(cluster.create(Gadget, gadget))
      assert.strictEqual(e._tag, "NotFound")
      assert.include(e.message, "the server could not find the requested resource")
      yield* fake.register(Gadget)
      const created = yield* cluster.create(Gadget, gadget)
      assert.strictEqual(created.metadata.name, "g")
    }).pipe(provide()))

  it.effect("a custom resource's spec is validated with its Schema: 422 Invalid naming the fields", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      // Real: `Widget.test.kubefx.io "w" is invalid: spec.size: Invalid value: 0: ...` with one cause per field.
      const e = yield* failure(cluster.create(Widget, widget("w", { size: 0, mode: "slow", items: [{ name: 1 }] })))
      assert.strictEqual(e._tag, "Invalid")
      if (e._tag !== "Invalid") return
      assert.strictEqual(e.status, 422)
      assert.include(e.message, `Widget.test.kubefx.io "w" is invalid`)
      // Exactly the causes kube-apiserver 1.37 reports for the CRD generated from this Schema.
      const causes = [...e.causes].sort((a, b) => (a.field! < b.field! ? -1 : 1))
      assert.deepStrictEqual(causes, [
        {
          field: "spec.items[0].name",
          reason: "FieldValueTypeInvalid",
          message: `Invalid value: "integer": spec.items[0].name in body must be of type string: "integer"`
        },
        { field: "spec.mode", reason: "FieldValueNotSupported", message: `Unsupported value: "slow": supported values: "fast", "safe"` },
        { field: "spec.size", reason: "FieldValueInvalid", message: "Invalid value: 0: spec.size in body should be greater than or equal to 1" }
      ])
      const missing = yield* failure(cluster.create(Widget, widget("w", {})))
      assert.deepStrictEqual(missing._tag === "Invalid" ? missing.causes.map((c) => [c.field, c.reason]) : [], [
        ["spec.size", "FieldValueRequired"]
      ])
    }).pipe(provide()))

  it.effect("unknown fields of a custom resource are pruned, as a structural schema prunes them", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const created = yield* cluster.create(Widget, widget("w", { size: 2, extra: "dropped" }))
      assert.deepStrictEqual(created.spec, { size: 2 })
    }).pipe(provide()))
})

describe("FakeCluster: object metadata", () => {
  it.effect("create assigns uid, resourceVersion, generation and a seconds-precision creationTimestamp from the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("90 seconds")
      const { cluster, fake } = yield* services
      const before = Number(yield* fake.resourceVersion)
      const w = yield* cluster.create(Widget, widget("w", { size: 1 }, { uid: "client-chosen", generation: 7 }))
      assert.match(w.metadata.uid!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.notStrictEqual(w.metadata.uid, "client-chosen")
      assert.strictEqual(w.metadata.generation, 1)
      assert.strictEqual(w.metadata.creationTimestamp, "1970-01-01T00:01:30Z")
      assert.strictEqual(Number(w.metadata.resourceVersion), before + 1)
      const c = yield* cluster.create(Builtin.ConfigMap, cm("c", { data: { a: "1" } }))
      // ConfigMaps have no generation; the counter is global across types.
      assert.isUndefined(c.metadata.generation)
      assert.strictEqual(Number(c.metadata.resourceVersion), before + 2)
    }).pipe(provide()))

  it.effect("generateName appends 5 characters from the server's alphabet", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const obj = { apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "job-", namespace: "default" } }
      const a = yield* cluster.create(Builtin.ConfigMap, obj)
      const b = yield* cluster.create(Builtin.ConfigMap, obj)
      assert.match(a.metadata.name!, /^job-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
      assert.notStrictEqual(a.metadata.name, b.metadata.name)
      const none = yield* failure(cluster.create(Builtin.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "default" } }))
      assert.strictEqual(none._tag, "Invalid")
      assert.include(none.message, "metadata.name: Required value: name or generateName is required")
    }).pipe(provide()))

  it.effect("a namespaced type needs a namespace; a cluster-scoped object's namespace is dropped", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const e = yield* failure(cluster.create(Builtin.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }))
      assert.strictEqual(e._tag, "Invalid")
      assert.strictEqual(e._tag === "Invalid" ? e.status : 0, 400)
      const role = yield* cluster.create(Builtin.ClusterRole, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "r", namespace: "ignored" }
      })
      assert.isUndefined(role.metadata.namespace)
      const got = yield* cluster.get(Builtin.ClusterRole, { name: "r" })
      assert.strictEqual(got.metadata.uid, role.metadata.uid)
    }).pipe(provide()))

  it.effect("invalid names, labels, finalizers and ownerReferences are 422 with their field paths", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const e = yield* failure(cluster.create(Builtin.ConfigMap, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "Bad_Name",
          namespace: "default",
          labels: { "bad key": "v", ok: "bad value!" },
          finalizers: ["orphan", "foregroundDeletion"],
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o", uid: "" }]
        }
      }))
      assert.strictEqual(e._tag, "Invalid")
      if (e._tag !== "Invalid") return
      // The server's order: name, labels, annotations, ownerReferences, finalizers.
      assert.deepStrictEqual(e.causes.map((c) => c.field), [
        "metadata.name",
        "metadata.labels",
        "metadata.labels",
        "metadata.ownerReferences[0].uid",
        "metadata.finalizers"
      ])
      assert.strictEqual(e.causes[3]!.message, "Required value: must not be empty")
      const svc = yield* failure(cluster.create(Builtin.Service, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "Web", namespace: "default" }
      }))
      // Service names are RFC 1123 labels (1.37 accepts a leading digit, not upper case).
      assert.include(svc.message, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters")
      yield* cluster.create(Builtin.Service, { apiVersion: "v1", kind: "Service", metadata: { name: "1abc", namespace: "default" } })
    }).pipe(provide()))

  it.effect("create fails with AlreadyExists on a duplicate and with 500 when resourceVersion is set", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      const dup = yield* failure(cluster.create(Builtin.ConfigMap, cm("a")))
      assert.strictEqual(dup._tag, "AlreadyExists")
      assert.strictEqual(dup.message, `configmaps "a" already exists`)
      const rv = yield* failure(cluster.create(Builtin.ConfigMap, { ...cm("b"), metadata: { name: "b", namespace: "default", resourceVersion: "5" } }))
      assert.strictEqual(rv._tag, "ServerError")
      assert.strictEqual(rv.message, "resourceVersion should not be set on objects to be created")
    }).pipe(provide()))

  it.effect("get of a missing object is NotFound with the server's message", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const e = yield* failure(cluster.get(Builtin.Deployment, { namespace: "default", name: "nope" }))
      assert.strictEqual(e._tag, "NotFound")
      assert.strictEqual(e.message, `deployments.apps "nope" not found`)
    }).pipe(provide()))

  it.effect("strict namespaces: no content in a missing or terminating namespace", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const missing = yield* failure(cluster.create(Builtin.ConfigMap, cm("a", {}, "nowhere")))
      assert.strictEqual(missing._tag, "NotFound")
      assert.strictEqual(missing.message, `namespaces "nowhere" not found`)
      const ns = yield* cluster.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } })
      assert.strictEqual(ns.metadata.labels?.["kubernetes.io/metadata.name"], "team")
      yield* cluster.create(Builtin.ConfigMap, { ...cm("held", {}, "team"), metadata: { name: "held", namespace: "team", finalizers: ["x.io/hold"] } })
      const deleting = yield* cluster.delete(Builtin.Namespace, { name: "team" })
      assert.isDefined(deleting.metadata.deletionTimestamp)
      const forbidden = yield* failure(cluster.create(Builtin.ConfigMap, cm("b", {}, "team")))
      assert.strictEqual(forbidden._tag, "Forbidden")
      assert.include(forbidden.message, "because it is being terminated")
      // The namespace controller deleted the content; the finalizer holds it and so the namespace.
      const held = yield* cluster.get(Builtin.ConfigMap, { namespace: "team", name: "held" })
      assert.isDefined(held.metadata.deletionTimestamp)
      yield* cluster.patch(Builtin.ConfigMap, { namespace: "team", name: "held" }, { type: "merge", body: { metadata: { finalizers: null } } })
      const gone = yield* failure(cluster.get(Builtin.Namespace, { name: "team" }))
      assert.strictEqual(gone._tag, "NotFound")
    }).pipe(provide()))

  it.effect("lenient namespaces accept any namespace", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const c = yield* cluster.create(Builtin.ConfigMap, cm("a", {}, "anywhere"))
      assert.strictEqual(c.metadata.namespace, "anywhere")
    }).pipe(provide({ namespaces: "lenient" })))
})

describe("FakeCluster: update", () => {
  it.effect("a stale resourceVersion is a 409 Conflict; an absent one is allowed for built-ins", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a", { data: { v: "1" } }))
      const b = yield* cluster.replace(Builtin.ConfigMap, { ...a, data: { v: "2" } })
      assert.isAbove(Number(b.metadata.resourceVersion), Number(a.metadata.resourceVersion))
      const stale = yield* failure(cluster.replace(Builtin.ConfigMap, { ...a, data: { v: "3" } }))
      assert.strictEqual(stale._tag, "Conflict")
      assert.strictEqual(
        stale.message,
        `Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again`
      )
      const unconditional = yield* cluster.replace(Builtin.ConfigMap, cm("a", { data: { v: "4" } }))
      assert.deepStrictEqual((unconditional as any).data, { v: "4" })
    }).pipe(provide()))

  it.effect("custom resources require resourceVersion on PUT, and PUT of a missing object is NotFound", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const missing = yield* failure(cluster.replace(Widget, widget("w")))
      assert.strictEqual(missing._tag, "NotFound")
      yield* cluster.create(Widget, widget("w"))
      const e = yield* failure(cluster.replace(Widget, widget("w", { size: 2 })))
      assert.strictEqual(e._tag, "Invalid")
      assert.include(e.message, "metadata.resourceVersion: Invalid value: 0: must be specified for an update")
    }).pipe(provide()))

  it.effect("PUT with another object's uid fails the uid precondition (409)", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a"))
      const e = yield* failure(cluster.replace(Builtin.ConfigMap, { ...a, metadata: { ...a.metadata, uid: "other" } }))
      assert.strictEqual(e._tag, "Conflict")
      assert.include(e.message, "Precondition failed: UID in precondition: other")
    }).pipe(provide()))

  it.effect("PUT creates Leases and RBAC objects that do not exist (AllowCreateOnUpdate)", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const lease = yield* cluster.replace(Builtin.Lease, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "leader", namespace: "default" },
        spec: { holderIdentity: "me" }
      })
      assert.isDefined(lease.metadata.uid)
    }).pipe(provide()))

  it.effect("generation: custom resources bump on any non-metadata change, never on metadata or status", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const w1 = yield* cluster.create(Widget, widget("w", { size: 1 }))
      const w2 = yield* cluster.replace(Widget, { ...w1, metadata: { ...w1.metadata, labels: { a: "b" } } })
      assert.strictEqual(w2.metadata.generation, 1)
      const w3 = yield* cluster.replace(Widget, { ...w2, spec: { size: 2 } })
      assert.strictEqual(w3.metadata.generation, 2)
      const w4 = yield* cluster.replaceStatus(Widget, { ...w3, status: { ready: true } })
      assert.strictEqual(w4.metadata.generation, 2)
      assert.deepStrictEqual(w4.status, { ready: true })
    }).pipe(provide()))

  it.effect("generation: a Deployment bumps on spec and annotation changes (apps/v1 strategy)", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const d1 = yield* cluster.create(Builtin.Deployment, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "d", namespace: "default" },
        spec: { replicas: 1 }
      })
      const d2 = yield* cluster.replace(Builtin.Deployment, { ...d1, metadata: { ...d1.metadata, annotations: { a: "1" } } })
      assert.strictEqual(d2.metadata.generation, 2)
      const d3 = yield* cluster.replace(Builtin.Deployment, { ...d2, metadata: { ...d2.metadata, labels: { a: "1" } } })
      assert.strictEqual(d3.metadata.generation, 2)
    }).pipe(provide()))

  it.effect("status subresource: main writes ignore status, /status writes change only status", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const created = yield* cluster.create(Widget, { ...widget("w"), status: { ready: true } })
      // Create drops status for a type with the status subresource.
      assert.isUndefined(created.status)
      const s = yield* cluster.replaceStatus(Widget, { ...created, spec: { size: 9 }, status: { ready: true }, metadata: { ...created.metadata, labels: { x: "y" } } })
      assert.deepStrictEqual(s.spec, { size: 1 })
      assert.isUndefined(s.metadata.labels)
      assert.deepStrictEqual(s.status, { ready: true })
      const m = yield* cluster.replace(Widget, { ...s, spec: { size: 3 }, status: { ready: false } })
      assert.deepStrictEqual(m.status, { ready: true })
      assert.deepStrictEqual(m.spec, { size: 3 })
      const noStatus = yield* failure(cluster.replaceStatus(Builtin.ConfigMap, cm("x")))
      assert.strictEqual(noStatus._tag, "NotFound")
    }).pipe(provide()))

  it.effect("a write that changes nothing is not a write: same resourceVersion, no event", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const a = yield* cluster.create(Builtin.ConfigMap, cm("a", { data: { k: "v" } }))
      const b = yield* cluster.replace(Builtin.ConfigMap, a)
      assert.strictEqual(b.metadata.resourceVersion, a.metadata.resourceVersion)
      const c = yield* cluster.patch(Builtin.ConfigMap, { namespace: "default", name: "a" }, { type: "merge", body: { data: { k: "v" } } })
      assert.strictEqual(c.metadata.resourceVersion, a.metadata.resourceVersion)
    }).pipe(provide()))
})
