/**
 * The API server's wire format as Schemas: `metav1.Status`, list envelopes and watch events.
 * Everything read from a response goes through one of these.
 *
 * Objects, lists and watch lines are first checked structurally (`Resource.isKubeObject` and the checks
 * below, which accept exactly what the Schemas accept); only a value the check refuses is decoded with the
 * Schema, for its error message. A Schema decode copies every object and is what dominated the cost of
 * reading a watch event; the check keeps the parsed value as it is.
 *
 * @internal
 */
import { ClusterError, Resource } from "@kubefx/core"
import { Result, Schema } from "effect"

/** `metav1.Status`: the body of every error response and of a watch `ERROR` event. */
export const Status = Schema.Struct({
  kind: Schema.Literal("Status"),
  status: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String),
  code: Schema.optionalKey(Schema.Number),
  details: Schema.optionalKey(Schema.Struct({
    name: Schema.optionalKey(Schema.String),
    group: Schema.optionalKey(Schema.String),
    kind: Schema.optionalKey(Schema.String),
    uid: Schema.optionalKey(Schema.String),
    causes: Schema.optionalKey(Schema.Array(ClusterError.StatusCause)),
    retryAfterSeconds: Schema.optionalKey(Schema.Number)
  }))
})
export type Status = typeof Status.Type

export const decodeStatus = Schema.decodeUnknownResult(Status)

/** An object in a list: the server leaves out `apiVersion` and `kind`, which the caller fills in. */
const ListItem = Schema.StructWithRest(
  Schema.Struct({ metadata: Resource.ObjectMetaSchema }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)

/** A list envelope (`DeploymentList`, …). */
export const ObjectList = Schema.Struct({
  metadata: Schema.optionalKey(Schema.Struct({
    resourceVersion: Schema.optionalKey(Schema.String),
    continue: Schema.optionalKey(Schema.String)
  })),
  items: Schema.NullOr(Schema.Array(ListItem))
})

export type ObjectList = typeof ObjectList.Type

const decodeObjectListSchema = Schema.decodeUnknownResult(ObjectList)

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const optionalString = (record: { readonly [key: string]: unknown }, key: string): boolean =>
  !(key in record) || typeof record[key] === "string"

/** What `ObjectList` accepts, checked without decoding. */
const isObjectList = (u: unknown): u is ObjectList => {
  if (!isRecord(u)) return false
  const metadata = u["metadata"]
  if ("metadata" in u && !(isRecord(metadata) && optionalString(metadata, "resourceVersion") && optionalString(metadata, "continue"))) {
    return false
  }
  const items = u["items"]
  if (items === null) return true
  if (!Array.isArray(items)) return false
  for (const item of items) if (!isRecord(item) || !Resource.isObjectMeta(item["metadata"])) return false
  return true
}

export const decodeObjectList = (u: unknown): Result.Result<ObjectList, Schema.SchemaError> =>
  isObjectList(u) ? Result.succeed(u) : decodeObjectListSchema(u)

const decodeObjectSchema = Schema.decodeUnknownResult(Resource.KubeObjectSchema)

export const decodeObject = (u: unknown): Result.Result<Resource.KubeObject, Schema.SchemaError> =>
  Resource.isKubeObject(u) ? Result.succeed(u) : decodeObjectSchema(u)

/** One line of a watch response; `object` is decoded next, as an object or (for ERROR) a Status. */
export const WatchLine = Schema.Struct({
  type: Schema.Literals(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: Schema.Unknown
})

export type WatchLine = typeof WatchLine.Type

const decodeWatchLineSchema = Schema.decodeUnknownResult(WatchLine)

const watchTypes: ReadonlySet<unknown> = new Set(WatchLine.fields.type.literals)

export const decodeWatchLine = (u: unknown): Result.Result<WatchLine, Schema.SchemaError> =>
  isRecord(u) && watchTypes.has(u["type"]) && "object" in u ? Result.succeed(u as WatchLine) : decodeWatchLineSchema(u)

/** `JSON.parse` without the input echoed in the error (a body can hold Secret data). */
export const parseJson = (text: string): Result.Result<unknown, string> => {
  try {
    return Result.succeed(JSON.parse(text))
  } catch {
    return Result.fail(`not JSON (${text.length} characters)`)
  }
}

/** Schema messages are short and name the failing path; cap them so a huge value cannot flood a log. */
export const issueMessage = (error: Schema.SchemaError): string => {
  const message = error.message.replace(/\s+/g, " ")
  return message.length > 300 ? `${message.slice(0, 300)}…` : message
}
