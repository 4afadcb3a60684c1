/**
 * Standard status conditions, kept the way the Kubernetes API conventions ask: one entry per type, and
 * `lastTransitionTime` moves only when the condition's status changes (so status writes stay no-ops when
 * nothing changed).
 *
 * @since 0.1.0
 */
import type { Condition } from "./Resource.ts"

/**
 * `True` when the last reconcile succeeded.
 *
 * @since 0.1.0
 * @category constants
 */
export const Ready = "Ready"

/**
 * `True` while the last reconcile failed; its reason and message say why.
 *
 * @since 0.1.0
 * @category constants
 */
export const ReconcileError = "ReconcileError"

/**
 * Sets a condition in a list, preserving `lastTransitionTime` when its status is unchanged.
 *
 * @since 0.1.0
 * @category combinators
 */
export const set = (
  conditions: ReadonlyArray<Condition>,
  condition: Omit<Condition, "lastTransitionTime">,
  now: string
): ReadonlyArray<Condition> => {
  const existing = conditions.find((c) => c.type === condition.type)
  const lastTransitionTime = existing !== undefined && existing.status === condition.status && existing.lastTransitionTime
    ? existing.lastTransitionTime
    : now
  const next: Condition = { ...condition, lastTransitionTime }
  return existing === undefined
    ? [...conditions, next]
    : conditions.map((c) => (c.type === condition.type ? next : c))
}

/**
 * Reads a condition list from an unknown `status` value, dropping malformed entries.
 *
 * @since 0.1.0
 * @category accessors
 */
export const fromStatus = (status: unknown): ReadonlyArray<Condition> => {
  if (status === null || typeof status !== "object") return []
  const list = (status as { conditions?: unknown }).conditions
  if (!Array.isArray(list)) return []
  return list.filter((c): c is Condition =>
    c !== null && typeof c === "object" && typeof c.type === "string" &&
    (c.status === "True" || c.status === "False" || c.status === "Unknown")
  )
}

/**
 * Finds a condition by type.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (conditions: ReadonlyArray<Condition>, type: string): Condition | undefined =>
  conditions.find((c) => c.type === type)

/**
 * RFC 3339 at second precision, the form the API server uses for `metav1.Time`.
 *
 * @since 0.1.0
 * @category utils
 */
export const timestamp = (millis: number): string => new Date(Math.floor(millis / 1000) * 1000).toISOString().replace(".000Z", "Z")
