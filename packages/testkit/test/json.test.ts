import { assert, describe, it } from "@effect/vitest"
import { jsonEqual } from "../src/internal/json.ts"

// The reference: the same document is the same JSON text once object keys are sorted.
const canonical = (u: unknown): string =>
  JSON.stringify(u, (_, v) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v)

describe("jsonEqual", () => {
  it("compares scalars by value and never equates different types", () => {
    assert.isTrue(jsonEqual(1, 1))
    assert.isTrue(jsonEqual("a", "a"))
    assert.isTrue(jsonEqual(null, null))
    assert.isTrue(jsonEqual(undefined, undefined))
    assert.isFalse(jsonEqual(1, "1"))
    assert.isFalse(jsonEqual(0, false))
    assert.isFalse(jsonEqual(null, undefined))
    assert.isFalse(jsonEqual(null, {}))
    assert.isFalse(jsonEqual({}, []))
    assert.isFalse(jsonEqual([], {}))
    assert.isFalse(jsonEqual(undefined, {}))
  })

  it("ignores the order of object keys", () => {
    const a = { metadata: { name: "a", labels: { x: "1", y: "2" } }, spec: { replicas: 1 } }
    const b = { spec: { replicas: 1 }, metadata: { labels: { y: "2", x: "1" }, name: "a" } }
    assert.isTrue(jsonEqual(a, b))
    assert.isTrue(jsonEqual(b, a))
    assert.notStrictEqual(JSON.stringify(a), JSON.stringify(b))
  })

  it("counts a key whose value is undefined as absent, as JSON.stringify drops it", () => {
    assert.isTrue(jsonEqual({ a: 1, b: undefined }, { a: 1 }))
    assert.isTrue(jsonEqual({ a: 1 }, { a: 1, b: undefined }))
    assert.isTrue(jsonEqual({ a: undefined }, { b: undefined }))
    assert.isTrue(jsonEqual({ spec: { x: undefined } }, { spec: {} }))
    // Absent and null are different documents.
    assert.isFalse(jsonEqual({ a: null }, {}))
    assert.isFalse(jsonEqual({ a: null }, { a: undefined }))
    // An undefined key does not make up for a missing one.
    assert.isFalse(jsonEqual({ a: 1, b: undefined }, { a: 1, c: 2 }))
  })

  it("compares arrays in order, an undefined item as null", () => {
    assert.isTrue(jsonEqual([1, { a: [2, 3] }], [1, { a: [2, 3] }]))
    assert.isFalse(jsonEqual([1, 2], [2, 1]))
    assert.isFalse(jsonEqual([1], [1, 1]))
    assert.isFalse(jsonEqual([], [undefined]))
    assert.isTrue(jsonEqual([undefined], [null]))
    assert.isFalse(jsonEqual([undefined], [{}]))
  })

  it("agrees with the canonical JSON text", () => {
    const docs: ReadonlyArray<unknown> = [
      {},
      { a: 1 },
      { a: 1, b: undefined },
      { b: undefined, a: 1 },
      { a: null },
      { a: [1, 2] },
      { a: [2, 1] },
      { a: [undefined] },
      { a: [null] },
      { a: { b: { c: "x" } } },
      { a: { c: "x", b: undefined } },
      { a: { b: { c: "x" }, d: undefined } },
      [],
      [{}],
      [{ a: undefined }],
      "x",
      0,
      null
    ]
    for (const a of docs) {
      for (const b of docs) {
        assert.strictEqual(jsonEqual(a, b), canonical(a) === canonical(b), `${canonical(a)} vs ${canonical(b)}`)
      }
    }
  })
})
