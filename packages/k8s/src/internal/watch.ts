/**
 * A watch as a `Stream` of events: the chunked body of each request is read as it arrives, split into
 * lines and each line decoded; a silent connection is failed after a stall timeout; a long watch is
 * served as a chain of shorter requests, each resuming where the last one ended.
 *
 * @internal
 */
import { Cluster, ClusterError } from "@kubefx/core"
import { Clock, Duration, Effect, Result, Schedule, type Scope, Stream } from "effect"
import * as Http from "./http.ts"
import { type ApiClient, type Call, describeCall, transport } from "./client.ts"
import * as Wire from "./wire.ts"

/** Decodes one watch line: an event, or the error it stands for. */
export const decodeLine = (call: Call, line: string): Result.Result<Cluster.WatchEvent, ClusterError.ClusterError> => {
  const undecodable = (why: string) =>
    Result.fail(
      new ClusterError.Transport({ ...call.target, reason: "UndecodableEvent", message: `${describeCall(call)}: undecodable watch event: ${why}` })
    )
  const parsed = Wire.parseJson(line)
  if (Result.isFailure(parsed)) return undecodable(parsed.failure)
  const event = Wire.decodeWatchLine(parsed.success)
  if (Result.isFailure(event)) return undecodable(Wire.issueMessage(event.failure))
  const { object, type } = event.success
  if (type === "ERROR") {
    const status = Wire.decodeStatus(object)
    if (Result.isFailure(status)) return undecodable(`ERROR event without a Status: ${Wire.issueMessage(status.failure)}`)
    const { code, details, message, reason } = status.success
    return Result.fail(ClusterError.fromStatus(code ?? 500, {
      message: `${describeCall(call)}: ${message ?? `watch failed${reason === undefined ? "" : ` (${reason})`}`}`,
      reason,
      causes: details?.causes,
      retryAfterSeconds: details?.retryAfterSeconds
    }, call.target))
  }
  const decoded = Wire.decodeObject(object)
  if (Result.isFailure(decoded)) return undecodable(`${type} object: ${Wire.issueMessage(decoded.failure)}`)
  return Result.succeed({ type, object: decoded.success })
}

type Opening = Effect.Effect<Http.HttpResponse, ClusterError.ClusterError, Scope.Scope>

/**
 * The events of one watch request. Ends when the server ends the response; fails with `Transport`
 * when no byte (not even a bookmark) arrives for `stallTimeout`, and with the mapped `ClusterError`
 * for an `ERROR` event or an undecodable line. `establish` opens the request (with retries); the
 * request is aborted when the stream's scope closes early.
 */
export const events = (
  client: ApiClient["Service"],
  call: Call,
  establish: (open: Opening) => Opening,
  stallTimeout: Duration.Duration,
  onOpen: Effect.Effect<void> = Effect.void
): Stream.Stream<Cluster.WatchEvent, ClusterError.ClusterError> =>
  Stream.unwrap(Effect.map(Effect.tap(establish(client.open(call)), () => onOpen), (res) =>
    Stream.fromAsyncIterable(
      res.body as AsyncIterable<Uint8Array>,
      (err) => transport(call, Http.describe(err, client.pool.options))
    ).pipe(
      Stream.timeoutOrElse({
        duration: stallTimeout,
        orElse: () =>
          Stream.fail(
            new ClusterError.Transport({
              ...call.target,
              message: `${describeCall(call)}: the watch stalled: no data for ${Duration.format(stallTimeout)}`
            })
          )
      }),
      Stream.decodeText,
      Stream.splitLines,
      Stream.filter((line) => line.trim() !== ""),
      Stream.mapEffect((line) => Effect.fromResult(decodeLine(call, line)))
    )))

/**
 * How one watch stream is served: a chain of requests, none asking the server for more than
 * `requestSeconds`, until `totalSeconds` have passed.
 */
export interface Segments {
  /** Where the first request starts. */
  readonly resourceVersion: string
  /**
   * The first request begins with the initial events (`sendInitialEvents`): the objects' own versions are no
   * resume point, so the next request follows only once the BOOKMARK that ends them has given one. A request
   * that ends before it ends the stream, and the caller starts again.
   */
  readonly initialEvents?: boolean
  /** The stream ends (without error) once this long has passed since it started. */
  readonly totalSeconds: number
  /** The longest server timeout one request asks for. */
  readonly requestSeconds: number
}

/** The longest server timeout a request may ask for under a stall timeout: three quarters of it, at least 1 s. */
export const requestSecondsFor = (stallTimeout: Duration.Duration): number =>
  Duration.isFinite(stallTimeout)
    ? Math.max(1, Math.floor((Duration.toMillis(stallTimeout) * 3) / 4000))
    : Number.POSITIVE_INFINITY

/** A version a watch can resume from exactly: `""` (now) and `"0"` (any) cannot. */
const resumable = (resourceVersion: string): boolean => resourceVersion !== "" && resourceVersion !== "0"

/**
 * One watch of `totalSeconds`, as requests of at most `requestSeconds` each. Over HTTP/1.1 nothing
 * proves a quiet watch's connection alive (client-go sends HTTP/2 PINGs for that; this client has no
 * HTTP/2): a quiet type gets no bookmark for minutes, since the server only sends one when the
 * resourceVersion moved. The end of a response is the one byte a healthy watch is sure to get, so each
 * request asks the server to end it well inside the stall timeout, and a connection silent for the whole
 * stall timeout is dead, not quiet.
 *
 * A request that the server ended after at least a second is followed by the next, from the last
 * resourceVersion seen (bookmarks included); one that ended sooner, or left no exact version to resume
 * from, ends the stream and leaves the decision to the caller (the Watcher resumes, and paces itself).
 * Failures end the stream as they come.
 */
export const resuming = <E>(
  segment: (resourceVersion: string, timeoutSeconds: number, initialEvents: boolean) => Stream.Stream<Cluster.WatchEvent, E>,
  plan: Segments
): Stream.Stream<Cluster.WatchEvent, E> =>
  Stream.unwrap(Effect.map(Clock.currentTimeMillis, (startedAt) => {
    const deadline = startedAt + plan.totalSeconds * 1000
    let resourceVersion = plan.resourceVersion
    let initial = plan.initialEvents === true
    let again = false
    const next = Stream.unwrap(Effect.map(Clock.currentTimeMillis, (openedAt) =>
      segment(resourceVersion, Math.max(1, Math.min(plan.requestSeconds, Math.round((deadline - openedAt) / 1000))), initial).pipe(
        Stream.tap((event) =>
          Effect.sync(() => {
            if (initial && !Cluster.isInitialEventsEnd(event)) return
            initial = false
            const rv = event.object.metadata.resourceVersion
            if (rv !== undefined && rv !== "") resourceVersion = rv
          })
        ),
        Stream.onEnd(Effect.map(Clock.currentTimeMillis, (endedAt) => {
          // Half a second or more left is worth one more (whole-second) request: the stream ends within ±0.5 s.
          again = !initial && endedAt - openedAt >= 1000 && deadline - endedAt >= 500 && resumable(resourceVersion)
        }))
      )
    ))
    return next.pipe(Stream.repeat(Schedule.forever.pipe(Schedule.while(() => again))))
  }))
