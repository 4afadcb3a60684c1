import { assert, describe, it } from "@effect/vitest"
import type { Resource } from "@kubefx/core"
import { Arbitrary, Result, Schema } from "effect"
import { FieldSet, ServerSideApply } from "../src/index.ts"

type Obj = Resource.KubeObject
const T0 = "2024-05-01T10:00:00Z"
const T1 = "2024-05-01T10:01:00Z"
const T2 = "2024-05-01T10:02:00Z"
const T3 = "2024-05-01T10:03:00Z"

const deployment = (spec: Record<string, unknown>, labels?: Record<string, string>): Obj => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default", ...(labels === undefined ? {} : { labels }) },
  // An empty `spec: {}` would be owned as an empty map: leave it out.
  ...(Object.keys(spec).length === 0 ? {} : { spec })
})

const withContainers = (containers: ReadonlyArray<Record<string, unknown>>, extra: Record<string, unknown> = {}) =>
  deployment({ ...extra, template: { spec: { containers } } })

const apply = (
  live: Obj | undefined,
  applied: Obj,
  manager: string,
  time: string,
  options: Partial<ServerSideApply.ApplyOptions> = {}
): Obj => {
  const r = ServerSideApply.apply(live, applied, { manager, force: false, time, ...options })
  if (Result.isFailure(r)) throw new Error(`apply by ${manager} failed: ${r.failure.message}`)
  return r.success
}

const applyFailure = (live: Obj | undefined, applied: Obj, manager: string, options: Partial<ServerSideApply.ApplyOptions> = {}) => {
  const r = ServerSideApply.apply(live, applied, { manager, force: false, time: T3, ...options })
  if (Result.isSuccess(r)) throw new Error(`apply by ${manager} should have failed`)
  return r.failure
}

const update = (before: Obj | undefined, after: Obj, manager: string, time: string, options: Partial<ServerSideApply.UpdateOptions> = {}) =>
  ServerSideApply.recordUpdate(before, after, { manager, time, operation: "Update", ...options })

const entries = (obj: Obj) => Result.getOrThrow(ServerSideApply.decodeManagedFields(obj.metadata.managedFields))

const entry = (obj: Obj, manager: string, operation: "Apply" | "Update" = "Apply") => {
  const e = entries(obj).find((x) => x.manager === manager && x.operation === operation)
  if (e === undefined) throw new Error(`no ${operation} entry for ${manager}`)
  return e
}

const owns = (obj: Obj, manager: string, path: FieldSet.Path, operation: "Apply" | "Update" = "Apply") =>
  entries(obj).some((e) => e.manager === manager && e.operation === operation && FieldSet.has(e.fields, path))

const body = (obj: Obj): unknown => {
  const { managedFields: _, ...metadata } = obj.metadata
  return { ...obj, metadata }
}

const f = FieldSet.field
const k = FieldSet.key
const containerPath = (name: string) => [f("spec"), f("template"), f("spec"), f("containers"), k({ name })]

describe("apply", () => {
  it("records the applied fields as kube-apiserver does", () => {
    const applied = deployment({
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "nginx", image: "nginx:1", ports: [{ containerPort: 80 }] }] }
      }
    }, { app: "web" })
    const created = apply(undefined, applied, "kubectl", T0)
    assert.deepStrictEqual(body(created), applied)
    assert.deepStrictEqual(created.metadata.managedFields, [{
      manager: "kubectl",
      operation: "Apply",
      apiVersion: "apps/v1",
      time: T0,
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": { "f:labels": { "f:app": {} } },
        "f:spec": {
          "f:replicas": {},
          "f:selector": {},
          "f:template": {
            "f:metadata": { "f:labels": { "f:app": {} } },
            "f:spec": {
              "f:containers": {
                "k:{\"name\":\"nginx\"}": {
                  ".": {},
                  "f:image": {},
                  "f:name": {},
                  "f:ports": { "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": { ".": {}, "f:containerPort": {} } }
                }
              }
            }
          }
        }
      }
    }])
  })

  it("never records apiVersion, kind, name, namespace or server-owned metadata, and keeps their live values", () => {
    const live = apply(undefined, deployment({ replicas: 1 }), "a", T0)
    const stored: Obj = {
      ...live,
      metadata: { ...live.metadata, uid: "u-1", resourceVersion: "7", generation: 2, creationTimestamp: T0 }
    }
    const applied: Obj = {
      ...deployment({ replicas: 1 }),
      metadata: {
        name: "web",
        namespace: "default",
        uid: "other",
        resourceVersion: "1",
        generation: 9,
        creationTimestamp: T3,
        selfLink: "/x"
      }
    }
    const next = apply(stored, applied, "b", T1)
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(next, "b").fields), { "f:spec": { "f:replicas": {} } })
    assert.strictEqual(next.metadata.uid, "u-1")
    assert.strictEqual(next.metadata.resourceVersion, "7")
    assert.strictEqual(next.metadata.generation, 2)
    assert.strictEqual(next.metadata.creationTimestamp, T0)
    assert.notProperty(next.metadata, "selfLink")
  })

  it("fails on a field another manager owns with a different value, with the server's message", () => {
    const live = apply(undefined, deployment({ replicas: 1 }), "kubectl", T0)
    const scaled = update(live, { ...live, spec: { replicas: 5 } }, "hpa", T1)
    const e = applyFailure(scaled, deployment({ replicas: 2 }), "kubectl")
    assert.strictEqual(e._tag, "ApplyConflict")
    if (e._tag !== "ApplyConflict") return
    assert.strictEqual(e.message, "Apply failed with 1 conflict: conflict with \"hpa\" using apps/v1: .spec.replicas")
    assert.deepStrictEqual(e.conflicts, [{ manager: "hpa", operation: "Update", field: ".spec.replicas" }])
    assert.deepStrictEqual(e.causes, [{
      reason: "FieldManagerConflict",
      message: "conflict with \"hpa\" using apps/v1",
      field: ".spec.replicas"
    }])
  })

  it("lists every conflict, grouped by manager in order", () => {
    let live = apply(undefined, deployment({ replicas: 1, paused: false }), "zeta", T0)
    live = apply(live, deployment({ minReadySeconds: 3 }, { app: "x" }), "alpha", T1)
    const e = applyFailure(live, deployment({ replicas: 2, paused: true, minReadySeconds: 4 }, { app: "y" }), "me")
    assert.strictEqual(
      e.message,
      "Apply failed with 4 conflicts: conflicts with \"alpha\":\n- .metadata.labels.app\n- .spec.minReadySeconds\n" +
        "conflicts with \"zeta\":\n- .spec.paused\n- .spec.replicas"
    )
  })

  it("with force, takes the conflicting fields and drops entries left empty", () => {
    const live = apply(undefined, deployment({ replicas: 1, paused: false }), "kubectl", T0)
    const scaled = update(live, { ...live, spec: { replicas: 5, paused: false } }, "hpa", T1)
    const forced = apply(scaled, deployment({ replicas: 2 }), "ci", T2, { force: true })
    assert.strictEqual((forced.spec as { replicas: number }).replicas, 2)
    assert.isTrue(owns(forced, "ci", [f("spec"), f("replicas")]))
    assert.isFalse(entries(forced).some((e) => e.manager === "hpa"), "hpa owned only replicas")
    assert.isTrue(owns(forced, "kubectl", [f("spec"), f("paused")]))
    assert.isFalse(owns(forced, "kubectl", [f("spec"), f("replicas")]))
  })

  it("shares a field applied with the same value, and then both must agree to change it", () => {
    const live = apply(undefined, deployment({ replicas: 3 }), "a", T0)
    const shared = apply(live, deployment({ replicas: 3 }), "b", T1)
    assert.isTrue(owns(shared, "a", [f("spec"), f("replicas")]))
    assert.isTrue(owns(shared, "b", [f("spec"), f("replicas")]))
    const e = applyFailure(shared, deployment({ replicas: 4 }), "a")
    assert.strictEqual(e.message, "Apply failed with 1 conflict: conflict with \"b\": .spec.replicas")
  })

  it("removes a field the applier stopped applying", () => {
    const live = apply(undefined, deployment({ replicas: 1, paused: true }, { app: "web", tier: "fe" }), "a", T0)
    const next = apply(live, deployment({ replicas: 1 }, { app: "web" }), "a", T1)
    assert.deepStrictEqual(body(next), deployment({ replicas: 1 }, { app: "web" }))
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(next, "a").fields), {
      "f:metadata": { "f:labels": { "f:app": {} } },
      "f:spec": { "f:replicas": {} }
    })
    assert.strictEqual(entry(next, "a").time, T1)
    // Dropping every label removes the emptied map too.
    const bare = apply(next, deployment({ replicas: 1 }), "a", T2)
    assert.notProperty(bare.metadata, "labels")
  })

  it("keeps a dropped field that another manager also owns", () => {
    let live = apply(undefined, deployment({}, { app: "web", team: "x" }), "a", T0)
    live = apply(live, deployment({}, { team: "x" }), "b", T1)
    const next = apply(live, deployment({}, { app: "web" }), "a", T2)
    assert.deepStrictEqual(next.metadata.labels, { app: "web", team: "x" })
    assert.isFalse(owns(next, "a", [f("metadata"), f("labels"), f("team")]))
    assert.isTrue(owns(next, "b", [f("metadata"), f("labels"), f("team")]))
    // A field written by a non-apply write is not removed either.
    const edited = update(next, { ...next, metadata: { ...next.metadata, labels: { app: "web", team: "x", env: "p" } } }, "edit", T2)
    const withEnv = apply(edited, deployment({}, { app: "web", env: "p" }), "a", T3)
    const dropped = apply(withEnv, deployment({}, { app: "web" }), "a", T3)
    assert.deepStrictEqual(dropped.metadata.labels, { app: "web", team: "x", env: "p" })
  })

  it("merges associative lists by key and removes only the applier's items", () => {
    let live = apply(undefined, withContainers([{ name: "web", image: "web:1" }]), "a", T0)
    live = apply(live, withContainers([{ name: "proxy", image: "envoy" }]), "b", T1)
    assert.deepStrictEqual((body(live) as any).spec.template.spec.containers, [
      { name: "web", image: "web:1" },
      { name: "proxy", image: "envoy" }
    ])
    assert.isTrue(owns(live, "a", containerPath("web")))
    assert.isTrue(owns(live, "b", [...containerPath("proxy"), f("image")]))
    // b drops its item and now names a's item too: only b's item goes.
    const next = apply(live, withContainers([{ name: "web" }], { replicas: 1 }), "b", T2)
    assert.deepStrictEqual((body(next) as any).spec.template.spec.containers, [{ name: "web", image: "web:1" }])
    assert.isTrue(owns(next, "a", [...containerPath("web"), f("image")]))
    assert.isTrue(owns(next, "b", containerPath("web")))
    assert.isFalse(owns(next, "b", [...containerPath("web"), f("image")]))
  })

  it("conflicts inside an item of an associative list", () => {
    const live = apply(undefined, withContainers([{ name: "web", image: "web:1" }]), "a", T0)
    const e = applyFailure(live, withContainers([{ name: "web", image: "web:2" }]), "b")
    assert.strictEqual(
      e.message,
      "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.containers[name=\"web\"].image"
    )
  })

  it("orders merged list items like the API server", () => {
    const live = apply(undefined, withContainers([{ name: "a" }, { name: "b" }, { name: "c" }]), "m1", T0)
    const next = apply(live, withContainers([{ name: "d" }, { name: "b" }]), "m2", T1)
    assert.deepStrictEqual(
      (body(next) as any).spec.template.spec.containers.map((c: { name: string }) => c.name),
      ["a", "d", "b", "c"]
    )
  })

  it("replaces atomic lists whole, and treats them as one field", () => {
    const live = apply(undefined, withContainers([{ name: "web", args: ["-a", "-b"] }]), "a", T0)
    const argsPath = [...containerPath("web"), f("args")]
    assert.isTrue(owns(live, "a", argsPath))
    assert.isFalse(owns(live, "a", [...argsPath, FieldSet.index(0)]))
    const e = applyFailure(live, withContainers([{ name: "web", args: ["-c"] }]), "b")
    assert.strictEqual(
      e.message,
      "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.containers[name=\"web\"].args"
    )
    const forced = apply(live, withContainers([{ name: "web", args: ["-c"] }]), "b", T1, { force: true })
    assert.deepStrictEqual((body(forced) as any).spec.template.spec.containers[0].args, ["-c"])
    assert.isFalse(owns(forced, "a", argsPath))
  })

  it("treats atomic maps (label selectors) as one field", () => {
    const live = apply(undefined, deployment({ selector: { matchLabels: { app: "web", tier: "fe" } } }), "a", T0)
    const next = apply(live, deployment({ selector: { matchLabels: { app: "web" } } }), "a", T1)
    assert.deepStrictEqual((next.spec as any).selector, { matchLabels: { app: "web" } })
    assert.isTrue(owns(next, "a", [f("spec"), f("selector")]))
  })

  it("merges set lists by value", () => {
    const withFinalizers = (finalizers: Array<string>): Obj => ({
      ...deployment({}),
      metadata: { name: "web", namespace: "default", finalizers }
    })
    let live = apply(undefined, withFinalizers(["a.io/x"]), "a", T0)
    live = apply(live, withFinalizers(["b.io/y"]), "b", T1)
    assert.deepStrictEqual(live.metadata.finalizers, ["a.io/x", "b.io/y"])
    assert.isTrue(owns(live, "a", [f("metadata"), f("finalizers"), FieldSet.value("a.io/x")]))
    const next = apply(live, withFinalizers([]), "a", T2)
    assert.deepStrictEqual(next.metadata.finalizers, ["b.io/y"])
  })

  it("owns owner references whole, by uid", () => {
    const ref = (uid: string, name: string) => ({ apiVersion: "v1", kind: "ConfigMap", name, uid })
    const withRefs = (refs: ReadonlyArray<object>): Obj => ({
      ...deployment({}),
      metadata: { name: "web", namespace: "default", ownerReferences: refs as never }
    })
    const live = apply(undefined, withRefs([ref("u1", "a")]), "a", T0)
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(live, "a").fields), {
      "f:metadata": { "f:ownerReferences": { "k:{\"uid\":\"u1\"}": {} } }
    })
    const e = applyFailure(live, withRefs([ref("u1", "renamed")]), "b")
    assert.strictEqual(e.message, "Apply failed with 1 conflict: conflict with \"a\": .metadata.ownerReferences[uid=\"u1\"]")
    const both = apply(live, withRefs([ref("u2", "b")]), "b", T1)
    assert.deepStrictEqual(both.metadata.ownerReferences?.map((r) => r.uid), ["u1", "u2"])
  })

  it("removes a field set to null, and conflicts when someone else owns it", () => {
    const live = apply(undefined, deployment({ replicas: 1, paused: true }), "a", T0)
    const cleared = apply(live, deployment({ replicas: 1, paused: null }), "a", T1)
    assert.deepStrictEqual(cleared.spec, { replicas: 1 })
    const e = applyFailure(live, deployment({ paused: null }), "b")
    assert.strictEqual(e.message, "Apply failed with 1 conflict: conflict with \"a\": .spec.paused")
  })

  it("keeps reset fields at their live value and never owns them", () => {
    const resetFields = [["status"]]
    const live = { ...apply(undefined, deployment({ replicas: 1 }), "a", T0), status: { ready: true } }
    const next = apply(live, { ...deployment({ replicas: 2 }), status: { ready: false, extra: 1 } }, "a", T1, {
      resetFields
    })
    assert.deepStrictEqual(next.status, { ready: true })
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(next, "a").fields), { "f:spec": { "f:replicas": {} } })
    const type = { statusSubresource: true } as Resource.ResourceType
    assert.deepStrictEqual(ServerSideApply.resetFieldsFor(type), [["status"]])
    assert.deepStrictEqual(ServerSideApply.resetFieldsFor(type, "status"), [["spec"]])
    assert.deepStrictEqual(ServerSideApply.resetFieldsFor({ statusSubresource: false } as Resource.ResourceType), [])
  })

  it("keeps separate entries per subresource", () => {
    const live = apply(undefined, { ...deployment({ replicas: 1 }) }, "op", T0)
    const status = apply(live, { ...deployment({}), status: { ready: true } }, "op", T1, {
      subresource: "status",
      resetFields: [["spec"]]
    })
    const ops = entries(status).filter((e) => e.manager === "op")
    assert.deepStrictEqual(ops.map((e) => e.subresource).sort(), ["", "status"])
    const e = applyFailure(status, { ...deployment({}), status: { ready: false } }, "other")
    assert.strictEqual(e.message, "Apply failed with 1 conflict: conflict with \"op\" with subresource \"status\": .status.ready")
  })

  it("returns the live object unchanged, times included, for a repeated apply", () => {
    const config = withContainers([{ name: "web", image: "w", ports: [{ containerPort: 80 }] }], { replicas: 2 })
    const live = apply(undefined, config, "a", T0)
    const again = apply(live, config, "a", T2)
    assert.deepStrictEqual(again, live)
    assert.strictEqual(entry(again, "a").time, T0)
  })

  it("rejects configurations the API server rejects", () => {
    const live = apply(undefined, deployment({ replicas: 1 }), "a", T0)
    const cases: ReadonlyArray<readonly [Obj | undefined, Obj, string, number, string]> = [
      [live, deployment({}), "", 422, "fieldManager: Required value"],
      [live, { ...deployment({}), metadata: { name: "web", managedFields: [] } }, "a", 400, "metadata.managedFields must be nil"],
      [live, { ...deployment({}), apiVersion: "apps/v1beta2" }, "a", 400, "Incorrect version specified in apply patch"],
      [
        undefined,
        withContainers([{ name: "web" }, { name: "web" }]),
        "a",
        500,
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"web\"]"
      ],
      [
        undefined,
        withContainers([{ image: "x" }]),
        "a",
        500,
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\""
      ],
      [
        { ...live, metadata: { ...live.metadata, managedFields: [{ manager: "x", operation: "Patch" } as never] } },
        deployment({}),
        "a",
        500,
        "failed to decode managed fields"
      ]
    ]
    for (const [l, applied, manager, status, message] of cases) {
      const e = applyFailure(l, applied, manager)
      assert.strictEqual(e._tag, "ApplyInvalid", message)
      if (e._tag !== "ApplyInvalid") continue
      assert.strictEqual(e.status, status, e.message)
      assert.include(e.message, message)
    }
    // Ports named by a defaulted key: {containerPort: 80} and {containerPort: 80, protocol: TCP} are the same item.
    const dup = applyFailure(undefined, withContainers([{ name: "w", ports: [{ containerPort: 80 }, { containerPort: 80, protocol: "TCP" }] }]), "a")
    assert.include(dup.message, "duplicate entries for key [containerPort=80,protocol=\"TCP\"]")
  })
})

describe("recordUpdate", () => {
  it("on create, owns every field written, with '.' for maps it created", () => {
    const created: Obj = {
      ...deployment({ replicas: 1 }, { app: "web" }),
      metadata: { name: "web", namespace: "default", labels: { app: "web" }, uid: "u", resourceVersion: "1" }
    }
    const out = update(undefined, created, "kubectl-create", T0)
    assert.deepStrictEqual(out.metadata.managedFields, [{
      manager: "kubectl-create",
      operation: "Update",
      apiVersion: "apps/v1",
      time: T0,
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": { "f:labels": { ".": {}, "f:app": {} } },
        "f:spec": { ".": {}, "f:replicas": {} }
      }
    }])
  })

  it("takes changed fields from their owners, so a later apply conflicts", () => {
    const live = apply(undefined, withContainers([{ name: "web", image: "web:1" }], { replicas: 1 }), "op", T0)
    const spec = (live.spec as any)
    const edited = update(live, {
      ...live,
      spec: { ...spec, template: { spec: { containers: [{ name: "web", image: "web:debug" }] } } }
    }, "kubectl-edit", T1)
    const image = [...containerPath("web"), f("image")]
    assert.isTrue(owns(edited, "kubectl-edit", image, "Update"))
    assert.isFalse(owns(edited, "op", image))
    assert.isTrue(owns(edited, "op", [f("spec"), f("replicas")]))
    assert.strictEqual(entry(edited, "op").time, T0, "losing fields does not touch an entry's time")
    const e = applyFailure(edited, withContainers([{ name: "web", image: "web:1" }], { replicas: 1 }), "op")
    assert.strictEqual(
      e.message,
      "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"web\"].image"
    )
    // Re-applying with force takes it back.
    const back = apply(edited, withContainers([{ name: "web", image: "web:1" }], { replicas: 1 }), "op", T2, { force: true })
    assert.isFalse(entries(back).some((x) => x.manager === "kubectl-edit"))
  })

  it("removes removed fields from every entry and drops empty entries", () => {
    let live = apply(undefined, deployment({ replicas: 1 }, { app: "web" }), "a", T0)
    live = apply(live, deployment({}, { app: "web" }), "b", T1)
    const out = update(live, { ...live, metadata: { ...live.metadata, labels: {} } }, "c", T2)
    assert.isFalse(entries(out).some((e) => e.manager === "b"))
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(out, "a").fields), { "f:spec": { "f:replicas": {} } })
    // c only removed a field: it owns nothing, so it gets no entry.
    assert.isFalse(entries(out).some((e) => e.manager === "c"))
  })

  it("leaves managedFields untouched when nothing changed", () => {
    const live = apply(undefined, deployment({ replicas: 1 }), "a", T0)
    const out = update(live, live, "b", T2)
    assert.deepStrictEqual(out, live)
  })

  it("accumulates one Update entry per manager, with the latest time", () => {
    const live = update(undefined, deployment({ replicas: 1 }), "m", T0)
    const out = update(live, { ...live, spec: { replicas: 1, paused: true } }, "m", T1)
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(out, "m", "Update").fields), {
      "f:spec": { ".": {}, "f:paused": {}, "f:replicas": {} }
    })
    assert.strictEqual(entry(out, "m", "Update").time, T1)
    assert.strictEqual(entries(out).length, 1)
  })

  it("uses managedFields sent with the write; [{}] or [] clear them, and then writes are not tracked", () => {
    const live = apply(undefined, deployment({ replicas: 1, paused: true }), "a", T0)
    const sent = update(live, {
      ...live,
      metadata: { ...live.metadata, managedFields: [{ ...live.metadata.managedFields![0]!, manager: "renamed" }] },
      spec: { replicas: 2, paused: true }
    }, "b", T1)
    assert.deepStrictEqual(entries(sent).map((e) => e.manager).sort(), ["b", "renamed"])
    for (const cleared of [[{}], []]) {
      const reset = update(live, { ...live, metadata: { ...live.metadata, managedFields: cleared as never }, spec: { replicas: 2 } }, "b", T1)
      assert.notProperty(reset.metadata, "managedFields")
      const untracked = update(reset, { ...reset, spec: { replicas: 3 } }, "c", T2)
      assert.notProperty(untracked.metadata, "managedFields")
    }
    const garbage = update(live, { ...live, metadata: { ...live.metadata, managedFields: "nope" as any } }, "b", T1)
    assert.deepStrictEqual(garbage.metadata.managedFields, live.metadata.managedFields, "unreadable: the live ones stay")
  })

  it("before the first apply to an object without managedFields, gives its fields to before-first-apply", () => {
    const bare: Obj = { ...deployment({ replicas: 1, paused: true }), status: { ready: true } }
    const e = applyFailure(bare, deployment({ replicas: 2 }), "a", { resetFields: [["status"]] })
    assert.strictEqual(e.message, "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas")
    const next = apply(bare, deployment({ replicas: 1 }), "a", T1, { resetFields: [["status"]] })
    assert.deepStrictEqual(FieldSet.toFieldsV1(entry(next, "before-first-apply", "Update").fields), {
      "f:spec": { ".": {}, "f:paused": {}, "f:replicas": {} }
    })
    assert.isTrue(owns(next, "a", [f("spec"), f("replicas")]))
  })

  it("on a subresource, ignores managedFields sent with the write and records the subresource", () => {
    const live = { ...apply(undefined, deployment({ replicas: 1 }), "a", T0), status: { ready: false } }
    const out = update(live, { ...live, metadata: { ...live.metadata, managedFields: [{}] }, status: { ready: true } }, "ctl", T1, {
      subresource: "status",
      resetFields: [["spec"]]
    })
    assert.isTrue(owns(out, "a", [f("spec"), f("replicas")]))
    const ctl = entry(out, "ctl", "Update")
    assert.strictEqual(ctl.subresource, "status")
    assert.deepStrictEqual(FieldSet.toFieldsV1(ctl.fields), { "f:status": { "f:ready": {} } })
    assert.strictEqual((out.metadata.managedFields ?? []).find((e) => e.manager === "ctl")?.subresource, "status")
  })

  it("does not count reset fields as changed", () => {
    const live = { ...apply(undefined, deployment({ replicas: 1 }), "a", T0), status: { ready: false } }
    const out = update(live, { ...live, status: { ready: true } }, "b", T1, { resetFields: [["status"]] })
    assert.deepStrictEqual(out.metadata.managedFields, live.metadata.managedFields)
  })
})

describe("managedFields", () => {
  it("decodes and encodes in the API server's order", () => {
    const mf = [
      { manager: "z", operation: "Update", apiVersion: "v1", time: T0, fieldsType: "FieldsV1", fieldsV1: { "f:a": {} } },
      { manager: "b", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:b": {} } },
      { manager: "a", operation: "Apply", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:c": {} } },
      { manager: "a", operation: "Apply", apiVersion: "v1", time: T0, fieldsType: "FieldsV1", fieldsV1: { "f:d": {} }, subresource: "status" }
    ]
    const decoded = Result.getOrThrow(ServerSideApply.decodeManagedFields(mf))
    const encoded = ServerSideApply.encodeManagedFields(decoded)
    assert.deepStrictEqual(encoded.map((e) => [e.manager, e.operation, e.subresource ?? ""]), [
      ["a", "Apply", "status"],
      ["a", "Apply", ""],
      ["b", "Apply", ""],
      ["z", "Update", ""]
    ])
    for (const bad of [{}, [{ operation: "Apply", apiVersion: "v1" }], [{ operation: "Apply", fieldsType: "FieldsV1" }], [
      { operation: "Get", apiVersion: "v1", fieldsType: "FieldsV1" }
    ], [{ operation: "Apply", apiVersion: "v1", fieldsType: "FieldsV2" }], [{
      operation: "Apply",
      apiVersion: "v1",
      fieldsType: "FieldsV1",
      fieldsV1: { bad: {} }
    }]]) {
      assert.isTrue(Result.isFailure(ServerSideApply.decodeManagedFields(bad)), JSON.stringify(bad))
    }
  })
})

// Property tests over generated Deployment-shaped configurations.

const Small = Schema.Union([Schema.Literals(["a", "b", "c"]), Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })), Schema.Boolean])
const AtomicList = Schema.Array(Small)
const struct3 = <S extends Schema.Top>(s: S) =>
  Schema.Struct({ a: Schema.optionalKey(s), b: Schema.optionalKey(s), c: Schema.optionalKey(s) })
const Nested = struct3(Schema.Union([Small, AtomicList, struct3(Schema.Union([Small, AtomicList]))]))
const Port = Schema.Struct({
  containerPort: Schema.Literals([80, 81]),
  protocol: Schema.optionalKey(Schema.Literals(["TCP", "UDP"])),
  name: Schema.optionalKey(Schema.Literals(["http", "alt"]))
})
const Container = Schema.Struct({
  name: Schema.Literals(["web", "side", "init"]),
  image: Schema.optionalKey(Schema.Literals(["img:1", "img:2"])),
  ports: Schema.optionalKey(Schema.Array(Port)),
  args: Schema.optionalKey(AtomicList)
})
const Config = Schema.Struct({
  labels: Schema.optionalKey(Schema.Struct({
    app: Schema.optionalKey(Schema.Literals(["x", "y"])),
    tier: Schema.optionalKey(Schema.Literals(["fe", "be"]))
  })),
  finalizers: Schema.optionalKey(Schema.Array(Schema.Literals(["f.io/1", "f.io/2"]))),
  spec: Schema.optionalKey(Nested),
  containers: Schema.optionalKey(Schema.Array(Container))
})

const uniqueBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Array<A> => {
  const seen = new Set<string>()
  return items.filter((a) => (seen.has(key(a)) ? false : (seen.add(key(a)), true)))
}

// A valid applied configuration: unique keys, and no empty associative list (which owns nothing).
const toObject = (c: typeof Config.Type): Obj => {
  const containers = uniqueBy(c.containers ?? [], (x) => x.name).map((x) => {
    const ports = uniqueBy(x.ports ?? [], (p) => `${p.containerPort}/${p.protocol ?? "TCP"}`)
    const { ports: _, ...rest } = x
    return ports.length > 0 ? { ...rest, ports } : rest
  })
  const finalizers = uniqueBy(c.finalizers ?? [], (x) => x)
  const spec: Record<string, unknown> = { ...c.spec }
  if (containers.length > 0) spec.template = { spec: { containers } }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "default",
      ...(c.labels === undefined ? {} : { labels: c.labels }),
      ...(finalizers.length > 0 ? { finalizers } : {})
    },
    spec
  }
}

const ConfigObject = Arbitrary.map(Arbitrary.schema(Config), toObject)
const Seed = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))

const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

const isGranularList = (path: string) =>
  path === "metadata.finalizers" || path.endsWith("spec.template.spec.containers") || path.endsWith("[].ports")

// Drops fields (and list items) pseudo-randomly, never name keys or the object's identity; a
// container emptied by the drop goes too, and so does an associative list left empty.
const subset = (obj: Obj, seed: number): Obj => {
  const drop = (path: string) => hash(`${seed}:${path}`) % 3 === 0
  const walk = (v: unknown, path: string, keys: ReadonlyArray<string>): unknown => {
    if (Array.isArray(v)) {
      if (!isGranularList(path)) return v
      const items = v.filter((item, i) => !drop(`${path}[${typeof item === "object" ? JSON.stringify(item) : i}]`))
        .map((item) => walk(item, `${path}[]`, path.endsWith("containers") ? ["name"] : ["containerPort", "protocol"]))
      return items.length === 0 ? undefined : items
    }
    if (typeof v !== "object" || v === null) return v
    const out: Record<string, unknown> = {}
    for (const [key, child] of Object.entries(v)) {
      const p = path === "" ? key : `${path}.${key}`
      if (keys.includes(key) || !drop(p)) {
        const c = walk(child, p, [])
        if (c !== undefined) out[key] = c
      }
    }
    const wasEmpty = Object.keys(v).length === 0
    return Object.keys(out).length === 0 && !wasEmpty ? undefined : out
  }
  const out = walk(obj, "", ["apiVersion", "kind", "metadata", "name", "namespace"]) as Obj
  return { ...out, metadata: { ...out.metadata, name: "web", namespace: "default" } }
}

describe("apply properties", () => {
  it.prop("applying the same configuration again changes nothing", [ConfigObject, ConfigObject], ([c1, c2]) => {
    const once = apply(undefined, c1, "a", T0)
    assert.deepStrictEqual(apply(once, c1, "a", T1), once)
    // Also with a second applier that forced its way in.
    const both = apply(once, c2, "b", T1, { force: true })
    assert.deepStrictEqual(apply(both, c2, "b", T2), both)
  }, { arbitrary: { runs: 300 } })

  it.prop("applying a subset removes exactly the dropped fields", [ConfigObject, Seed], ([config, seed]) => {
    const smaller = subset(config, seed)
    const live = apply(undefined, config, "a", T0)
    const next = apply(live, smaller, "a", T1)
    assert.deepStrictEqual(body(next), smaller)
    const owned = entries(next)
    assert.isTrue(owned.length <= 1)
    assert.isTrue(FieldSet.equals(owned[0]?.fields ?? FieldSet.empty, ServerSideApply.fieldSetOf(smaller)))
  }, { arbitrary: { runs: 300 } })

  it.prop("a field dropped by one applier survives while another applier owns it", [ConfigObject, Seed], ([config, seed]) => {
    const smaller = subset(config, seed)
    const live = apply(apply(undefined, config, "a", T0), config, "b", T1)
    const next = apply(live, smaller, "a", T2)
    assert.deepStrictEqual(body(next), body(live))
    const a = entries(next).find((e) => e.manager === "a")
    assert.isTrue(FieldSet.equals(a?.fields ?? FieldSet.empty, ServerSideApply.fieldSetOf(smaller)))
    assert.isTrue(FieldSet.equals(entry(next, "b").fields, ServerSideApply.fieldSetOf(config)))
  }, { arbitrary: { runs: 200 } })
})
