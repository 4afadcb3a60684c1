import { assert, describe, it } from "@effect/vitest"
import * as Json from "../src/internal/json.ts"

describe("Json.equals", () => {
  it("ignores the order of object keys, at every depth", () => {
    // JSON.stringify(a) === JSON.stringify(b) says these differ
    assert.isTrue(Json.equals({ a: 1, b: 2 }, { b: 2, a: 1 }))
    assert.isTrue(Json.equals({ x: [{ a: 1, b: { c: 2, d: 3 } }] }, { x: [{ b: { d: 3, c: 2 }, a: 1 }] }))
    assert.strictEqual(Json.canonical({ b: 1, a: 2 }), Json.canonical({ a: 2, b: 1 }))
  })

  it("keeps the order of array items", () => {
    assert.isFalse(Json.equals([1, 2], [2, 1]))
    assert.isFalse(Json.equals({ a: ["x", "y"] }, { a: ["y", "x"] }))
  })

  it("treats an undefined-valued key as absent, but not a null one", () => {
    assert.isTrue(Json.equals({ a: 1, b: undefined }, { a: 1 }))
    assert.isFalse(Json.equals({ a: 1, b: null }, { a: 1 }))
  })

  it("tells values of different JSON types apart", () => {
    assert.isFalse(Json.equals(1, "1"))
    assert.isFalse(Json.equals(true, "true"))
    assert.isFalse(Json.equals({}, []))
    assert.isFalse(Json.equals({ a: 1 }, { a: 1, b: 2 }))
    assert.isTrue(Json.equals("a", "a"))
    assert.isTrue(Json.equals(null, null))
  })

  it("reads values as JSON.stringify does: toJSON applied, boxed scalars unwrapped", () => {
    const date = new Date("2024-01-01T00:00:00Z")
    assert.isTrue(Json.equals({ at: date }, { at: "2024-01-01T00:00:00.000Z" }))
    assert.isTrue(Json.equals({ n: new Number(1) }, { n: 1 }))
    assert.isTrue(Json.equals([undefined], [null]))
  })
})
