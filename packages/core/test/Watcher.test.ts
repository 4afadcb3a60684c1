import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Queue, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Builtin from "../src/Builtin.ts"
import { Cluster, type ListOptions, type WatchEvent, type WatchOptions } from "../src/Cluster.ts"
import * as ClusterError from "../src/ClusterError.ts"
import type { KubeObject } from "../src/Resource.ts"
import * as Watcher from "../src/Watcher.ts"

const cm = (name: string, rv: string): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns", resourceVersion: rv } })

type Script = Array<Stream.Stream<WatchEvent, ClusterError.ClusterError>>

/** A scripted API server: lists come from `lists` (paged by 2), watches play `watches` in order. */
const scripted = (lists: Array<Array<KubeObject>>, listRv: Array<string>, watches: Script) => {
  const calls: Array<{ verb: string; options: ListOptions | WatchOptions }> = []
  let listCall = 0
  const layer = Layer.mock(Cluster, {
    list: (_type: unknown, options?: ListOptions) =>
      Effect.sync(() => {
        calls.push({ verb: "list", options: options ?? {} })
        const page = options?.continue === undefined ? 0 : Number(options.continue)
        const i = options?.continue === undefined ? listCall++ : listCall - 1
        const items = lists[Math.min(i, lists.length - 1)]!
        const limit = options?.limit ?? items.length
        const slice = items.slice(page * limit, page * limit + limit)
        const more = (page + 1) * limit < items.length
        return { items: slice, resourceVersion: listRv[Math.min(i, listRv.length - 1)]!, ...(more ? { continue: String(page + 1) } : {}) } as never
      }),
    watch: (_type: unknown, options: WatchOptions) =>
      Stream.unwrap(Effect.sync(() => {
        calls.push({ verb: "watch", options })
        return (watches.shift() ?? Stream.never) as never
      }))
  } as never)
  return { layer, calls }
}

/** `initialState` is `"list"` unless `options` names it, or `defaults` is `{}` (the watcher's own default). */
const collect = (n: number, options: Watcher.WatcherOptions = {}, defaults: Watcher.WatcherOptions = { initialState: "list" }) =>
  Effect.gen(function*() {
    const q = yield* Queue.unbounded<Watcher.WatcherEvent>()
    const fiber = yield* Watcher.watch(Builtin.ConfigMap, { pageSize: 2, ...defaults, ...options }).pipe(
      Stream.runForEach((e) => Queue.offer(q, e)),
      Effect.forkChild
    )
    const out: Array<Watcher.WatcherEvent> = []
    while (out.length < n) {
      const next = yield* Queue.poll(q)
      if (next._tag === "Some") out.push(next.value)
      else yield* TestClock.adjust("1 second")
    }
    yield* Fiber.interrupt(fiber)
    return out
  })

const names = (e: Watcher.WatcherEvent) =>
  e._tag === "Restarted" ? `Restarted[${e.objects.map((o) => o.metadata.name).join(",")}]` : `${e._tag}:${e.object.metadata.name}`

const end = (rv: string): WatchEvent => ({
  type: "BOOKMARK",
  object: { apiVersion: "v1", kind: "ConfigMap", metadata: { resourceVersion: rv, annotations: { "k8s.io/initial-events-end": "true" } } }
})
const streamed = (calls: ReturnType<typeof scripted>["calls"]) =>
  calls.map((c) => c.verb === "list" ? "list" : `watch@${(c.options as WatchOptions).resourceVersion}${(c.options as WatchOptions).sendInitialEvents ? "+initial" : ""}`)

describe("Watcher, the state streamed by the watch (watch-list)", () => {
  it.effect("gets the state from one watch request and watches on in it, then resumes from the last version without it", () =>
    Effect.gen(function*() {
      const states: Array<Watcher.WatcherState> = []
      const s = scripted([], [], [
        Stream.make<Array<WatchEvent>>(
          { type: "ADDED", object: cm("a", "3") },
          { type: "ADDED", object: cm("b", "1") },
          end("10"),
          { type: "MODIFIED", object: cm("a", "11") }
        ),
        Stream.make<Array<WatchEvent>>({ type: "DELETED", object: cm("b", "12") })
      ])
      const events = yield* collect(3, { initialState: "stream", onState: (st) => Effect.sync(() => void states.push(st)) }).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a,b]", "Applied:a", "Deleted:b"])
      expect(streamed(s.calls)).toEqual(["watch@+initial", "watch@11"])
      const first = s.calls[0]!.options as WatchOptions
      expect(first.allowBookmarks).toBe(true)
      expect(states.slice(0, 2)).toEqual(["listing", "watching"])
    }))

  it.effect("is the default, and a 410 streams the state again", () =>
    Effect.gen(function*() {
      const s = scripted([], [], [
        Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("a", "3") }, end("10")).pipe(
          Stream.concat(Stream.fail(new ClusterError.Gone({ message: "too old resource version" })))
        ),
        Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("c", "20") }, end("21"))
      ])
      const events = yield* collect(2, {}, {}).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a]", "Restarted[c]"])
      expect(streamed(s.calls).slice(0, 2)).toEqual(["watch@+initial", "watch@+initial"])
    }))

  it.effect("an error before the end of the initial events discards them, backs off, and streams again", () =>
    Effect.gen(function*() {
      const s = scripted([], [], [
        Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("a", "3") }).pipe(
          Stream.concat(Stream.fail(new ClusterError.Transport({ message: "connection reset" })))
        ),
        Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("b", "4") }, end("10"))
      ])
      const events = yield* collect(1, { initialState: "stream" }).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[b]"])
      expect(streamed(s.calls)).toEqual(["watch@+initial", "watch@+initial"])
    }))

  const fallsBack = (label: string, first: Stream.Stream<WatchEvent, ClusterError.ClusterError>) =>
    it.effect(`falls back to list + watch for good when the server ${label}`, () =>
      Effect.gen(function*() {
        const s = scripted([[cm("a", "1")], [cm("b", "2")]], ["5", "8"], [
          first,
          Stream.fail(new ClusterError.Gone({ message: "too old resource version" })),
          Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("c", "9") })
        ])
        const events = yield* collect(3, { initialState: "stream", pageSize: 10 }).pipe(Effect.provide(s.layer))
        expect(events.map(names)).toEqual(["Restarted[a]", "Restarted[b]", "Applied:c"])
        // After the 410 it lists again: the fallback holds.
        expect(streamed(s.calls).slice(0, 5)).toEqual(["watch@+initial", "list", "watch@5", "list", "watch@8"])
      }))
  fallsBack(
    "refuses it (422, the WatchList feature off)",
    Stream.fail(new ClusterError.Invalid({ message: "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden", status: 422, causes: [] }))
  )
  fallsBack(
    "ignores it (a plain watch: a change before any end marker)",
    Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("a", "1") }, { type: "MODIFIED", object: cm("a", "6") })
  )
  fallsBack(
    "ignores it (a bookmark without the end marker)",
    Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("a", "1") }, { type: "BOOKMARK", object: cm("", "6") })
  )
  fallsBack("ends the watch before marking the end of the initial events", Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("a", "1") }))
})

describe("Watcher", () => {
  it.effect("lists every page, then watches from the list's resourceVersion with bookmarks", () =>
    Effect.gen(function*() {
      const s = scripted([[cm("a", "1"), cm("b", "2"), cm("c", "3")]], ["10"], [
        Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("d", "11") }, { type: "BOOKMARK", object: cm("", "12") }, { type: "DELETED", object: cm("a", "13") })
      ])
      const events = yield* collect(3).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a,b,c]", "Applied:d", "Deleted:a"])
      expect(s.calls.filter((c) => c.verb === "list")).toHaveLength(2)
      const w = s.calls.find((c) => c.verb === "watch")!.options as WatchOptions
      expect(w.resourceVersion).toBe("10")
      expect(w.allowBookmarks).toBe(true)
      expect(w.timeoutSeconds).toBeGreaterThanOrEqual(300)
      expect(w.timeoutSeconds).toBeLessThanOrEqual(600)
    }))

  it.effect("resumes from the last resourceVersion seen, bookmarks included, when a watch ends", () =>
    Effect.gen(function*() {
      const s = scripted([[cm("a", "1")]], ["5"], [
        Stream.make<Array<WatchEvent>>({ type: "MODIFIED", object: cm("a", "6") }, { type: "BOOKMARK", object: cm("", "9") }),
        Stream.make<Array<WatchEvent>>({ type: "MODIFIED", object: cm("a", "10") })
      ])
      const events = yield* collect(3).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a]", "Applied:a", "Applied:a"])
      const watches = s.calls.filter((c) => c.verb === "watch").map((c) => (c.options as WatchOptions).resourceVersion)
      expect(watches.slice(0, 2)).toEqual(["5", "9"])
    }))

  it.effect("relists on 410 Gone and delivers the complete new set", () =>
    Effect.gen(function*() {
      const s = scripted([[cm("a", "1"), cm("b", "2")], [cm("b", "2"), cm("c", "30")]], ["5", "31"], [
        Stream.fail(new ClusterError.Gone({ message: "too old resource version: 5 (20)" }))
      ])
      const events = yield* collect(2).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a,b]", "Restarted[b,c]"])
      const lastWatch = s.calls.filter((c) => c.verb === "watch").at(-1)!.options as WatchOptions
      expect(lastWatch.resourceVersion).toBe("31")
    }))

  it.effect("relists after an undecodable watch event (an event may have been lost)", () =>
    Effect.gen(function*() {
      const s = scripted([[cm("a", "1")], [cm("a", "1"), cm("b", "9")]], ["5", "10"], [
        Stream.fail(new ClusterError.Transport({ message: "undecodable watch event: not JSON", reason: "UndecodableEvent" }))
      ])
      const events = yield* collect(2).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a]", "Restarted[a,b]"])
    }))

  it.effect("reconnects after other errors with backoff, from the same resourceVersion, without relisting", () =>
    Effect.gen(function*() {
      const s = scripted([[cm("a", "1")]], ["5"], [
        Stream.fail(new ClusterError.ServerError({ message: "etcd unavailable", status: 503 })),
        Stream.fail(new ClusterError.Transport({ message: "connection reset" })),
        Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("z", "7") })
      ])
      const states: Array<Watcher.WatcherState> = []
      const events = yield* collect(2, { onState: (st) => Effect.sync(() => void states.push(st)) }).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a]", "Applied:z"])
      expect(s.calls.filter((c) => c.verb === "list")).toHaveLength(1)
      expect(s.calls.filter((c) => c.verb === "watch").map((c) => (c.options as WatchOptions).resourceVersion).slice(0, 3)).toEqual(["5", "5", "5"])
      expect(states).toContain("reconnecting")
    }))

  it.effect("retries a failed initial list", () =>
    Effect.gen(function*() {
      let failures = 2
      const layer = Layer.mock(Cluster, {
        list: () =>
          Effect.suspend(() =>
            failures-- > 0
              ? Effect.fail(new ClusterError.TooManyRequests({ message: "slow down", retryAfterSeconds: 1 }))
              : Effect.succeed({ items: [cm("a", "1")], resourceVersion: "5" })
          ),
        watch: () => Stream.never
      } as never)
      const events = yield* collect(1).pipe(Effect.provide(layer))
      expect(events.map(names)).toEqual(["Restarted[a]"])
      expect(failures).toBe(-1)
    }))

  it.effect("a resourceVersion the server calls too large (an etcd restore) relists at the current state, not forever", () =>
    Effect.gen(function*() {
      const tooLarge = () =>
        Stream.fail(new ClusterError.ServerError({ message: "Too large resource version: 50, current: 7", status: 504, reason: "Timeout", retryAfterSeconds: 1 }))
      // After the restore the list answers with older versions than the watcher had seen: the relist is the truth.
      const s = scripted([[cm("a", "40")], [cm("a", "6")]], ["50", "7"], [tooLarge(), tooLarge(), tooLarge()])
      const events = yield* collect(2).pipe(Effect.provide(s.layer))
      expect(events.map(names)).toEqual(["Restarted[a]", "Restarted[a]"])
      const relist = s.calls.filter((c) => c.verb === "list")[1]!.options as ListOptions
      expect(relist.resourceVersion).toBeUndefined() // a consistent read, not one pinned to the future version
      expect(s.calls.filter((c) => c.verb === "watch").map((c) => (c.options as WatchOptions).resourceVersion).slice(0, 2)).toEqual(["50", "7"])
    }))

  it.effect("a server that keeps answering 410 is relisted with backoff, not in a tight loop", () =>
    Effect.gen(function*() {
      const gone = () => Stream.fail(new ClusterError.Gone({ message: "too old resource version" }))
      const listedAt: Array<number> = []
      const s = scripted([[cm("a", "1")]], ["5"], Array.from({ length: 20 }, gone))
      const timed = Layer.mock(Cluster, {
        list: (type: never, options?: ListOptions) =>
          Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
            listedAt.push(now)
            return Effect.flatMap(Effect.service(Cluster), (inner) => inner.list(type, options))
          }).pipe(Effect.provide(s.layer)),
        watch: (type: never, options: WatchOptions) => Stream.unwrap(Effect.map(Effect.service(Cluster), (inner) => inner.watch(type, options))).pipe(Stream.provide(s.layer))
      } as never)
      yield* collect(6).pipe(Effect.provide(timed))
      expect(listedAt).toHaveLength(6)
      // The first relist is immediate; the ones after it wait, longer each time.
      expect(listedAt[1]! - listedAt[0]!).toBeLessThan(1000)
      expect(listedAt[5]! - listedAt[1]!).toBeGreaterThanOrEqual(1000)
    }))

  it.effect("reports watching only once the server has accepted the watch, not while it is connecting", () =>
    Effect.gen(function*() {
      const run = (accept: boolean) =>
        Effect.gen(function*() {
          const states: Array<Watcher.WatcherState> = []
          const layer = Layer.mock(Cluster, {
            list: () => Effect.succeed({ items: [cm("a", "1")], resourceVersion: "5" }),
            // A connect that hangs never opens; an accepted one opens and then stays quiet.
            watch: (_t: unknown, options: WatchOptions) =>
              accept ? Stream.unwrap(Effect.as(options.onOpen ?? Effect.void, Stream.never)) : Stream.never
          } as never)
          const fiber = yield* Watcher.watch(Builtin.ConfigMap, { initialState: "list", onState: (st) => Effect.sync(() => void states.push(st)) }).pipe(
            Stream.runDrain,
            Effect.provide(layer),
            Effect.forkChild
          )
          yield* TestClock.adjust("10 seconds")
          yield* Fiber.interrupt(fiber)
          return states
        })
      expect(yield* run(false)).toEqual(["listing", "connecting"])
      expect(yield* run(true)).toEqual(["listing", "connecting", "watching"])
    }))

  it.effect("a 429 with Retry-After on the list or the watch is waited out before the next attempt", () =>
    Effect.gen(function*() {
      const at: Array<[string, number]> = []
      let lists = 0
      let watches = 0
      const layer = Layer.mock(Cluster, {
        list: () =>
          Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
            at.push(["list", now])
            return lists++ === 0
              ? Effect.fail(new ClusterError.TooManyRequests({ message: "slow down", retryAfterSeconds: 20 }))
              : Effect.succeed({ items: [cm("a", "1")], resourceVersion: "5" })
          }),
        watch: () =>
          Stream.unwrap(Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
            at.push(["watch", now])
            return watches++ === 0
              ? Stream.fail(new ClusterError.TooManyRequests({ message: "slow down", retryAfterSeconds: 15 }))
              : Stream.make<Array<WatchEvent>>({ type: "ADDED", object: cm("b", "6") })
          }))
      } as never)
      const events = yield* collect(2).pipe(Effect.provide(layer))
      expect(events.map(names)).toEqual(["Restarted[a]", "Applied:b"])
      const [list1, list2, watch1, watch2] = at.map(([, t]) => t)
      expect(list2! - list1!).toBeGreaterThanOrEqual(20_000)
      expect(watch2! - watch1!).toBeGreaterThanOrEqual(15_000)
    }))
})
