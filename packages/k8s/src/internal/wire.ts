/**
 * The API server's wire format as Schemas: `metav1.Status`, list envelopes and watch events.
 * Everything read from a response goes through one of these.
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

export const decodeObjectList = Schema.decodeUnknownResult(ObjectList)

export const decodeObject = Schema.decodeUnknownResult(Resource.KubeObjectSchema)

/** One line of a watch response; `object` is decoded next, as an object or (for ERROR) a Status. */
export const WatchLine = Schema.Struct({
  type: Schema.Literals(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: Schema.Unknown
})

export const decodeWatchLine = Schema.decodeUnknownResult(WatchLine)

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
