/**
 * The pure part of noticing pruned status fields: which paths a write's answer lacks, and leaving them out.
 */
import { describe, expect, it } from "@effect/vitest"
import * as StatusPruning from "../src/internal/statusPruning.ts"

describe("StatusPruning", () => {
  it("finds keys the answer lacks, at any depth and in every list item; changed values are not drops", () => {
    const sent = { size: 1, conditions: [{ type: "Ready", reason: "Synced" }, { type: "X", reason: "Y" }], nested: { a: 1, b: 2 } }
    const kept = { size: 2, conditions: [{ type: "Ready" }, { type: "X" }], nested: { a: 1 } }
    expect([...StatusPruning.dropped(sent, kept)].sort()).toEqual([`["conditions","[]","reason"]`, `["nested","b"]`])
    expect(StatusPruning.dropped(sent, sent)).toEqual([])
    expect(StatusPruning.dropped({ conditions: [] }, undefined)).toEqual([`["conditions"]`])
  })

  it("leaves the dropped paths out, and nothing else", () => {
    const status = { size: 1, conditions: [{ type: "Ready", reason: "Synced" }], labels: { "a.b/c": "x", d: "y" } }
    const pruned = new Set([`["conditions","[]","reason"]`, `["labels","a.b/c"]`])
    expect(StatusPruning.without(status, pruned)).toEqual({ size: 1, conditions: [{ type: "Ready" }], labels: { d: "y" } })
    expect(StatusPruning.without(status, new Set([`["conditions"]`]))).toEqual({ size: 1, labels: status.labels })
    expect(StatusPruning.without(status, new Set())).toBe(status)
    // A round trip: what was dropped, left out, leaves nothing to drop.
    const kept = { size: 1, conditions: [{ type: "Ready" }], labels: { d: "y" } }
    expect(StatusPruning.dropped(StatusPruning.without(status, new Set(StatusPruning.dropped(status, kept))), kept)).toEqual([])
  })

  it("names the fields as a user writes them", () => {
    const text = StatusPruning.describe("EchoServer", [`["conditions"]`, `["labels","a.b/c"]`])
    expect(text).toContain(`status.conditions, status.labels["a.b/c"]`)
    expect(text).toContain("openAPIV3Schema")
  })
})
