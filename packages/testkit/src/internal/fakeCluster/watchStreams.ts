/**
 * The layer's side of watches: each open watch is a queue-backed stream that the state delivers
 * into, with the test controls over it (stall, resume, drop) and the watch cache's bookmarks and
 * server-side timeout.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { ClusterError } from "@kubefx/core"
import { Cause, Duration, Effect, Queue, Schedule, Stream } from "effect"
import { run } from "./bridge.ts"
import type { State } from "./state.ts"
import type { TypeInfo } from "./types.ts"

/** @internal */
export interface OpenWatch {
  readonly info: TypeInfo
  readonly queue: Queue.Queue<Cluster.WatchEvent, ClusterError.ClusterError | Cause.Done>
  readonly allowBookmarks: boolean
  /** Events held back while the watch is stalled. */
  held: Array<Cluster.WatchEvent> | undefined
}

/** Delivers one event, or holds it back while the watch is stalled. @internal */
export const offer = (w: OpenWatch, event: Cluster.WatchEvent) => {
  if (w.held !== undefined) w.held.push(event)
  else Queue.offerUnsafe(w.queue, event)
}

/** @internal */
export const bookmarkEvent = (info: TypeInfo, rv: number): Cluster.WatchEvent => ({
  type: "BOOKMARK",
  object: { apiVersion: info.type.apiVersion, kind: info.type.kind, metadata: { resourceVersion: String(rv) } }
})

/**
 * One watch as a stream: registered with the state (and in `watches`) while it is consumed.
 *
 * @internal
 */
export const openWatch = (
  state: State,
  watches: Set<OpenWatch>,
  bookmarkInterval: Duration.Duration,
  info: TypeInfo,
  options: Cluster.WatchOptions
): Stream.Stream<Cluster.WatchEvent, ClusterError.ClusterError> =>
  Stream.callback<Cluster.WatchEvent, ClusterError.ClusterError>((queue) =>
    Effect.gen(function*() {
      const w: OpenWatch = { info, queue, allowBookmarks: options.allowBookmarks === true, held: undefined }
      // The initial events are the current state, whatever version was asked for.
      const from = options.sendInitialEvents === true || options.resourceVersion === "" || options.resourceVersion === "0"
        ? undefined
        : Number(options.resourceVersion)
      // A watch from a future version waits, silently, for what comes after that version.
      const deliver = (event: Cluster.WatchEvent) => {
        if (from !== undefined && Number(event.object.metadata.resourceVersion) <= from) return
        offer(w, event)
      }
      // Registration and replay happen in one synchronous step, so no live event can overtake the replay.
      yield* Effect.acquireRelease(
        run(() => {
          const r = state.watch(info, options, deliver)
          for (const event of r.replay) offer(w, event)
          watches.add(w)
          return r
        }),
        (r) =>
          Effect.sync(() => {
            state.unwatch(r.sink)
            watches.delete(w)
          })
      )
      // Accepted (a real server has sent its response headers by now).
      if (options.onOpen !== undefined) yield* options.onOpen
      // As the watch cache: a bookmark only once the type has moved past where the watch started.
      const startRv = from ?? state.rv
      const sendBookmark = Effect.sync(() => {
        if (state.rv > startRv) offer(w, bookmarkEvent(info, state.rv))
      })
      if (options.timeoutSeconds !== undefined && options.timeoutSeconds > 0) {
        yield* Effect.forkScoped(
          Effect.sleep(Duration.seconds(options.timeoutSeconds)).pipe(Effect.andThen(Effect.sync(() => Queue.endUnsafe(queue))))
        )
        // The watch cache also sends one 2 s before the watch's deadline, so the client resumes from there.
        if (w.allowBookmarks && options.timeoutSeconds > 2) {
          yield* Effect.forkScoped(Effect.delay(sendBookmark, Duration.seconds(options.timeoutSeconds - 2)))
        }
      }
      if (w.allowBookmarks) {
        yield* Effect.forkScoped(sendBookmark.pipe(Effect.delay(bookmarkInterval), Effect.repeat(Schedule.forever)))
      }
    })
  )

/** Stalled watches deliver what was held back, then continue. @internal */
export const resume = (watches: Iterable<OpenWatch>) => {
  for (const w of watches) {
    const held = w.held
    w.held = undefined
    for (const event of held ?? []) Queue.offerUnsafe(w.queue, event)
  }
}

/** Ends every open watch, with a `Transport` failure when `error`. @internal */
export const drop = (watches: Iterable<OpenWatch>, error: boolean, reason: string) => {
  for (const w of watches) {
    if (error) {
      Queue.failCauseUnsafe(w.queue, Cause.fail(new ClusterError.Transport({ message: reason, resource: w.info.key })))
    } else Queue.endUnsafe(w.queue)
  }
}
