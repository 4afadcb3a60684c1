import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Builtin from "../src/Builtin.ts"
import type { KubeObject } from "../src/Resource.ts"
import * as Resource from "../src/Resource.ts"
import * as Trigger from "../src/Trigger.ts"

const Parent = Resource.custom({
  group: "example.com", version: "v1", kind: "Widget", plural: "widgets",
  spec: Schema.Struct({ size: Schema.Number }), status: Schema.Struct({ ok: Schema.optionalKey(Schema.Boolean) })
})
const parent = (patch: Partial<KubeObject> & { metadata?: KubeObject["metadata"] } = {}): KubeObject => ({
  apiVersion: "example.com/v1",
  kind: "Widget",
  spec: { size: 1 },
  ...patch,
  metadata: { name: "w", namespace: "ns", uid: "u1", generation: 1, resourceVersion: "1", ...patch.metadata }
})

describe("Trigger", () => {
  it("parent additions, deletions and spec/metadata changes enqueue the parent", () => {
    expect(Trigger.keysFor(Parent, { type: Parent, previous: undefined, current: parent() })).toEqual(["ns/w"])
    expect(Trigger.keysFor(Parent, { type: Parent, previous: parent(), current: undefined })).toEqual(["ns/w"])
    const edited = parent({ spec: { size: 2 }, metadata: { name: "w", generation: 2, resourceVersion: "2" } })
    expect(Trigger.keysFor(Parent, { type: Parent, previous: parent(), current: edited })).toEqual(["ns/w"])
    const deleting = parent({ metadata: { name: "w", deletionTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "3" } })
    expect(Trigger.keysFor(Parent, { type: Parent, previous: parent(), current: deleting })).toEqual(["ns/w"])
  })

  it("a status-only change of the parent (our own status write) enqueues nothing", () => {
    const written = parent({ status: { ok: true }, metadata: { name: "w", resourceVersion: "9", managedFields: [{ manager: "op" }] } })
    expect(Trigger.keysFor(Parent, { type: Parent, previous: parent(), current: written })).toEqual([])
  })

  it("a child change enqueues its controlling parent of the right kind only", () => {
    const child = (owner: { kind: string; name: string }): KubeObject => ({
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { name: "c", namespace: "ns", ownerReferences: [{ apiVersion: "example.com/v1", ...owner, uid: "u1", controller: true }] }
    })
    expect(Trigger.keysFor(Parent, { type: Builtin.ConfigMap, previous: undefined, current: child({ kind: "Widget", name: "w" }) })).toEqual(["ns/w"])
    expect(Trigger.keysFor(Parent, { type: Builtin.ConfigMap, previous: undefined, current: child({ kind: "Other", name: "w" }) })).toEqual([])
    // Re-parented: both the old and the new owner hear of it.
    expect(Trigger.keysFor(Parent, { type: Builtin.ConfigMap, previous: child({ kind: "Widget", name: "a" }), current: child({ kind: "Widget", name: "b" }) })).toEqual(["ns/a", "ns/b"])
  })
})
