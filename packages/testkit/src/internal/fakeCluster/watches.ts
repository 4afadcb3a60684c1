/**
 * Watches as the watch cache serves them: a watch replays the current objects (from version 0) or
 * the retained history after its version (410 below the horizon), then receives every commit that
 * concerns it. An object that stops matching a watch's selectors leaves it as a DELETED event.
 *
 * @internal
 */
import { Cluster } from "@kubefx/core"
import type { Obj } from "./model.ts"
import { present, withRv } from "./objects.ts"
import type { Matcher } from "./selector.ts"
import { matchersFor } from "./selector.ts"
import type { HistoryEvent, Storage, Store } from "./storage.ts"
import { parseRv } from "./storage.ts"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** Where a watch delivers; the FakeCluster layer owns the queue behind it. @internal */
export interface Sink {
  readonly info: TypeInfo
  readonly namespace: string
  readonly labels: Matcher
  readonly fields: Matcher
  readonly deliver: (event: Cluster.WatchEvent) => void
}

const toEvent = (sink: Sink, e: HistoryEvent): Cluster.WatchEvent | undefined => {
  const inScope = (o: Obj | undefined) =>
    o !== undefined && (sink.namespace === "" || o.metadata.namespace === sink.namespace) && sink.fields(o) && sink.labels(o)
  const cur = e.type === "DELETED" ? undefined : e.object
  const now = inScope(cur)
  const before = e.type === "ADDED" ? false : inScope(e.prev)
  if (e.type === "DELETED") {
    return inScope(e.object) ? { type: "DELETED", object: present(sink.info, e.object) } : undefined
  }
  if (now && before) return { type: "MODIFIED", object: present(sink.info, e.object) }
  if (now) return { type: "ADDED", object: present(sink.info, e.object) }
  // It stopped matching: this watcher sees it go, as the watch cache reports it.
  if (before) return { type: "DELETED", object: present(sink.info, withRv(e.prev!, e.rv)) }
  return undefined
}

/** The objects in a watch's scope now, as ADDED events in key order (as the watch cache sends them). */
const currentState = (sink: Sink, st: Storage): Array<Cluster.WatchEvent> => {
  const events: Array<Cluster.WatchEvent> = []
  for (const key of [...st.objects.keys()].sort()) {
    const obj = st.objects.get(key)!
    const ev = toEvent(sink, { rv: Number(obj.metadata.resourceVersion), type: "ADDED", key, object: obj, prev: undefined })
    if (ev !== undefined) events.push(ev)
  }
  return events
}

/** @internal */
export class Watches {
  private readonly store: Store
  private readonly sinks = new Set<Sink>()

  constructor(store: Store) {
    this.store = store
  }

  /**
   * Registers a watch: returns the events to replay first. A watch from a version the cluster has not
   * reached yet simply waits for it (the caller drops events up to that version), as the watch cache does.
   */
  watch(
    info: TypeInfo,
    options: Cluster.WatchOptions,
    deliver: (event: Cluster.WatchEvent) => void
  ): { readonly replay: ReadonlyArray<Cluster.WatchEvent>; readonly sink: Sink } {
    const st = this.store.of(info)
    const ns = info.type.namespaced ? options.namespace ?? "" : ""
    const sink: Sink = { info, namespace: ns, ...matchersFor(info, options), deliver }
    const replay: Array<Cluster.WatchEvent> = []
    if (options.sendInitialEvents === true) {
      if (options.resourceVersion !== "") parseRv(info, options.resourceVersion)
      // The current state (no older than any version asked for: this store is always current), then the
      // bookmark that ends it, at the version of that state.
      replay.push(...currentState(sink, st))
      // Without bookmarks kube-apiserver 1.37 still streams the state, but nothing marks where it ends.
      if (options.allowBookmarks === true) replay.push({
        type: "BOOKMARK",
        object: {
          apiVersion: info.type.apiVersion,
          kind: info.type.kind,
          metadata: { resourceVersion: String(this.store.rv), annotations: { [Cluster.initialEventsEndAnnotation]: "true" } }
        }
      })
    } else if (options.resourceVersion === "" || options.resourceVersion === "0") {
      replay.push(...currentState(sink, st))
    } else {
      const from = parseRv(info, options.resourceVersion)
      if (from < st.horizon) {
        throw errors.gone(info, `too old resource version: ${from} (${st.horizon})`)
      }
      for (const e of st.events) {
        if (e.rv <= from) continue
        const ev = toEvent(sink, e)
        if (ev !== undefined) replay.push(ev)
      }
    }
    this.sinks.add(sink)
    return { replay, sink }
  }

  unwatch(sink: Sink): void {
    this.sinks.delete(sink)
  }

  /** The commit listener: delivers one committed event to every watch of its storage that it concerns. */
  publish(st: Storage, event: HistoryEvent): void {
    for (const sink of this.sinks) {
      if (sink.info.storage !== st.info.storage) continue
      const ev = toEvent(sink, event)
      if (ev !== undefined) sink.deliver(ev)
    }
  }
}
