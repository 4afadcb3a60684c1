import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { FieldSet } from "../src/index.ts"

const { field: f, key: k, value: v } = FieldSet

// A managedFields entry as kube-apiserver writes it for `kubectl apply --server-side` of a Deployment.
const deploymentFieldsV1 = {
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
            "f:ports": {
              "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": { ".": {}, "f:containerPort": {} }
            }
          }
        }
      }
    }
  }
}

describe("FieldSet", () => {
  it("serializes path elements as fieldsV1 spells them", () => {
    assert.strictEqual(f("replicas"), "f:replicas")
    assert.strictEqual(k({ protocol: "TCP", containerPort: 80 }), "k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
    assert.strictEqual(v("example.com/finalizer"), "v:\"example.com/finalizer\"")
    assert.strictEqual(FieldSet.index(3), "i:3")
  })

  it("formats paths like the API server's conflict messages", () => {
    assert.strictEqual(
      FieldSet.formatPath([f("spec"), f("template"), f("spec"), f("containers"), k({ name: "nginx" }), f("image")]),
      ".spec.template.spec.containers[name=\"nginx\"].image"
    )
    assert.strictEqual(
      FieldSet.formatPath([f("ports"), k({ containerPort: 80, protocol: "TCP" })]),
      ".ports[containerPort=80,protocol=\"TCP\"]"
    )
    assert.strictEqual(FieldSet.formatPath([f("metadata"), f("finalizers"), v("a")]), ".metadata.finalizers[=\"a\"]")
    assert.strictEqual(FieldSet.formatPath([f("args"), FieldSet.index(0)]), ".args[0]")
  })

  it("round-trips a real managedFields entry through fieldsV1", () => {
    const set = Result.getOrThrow(FieldSet.fromFieldsV1(deploymentFieldsV1))
    assert.deepStrictEqual(FieldSet.toFieldsV1(set), deploymentFieldsV1)
    const container = [f("spec"), f("template"), f("spec"), f("containers"), k({ name: "nginx" })]
    assert.isTrue(FieldSet.has(set, container))
    assert.isTrue(FieldSet.has(set, [...container, f("image")]))
    assert.isTrue(FieldSet.has(set, [f("spec"), f("selector")]))
    // Non-empty objects are not members themselves.
    assert.isFalse(FieldSet.has(set, [f("spec")]))
    assert.isFalse(FieldSet.has(set, [f("spec"), f("template"), f("spec"), f("containers")]))
    assert.strictEqual(FieldSet.paths(set).length, 9)
  })

  it("writes '.' only for members that have children, and orders elements like the server", () => {
    const set = FieldSet.make([[f("b")], [f("a"), f("x")], [f("a")], [f("l"), v(2)], [f("l"), k({ n: 1 })]])
    const json = FieldSet.toFieldsV1(set)
    assert.deepStrictEqual(json, { "f:a": { ".": {}, "f:x": {} }, "f:b": {}, "f:l": { "k:{\"n\":1}": {}, "v:2": {} } })
    assert.deepStrictEqual(Object.keys(json), ["f:a", "f:b", "f:l"])
  })

  it("rejects what the API server would not write", () => {
    for (const bad of [[], "x", { "x:1": {} }, { "f:a": [] }, { "k:[1]": {} }, { "i:01": {} }, { "v:{": {} }]) {
      const r = FieldSet.fromFieldsV1(bad)
      assert.isTrue(Result.isFailure(r), JSON.stringify(bad))
      if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "FieldsV1Error")
    }
    assert.isTrue(Result.isSuccess(FieldSet.fromFieldsV1({ "i:0": {}, "v:null": {}, "f:": {} })))
  })

  it("unions, intersects and subtracts", () => {
    const a = FieldSet.make([[f("x")], [f("y"), f("z")], [f("y")]])
    const b = FieldSet.make([[f("y")], [f("w")]])
    assert.deepStrictEqual(FieldSet.paths(FieldSet.union(a, b)), [[f("w")], [f("x")], [f("y")], [f("y"), f("z")]])
    assert.deepStrictEqual(FieldSet.paths(FieldSet.intersection(a, b)), [[f("y")]])
    // difference removes members only; recursiveDifference removes the subtree.
    assert.deepStrictEqual(FieldSet.paths(FieldSet.difference(a, b)), [[f("x")], [f("y"), f("z")]])
    assert.deepStrictEqual(FieldSet.paths(FieldSet.recursiveDifference(a, b)), [[f("x")]])
    assert.isTrue(FieldSet.isEmpty(FieldSet.difference(a, a)))
    assert.isTrue(FieldSet.equals(FieldSet.union(a, FieldSet.empty), a))
    assert.isFalse(FieldSet.equals(a, b))
  })
})
