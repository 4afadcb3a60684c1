/**
 * The bookkeeping behind `metadata.managedFields`: which fields can be owned at all, how entries
 * are identified, and how a non-apply write moves ownership. The public API is `ServerSideApply.ts`.
 *
 * @internal
 */
import type { Resource } from "@kubefx/core"
import * as FieldSet from "../FieldSet.ts"
import type { ListKeys } from "./listKeys.ts"
import * as Structured from "./structured.ts"

/** A decoded `managedFields` entry; see `ServerSideApply.ManagedEntry`. @internal */
export interface ManagedEntry {
  readonly manager: string
  readonly operation: "Apply" | "Update"
  readonly apiVersion: string
  /** `""` for the main resource. */
  readonly subresource: string
  readonly time: string | undefined
  readonly fields: FieldSet.FieldSet
}

/** @internal */
export const identity = (e: Pick<ManagedEntry, "manager" | "operation" | "apiVersion" | "subresource">): string =>
  // Appliers are one manager across versions; updaters are one per apiVersion (as the server keys them).
  JSON.stringify([e.manager, e.operation, e.operation === "Update" ? e.apiVersion : "", e.subresource])

/** An entry's time in whole seconds, as the server orders entries; 0 without one. @internal */
export const seconds = (time: string | undefined): number => {
  const ms = time === undefined ? Number.NaN : Date.parse(time)
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000)
}

/** @internal */
export const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

// The API server never records these (stripmeta.go), nor fields only it writes.
const strippedFields = FieldSet.make([
  [FieldSet.field("apiVersion")],
  [FieldSet.field("kind")],
  ...[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds"
  ].map((name) => [FieldSet.field("metadata"), FieldSet.field(name)])
])
const metadataItself = FieldSet.make([[FieldSet.field("metadata")]])

/** Written only by the API server: an apply keeps the live values. @internal */
export const serverOwnedMetadata = [
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink"
]

/** The part of `set` a manager can own: without stripped and reset fields. @internal */
export const ownable = (set: FieldSet.FieldSet, reset: FieldSet.FieldSet): FieldSet.FieldSet =>
  FieldSet.difference(FieldSet.recursiveDifference(FieldSet.recursiveDifference(set, strippedFields), reset), metadataItself)

/** @internal */
export const resetSet = (resetFields: ReadonlyArray<ReadonlyArray<string>>): FieldSet.FieldSet =>
  FieldSet.make(resetFields.map((p) => p.map(FieldSet.field)))

/** @internal */
export const withoutManagedFields = (obj: Resource.KubeObject): Structured.JsonObject => {
  const { managedFields: _, ...metadata } = Structured.isObject(obj.metadata) ? obj.metadata : {}
  return { ...obj, metadata }
}

/**
 * One non-apply write: the writer's Update entry gains what changed; every entry loses what
 * changed or was removed.
 *
 * @internal
 */
export const updateEntries = (
  entries: ReadonlyArray<ManagedEntry>,
  before: unknown,
  after: unknown,
  writer: {
    readonly manager: string
    readonly apiVersion: string
    readonly subresource: string
    readonly time: string
    readonly listKeys: ListKeys
    readonly reset: FieldSet.FieldSet
  }
): Array<ManagedEntry> => {
  const diff = Structured.compare(before, after, writer.listKeys)
  const changed = FieldSet.recursiveDifference(FieldSet.union(diff.modified, diff.added), writer.reset)
  const removed = FieldSet.recursiveDifference(diff.removed, writer.reset)
  const next = entries.map((e) => ({
    ...e,
    fields: FieldSet.difference(FieldSet.difference(e.fields, changed), removed)
  }))
  const gained = ownable(changed, writer.reset)
  if (FieldSet.isEmpty(gained)) return next
  const entry = { manager: writer.manager, operation: "Update", apiVersion: writer.apiVersion, subresource: writer.subresource } as const
  const i = next.findIndex((e) => identity(e) === identity(entry))
  const prior = i < 0 ? FieldSet.empty : next[i]!.fields
  const updated: ManagedEntry = { ...entry, time: writer.time, fields: FieldSet.union(prior, gained) }
  if (i < 0) next.push(updated)
  else next[i] = updated
  return next
}
