/**
 * List + watch of one type, as an endless `Stream` that never fails: it gets the current state (streamed by the
 * watch itself where the server can, else a paged list), watches from that state's resourceVersion, resumes
 * after a watch ends from the last version seen (bookmarks included), relists on
 * `Gone` (410), an undecodable event, or a resourceVersion the server calls too large (its store went back in
 * time, as after an etcd restore), and reconnects after any other error with jittered backoff that resets
 * after a healthy period. Relists in a row back off the same way: a server that keeps answering 410 gets no
 * tight LIST+WATCH loop.
 *
 * A relist is delivered as one `Restarted` event holding the complete set, so the store can replace its
 * contents atomically and report deletions that happened while the watch was down.
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Queue, Random, Schedule, Stream } from "effect"
import type { Selection } from "./Cluster.ts"
import { Cluster, isInitialEventsEnd } from "./Cluster.ts"
import { type ClusterError, retryAfterSeconds } from "./ClusterError.ts"
import type { KubeObject, ResourceType } from "./Resource.ts"
import { typeKey } from "./Resource.ts"

/** The server answered a `sendInitialEvents` watch as a plain watch. */
class NotStreamed extends Data.TaggedError("NotStreamed")<{ readonly why: string }> {}

/**
 * @since 0.1.0
 * @category models
 */
export type WatcherEvent =
  | { readonly _tag: "Restarted"; readonly objects: ReadonlyArray<KubeObject> }
  | { readonly _tag: "Applied"; readonly object: KubeObject }
  | { readonly _tag: "Deleted"; readonly object: KubeObject }

/**
 * @since 0.1.0
 * @category models
 */
export interface WatcherOptions extends Selection {
  /**
   * How the watcher learns the current state: `"stream"` (the default) asks the watch itself for it
   * (`sendInitialEvents`, one request, as client-go's watch-list), and falls back to `"list"` for good when the
   * server does not serve that; `"list"` lists (paged) and then watches from the list's version.
   */
  readonly initialState?: "stream" | "list"
  /** List page size (`initialState: "list"`). Default 500. */
  readonly pageSize?: number
  /** Delay between reconnect attempts after errors. Default: exponential from 200 ms, capped at 30 s, jittered. */
  readonly backoff?: Schedule.Schedule<unknown, ClusterError>
  /** A watch that ran this long without failing resets the backoff. Default 2 minutes. */
  readonly healthyAfter?: Duration.Input
  /** Server-side watch timeout bounds in seconds; a random value in the range is used per watch. Default [300, 600]. */
  readonly timeoutSeconds?: readonly [number, number]
  /** Told when the watcher starts listing, is watching, or waits to reconnect (for health checks and tests). */
  readonly onState?: (state: WatcherState, error?: ClusterError) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export type WatcherState = "listing" | "connecting" | "watching" | "reconnecting"

/**
 * The default reconnect backoff.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBackoff: Schedule.Schedule<unknown, ClusterError> = Schedule.min([
  // Capped, jittered, capped again: the cap holds and reconnects still spread out below it.
  Schedule.min([Schedule.exponential("200 millis", 2), Schedule.spaced("30 seconds")]).pipe(Schedule.jittered),
  Schedule.spaced("30 seconds")
])

/**
 * The API server's answer to a watch from a resourceVersion it has not reached (504, "Too large resource
 * version"): after an etcd restore every version the client saw lies in the future.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTooLargeResourceVersion = (error: ClusterError): boolean =>
  error._tag === "ServerError" && /too large resource version/i.test(error.message)

/**
 * Lists every page of a type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listAll = (
  type: ResourceType,
  selection: Selection & { readonly pageSize?: number }
): Effect.Effect<{ readonly items: ReadonlyArray<KubeObject>; readonly resourceVersion: string }, ClusterError, Cluster> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const items: Array<KubeObject> = []
    let cont: string | undefined
    let resourceVersion = ""
    do {
      const page = yield* cluster.list(type, {
        ...selectionOf(selection),
        limit: selection.pageSize ?? 500,
        ...(cont === undefined ? {} : { continue: cont })
      })
      for (const item of page.items) items.push(item)
      // The first page's version is the snapshot every page belongs to.
      if (resourceVersion === "") resourceVersion = page.resourceVersion
      cont = page.continue
    } while (cont !== undefined && cont !== "")
    return { items, resourceVersion }
  })

const selectionOf = (s: Selection): Selection => ({
  ...(s.namespace === undefined ? {} : { namespace: s.namespace }),
  ...(s.labelSelector === undefined ? {} : { labelSelector: s.labelSelector }),
  ...(s.fieldSelector === undefined ? {} : { fieldSelector: s.fieldSelector })
})

/**
 * The watcher stream for one type and selection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const watch = (type: ResourceType, options: WatcherOptions = {}): Stream.Stream<WatcherEvent, never, Cluster> =>
  Stream.callback<WatcherEvent, never, Cluster>((queue) =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const selection = selectionOf(options)
      const [minT, maxT] = options.timeoutSeconds ?? [300, 600]
      const healthyAfter = Duration.toMillis(Duration.fromInputUnsafe(options.healthyAfter ?? "2 minutes"))
      const backoffSchedule = options.backoff ?? defaultBackoff
      let step = yield* Schedule.toStep(backoffSchedule)
      let resourceVersion: string | undefined
      /** Relists since the last watch that ran for `healthyAfter`: all but the first wait out the backoff. */
      let relistsInARow = 0
      const log = (message: string, error?: ClusterError) =>
        Effect.logWarning(message, ...(error ? [{ error: error._tag, message: error.message }] : [])).pipe(
          Effect.annotateLogs({ watcher: typeKey(type), ...(options.namespace ? { namespace: options.namespace } : {}) })
        )
      const backoff = (error: ClusterError) =>
        Effect.gen(function*() {
          yield* state("reconnecting", error)
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const scheduled = yield* step(now, error).pipe(
            Effect.map(([, d]) => d),
            Effect.catchCause(() => Effect.succeed(Duration.seconds(30)))
          )
          // A 429 or 503 that says when to come back is obeyed: never sooner than the server asked.
          const asked = retryAfterSeconds(error)
          yield* Effect.sleep(asked === undefined ? scheduled : Duration.max(scheduled, Duration.seconds(asked)))
        })
      const offer = (e: WatcherEvent) => Queue.offer(queue, e)
      // Only changes are told (a long watch served by several requests opens more than once), and every error.
      let current: WatcherState | undefined
      const state = (next: WatcherState, error?: ClusterError) =>
        Effect.suspend(() => {
          if (next === current && error === undefined) return Effect.void
          current = next
          return options.onState?.(next, error) ?? Effect.void
        })

      const relist = (message: string, error?: ClusterError) =>
        Effect.gen(function*() {
          yield* log(message, error)
          resourceVersion = undefined
          if (relistsInARow++ > 0 && error !== undefined) yield* backoff(error)
        })

      let streaming = options.initialState !== "list"
      const fallBack = (why: string) =>
        Effect.gen(function*() {
          streaming = false
          yield* Effect.logInfo(`the server does not stream a watch's initial state (${why}); listing instead`).pipe(
            Effect.annotateLogs({ watcher: typeKey(type), ...(options.namespace ? { namespace: options.namespace } : {}) })
          )
        })

      while (true) {
        if (resourceVersion === undefined && !streaming) {
          yield* state("listing")
          const listed = yield* Effect.result(listAll(type, { ...selection, ...(options.pageSize ? { pageSize: options.pageSize } : {}) }))
          if (listed._tag === "Failure") {
            yield* log("list failed; retrying", listed.failure)
            yield* backoff(listed.failure)
            continue
          }
          resourceVersion = listed.success.resourceVersion
          yield* offer({ _tag: "Restarted", objects: listed.success.items })
        }
        const timeoutSeconds = minT + Math.floor((yield* Random.next) * (maxT - minT + 1))
        const startedAt = yield* Effect.clockWith((c) => c.currentTimeMillis)
        /** The initial state being received (a streamed relist), until the bookmark that ends it. */
        let initial: Array<KubeObject> | undefined = resourceVersion === undefined ? [] : undefined
        const streamed = initial !== undefined
        // "watching" only once the server has accepted the watch (a connect that hangs is not a healthy watch),
        // and, when it streams the state, once that state is complete.
        yield* state(streamed ? "listing" : "connecting")
        const result = yield* Effect.result(
          cluster.watch(type, {
            ...selection,
            resourceVersion: resourceVersion ?? "",
            allowBookmarks: true,
            timeoutSeconds,
            ...(streamed ? { sendInitialEvents: true } : { onOpen: state("watching") })
          }).pipe(
            Stream.runForEach((event): Effect.Effect<void, ClusterError | NotStreamed> =>
              Effect.suspend(() => {
                if (initial !== undefined) {
                  if (event.type === "ADDED") {
                    initial.push(event.object)
                    return Effect.void
                  }
                  if (!isInitialEventsEnd(event)) {
                    // A server that ignores sendInitialEvents sends a plain watch: changes, or bookmarks without the marker.
                    return Effect.fail(new NotStreamed({ why: `a ${event.type} event came before the end of the initial events` }))
                  }
                  const objects = initial
                  initial = undefined
                  resourceVersion = event.object.metadata.resourceVersion
                  return offer({ _tag: "Restarted", objects }).pipe(Effect.andThen(state("watching")))
                }
                const rv = event.object.metadata.resourceVersion
                if (rv !== undefined && rv !== "") resourceVersion = rv
                switch (event.type) {
                  case "BOOKMARK":
                    return Effect.void
                  case "DELETED":
                    return offer({ _tag: "Deleted", object: event.object })
                  default:
                    return offer({ _tag: "Applied", object: event.object })
                }
              })
            )
          )
        )
        const ranFor = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - startedAt
        if (ranFor >= healthyAfter) {
          step = yield* Schedule.toStep(backoffSchedule)
          relistsInARow = 0
        }
        if (result._tag === "Success") {
          if (initial !== undefined) {
            // Ended before the state was complete: what arrived is discarded. A server that streams the state
            // ends the initial events well inside a watch request; one that never marks their end does not stream.
            yield* fallBack("the watch ended before the end of its initial events")
            continue
          }
          // A server that keeps ending watches at once must not turn this loop into a hot loop.
          if (ranFor < 1000) yield* Effect.sleep("1 second")
          continue
        }
        const error = result.failure
        if (error._tag === "NotStreamed") {
          yield* fallBack(error.why)
          continue
        }
        if (initial !== undefined && error._tag === "Invalid") {
          // The server refused the streamed state (a kube-apiserver without the WatchList feature answers 422).
          yield* fallBack(`${error._tag}: ${error.message}`)
          continue
        }
        if (error._tag === "Gone") {
          yield* relist("watch history compacted (410 Gone); relisting", error)
          continue
        }
        if (error._tag === "Transport" && error.reason === "UndecodableEvent") {
          // An event was lost: resuming would skip or repeat it, so start again from a full list.
          yield* relist("undecodable watch event; relisting", error)
          continue
        }
        if (isTooLargeResourceVersion(error)) {
          // The version is in the server's future (its store was restored from an older state): resuming can
          // never succeed, so list the current state (a consistent read) and watch from there.
          yield* relist("the server's resourceVersion went back (too large resource version); relisting", error)
          continue
        }
        yield* log("watch failed; reconnecting", error)
        yield* backoff(error)
      }
    }), { bufferSize: 4096 })
