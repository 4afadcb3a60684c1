/**
 * A watch response as a `Stream` of events: the chunked body is read as it arrives, split into lines,
 * and each line decoded; a silent connection is failed after a stall timeout.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { ClusterError } from "@kubefx/core"
import { Duration, Effect, Result, type Scope, Stream } from "effect"
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
  stallTimeout: Duration.Duration
): Stream.Stream<Cluster.WatchEvent, ClusterError.ClusterError> =>
  Stream.unwrap(Effect.map(establish(client.open(call)), (res) =>
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
