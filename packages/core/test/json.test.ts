import { assert, describe, it } from "@effect/vitest"
import * as Json from "../src/internal/json.ts"

/**
 * The specification of the canonical form, written plainly (this was the implementation before it was made
 * faster): keys sorted as strings, undefined-valued keys dropped, everything else as JSON.stringify prints it.
 */
const reference = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

const samples: ReadonlyArray<unknown> = [
  null,
  0,
  -1.5e-7,
  "",
  "plain",
  "quote \" backslash \\ newline \n tab \t nul \u0000 unicode é ✓ emoji 😀",
  "lone surrogate \ud800 and \udfff",
  [],
  {},
  [1, "a", null, true, false, [[]], {}],
  { b: 1, a: 2, "a\"b": 3, "": 4, "é": 5, "10": 6, "9": 7 },
  { z: undefined, y: [undefined, null], x: { w: undefined } },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { "app.kubernetes.io/name": "web" }, annotations: {} },
    spec: { replicas: 1, template: { spec: { containers: [{ name: "c", args: ["-text=hi", "-listen=:5678"] }] } } }
  }
]

describe("Json.canonical", () => {
  it("is JSON.stringify of the value with sorted keys and undefined-valued keys dropped", () => {
    for (const sample of samples) {
      assert.strictEqual(Json.canonical(sample), reference(sample), JSON.stringify(sample))
    }
  })

  it("hashes are stable across versions (they are stored on children; a change would rewrite every child)", () => {
    assert.strictEqual(Json.canonical({ b: [1, { d: "x", c: null }], a: "é" }), "{\"a\":\"é\",\"b\":[1,{\"c\":null,\"d\":\"x\"}]}")
    assert.strictEqual(Json.hash({ b: [1, { d: "x", c: null }], a: "é" }), Json.hashText("{\"a\":\"é\",\"b\":[1,{\"c\":null,\"d\":\"x\"}]}"))
    assert.strictEqual(Json.hashText(""), "811c9dc5cbf29ce4")
    assert.strictEqual(Json.hashText("{\"a\":1}"), PINNED)
  })

  it("equal agrees with the canonical forms", () => {
    for (const a of samples) {
      for (const b of samples) assert.strictEqual(Json.equal(a, b), Json.canonical(a) === Json.canonical(b))
    }
  })
})

const PINNED = "8b9e4511108d4df9"
