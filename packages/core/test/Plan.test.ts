import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as Builtin from "../src/Builtin.ts"
import * as Child from "../src/Child.ts"
import * as Plan from "../src/Plan.ts"
import type { KubeObject, ResourceType } from "../src/Resource.ts"
import * as Resource from "../src/Resource.ts"

const Parent = Resource.custom({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  spec: Schema.Struct({ size: Schema.Number }),
  status: Schema.Struct({})
})
const parent: KubeObject = {
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name: "w", namespace: "ns", uid: "uid-1", generation: 1 }
}
const parentInfo = { object: parent, type: Parent as ResourceType }
const configs = [Child.of(Builtin.ConfigMap), Child.of(Builtin.Secret, { update: "replace" }), Child.of(Builtin.Deployment, { update: "recreate" }), Child.of(Builtin.Service, { update: "onDelete" })]

const cm = (name: string, data: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data })

const desired = (children: ReadonlyArray<KubeObject>) => {
  const r = Plan.desiredChildren("op", parentInfo, children, configs)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

/** What the API server would hold after writing a desired child: server fields added. */
const written = (d: Plan.DesiredChild, rv: number): KubeObject => ({
  ...d.object,
  metadata: { ...d.object.metadata, uid: `child-${d.object.metadata.name}`, resourceVersion: String(rv), creationTimestamp: "2026-01-01T00:00:00Z" }
})

describe("Plan.desiredChildren", () => {
  it("adds namespace, controller owner reference, tracking label and hash", () => {
    const [d] = desired([cm("a", { k: "v" })])
    expect(d!.object.metadata.namespace).toBe("ns")
    expect(d!.object.metadata.labels?.[Plan.operatorLabel]).toBe("op")
    expect(d!.object.metadata.ownerReferences).toEqual([
      { apiVersion: "example.com/v1", kind: "Widget", name: "w", uid: "uid-1", controller: true, blockOwnerDeletion: true }
    ])
    expect(d!.object.metadata.annotations?.[Plan.hashAnnotation]).toBe(d!.hash)
  })

  it("rejects undeclared kinds, missing names, other namespaces, cluster-scoped children and duplicates", () => {
    const bad = (children: ReadonlyArray<KubeObject>) => Plan.desiredChildren("op", parentInfo, children, configs)
    const msg = (r: ReturnType<typeof bad>) => (Result.isFailure(r) ? r.failure.message : "ok")
    expect(msg(bad([{ apiVersion: "v1", kind: "Pod", metadata: { name: "p" } }]))).toMatch(/not among the operator's child types/)
    expect(msg(bad([{ apiVersion: "v1", kind: "ConfigMap", metadata: {} }]))).toMatch(/without metadata.name/)
    expect(msg(bad([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "other" } }]))).toMatch(/cannot cross namespaces/)
    expect(msg(bad([cm("a", {}), cm("a", { x: "y" })]))).toMatch(/twice/)
    const withNs = Plan.desiredChildren("op", parentInfo, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "n" } }], [Child.of(Builtin.Namespace)])
    expect(msg(withNs)).toMatch(/cluster-scoped/)
  })

  it("rejects, before anything is written, children with foreign or malformed owner references, bad names or too large", () => {
    const bad = (children: ReadonlyArray<KubeObject>) => Plan.desiredChildren("op", parentInfo, children, configs)
    const msg = (r: ReturnType<typeof bad>) => (Result.isFailure(r) ? r.failure.message : "ok")
    const withOwners = (ownerReferences: ReadonlyArray<unknown>): KubeObject => ({ ...cm("a", {}), metadata: { name: "a", ownerReferences } } as KubeObject)
    // another controller: kubefx sets the controller reference itself, it never silently drops one
    expect(msg(bad([withOwners([{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "uid-9", controller: true }])]))).toMatch(/controller ownerReference/)
    // a non-controlling owner must be a complete reference
    expect(msg(bad([withOwners([{ apiVersion: "v1", kind: "ConfigMap", name: "x" }])]))).toMatch(/ownerReference.*uid/)
    // an extra, complete, non-controlling owner is kept
    expect(msg(bad([withOwners([{ apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "uid-x" }])]))).toBe("ok")
    expect(msg(bad([cm("Not_A_Name", {})]))).toMatch(/not a valid name/)
    expect(msg(bad([cm("a".repeat(254), {})]))).toMatch(/not a valid name/)
    expect(msg(bad([cm("big", { blob: "x".repeat(1_600_000) })]))).toMatch(/too large/)
  })

  it("hash is independent of key order and changes when a field is removed", () => {
    const a = desired([cm("a", { x: "1", y: "2" })])[0]!
    const b = desired([{ metadata: { name: "a" }, data: { y: "2", x: "1" }, kind: "ConfigMap", apiVersion: "v1" }])[0]!
    const c = desired([cm("a", { x: "1" })])[0]!
    expect(a.hash).toBe(b.hash)
    expect(c.hash).not.toBe(a.hash)
  })
})

describe("Plan.make", () => {
  it("creates absent children (apply policy creates by apply) and does nothing for up-to-date ones", () => {
    const ds = desired([cm("a", { k: "v" }), { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: {} }])
    const p1 = Plan.make("uid-1", ds, [])
    expect(p1.steps.map((s) => s._tag)).toEqual(["Apply", "Create"])
    const observed = ds.map((d, i) => ({ type: d.type, object: written(d, i + 10) }))
    expect(Plan.isEmpty(Plan.make("uid-1", ds, observed))).toBe(true)
  })

  it("detects removal of a field from the desired child (subset check alone would not)", () => {
    const before = desired([cm("a", { x: "1", y: "2" })])[0]!
    const after = desired([cm("a", { x: "1" })])
    const plan = Plan.make("uid-1", after, [{ type: Builtin.ConfigMap, object: written(before, 5) }])
    expect(plan.steps.map((s) => s._tag)).toEqual(["Apply"])
  })

  it("detects another writer changing a field we declare, and ignores fields we do not declare", () => {
    const d = desired([cm("a", { x: "1" })])[0]!
    const tampered = { ...written(d, 5), data: { x: "changed" } }
    expect(Plan.make("uid-1", [d], [{ type: Builtin.ConfigMap, object: tampered }]).steps).toHaveLength(1)
    const extra = { ...written(d, 5), data: { x: "1" }, binaryData: { other: "writer" }, metadata: { ...written(d, 5).metadata, labels: { ...d.object.metadata.labels, added: "by-someone" } } }
    expect(Plan.make("uid-1", [d], [{ type: Builtin.ConfigMap, object: extra }]).steps).toHaveLength(0)
  })

  it("updates by policy: replace carries the resourceVersion, recreate, onDelete leaves it", () => {
    const ds = desired([
      { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { a: "b" } },
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" }, spec: { replicas: 2 } },
      { apiVersion: "v1", kind: "Service", metadata: { name: "svc" }, spec: { type: "ClusterIP" } }
    ])
    const stale = ds.map((d, i) => ({ type: d.type, object: { ...written(d, 20 + i), metadata: { ...written(d, 20 + i).metadata, annotations: { [Plan.hashAnnotation]: "old" } } } }))
    const plan = Plan.make("uid-1", ds, stale)
    expect(plan.steps.map((s) => s._tag)).toEqual(["Replace", "Recreate"])
    const replace = plan.steps[0]!
    expect(replace._tag === "Replace" && replace.object.metadata.resourceVersion).toBe("20")
  })

  it("deletes owned children that are no longer desired, never others, and waits for ones being deleted", () => {
    const d = desired([cm("keep", {})])[0]!
    const gone = desired([cm("gone", {})])[0]!
    const notOurs: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "foreign", namespace: "ns", ownerReferences: [{ ...Plan.ownerReference(parent), uid: "someone-else" }] } }
    const deleting = { ...written(desired([cm("deleting", {})])[0]!, 3), metadata: { ...written(desired([cm("deleting", {})])[0]!, 3).metadata, deletionTimestamp: "2026-01-01T00:00:00Z" } }
    const plan = Plan.make("uid-1", [d], [
      { type: Builtin.ConfigMap, object: written(d, 1) },
      { type: Builtin.ConfigMap, object: written(gone, 2) },
      { type: Builtin.ConfigMap, object: notOurs },
      { type: Builtin.ConfigMap, object: deleting }
    ])
    expect(plan.steps).toEqual([{ _tag: "Delete", type: Builtin.ConfigMap, current: written(gone, 2) }])
  })

  it("never touches an object it does not own that sits where a desired child should be", () => {
    const d = desired([cm("a", { k: "v" })])[0]!
    const squatter: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "ns", uid: "x" }, data: { k: "other" } }
    const plan = Plan.make("uid-1", [d], [{ type: Builtin.ConfigMap, object: squatter }])
    expect(plan.steps).toEqual([])
    expect(plan.blocked[0]?.reason).toMatch(/not owned by this parent/)
  })
})

/** A model of the API server's effect of each step on the observed children. */
const applySteps = (observed: Map<string, { type: ResourceType; object: KubeObject }>, plan: Plan.Plan, rv: { n: number }) => {
  const id = (o: KubeObject) => `${o.kind}/${o.metadata.name}`
  const deepMerge = (a: unknown, b: unknown): unknown => {
    if (b !== null && typeof b === "object" && !Array.isArray(b) && a !== null && typeof a === "object" && !Array.isArray(a)) {
      const out: Record<string, unknown> = { ...(a as Record<string, unknown>) }
      for (const [k, v] of Object.entries(b)) out[k] = deepMerge(out[k], v)
      return out
    }
    return b
  }
  for (const step of plan.steps) {
    rv.n++
    const meta = (o: KubeObject, uid: string) => ({ ...o.metadata, uid, resourceVersion: String(rv.n) })
    switch (step._tag) {
      case "Create":
      case "Recreate":
        observed.set(id(step.object), { type: step.type, object: { ...step.object, metadata: meta(step.object, `u${rv.n}`) } })
        break
      case "Apply": {
        // SSA: our declared fields win, others' fields stay; a field we stopped declaring is dropped (it was ours).
        const current = observed.get(id(step.object))?.object
        const merged = current === undefined ? step.object : (deepMerge({ ...current, data: undefined }, step.object) as KubeObject)
        observed.set(id(step.object), { type: step.type, object: { ...merged, metadata: meta(merged, current?.metadata.uid ?? `u${rv.n}`) } })
        break
      }
      case "Replace":
        observed.set(id(step.object), { type: step.type, object: { ...step.object, metadata: meta(step.object, step.current.metadata.uid ?? "") } })
        break
      case "Delete":
        observed.delete(id(step.current))
        break
    }
  }
}

const Data = Schema.Record(Schema.Literals(["a", "b", "c"]), Schema.Literals(["1", "2"]))
const Scenario = Schema.Struct({
  before: Schema.Array(Schema.Struct({ name: Schema.Literals(["p", "q", "r", "s"]), data: Data, kind: Schema.Literals(["ConfigMap", "Secret", "Deployment", "Service"]) })),
  after: Schema.Array(Schema.Struct({ name: Schema.Literals(["p", "q", "r", "s"]), data: Data, kind: Schema.Literals(["ConfigMap", "Secret", "Deployment", "Service"]) })),
  tamper: Schema.Array(Schema.Literals(["p", "q", "r", "s"]))
})

const dedupe = <A extends { name: string; kind: string }>(xs: ReadonlyArray<A>) =>
  xs.filter((x, i) => xs.findIndex((y) => y.name === x.name && y.kind === x.kind) === i)
const apiVersionOf = (kind: string) => (kind === "Deployment" ? "apps/v1" : "v1")

describe("Plan properties", () => {
  it.effect.prop("executing a plan and planning again yields an empty plan", { s: Scenario }, ({ s }) =>
    Effect.sync(() => {
      const toObjects = (xs: typeof s.before) =>
        dedupe(xs).map((x): KubeObject => ({ apiVersion: apiVersionOf(x.kind), kind: x.kind, metadata: { name: x.name }, data: x.data }))
      const rv = { n: 0 }
      const observed = new Map<string, { type: ResourceType; object: KubeObject }>()
      applySteps(observed, Plan.make("uid-1", desired(toObjects(s.before)), []), rv)
      // Another writer edits some children.
      for (const [k, o] of observed) {
        if (s.tamper.includes(o.object.metadata.name as "p")) observed.set(k, { ...o, object: { ...o.object, data: { a: "tampered" } } })
      }
      const target = desired(toObjects(s.after))
      const plan = Plan.make("uid-1", target, Array.from(observed.values()))
      applySteps(observed, plan, rv)
      const again = Plan.make("uid-1", target, Array.from(observed.values()))
      // onDelete children are allowed to stay drifted; every other policy converges.
      const remaining = again.steps
      expect(remaining).toEqual([])
      // Nothing that is not desired survives, except onDelete children never removed (they are desired or deleted).
      for (const o of observed.values()) {
        expect(target.some((d) => d.object.kind === o.object.kind && d.object.metadata.name === o.object.metadata.name)).toBe(true)
      }
    }))
})
