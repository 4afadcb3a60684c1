import { assert, describe, it } from "@effect/vitest"
import { Resource } from "@kubefx/core"
import { Result, Schema } from "effect"
import * as Wire from "../src/internal/wire.ts"

const item = { metadata: { name: "a", resourceVersion: "1", labels: { x: "y" } }, data: { k: "v" } }
const lists: ReadonlyArray<unknown> = [
  { metadata: { resourceVersion: "5" }, items: [item] },
  { metadata: { resourceVersion: "5", continue: "c" }, items: [] },
  { items: null },
  { items: [item, { metadata: { name: 1 } }] },
  { items: [item, {}] },
  { items: [item, "x"] },
  { metadata: { continue: 1 }, items: [] },
  { metadata: null, items: [] },
  { metadata: undefined, items: [] },
  { metadata: {} },
  { items: {} },
  [],
  null
]

const lines: ReadonlyArray<unknown> = [
  { type: "ADDED", object: {} },
  { type: "BOOKMARK", object: null },
  { type: "RENAMED", object: {} },
  { type: "ADDED" },
  { type: "ADDED", object: undefined },
  { object: {} },
  "ADDED",
  null
]

describe("wire decoding", () => {
  it("lists: the structural check gives the Schema's verdict, and the Schema's message when it refuses", () => {
    for (const value of lists) {
      const decoded = Wire.decodeObjectList(value)
      assert.strictEqual(Result.isSuccess(decoded), Schema.is(Wire.ObjectList)(value), JSON.stringify(value))
      if (Result.isFailure(decoded)) {
        const schema = Schema.decodeUnknownResult(Wire.ObjectList)(value)
        assert.strictEqual(decoded.failure.message, Result.isFailure(schema) ? schema.failure.message : "")
      }
    }
  })

  it("watch lines: the same verdicts as the Schema", () => {
    for (const value of lines) {
      assert.strictEqual(Result.isSuccess(Wire.decodeWatchLine(value)), Schema.is(Wire.WatchLine)(value), JSON.stringify(value))
    }
  })

  it("an accepted object is returned as parsed (no copy); a refused one fails with the Schema's message", () => {
    const object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: {} }
    const decoded = Wire.decodeObject(object)
    assert.isTrue(Result.isSuccess(decoded) && decoded.success === object)
    const bad = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: 1 } }
    const failed = Wire.decodeObject(bad)
    const schema = Schema.decodeUnknownResult(Resource.KubeObjectSchema)(bad)
    assert.isTrue(Result.isFailure(failed) && Result.isFailure(schema) && failed.failure.message === schema.failure.message)
  })
})
