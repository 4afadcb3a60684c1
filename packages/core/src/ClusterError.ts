/**
 * Every way a call through the `Cluster` port can fail, one tagged class per API server outcome,
 * so callers match with `catchTag` and the engine can decide what is worth retrying.
 *
 * Each carries a `message` a user can act on and, where the server gave them, the reason and causes
 * from its `metav1.Status` body.
 *
 * @since 0.1.0
 */
import { Predicate, Schema } from "effect"

/**
 * One field-level cause from a `metav1.Status` (`details.causes`).
 *
 * @since 0.1.0
 * @category models
 */
export const StatusCause = Schema.Struct({
  field: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type StatusCause = typeof StatusCause.Type

const common = {
  message: Schema.String,
  /** The resource type (`apps/v1/Deployment`), when the call addressed one. */
  resource: Schema.optionalKey(Schema.String),
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String)
}

/**
 * 404: the object (or type) does not exist.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", common) {}

/**
 * 409 AlreadyExists: a create named an object that exists.
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", common) {}

/**
 * 409 Conflict: a stale resourceVersion or precondition, or a server-side apply field conflict
 * (the conflicting fields are in `causes`).
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", {
  ...common,
  causes: Schema.Array(StatusCause)
}) {}

/**
 * 410 Gone: the requested resourceVersion has been compacted; a watcher must relist.
 *
 * @since 0.1.0
 * @category errors
 */
export class Gone extends Schema.TaggedError<Gone>()("Gone", common) {}

/**
 * 422 Invalid (or 400 BadRequest): the object was rejected; `causes` names the fields at fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class Invalid extends Schema.TaggedError<Invalid>()("Invalid", {
  ...common,
  status: Schema.Number,
  causes: Schema.Array(StatusCause)
}) {}

/**
 * 403: the credentials are valid but not allowed to do this (RBAC).
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", common) {}

/**
 * 401: the credentials were missing, expired or wrong.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", common) {}

/**
 * 429: throttled (API priority and fairness); retry after `retryAfterSeconds` when given.
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", {
  ...common,
  retryAfterSeconds: Schema.optionalKey(Schema.Number)
}) {}

/**
 * 5xx, or any other status the API server should not have answered with.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  ...common,
  status: Schema.Number,
  reason: Schema.optionalKey(Schema.String),
  retryAfterSeconds: Schema.optionalKey(Schema.Number)
}) {}

/**
 * The request did not get an answer: connection refused or reset, TLS failure, timeout,
 * or a response that could not be read.
 *
 * @since 0.1.0
 * @category errors
 */
export class Transport extends Schema.TaggedError<Transport>()("Transport", {
  ...common,
  /** `UndecodableEvent` when a watch delivered a line that is not a watch event: a watcher must relist. */
  reason: Schema.optionalKey(Schema.String),
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/**
 * Any failure of the `Cluster` port.
 *
 * @since 0.1.0
 * @category models
 */
export type ClusterError =
  | NotFound
  | AlreadyExists
  | Conflict
  | Gone
  | Invalid
  | Forbidden
  | Unauthorized
  | TooManyRequests
  | ServerError
  | Transport

const tags = new Set([
  "NotFound",
  "AlreadyExists",
  "Conflict",
  "Gone",
  "Invalid",
  "Forbidden",
  "Unauthorized",
  "TooManyRequests",
  "ServerError",
  "Transport"
])

/**
 * @since 0.1.0
 * @category guards
 */
export const isClusterError = (u: unknown): u is ClusterError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether trying the same call again later may succeed without anyone changing anything.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTransient = (e: ClusterError): boolean =>
  e._tag === "TooManyRequests" || e._tag === "Transport" || (e._tag === "ServerError" && e.status >= 500)

/**
 * The server's requested delay before a retry, when it gave one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const retryAfterSeconds = (e: ClusterError): number | undefined =>
  e._tag === "TooManyRequests" || e._tag === "ServerError" ? e.retryAfterSeconds : undefined

/**
 * Builds the typed error for an HTTP status and `metav1.Status` body: the single mapping that every
 * `Cluster` implementation (live or fake) uses, so both report failures identically.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStatus = (
  status: number,
  body: {
    readonly reason?: string | undefined
    readonly message?: string | undefined
    readonly causes?: ReadonlyArray<StatusCause> | undefined
    readonly retryAfterSeconds?: number | undefined
  },
  target: { readonly resource?: string; readonly namespace?: string; readonly name?: string } = {}
): ClusterError => {
  const message = body.message ?? `HTTP ${status}${body.reason ? ` ${body.reason}` : ""}`
  const base = { message, ...target }
  const causes = body.causes ?? []
  const retry = body.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: body.retryAfterSeconds }
  switch (status) {
    case 400:
      return new Invalid({ ...base, status, causes })
    case 401:
      return new Unauthorized(base)
    case 403:
      return new Forbidden(base)
    case 404:
      return new NotFound(base)
    case 409:
      return body.reason === "AlreadyExists" ? new AlreadyExists(base) : new Conflict({ ...base, causes })
    case 410:
      return new Gone(base)
    case 422:
      return new Invalid({ ...base, status, causes })
    case 429:
      return new TooManyRequests({ ...base, ...retry })
    default:
      return new ServerError({ ...base, status, ...(body.reason ? { reason: body.reason } : {}), ...retry })
  }
}
