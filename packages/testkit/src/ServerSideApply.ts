/**
 * Server-side apply and field ownership (`metadata.managedFields`) as the API server does it, as
 * pure functions over JSON objects, for the in-memory `FakeCluster`.
 *
 * The model is `sigs.k8s.io/structured-merge-diff` and `k8s.io/apimachinery/pkg/util/managedfields`:
 * - an applier owns exactly the fields of its applied configuration (`toFieldSet`);
 * - a field it owned before and no longer applies is removed from the object, unless another
 *   manager owns it too;
 * - changing a field another manager owns is a conflict, unless `force` moves the ownership;
 *   applying the same value makes the ownership shared;
 * - a non-apply write (create, update, patch) makes the writer own the fields it changed and
 *   takes them from everyone else (`recordUpdate`).
 *
 * Without OpenAPI schemas, the structure comes from a `ListKeys` table: objects are granular maps,
 * lists are atomic unless the table makes them associative (merged by key) or sets. Known gaps
 * against a real API server: no defaulting (a key field's default is used only to name the item),
 * `null` in an applied configuration removes the field, the `ancient-changes` cap on update managers
 * is not applied, and a new entry created by a no-op apply gets a `time` (the server leaves it out).
 *
 * @since 0.1.0
 */
import { ClusterError, type Resource } from "@kubefx/core"
import { Result, Schema } from "effect"
import * as FieldSet from "./FieldSet.ts"
import { jsonEqual } from "./internal/json.ts"
import * as InternalListKeys from "./internal/listKeys.ts"
import * as Managed from "./internal/managedFields.ts"
import * as Structured from "./internal/structured.ts"

/**
 * How server-side apply (and strategic merge patch) treats a list, or an object, at one place:
 * - `map`: an associative list, items named by `keys` (`listType=map` + `listMapKey`); `defaults`
 *   are the schema defaults of key fields, used to name items that omit them; `patchMergeKey` is
 *   the strategic merge key when it differs from `keys[0]`;
 * - `set`: a list of distinct scalars (`listType=set`);
 * - `atomic`: replaced as a whole; also marks atomic maps (`mapType=atomic`, `structType=atomic`).
 *   `patchMergeKey` keeps a strategic merge key for lists that SSA treats as atomic.
 *
 * @since 0.1.0
 * @category models
 */
export type ListType = InternalListKeys.ListType

/**
 * Where lists are associative: a table from a field pattern to its `ListType`. A pattern is the
 * dotted path of field names from the object root, with `[]` after a list inside which it continues:
 * `spec.template.spec.containers[].ports`. Places not in the table: objects granular, lists atomic.
 *
 * @since 0.1.0
 * @category models
 */
export type ListKeys = InternalListKeys.ListKeys

/**
 * An associative list keyed by these fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listMap: (
  keys: ReadonlyArray<string>,
  options?: {
    readonly defaults?: Readonly<Record<string, string | number | boolean>>
    readonly patchMergeKey?: string
  }
) => ListType = InternalListKeys.listMap

/**
 * A list of distinct scalars.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listSet: ListType = InternalListKeys.listSet

/**
 * A list or map replaced as a whole.
 *
 * @since 0.1.0
 * @category constructors
 */
export const atomic: ListType = InternalListKeys.atomic

/**
 * The list types of common built-in fields, checked against `k8s.io/api` markers and a real
 * kube-apiserver: pod specs in a Pod (`spec`), in workloads and Jobs (`spec.template.spec`) and in
 * CronJobs (`spec.jobTemplate.spec.template.spec`), Service `spec.ports` and `spec.selector`, label
 * selectors and other atomic structs, `metadata.ownerReferences` (by `uid`, items atomic),
 * `metadata.finalizers` (a set) and `status.conditions` (by `type`). It covers common fields, not
 * every built-in type. Extend it for custom types:
 * `{ ...ServerSideApply.defaultListKeys, "spec.rules": ServerSideApply.listMap(["host"]) }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultListKeys: ListKeys = InternalListKeys.defaultListKeys

/**
 * The fields the API server resets on a write, given the type and the subresource written:
 * `status` on the main resource of a type with a status subresource, `spec` on `/status`.
 * Reset fields keep their live value and are never owned.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resetFieldsFor = (
  type: Resource.ResourceType<any>,
  subresource?: string
): ReadonlyArray<ReadonlyArray<string>> =>
  subresource === "status" ? [["spec"]] : type.statusSubresource && !subresource ? [["status"]] : []

/**
 * One conflicting field: who owns it and where it is.
 *
 * @since 0.1.0
 * @category models
 */
export const ConflictEntry = Schema.Struct({
  manager: Schema.String,
  operation: Schema.Literals(["Apply", "Update"]),
  subresource: Schema.optionalKey(Schema.String),
  field: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export type ConflictEntry = typeof ConflictEntry.Type

/**
 * An apply changed fields other managers own. `message` is the API server's
 * (`Apply failed with 1 conflict: conflict with "other": .spec.replicas`); `causes` are its
 * `details.causes` (reason `FieldManagerConflict`), ready for `ClusterError.Conflict`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApplyConflict extends Schema.TaggedError<ApplyConflict>()("ApplyConflict", {
  message: Schema.String,
  conflicts: Schema.Array(ConflictEntry),
  causes: Schema.Array(ClusterError.StatusCause)
}) {}

/**
 * An apply request the API server rejects before merging: no field manager (422), managedFields
 * in the configuration or a different apiVersion (400), an associative list item without its keys
 * or with a duplicate key (the server answers 500 today), unreadable live managedFields (500).
 *
 * @since 0.1.0
 * @category errors
 */
export class ApplyInvalid extends Schema.TaggedError<ApplyInvalid>()("ApplyInvalid", {
  message: Schema.String,
  status: Schema.Number
}) {}

/**
 * `metadata.managedFields` that cannot be read.
 *
 * @since 0.1.0
 * @category errors
 */
export class ManagedFieldsError extends Schema.TaggedError<ManagedFieldsError>()("ManagedFieldsError", {
  message: Schema.String
}) {}

/**
 * A decoded `managedFields` entry.
 *
 * @since 0.1.0
 * @category models
 */
export type ManagedEntry = Managed.ManagedEntry

/**
 * Reads `managedFields` the way the API server does: every entry needs an `Apply`/`Update`
 * operation, an apiVersion and `fieldsType: FieldsV1`. Entries with the same identity merge into
 * the last one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeManagedFields = (
  managedFields: unknown
): Result.Result<ReadonlyArray<ManagedEntry>, ManagedFieldsError> => {
  if (managedFields === undefined || managedFields === null) return Result.succeed([])
  if (!Array.isArray(managedFields)) {
    return Result.fail(new ManagedFieldsError({ message: "managedFields must be a list" }))
  }
  const byId = new Map<string, ManagedEntry>()
  for (const [i, raw] of managedFields.entries()) {
    const fail = (why: string) => Result.fail(new ManagedFieldsError({ message: `managed fields entry ${i}: ${why}` }))
    if (!Structured.isObject(raw)) return fail("not an object")
    const { apiVersion, fieldsType, fieldsV1, manager, operation, subresource, time } = raw
    if (operation !== "Apply" && operation !== "Update") return fail("operation must be `Apply` or `Update`")
    if (typeof apiVersion !== "string" || apiVersion === "") return fail("apiVersion must not be empty")
    if (fieldsType === undefined || fieldsType === "") return fail("missing fieldsType")
    if (fieldsType !== "FieldsV1") return fail(`invalid fieldsType ${JSON.stringify(fieldsType)}`)
    if (manager !== undefined && typeof manager !== "string") return fail("manager must be a string")
    if (subresource !== undefined && typeof subresource !== "string") return fail("subresource must be a string")
    if (time !== undefined && time !== null && typeof time !== "string") return fail("time must be a string")
    const fields = fieldsV1 === undefined || fieldsV1 === null ? Result.succeed(FieldSet.empty) : FieldSet.fromFieldsV1(fieldsV1)
    if (Result.isFailure(fields)) return fail(fields.failure.message)
    const entry: ManagedEntry = {
      manager: manager ?? "",
      operation,
      apiVersion,
      subresource: subresource ?? "",
      time: typeof time === "string" ? time : undefined,
      fields: fields.success
    }
    byId.set(Managed.identity(entry), entry)
  }
  return Result.succeed(Array.from(byId.values()))
}

/**
 * Writes entries as `managedFields`, in the API server's order (Apply before Update, then by time,
 * manager, apiVersion, subresource). Empty entries are dropped.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeManagedFields = (
  entries: ReadonlyArray<ManagedEntry>
): Array<Resource.ManagedFieldsEntry> =>
  entries
    .filter((e) => !FieldSet.isEmpty(e.fields))
    .slice()
    .sort((p, q) =>
      Managed.compareStrings(p.operation, q.operation) || Managed.seconds(p.time) - Managed.seconds(q.time) ||
      Managed.compareStrings(p.manager, q.manager) || Managed.compareStrings(p.apiVersion, q.apiVersion) ||
      Managed.compareStrings(p.subresource, q.subresource)
    )
    .map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      ...(e.time === undefined ? {} : { time: e.time }),
      fieldsType: "FieldsV1",
      fieldsV1: FieldSet.toFieldsV1(e.fields),
      ...(e.subresource === "" ? {} : { subresource: e.subresource })
    }))

const withManagedFields = (obj: unknown, entries: ReadonlyArray<ManagedEntry>): Resource.KubeObject => {
  const o = obj as Structured.JsonObject
  const { managedFields: _, ...metadata } = Structured.isObject(o.metadata) ? o.metadata : {}
  const encoded = encodeManagedFields(entries)
  return {
    ...o,
    metadata: encoded.length === 0 ? metadata : { ...metadata, managedFields: encoded }
  } as Resource.KubeObject
}

const quoteManager = (e: ManagedEntry): string => {
  let s = JSON.stringify(e.manager)
  if (e.subresource !== "") s += ` with subresource ${JSON.stringify(e.subresource)}`
  if (e.operation === "Update") s += ` using ${e.apiVersion}`
  return s
}

const conflictError = (found: ReadonlyArray<readonly [ManagedEntry, FieldSet.FieldSet]>): ApplyConflict => {
  const sorted = found.slice().sort(([a], [b]) =>
    Managed.compareStrings(a.manager, b.manager) || Managed.compareStrings(a.operation, b.operation) ||
    Managed.compareStrings(a.apiVersion, b.apiVersion) || Managed.compareStrings(a.subresource, b.subresource)
  )
  const conflicts: Array<ConflictEntry> = []
  const causes: Array<ClusterError.StatusCause> = []
  const lines: Array<string> = []
  for (const [entry, set] of sorted) {
    const who = quoteManager(entry)
    lines.push(`conflicts with ${who}:`)
    for (const path of FieldSet.paths(set)) {
      const field = FieldSet.formatPath(path)
      lines.push(`- ${field}`)
      conflicts.push({
        manager: entry.manager,
        operation: entry.operation,
        ...(entry.subresource === "" ? {} : { subresource: entry.subresource }),
        field
      })
      causes.push({ reason: "FieldManagerConflict", message: `conflict with ${who}`, field })
    }
  }
  const message = conflicts.length === 1
    ? `Apply failed with 1 conflict: ${causes[0]!.message}: ${conflicts[0]!.field}`
    : `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`
  return new ApplyConflict({ message, conflicts, causes })
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ApplyOptions {
  /** The field manager (`?fieldManager=`); required. */
  readonly manager: string
  /** Take the conflicting fields from their owners instead of failing. */
  readonly force: boolean
  /** RFC 3339 time recorded in the applier's entry when the object changes. */
  readonly time: string
  /** Defaults to `defaultListKeys`. */
  readonly listKeys?: ListKeys
  /** `"status"` when applying to `/status`. */
  readonly subresource?: string
  /** Field paths the server resets on this write (see `resetFieldsFor`). */
  readonly resetFields?: ReadonlyArray<ReadonlyArray<string>>
}

/**
 * Server-side apply: merges `applied` into `live` (`undefined` to create) and returns the new object
 * with `metadata.managedFields` updated, or the conflicts. A no-op apply returns an object equal to
 * `live` (same managedFields, same times), so a store can skip the write. When `live` has no
 * managedFields, its fields are first given to a `before-first-apply` Update entry, as the server does.
 *
 * Server-owned metadata (`uid`, `resourceVersion`, `generation`, timestamps) keeps its live value;
 * the caller assigns it on create.
 *
 * @since 0.1.0
 * @category apply
 */
export const apply = (
  live: Resource.KubeObject | undefined,
  applied: Resource.KubeObject,
  options: ApplyOptions
): Result.Result<Resource.KubeObject, ApplyConflict | ApplyInvalid> => {
  const listKeys = options.listKeys ?? defaultListKeys
  const subresource = options.subresource ?? ""
  const invalid = (status: number, message: string) => Result.fail(new ApplyInvalid({ status, message }))
  if (options.manager === "") return invalid(422, "fieldManager: Required value: is required for apply patch")
  if (applied.metadata?.managedFields !== undefined) return invalid(400, "metadata.managedFields must be nil")
  if (live !== undefined && live.apiVersion !== applied.apiVersion) {
    return invalid(
      400,
      `Incorrect version specified in apply patch. Specified patch version: ${applied.apiVersion}, expected: ${live.apiVersion}`
    )
  }
  const problems = Structured.validate(applied, listKeys)
  if (problems.length > 0) {
    // Go's GroupVersionKind prints the core group as "/v1".
    const gv = applied.apiVersion.includes("/") ? applied.apiVersion : `/${applied.apiVersion}`
    const where = `${applied.metadata?.namespace ?? ""}/${applied.metadata?.name ?? ""}; ${gv}, Kind=${applied.kind}`
    const detail = problems.length === 1 ? problems[0] : `errors:\n  ${problems.join("\n  ")}`
    return invalid(500, `failed to create typed patch object (${where}): ${detail}`)
  }
  const decoded = decodeManagedFields(live?.metadata.managedFields)
  if (Result.isFailure(decoded)) return invalid(500, `failed to decode managed fields: ${decoded.failure.message}`)

  const reset = Managed.resetSet(options.resetFields ?? [])
  const liveBody: Structured.JsonObject = live === undefined ? {} : Managed.withoutManagedFields(live)
  const pinned = [
    ...Managed.serverOwnedMetadata.map((name) => ["metadata", name]),
    ...(options.resetFields ?? [])
  ]
  const pin = (v: unknown) => pinned.reduce((acc, path) => Structured.setIn(acc, path, Structured.getIn(liveBody, path)), v)

  // An object without managedFields gets them first: its existing fields go to "before-first-apply",
  // so that an apply changing them conflicts (skipnonapplied.go).
  const current = decoded.success.length === 0 && live !== undefined
    ? Managed.updateEntries([], {}, liveBody, {
      manager: "before-first-apply",
      apiVersion: live.apiVersion,
      subresource: "",
      time: options.time,
      listKeys,
      reset
    })
    : decoded.success
  const key = Managed.identity({ manager: options.manager, operation: "Apply", apiVersion: applied.apiVersion, subresource })
  const previous = current.find((e) => Managed.identity(e) === key)
  const others = current.filter((e) => Managed.identity(e) !== key)
  const owned = Managed.ownable(Structured.toFieldSet(applied, listKeys), reset)

  // Merge, keeping the configuration's nulls so that clearing another manager's field conflicts.
  let merged = pin(Structured.merge(liveBody, applied, listKeys, true))
  if (previous !== undefined) {
    // Prune: what this manager applied last time, does not apply now, and nobody else owns.
    const keep = others.reduce((acc, e) => FieldSet.union(acc, e.fields), owned)
    const dropped = FieldSet.difference(
      FieldSet.intersection(previous.fields, Structured.toFieldSet(merged, listKeys)),
      keep
    )
    if (!FieldSet.isEmpty(dropped)) merged = Structured.remove(merged, dropped, keep, listKeys)
  }

  const diff = Structured.compare(liveBody, merged, listKeys)
  const changed = FieldSet.recursiveDifference(FieldSet.union(diff.modified, diff.added), reset)
  const removed = FieldSet.recursiveDifference(diff.removed, reset)
  const conflicts = others
    .map((e) => [e, FieldSet.intersection(e.fields, changed)] as const)
    .filter(([, set]) => !FieldSet.isEmpty(set))
  if (conflicts.length > 0 && !options.force) return Result.fail(conflictError(conflicts))

  const taken = new Map(conflicts.map(([e, set]) => [Managed.identity(e), set]))
  const next: Array<ManagedEntry> = others.map((e) => ({
    ...e,
    fields: FieldSet.difference(FieldSet.difference(e.fields, taken.get(Managed.identity(e)) ?? FieldSet.empty), removed)
  }))
  const result = Structured.dropConfigNulls(merged, applied, listKeys)
  const objectChanged = live === undefined || !jsonEqual(result, liveBody)
  next.push({
    manager: options.manager,
    operation: "Apply",
    apiVersion: applied.apiVersion,
    subresource,
    time: objectChanged || previous === undefined ? options.time : previous.time,
    fields: owned
  })
  return Result.succeed(withManagedFields(result, next))
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UpdateOptions {
  readonly manager: string
  /** RFC 3339 time recorded in the writer's entry when it changed something. */
  readonly time: string
  readonly operation?: "Update"
  /** `"status"` for writes to `/status`: managedFields in the request are then ignored. */
  readonly subresource?: string
  /** Defaults to `defaultListKeys`. */
  readonly listKeys?: ListKeys
  /** Field paths the server resets on this write (see `resetFieldsFor`). */
  readonly resetFields?: ReadonlyArray<ReadonlyArray<string>>
}

const isResetRequest = (mf: unknown): boolean =>
  Array.isArray(mf) &&
  (mf.length === 0 || (mf.length === 1 && Structured.isObject(mf[0]) && Object.keys(mf[0]).length === 0))

/**
 * Field ownership after a non-apply write (create, PUT, any patch): `after` is the object about to
 * be stored, `before` the live one (`undefined` on create). The writer's `Update` entry gains every
 * field that changed, which every other entry loses; removed fields leave every entry; empty entries
 * are dropped. Returns `after` with its `managedFields` set.
 *
 * As on the API server, managedFields sent in the request replace the live ones when they are
 * valid and non-empty (`[]` or `[{}]` clears them), except on a subresource; and an existing object
 * left without managedFields is not tracked again until an apply.
 *
 * @since 0.1.0
 * @category update
 */
export const recordUpdate = (
  before: Resource.KubeObject | undefined,
  after: Resource.KubeObject,
  options: UpdateOptions
): Resource.KubeObject => {
  const listKeys = options.listKeys ?? defaultListKeys
  const subresource = options.subresource ?? ""
  const fromLive = () => Result.getOrElse(decodeManagedFields(before?.metadata.managedFields), () => [])
  const requested = after.metadata?.managedFields
  const entries: ReadonlyArray<ManagedEntry> = subresource !== ""
    ? fromLive()
    : isResetRequest(requested)
    ? []
    : Result.match(decodeManagedFields(requested), {
      onFailure: fromLive,
      onSuccess: (es) => (es.length > 0 ? es : fromLive())
    })

  // With no managedFields at all, the server stops tracking non-apply writes (skipnonapplied.go),
  // except on create.
  if (entries.length === 0 && before !== undefined) return withManagedFields(after, [])
  return withManagedFields(
    after,
    Managed.updateEntries(
      entries,
      before === undefined ? {} : Managed.withoutManagedFields(before),
      Managed.withoutManagedFields(after),
      {
        manager: options.manager,
        apiVersion: after.apiVersion,
        subresource,
        time: options.time,
        listKeys,
        reset: Managed.resetSet(options.resetFields ?? [])
      }
    )
  )
}

/**
 * The fields an object sets, as server-side apply would own them if it were an applied
 * configuration (without the fields the API server never tracks).
 *
 * @since 0.1.0
 * @category apply
 */
export const fieldSetOf = (object: Resource.KubeObject, listKeys: ListKeys = defaultListKeys): FieldSet.FieldSet =>
  Managed.ownable(Structured.toFieldSet(Managed.withoutManagedFields(object), listKeys), FieldSet.empty)
