import { describe, expect, it } from "@effect/vitest"
import * as Conditions from "../src/Conditions.ts"

describe("Conditions", () => {
  it("keeps lastTransitionTime while the status is unchanged and moves it on a transition", () => {
    const a = Conditions.set([], { type: "Ready", status: "False", reason: "A", message: "x" }, "t1")
    const b = Conditions.set(a, { type: "Ready", status: "False", reason: "B", message: "y" }, "t2")
    expect(b).toEqual([{ type: "Ready", status: "False", reason: "B", message: "y", lastTransitionTime: "t1" }])
    const c = Conditions.set(b, { type: "Ready", status: "True", reason: "C", message: "" }, "t3")
    expect(c[0]?.lastTransitionTime).toBe("t3")
  })
  it("reads conditions from an unknown status, dropping malformed entries", () => {
    expect(Conditions.fromStatus({ conditions: [{ type: "Ready", status: "True" }, { type: 1 }, null, { type: "X", status: "maybe" }] }))
      .toEqual([{ type: "Ready", status: "True" }])
    expect(Conditions.fromStatus(undefined)).toEqual([])
  })
  it("formats timestamps at second precision like metav1.Time", () => {
    expect(Conditions.timestamp(1_700_000_000_123)).toBe("2023-11-14T22:13:20Z")
  })
})
