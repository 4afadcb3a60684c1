import { assert, describe, it } from "@effect/vitest"
import { Builtin, type Cluster } from "@kubefx/core"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { cm, failure, provide, services } from "./FakeClusterFixtures.ts"

const labelled = (name: string, labels: Record<string, string>, namespace = "default") => ({
  ...cm(name, {}, namespace),
  metadata: { name, namespace, labels }
})

const names = (list: Cluster.ObjectList) => list.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)

const summary = (events: Iterable<Cluster.WatchEvent>) =>
  [...events].map((e) => `${e.type} ${e.type === "BOOKMARK" ? e.object.metadata.resourceVersion : e.object.metadata.name}`)

describe("FakeCluster: list", () => {
  it.effect("items are sorted like etcd keys (namespace, then name) and scoped by namespace", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "a-b" } })
      for (const [ns, n] of [["default", "z"], ["a-b", "y"], ["default", "b"], ["kube-system", "a"]] as const) {
        yield* cluster.create(Builtin.ConfigMap, cm(n, {}, ns))
      }
      const all = yield* cluster.list(Builtin.ConfigMap)
      assert.deepStrictEqual(names(all), ["a-b/y", "default/b", "default/z", "kube-system/a"])
      assert.deepStrictEqual(names(yield* cluster.list(Builtin.ConfigMap, { namespace: "default" })), ["default/b", "default/z"])
      const { fake } = yield* services
      assert.strictEqual(all.resourceVersion, yield* fake.resourceVersion)
    }).pipe(provide()))

  it.effect("label selectors: =, ==, !=, in, notin, exists, !key, and 400 on a bad selector", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, labelled("a", { app: "web", tier: "front" }))
      yield* cluster.create(Builtin.ConfigMap, labelled("b", { app: "db" }))
      yield* cluster.create(Builtin.ConfigMap, labelled("c", { tier: "back" }))
      const sel = (labelSelector: string) =>
        cluster.list(Builtin.ConfigMap, { namespace: "default", labelSelector }).pipe(Effect.map((l) => l.items.map((o) => o.metadata.name)))
      assert.deepStrictEqual(yield* sel("app=web"), ["a"])
      assert.deepStrictEqual(yield* sel("app==db"), ["b"])
      assert.deepStrictEqual(yield* sel("app!=web"), ["b", "c"])
      assert.deepStrictEqual(yield* sel("app in (web, db)"), ["a", "b"])
      assert.deepStrictEqual(yield* sel("app notin (web)"), ["b", "c"])
      assert.deepStrictEqual(yield* sel("tier"), ["a", "c"])
      assert.deepStrictEqual(yield* sel("!tier"), ["b"])
      assert.deepStrictEqual(yield* sel("app,tier=front"), ["a"])
      yield* cluster.create(Builtin.ConfigMap, labelled("d", { size: "3" }))
      assert.deepStrictEqual(yield* sel("size>2"), ["d"])
      assert.deepStrictEqual(yield* sel("size<3"), [])
      // The server accepts empty sets: `in ()` selects nothing, `notin ()` everything.
      assert.deepStrictEqual(yield* sel("app in ()"), [])
      assert.deepStrictEqual(yield* sel("app notin ()"), ["a", "b", "c", "d"])
      const bad = yield* failure(sel("a b"))
      assert.strictEqual(bad._tag === "Invalid" ? bad.status : 0, 400)
      assert.strictEqual(bad.message, "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt")
      assert.strictEqual((yield* failure(sel("app=a,"))).message, "found '', expected: identifier after ','")
    }).pipe(provide()))

  it.effect("field selectors on metadata.name / metadata.namespace; other fields are 400", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* cluster.create(Builtin.ConfigMap, cm("b", {}, "kube-system"))
      const byName = yield* cluster.list(Builtin.ConfigMap, { fieldSelector: "metadata.name=a" })
      assert.deepStrictEqual(names(byName), ["default/a"])
      const notNs = yield* cluster.list(Builtin.ConfigMap, { fieldSelector: "metadata.namespace!=default" })
      assert.deepStrictEqual(names(notNs), ["kube-system/b"])
      const bad = yield* failure(cluster.list(Builtin.ConfigMap, { fieldSelector: "data.x=1" }))
      assert.strictEqual(bad._tag, "Invalid")
      assert.include(bad.message, `"data.x" is not a known field selector`)
    }).pipe(provide()))

  it.effect("paging: limit/continue read one consistent snapshot, even when objects change between pages", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      for (const n of ["a", "b", "c", "d", "e"]) yield* cluster.create(Builtin.ConfigMap, cm(n))
      const p1 = yield* cluster.list(Builtin.ConfigMap, { namespace: "default", limit: 2 })
      assert.deepStrictEqual(p1.items.map((o) => o.metadata.name), ["a", "b"])
      assert.isDefined(p1.continue)
      // Changes after the first page are not visible to the rest of the list.
      yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "c" })
      yield* cluster.create(Builtin.ConfigMap, cm("bb"))
      const p2 = yield* cluster.list(Builtin.ConfigMap, { namespace: "default", limit: 2, continue: p1.continue! })
      assert.deepStrictEqual(p2.items.map((o) => o.metadata.name), ["c", "d"])
      assert.strictEqual(p2.resourceVersion, p1.resourceVersion)
      const p3 = yield* cluster.list(Builtin.ConfigMap, { namespace: "default", limit: 2, continue: p2.continue! })
      assert.deepStrictEqual(p3.items.map((o) => o.metadata.name), ["e"])
      assert.isUndefined(p3.continue)
      // A resourceVersion the server has not reached yet times out (504).
      const future = yield* failure(cluster.list(Builtin.ConfigMap, { resourceVersion: String(Number(p1.resourceVersion) + 100) }))
      assert.strictEqual(future._tag === "ServerError" ? future.status : 0, 504)
      // A paged list at a resourceVersion reads exactly that version (the legacy rule).
      const exact = yield* cluster.list(Builtin.ConfigMap, { namespace: "default", limit: 10, resourceVersion: p1.resourceVersion })
      assert.deepStrictEqual(exact.items.map((o) => o.metadata.name), ["a", "b", "c", "d", "e"])
      const garbage = yield* failure(cluster.list(Builtin.ConfigMap, { continue: "not-a-token" }))
      assert.strictEqual(garbage._tag === "Invalid" ? garbage.status : 0, 400)
    }).pipe(provide()))

  it.effect("an expired continue token is 410 Gone", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      for (const n of ["a", "b", "c"]) yield* cluster.create(Builtin.ConfigMap, cm(n))
      const p1 = yield* cluster.list(Builtin.ConfigMap, { namespace: "default", limit: 1 })
      for (const n of ["d", "e", "f"]) yield* cluster.create(Builtin.ConfigMap, cm(n))
      const e = yield* failure(cluster.list(Builtin.ConfigMap, { namespace: "default", limit: 1, continue: p1.continue! }))
      assert.strictEqual(e._tag, "Gone")
      assert.include(e.message, "The provided continue parameter is too old")
    }).pipe(provide({ historyLimit: 2 })))
})

describe("FakeCluster: watch", () => {
  it.effect("replays events after the resourceVersion, then streams live; events are copies", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("before"))
      const list = yield* cluster.list(Builtin.ConfigMap, { namespace: "default" })
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      const fiber = yield* cluster.watch(Builtin.ConfigMap, { namespace: "default", resourceVersion: list.resourceVersion }).pipe(
        Stream.take(4),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Effect.yieldNow
      const a = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "a" })
      yield* cluster.replace(Builtin.ConfigMap, { ...a, data: { k: "v" } })
      yield* cluster.create(Builtin.ConfigMap, cm("elsewhere", {}, "kube-system"))
      yield* cluster.delete(Builtin.ConfigMap, { namespace: "default", name: "a" })
      yield* cluster.create(Builtin.ConfigMap, cm("b"))
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(summary(events), ["ADDED a", "MODIFIED a", "DELETED a", "ADDED b"])
      const rvs = events.map((e) => Number(e.object.metadata.resourceVersion))
      assert.deepStrictEqual(rvs, [...rvs].sort((x, y) => x - y))
      ;(events[1]!.object as any).data.k = "mutated"
      const again = yield* cluster.list(Builtin.ConfigMap, { namespace: "default" })
      assert.notStrictEqual((again.items[0] as any)?.data?.k, "mutated")
    }).pipe(provide()))

  it.effect("resourceVersion \"0\" starts with the current objects as ADDED", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("x"))
      yield* cluster.create(Builtin.ConfigMap, cm("y"))
      const events = yield* cluster.watch(Builtin.ConfigMap, { namespace: "default", resourceVersion: "0" }).pipe(Stream.take(2), Stream.runCollect)
      assert.deepStrictEqual(summary(events), ["ADDED x", "ADDED y"])
    }).pipe(provide()))

  it.effect("a resourceVersion older than the retained history fails the stream with Gone", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const start = (yield* cluster.list(Builtin.ConfigMap)).resourceVersion
      for (const n of ["a", "b", "c", "d"]) yield* cluster.create(Builtin.ConfigMap, cm(n))
      const e = yield* failure(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: start })))
      assert.strictEqual(e._tag, "Gone")
      assert.include(e.message, "too old resource version")
    }).pipe(provide({ historyLimit: 2 })))

  it.effect("selectors: an object that stops matching is DELETED for that watcher, one that starts is ADDED", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const list = yield* cluster.list(Builtin.ConfigMap)
      const fiber = yield* cluster.watch(Builtin.ConfigMap, { resourceVersion: list.resourceVersion, labelSelector: "app=web" }).pipe(
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Effect.yieldNow
      const a = yield* cluster.create(Builtin.ConfigMap, labelled("a", { app: "web" }))
      yield* cluster.create(Builtin.ConfigMap, labelled("b", { app: "db" }))
      const a2 = yield* cluster.replace(Builtin.ConfigMap, { ...a, metadata: { ...a.metadata, labels: { app: "db" } } })
      yield* cluster.replace(Builtin.ConfigMap, { ...a2, metadata: { ...a2.metadata, labels: { app: "web" } } })
      const events = yield* Fiber.join(fiber)
      assert.deepStrictEqual(summary(events), ["ADDED a", "DELETED a", "ADDED a"])
      // The DELETED event carries the object as it was, at the version of the change.
      assert.deepStrictEqual(events[1]!.object.metadata.labels, { app: "web" })
      assert.strictEqual(events[1]!.object.metadata.resourceVersion, a2.metadata.resourceVersion)
    }).pipe(provide()))

  it.effect("bookmarks: periodic on the Clock once the type moved on, on request, and 2 s before timeoutSeconds", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const list = yield* cluster.list(Builtin.ConfigMap)
      const fiber = yield* cluster.watch(Builtin.ConfigMap, { resourceVersion: list.resourceVersion, allowBookmarks: true, timeoutSeconds: 200 }).pipe(
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Effect.yieldNow
      // nothing happened since the watch's version: the periodic bookmark is skipped
      yield* TestClock.adjust("1 minute")
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      const rv = yield* fake.resourceVersion
      yield* TestClock.adjust("1 minute")
      yield* fake.bookmark
      yield* TestClock.adjust("80 seconds")
      const events = yield* Fiber.join(fiber)
      // at 120 s, on request, at 180 s, and at 198 s (2 s before the deadline); the watch ends at 200 s
      assert.deepStrictEqual(summary(events), ["ADDED a", ...Array.from({ length: 4 }, () => `BOOKMARK ${rv}`)])
      assert.deepStrictEqual(events[1]!.object.kind, "ConfigMap")
    }).pipe(provide()))

  it.effect("timeoutSeconds ends the stream", () =>
    Effect.gen(function*() {
      const { cluster } = yield* services
      const list = yield* cluster.list(Builtin.ConfigMap)
      const fiber = yield* cluster.watch(Builtin.ConfigMap, { resourceVersion: list.resourceVersion, timeoutSeconds: 30 }).pipe(
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Effect.yieldNow
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(summary(yield* Fiber.join(fiber)), ["ADDED a"])
    }).pipe(provide()))

  it.effect("a watch from a resourceVersion the server has not reached delivers only what comes after it", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const future = String(Number(yield* fake.resourceVersion) + 2)
      const fiber = yield* cluster.watch(Builtin.ConfigMap, { resourceVersion: future }).pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      yield* TestClock.adjust("10 seconds")
      for (const n of ["a", "b", "c"]) yield* cluster.create(Builtin.ConfigMap, cm(n))
      assert.deepStrictEqual(summary(yield* Fiber.join(fiber)), ["ADDED c"])
    }).pipe(provide()))
})
