/**
 * Differential test (see `Differential.ts`): watch event sequences (live and replayed from a
 * resourceVersion, with selectors), 410 Gone for a version the server no longer has, timeouts and
 * bookmarks, through the live `Cluster` of a real kube-apiserver and through `FakeCluster`. Events
 * are compared by type and projected object; resourceVersion values are compared by how they relate.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { Effect, Stream } from "effect"
import * as Differential from "./Differential.ts"
import { Widget } from "../../testkit/test/FakeClusterFixtures.ts"

type Obj = Differential.Obj
type Port = Differential.Port

const cm = (ns: string, name: string, meta: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, ...meta },
  ...extra
})
const merge = (body: unknown): Cluster.Patch => ({ type: "merge", body })
const rvOf = (e: Cluster.WatchEvent) => BigInt(e.object.metadata.resourceVersion ?? "0")

/** The events as both sides must deliver them, and whether their versions strictly increase. */
const sequence = (events: ReadonlyArray<Cluster.WatchEvent>) => ({
  events: events.map(Differential.eventView),
  increasing: events.every((e, i) => i === 0 || rvOf(e) > rvOf(events[i - 1]!))
})

/** The writes every watch below observes (each side on its own cluster). */
const writes = (c: Port, ns: string) =>
  Effect.gen(function*() {
    const at = (name: string) => ({ namespace: ns, name })
    yield* c.create(Builtin.ConfigMap, cm(ns, "a", { labels: { app: "web" } }, { data: { v: "1" } }))
    yield* c.patch(Builtin.ConfigMap, at("a"), merge({ data: { v: "2" } }))
    yield* c.create(Builtin.ConfigMap, cm(ns, "b"))
    // a write that changes nothing is no event
    yield* c.patch(Builtin.ConfigMap, at("b"), merge({ data: null }))
    yield* c.patch(Builtin.ConfigMap, at("a"), merge({ metadata: { labels: { app: "db" } } }))
    yield* c.delete(Builtin.ConfigMap, at("b"))
    yield* c.create(Builtin.ConfigMap, cm(ns, "c", { finalizers: ["x.io/hold"], labels: { app: "web" } }))
    yield* c.delete(Builtin.ConfigMap, at("c"))
    yield* c.patch(Builtin.ConfigMap, at("a"), merge({ metadata: { labels: { app: "web" } } }))
    yield* c.patch(Builtin.ConfigMap, at("c"), merge({ metadata: { finalizers: null } }))
  })
const TOTAL = 9

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("FakeCluster against kube-apiserver: watches", () => {
  layer(Differential.realLayer(), Differential.layerOptions)("watch", (it) => {
    it.effect("event sequences: live, replayed from a resourceVersion, with label and field selectors, from \"0\"", () =>
      Effect.gen(function*() {
        const ns = "watch"
        const d = yield* Differential.make(ns)
        const watch = (c: Port, options: Omit<Cluster.WatchOptions, "namespace">) =>
          c.watch(Builtin.ConfigMap, { namespace: ns, ...options })
        yield* d.step("start", (c) => c.list(Builtin.ConfigMap, { namespace: ns }), () => ({}))
        yield* d.step(
          "live",
          (c, own) => Differential.watchWhile(watch(c, { resourceVersion: own("start").resourceVersion }), writes(c, ns), (es) => es.length >= TOTAL),
          sequence
        )
        const replay = (label: string, options: (own: Differential.Own) => Omit<Cluster.WatchOptions, "namespace">, count: number) =>
          d.step(label, (c, own) => Differential.watchWhile(watch(c, options(own)), Effect.void, (es) => es.length >= count, "2 seconds"), sequence)
        yield* replay("replay from the list's version", (own) => ({ resourceVersion: own("start").resourceVersion }), TOTAL)
        yield* replay("replay from the third event", (own) => ({ resourceVersion: own("live")[2].object.metadata.resourceVersion }), TOTAL - 3)
        // An object that stops matching is DELETED for this watcher (the old object at the event's
        // version), one that starts matching is ADDED.
        yield* replay("label selector", (own) => ({ resourceVersion: own("start").resourceVersion, labelSelector: "app=web" }), 7)
        yield* replay("field selector", (own) => ({ resourceVersion: own("start").resourceVersion, fieldSelector: "metadata.name=c" }), 3)
        yield* replay("from 0: the current objects, ADDED", () => ({ resourceVersion: "0" }), 1)
        yield* d.step("deleted event versions", (_c, own) => Effect.succeed(own("live")), (events: ReadonlyArray<Cluster.WatchEvent>) =>
          // a DELETED event carries the version of the deletion, later than the object's last one
          events.filter((e) => e.type === "DELETED").map((e) => events.some((o) => o !== e && o.object.metadata.name === e.object.metadata.name && rvOf(o) >= rvOf(e))))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("status writes and deletion with finalizers of a custom resource, as events", () =>
      Effect.gen(function*() {
        const ns = "watch-widget"
        const d = yield* Differential.make(ns)
        yield* d.step("start", (c) => c.list(Widget, { namespace: ns }), () => ({}))
        const at = { namespace: ns, name: "w" }
        yield* d.step("live", (c, own) =>
          Differential.watchWhile(
            c.watch(Widget, { namespace: ns, resourceVersion: own("start").resourceVersion }),
            Effect.gen(function*() {
              yield* c.create(Widget, { apiVersion: Widget.apiVersion, kind: Widget.kind, metadata: { name: "w", namespace: ns, finalizers: ["x.io/f"] }, spec: { size: 1 } })
              yield* c.patchStatus(Widget, at, merge({ status: { ready: true } }))
              yield* c.patch(Widget, at, merge({ spec: { size: 2 } }))
              yield* c.delete(Widget, at)
              yield* c.patch(Widget, at, merge({ metadata: { finalizers: null } }))
            }),
            (es) => es.length >= 5
          ), sequence)
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("the state streamed by a watch (sendInitialEvents): ADDED per object, the end bookmark at the state's version, then changes; unmarked without bookmarks", () =>
      Effect.gen(function*() {
        const ns = "watch-initial"
        const d = yield* Differential.make(ns)
        yield* d.step("objects", (c) =>
          Effect.all([
            c.create(Builtin.ConfigMap, cm(ns, "b", { labels: { app: "web" } })),
            c.create(Builtin.ConfigMap, cm(ns, "a", { labels: { app: "web" } })),
            c.create(Builtin.ConfigMap, cm(ns, "c", { labels: { app: "db" } }))
          ]), () => ({}))
        yield* d.step("now", (c) => c.list(Builtin.ConfigMap, { namespace: ns }), () => ({}))
        const initial = (options: Omit<Cluster.WatchOptions, "namespace">) => (c: Port) =>
          Differential.watchWhile(
            c.watch(Builtin.ConfigMap, { namespace: ns, allowBookmarks: true, sendInitialEvents: true, ...options }),
            c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, merge({ data: { v: String(Math.random()) } })),
            (es) => es.some((e) => e.type === "MODIFIED")
          )
        const view = (events: ReadonlyArray<Cluster.WatchEvent>) => {
          const end = events.findIndex(Cluster.isInitialEventsEnd)
          const added = events.slice(0, Math.max(end, 0))
          const after = events.slice(end + 1).filter((e) => e.type !== "BOOKMARK")
          return {
            // The real server's order of the initial objects is its cache's (by key), as the fake's.
            initial: added.map((e) => `${e.type}:${e.object.metadata.name}`),
            ended: end >= 0,
            endAnnotations: events[end]?.object.metadata.annotations,
            // The end bookmark's version is that of the state: no initial object is newer, the first change is.
            endNotBeforeObjects: added.every((e) => rvOf(e) <= rvOf(events[end]!)),
            changes: after.map((e) => `${e.type}:${e.object.metadata.name}`),
            changeAfterEnd: after.every((e) => rvOf(e) > rvOf(events[end]!))
          }
        }
        yield* d.step("from the newest state (\"\")", initial({ resourceVersion: "" }), view)
        yield* d.step("no older than a version", (c, own) => initial({ resourceVersion: own("now").resourceVersion })(c), view)
        yield* d.step("with a label selector", initial({ resourceVersion: "", labelSelector: "app=web" }), view)
        // Accepted, but nothing marks the end of the state.
        yield* d.step("without allowBookmarks: the state, unmarked", (c) =>
          Stream.runCollect(c.watch(Builtin.ConfigMap, { namespace: ns, resourceVersion: "", sendInitialEvents: true, timeoutSeconds: 2 })), (es) =>
          Array.from(es as Iterable<Cluster.WatchEvent>, (e) => `${e.type}:${e.object.metadata.name}`))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("410 Gone for a resourceVersion older than the server's history; a future one waits for it", () =>
      Effect.gen(function*() {
        const ns = "watch-gone"
        const d = yield* Differential.make(ns)
        // The real server's history of a type starts when its watch cache starts (for a CRD, when it was
        // installed), so "1" is gone there; the fake forgets its history when compacted.
        yield* d.controls.compact
        yield* d.step("watch from a compacted version", (c) => Stream.runCollect(c.watch(Widget, { namespace: ns, resourceVersion: "1", timeoutSeconds: 2 })), (events) => ({ events: events.length }))
        yield* d.step("now", (c) => c.list(Widget, { namespace: ns }), () => ({}))
        // A future version is no error: the watch delivers what comes after it (here nothing, until the timeout).
        yield* d.step("watch from a future version", (c, own) =>
          Stream.runCollect(c.watch(Widget, { namespace: ns, resourceVersion: String(BigInt(own("now").resourceVersion) + 1000n), timeoutSeconds: 2 })), (events) => ({ events: events.length }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("timeoutSeconds ends the watch; bookmarks (before the timeout) when allowed", () =>
      Effect.gen(function*() {
        const ns = "watch-bookmark"
        const d = yield* Differential.make(ns)
        yield* d.step("start", (c) => c.list(Builtin.ConfigMap, { namespace: ns }), () => ({}))
        /** Events until the server ends the watch (both variants at once, to keep the test short). */
        const untilEnd = (c: Port, own: Differential.Own) =>
          Effect.gen(function*() {
            const started = Date.now()
            const open = (allowBookmarks: boolean) =>
              c.watch(Builtin.ConfigMap, { namespace: ns, resourceVersion: own("start").resourceVersion, timeoutSeconds: 3, allowBookmarks })
            const all = Stream.merge(
              open(false).pipe(Stream.map((event) => ({ bookmarks: false, event }))),
              open(true).pipe(Stream.map((event) => ({ bookmarks: true, event })))
            )
            const tagged = yield* Differential.watchWhile(all, c.create(Builtin.ConfigMap, cm(ns, "x")), () => false, "6 seconds")
            const seconds = (Date.now() - started) / 1000
            const of = (bookmarks: boolean) => ({ events: tagged.filter((t) => t.bookmarks === bookmarks).map((t) => t.event), seconds })
            return { without: of(false), with: of(true) }
          })
        /** Consecutive bookmarks count as one (the real server sends one or two before the deadline). */
        const view = (r: { events: ReadonlyArray<Cluster.WatchEvent>; seconds: number }) => {
          const collapsed = r.events.filter((e, i) => !(e.type === "BOOKMARK" && r.events[i - 1]?.type === "BOOKMARK"))
          const lastChange = r.events.filter((e) => e.type !== "BOOKMARK").map(rvOf).reduce((a, b) => (a > b ? a : b), 0n)
          return {
            events: collapsed.map(Differential.eventView),
            // a bookmark's version is where to resume: no earlier than the last change seen
            bookmarksCurrent: r.events.filter((e) => e.type === "BOOKMARK").every((e) => rvOf(e) >= lastChange),
            endedOnTime: r.seconds >= 2.5 && r.seconds < 5
          }
        }
        yield* d.step("timeoutSeconds 3, with and without bookmarks", untilEnd, (r) => ({ without: view(r.without), with: view(r.with) }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)
  })
})
