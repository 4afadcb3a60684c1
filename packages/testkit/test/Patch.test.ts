import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { Patch } from "../src/index.ts"
import type { Cluster } from "@kubefx/core"

type Ops = ReadonlyArray<Cluster.JsonPatchOperation>

const jsonOk = (target: unknown, ops: Ops) => Result.getOrThrow(Patch.jsonPatch(target, ops))
const jsonErr = (target: unknown, ops: Ops) => {
  const r = Patch.jsonPatch(target, ops)
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`)
  return r.failure
}
const smp = (target: unknown, patch: unknown) => Result.getOrThrow(Patch.strategicMergePatch(target, patch))

describe("mergePatch (RFC 7386)", () => {
  // The examples of RFC 7386, appendix A.
  const cases: ReadonlyArray<readonly [unknown, unknown, unknown]> = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [["a", "b"], ["c", "d"], ["c", "d"]],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }]
  ]
  it("follows every example of the RFC", () => {
    for (const [target, patch, expected] of cases) {
      assert.deepStrictEqual(Patch.mergePatch(target, patch), expected, JSON.stringify([target, patch]))
    }
  })

  it("does not mutate its inputs", () => {
    const target = { a: { b: 1 } }
    const patch = { a: { c: 2 } }
    Patch.mergePatch(target, patch)
    assert.deepStrictEqual(target, { a: { b: 1 } })
    assert.deepStrictEqual(patch, { a: { c: 2 } })
  })
})

// JSON without nulls as object values: a merge patch cannot express those.
const Scalar = Schema.Union([Schema.Boolean, Schema.Int, Schema.Literals(["x", "y", "z", ""])])
const Leaf = Schema.Union([Scalar, Schema.Array(Schema.Union([Scalar, Schema.Null]))])
const keys = <S extends Schema.Top>(s: S) =>
  Schema.Struct({ a: Schema.optionalKey(s), b: Schema.optionalKey(s), c: Schema.optionalKey(s) })
const Level1 = Schema.Union([Leaf, keys(Leaf)])
const Level2 = Schema.Union([Leaf, keys(Level1)])
// Objects dominate, as in the status writes this is for.
const Doc = Schema.Union([keys(Level2), keys(Level2), keys(Level2), Leaf, Schema.Null])

describe("createMergePatch", () => {
  it("produces the minimal patch", () => {
    assert.deepStrictEqual(
      Patch.createMergePatch(
        { spec: { a: 1, b: [1, 2], c: { d: 1 } }, status: { ready: false } },
        { spec: { a: 1, b: [1], c: { e: 2 } }, status: { ready: true } }
      ),
      { spec: { b: [1], c: { d: null, e: 2 } }, status: { ready: true } }
    )
    assert.deepStrictEqual(Patch.createMergePatch({ a: 1 }, { a: 1 }), {})
  })

  it.prop("mergePatch(from, createMergePatch(from, to)) is to", [Doc, Doc], ([from, to]) => {
    assert.deepStrictEqual(Patch.mergePatch(from, Patch.createMergePatch(from, to)), to)
  }, { arbitrary: { runs: 500 } })
})

describe("jsonPatch (RFC 6902)", () => {
  it("applies add, remove, replace, move, copy and test", () => {
    const doc = { spec: { replicas: 1, tags: ["a", "b"] }, meta: { name: "x" } }
    const out = jsonOk(doc, [
      { op: "test", path: "/spec/replicas", value: 1 },
      { op: "replace", path: "/spec/replicas", value: 3 },
      { op: "add", path: "/spec/tags/1", value: "between" },
      { op: "add", path: "/spec/tags/-", value: "last" },
      { op: "remove", path: "/spec/tags/0" },
      { op: "copy", from: "/meta/name", path: "/spec/name" },
      { op: "move", from: "/meta", path: "/metadata" },
      { op: "add", path: "/metadata/labels", value: { app: "web" } }
    ])
    assert.deepStrictEqual(out, {
      spec: { replicas: 3, tags: ["between", "b", "last"], name: "x" },
      metadata: { name: "x", labels: { app: "web" } }
    })
    // replace writes in place: the key keeps its position.
    assert.deepStrictEqual(Object.keys((out as { spec: object }).spec), ["replicas", "tags", "name"])
    assert.deepStrictEqual(doc, { spec: { replicas: 1, tags: ["a", "b"] }, meta: { name: "x" } })
  })

  it("unescapes ~1 and ~0 in pointers", () => {
    const doc = { metadata: { annotations: { "example.com/a~b": "1" } } }
    assert.deepStrictEqual(jsonOk(doc, [{ op: "replace", path: "/metadata/annotations/example.com~1a~0b", value: "2" }]), {
      metadata: { annotations: { "example.com/a~b": "2" } }
    })
    assert.deepStrictEqual(jsonOk({}, [{ op: "add", path: "/~01", value: true }]), { "~1": true })
  })

  it("adds over an existing key, adds and replaces the root, and keeps null values", () => {
    assert.deepStrictEqual(jsonOk({ a: 1 }, [{ op: "add", path: "/a", value: null }]), { a: null })
    assert.deepStrictEqual(jsonOk({ a: 1 }, [{ op: "add", path: "", value: [1] }]), [1])
    assert.deepStrictEqual(jsonOk({ a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }]), { b: 2 })
    assert.deepStrictEqual(jsonOk({ a: [1, { b: 2 }] }, [{ op: "test", path: "/a", value: [1, { b: 2 }] }]), {
      a: [1, { b: 2 }]
    })
  })

  it("fails with the index and path of the failing operation, and applies nothing", () => {
    const doc = { spec: { replicas: 1, list: [0] } }
    const cases: ReadonlyArray<readonly [Ops, number, string]> = [
      [[{ op: "add", path: "/spec/x", value: 1 }, { op: "add", path: "/missing/x", value: 1 }], 1, "/missing/x"],
      [[{ op: "remove", path: "/spec/nope" }], 0, "/spec/nope"],
      [[{ op: "replace", path: "/spec/nope", value: 1 }], 0, "/spec/nope"],
      [[{ op: "test", path: "/spec/replicas", value: 2 }], 0, "/spec/replicas"],
      [[{ op: "add", path: "/spec/list/2", value: 1 }], 0, "/spec/list/2"],
      [[{ op: "add", path: "/spec/list/01", value: 1 }], 0, "/spec/list/01"],
      [[{ op: "remove", path: "/spec/list/-" }], 0, "/spec/list/-"],
      [[{ op: "move", from: "/spec", path: "/spec/inner" }], 0, "/spec/inner"],
      [[{ op: "copy", from: "/nope", path: "/x" }], 0, "/x"],
      [[{ op: "add", path: "spec", value: 1 }], 0, "spec"],
      [[{ op: "add", path: "/a~2", value: 1 }], 0, "/a~2"],
      [[{ op: "remove", path: "" }], 0, ""],
      [[{ op: "add", path: "/spec/x" } as Cluster.JsonPatchOperation], 0, "/spec/x"]
    ]
    for (const [ops, index, path] of cases) {
      const e = jsonErr(doc, ops)
      assert.strictEqual(e._tag, "PatchError")
      assert.strictEqual(e.operation, index, e.message)
      assert.strictEqual(e.path, path)
      assert.include(e.message, `json patch operation ${index} (`)
      assert.include(e.message, path === "" ? "remove " : path)
    }
    assert.deepStrictEqual(doc, { spec: { replicas: 1, list: [0] } })
  })

  it("never quotes values in its errors", () => {
    const e = jsonErr({ data: { password: "hunter2" } }, [{ op: "test", path: "/data/password", value: "guess" }])
    assert.notInclude(e.message, "hunter2")
    assert.notInclude(e.message, "guess")
  })
})

describe("strategicMergePatch", () => {
  const deployment = {
    metadata: { labels: { app: "web", tier: "fe" }, finalizers: ["a"] },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            { name: "web", image: "web:1", ports: [{ containerPort: 80 }], args: ["-a"] },
            { name: "side", image: "side:1" }
          ],
          tolerations: [{ key: "x" }]
        }
      }
    }
  }

  it("merges maps and merges containers by name", () => {
    const out = smp(deployment, {
      metadata: { labels: { tier: null, env: "prod" } },
      spec: { template: { spec: { containers: [{ name: "web", image: "web:2" }, { name: "new", image: "n" }] } } }
    })
    assert.deepStrictEqual(out, {
      metadata: { labels: { app: "web", env: "prod" }, finalizers: ["a"] },
      spec: {
        replicas: 1,
        template: {
          spec: {
            containers: [
              { name: "web", image: "web:2", ports: [{ containerPort: 80 }], args: ["-a"] },
              { name: "side", image: "side:1" },
              { name: "new", image: "n" }
            ],
            tolerations: [{ key: "x" }]
          }
        }
      }
    })
  })

  it("replaces lists without a merge key and merges set lists", () => {
    const out = smp(deployment, {
      metadata: { finalizers: ["b", "a"] },
      spec: { template: { spec: { containers: [{ name: "web", args: ["-b"] }], tolerations: [{ key: "y" }] } } }
    }) as typeof deployment
    assert.deepStrictEqual(out.metadata.finalizers, ["a", "b"])
    assert.deepStrictEqual(out.spec.template.spec.containers[0]!.args, ["-b"])
    assert.deepStrictEqual(out.spec.template.spec.tolerations, [{ key: "y" }])
  })

  it("merges container ports by containerPort", () => {
    const out = smp(deployment, {
      spec: { template: { spec: { containers: [{ name: "web", ports: [{ containerPort: 80, name: "http" }, { containerPort: 81 }] }] } } }
    }) as typeof deployment
    assert.deepStrictEqual(out.spec.template.spec.containers[0]!.ports, [{ containerPort: 80, name: "http" }, {
      containerPort: 81
    }])
  })

  it("honours $patch delete on list items and maps, $patch replace, and $deleteFromPrimitiveList", () => {
    const out = smp(deployment, {
      metadata: { $patch: "merge", labels: { $patch: "replace", only: "this" }, "$deleteFromPrimitiveList/finalizers": ["a"] },
      spec: { template: { spec: { containers: [{ name: "side", $patch: "delete" }], tolerations: { $patch: "delete" } } } }
    }) as Record<string, any>
    assert.deepStrictEqual(out.metadata, { labels: { only: "this" }, finalizers: [] })
    assert.deepStrictEqual(out.spec.template.spec.containers.map((c: { name: string }) => c.name), ["web"])
    assert.notProperty(out.spec.template.spec, "tolerations")

    const replaced = smp(deployment, {
      spec: { template: { spec: { containers: [{ $patch: "replace" }, { name: "only", image: "o" }] } } }
    }) as typeof deployment
    assert.deepStrictEqual(replaced.spec.template.spec.containers, [{ name: "only", image: "o" }] as any)
  })

  it("ignores $retainKeys and $setElementOrder", () => {
    const out = smp({ a: { b: 1, c: 2 } }, { a: { $retainKeys: ["b"], b: 3 }, "$setElementOrder/x": [] })
    assert.deepStrictEqual(out, { a: { b: 3, c: 2 } })
  })

  it("fails on items without their merge key and on unknown directives", () => {
    for (const patch of [
      { spec: { template: { spec: { containers: [{ image: "x" }] } } } },
      { spec: { template: { spec: { containers: ["web"] } } } },
      { metadata: { $patch: "explode" } }
    ]) {
      const r = Patch.strategicMergePatch(deployment, patch)
      assert.isTrue(Result.isFailure(r), JSON.stringify(patch))
      if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "PatchError")
    }
    const r = Patch.strategicMergePatch(deployment, { spec: { template: { spec: { containers: [{ image: "x" }] } } } })
    if (Result.isFailure(r)) {
      assert.include(r.failure.message, "merge key: name")
      assert.strictEqual(r.failure.path, "/spec/template/spec/containers/0")
    }
  })

  it("uses the given list keys for custom types", () => {
    const out = smp({ spec: { items: [{ id: 1, v: "a" }] } }, { spec: { items: [{ id: 2, v: "b" }] } })
    assert.deepStrictEqual(out, { spec: { items: [{ id: 2, v: "b" }] } })
    const merged = Result.getOrThrow(
      Patch.strategicMergePatch({ spec: { items: [{ id: 1, v: "a" }] } }, { spec: { items: [{ id: 2, v: "b" }] } }, {
        "spec.items": { type: "map", keys: ["id"] }
      })
    )
    assert.deepStrictEqual(merged, { spec: { items: [{ id: 1, v: "a" }, { id: 2, v: "b" }] } })
  })
})
