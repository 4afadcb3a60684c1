import { assert, describe, it } from "@effect/vitest"
import { Resource } from "@kubefx/core"
import { Schema } from "effect"

const full = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    generateName: "web-",
    namespace: "default",
    uid: "u-1",
    resourceVersion: "42",
    generation: 3,
    creationTimestamp: "2026-01-01T00:00:00Z",
    deletionTimestamp: "2026-01-02T00:00:00Z",
    deletionGracePeriodSeconds: 30,
    labels: { app: "web" },
    annotations: { note: "x" },
    finalizers: ["example.com/cleanup"],
    ownerReferences: [{ apiVersion: "v1", kind: "EchoServer", name: "p", uid: "u-0", controller: true, blockOwnerDeletion: true }],
    managedFields: [{ manager: "kubectl", operation: "Apply" }]
  },
  spec: { replicas: 1 },
  status: {}
}

const wrongValues: ReadonlyArray<unknown> = [undefined, null, 1, "s", true, [], {}, ["s"], [1], { a: 1 }, { a: "b" }]

/** Every path of the object (objects and arrays descended into). */
const paths = (value: unknown, prefix: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> => {
  if (typeof value !== "object" || value === null) return []
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value)
  return keys.flatMap((k) => [[...prefix, k], ...paths((value as Record<string | number, unknown>)[k], [...prefix, k])])
}

const variant = (path: ReadonlyArray<string | number>, value: unknown, remove: boolean): unknown => {
  const copy = structuredClone(full) as unknown as Record<string | number, unknown>
  let at = copy
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (remove) delete at[last]
  else at[last] = value
  return copy
}

describe("Resource.isKubeObject", () => {
  const schemaSays = Schema.is(Resource.KubeObjectSchema)

  it("agrees with KubeObjectSchema on every field replaced, removed or set to undefined", () => {
    const cases: Array<unknown> = [full, null, [], "x", {}, { apiVersion: "v1", kind: "X" }]
    for (const path of paths(full)) {
      cases.push(variant(path, undefined, true))
      for (const value of wrongValues) cases.push(variant(path, value, false))
    }
    let refused = 0
    for (const value of cases) {
      const verdict = Resource.isKubeObject(value)
      assert.strictEqual(verdict, schemaSays(value), JSON.stringify(value))
      if (!verdict) refused++
    }
    assert.isAbove(refused, 100, "the cases include many the Schema refuses")
  })

  it("accepts the minimum (apiVersion, kind, empty metadata) and keeps unknown keys on the value itself", () => {
    const min = { apiVersion: "v1", kind: "ConfigMap", metadata: {}, data: { a: "b" } }
    assert.isTrue(Resource.isKubeObject(min))
    assert.isTrue(Resource.isObjectMeta({ extra: [1, 2] }))
    assert.isFalse(Resource.isObjectMeta({ labels: { a: 1 } }))
  })
})
