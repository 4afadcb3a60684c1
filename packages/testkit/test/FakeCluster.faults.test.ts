import { assert, describe, it } from "@effect/vitest"
import { Builtin, ClusterError, type Cluster } from "@kubefx/core"
import { Arbitrary, Effect, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { FakeCluster } from "../src/index.ts"
import { cm, failure, provide, services } from "./FakeClusterFixtures.ts"

const at = { namespace: "default", name: "a" }

const summary = (events: Iterable<Cluster.WatchEvent>) =>
  [...events].map((e) => `${e.type} ${e.type === "BOOKMARK" ? "" : e.object.metadata.name}`)

describe("FakeCluster: fault injection", () => {
  it.effect("failNext fails the next matching request only, then requests succeed again", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      yield* fake.failNext({ verb: "create", type: Builtin.ConfigMap, error: FakeCluster.errors.conflict() })
      // A get does not match the fault.
      yield* failure(cluster.get(Builtin.ConfigMap, at))
      const e = yield* failure(cluster.create(Builtin.ConfigMap, cm("a")))
      assert.strictEqual(e._tag, "Conflict")
      // "before": the failed create did not happen.
      assert.deepStrictEqual(yield* fake.objects(Builtin.ConfigMap), [])
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      assert.strictEqual((yield* fake.objects(Builtin.ConfigMap)).length, 1)
    }).pipe(provide()))

  it.effect("times, name and namespace narrow a fault; 429 carries Retry-After; 503 is transient", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* cluster.create(Builtin.ConfigMap, cm("b"))
      yield* fake.failNext({ name: "a", namespace: "default", times: 2, error: FakeCluster.errors.tooManyRequests(7) })
      yield* fake.failNext({ verb: "list", error: FakeCluster.errors.unavailable() })
      yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "b" })
      const first = yield* failure(cluster.get(Builtin.ConfigMap, at))
      assert.strictEqual(ClusterError.retryAfterSeconds(first), 7)
      assert.strictEqual((yield* failure(cluster.get(Builtin.ConfigMap, at)))._tag, "TooManyRequests")
      yield* cluster.get(Builtin.ConfigMap, at)
      const list = yield* failure(cluster.list(Builtin.ConfigMap))
      assert.isTrue(ClusterError.isTransient(list))
      assert.strictEqual(list._tag === "ServerError" ? list.status : 0, 503)
    }).pipe(provide()))

  it.effect("when: \"after\" applies the write and still fails it, as a lost response", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      yield* fake.failNext({ verb: "create", when: "after", error: FakeCluster.errors.internalError() })
      const e = yield* failure(cluster.create(Builtin.ConfigMap, cm("a")))
      assert.strictEqual(e._tag === "ServerError" ? e.status : 0, 500)
      const again = yield* failure(cluster.create(Builtin.ConfigMap, cm("a")))
      assert.strictEqual(again._tag, "AlreadyExists")
    }).pipe(provide()))

  it.effect("a timeout fault hangs for its duration on the Clock, then fails with Transport", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      yield* fake.failNext({ verb: "get", error: FakeCluster.errors.timeout("30 seconds") })
      const fiber = yield* Effect.forkChild(failure(cluster.get(Builtin.ConfigMap, at)))
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const e = yield* Fiber.join(fiber)
      assert.strictEqual(e._tag, "Transport")
      assert.isTrue(ClusterError.isTransient(e))
    }).pipe(provide()))

  it.effect("latency delays matching requests on the Clock; clearFaults removes it", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      yield* fake.latency("2 seconds", { verb: "create" })
      const fiber = yield* Effect.forkChild(cluster.create(Builtin.ConfigMap, cm("a")))
      yield* Effect.yieldNow
      assert.deepStrictEqual(yield* fake.objects(Builtin.ConfigMap), [])
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* fake.objects(Builtin.ConfigMap)).length, 1)
      yield* fake.clearFaults
      yield* cluster.create(Builtin.ConfigMap, cm("b"))
    }).pipe(provide()))

  it.effect("a watch open can fail like any request", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      yield* fake.failNext({ verb: "watch", error: FakeCluster.errors.gone() })
      const e = yield* failure(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: "0" })))
      assert.strictEqual(e._tag, "Gone")
    }).pipe(provide()))

  it.effect("stallWatches holds events back without ending the watch; resumeWatches delivers them", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const rv = yield* fake.resourceVersion
      const seen: Array<Cluster.WatchEvent> = []
      const fiber = yield* cluster.watch(Builtin.ConfigMap, { resourceVersion: rv }).pipe(
        Stream.runForEach((e) => Effect.sync(() => void seen.push(e))),
        Effect.forkChild
      )
      yield* Effect.yieldNow
      yield* fake.stallWatches
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* TestClock.adjust("10 minutes")
      assert.deepStrictEqual(seen, [])
      assert.isUndefined(fiber.pollUnsafe())
      yield* fake.resumeWatches
      yield* cluster.create(Builtin.ConfigMap, cm("b"))
      yield* Effect.yieldNow
      assert.deepStrictEqual(summary(seen), ["ADDED a", "ADDED b"])
      yield* Fiber.interrupt(fiber)
    }).pipe(provide()))

  it.effect("dropWatches ends open watches, or fails them with Transport", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const rv = yield* fake.resourceVersion
      const ended = yield* Effect.forkChild(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: rv })))
      yield* Effect.yieldNow
      yield* fake.dropWatches()
      assert.deepStrictEqual(yield* Fiber.join(ended), [])
      const failed = yield* Effect.forkChild(failure(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: rv }))))
      yield* Effect.yieldNow
      yield* fake.dropWatches({ error: true })
      assert.strictEqual((yield* Fiber.join(failed))._tag, "Transport")
    }).pipe(provide()))

  it.effect("compact: resuming from an earlier version is 410 Gone; from the current one works", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const before = yield* fake.resourceVersion
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      yield* fake.compact
      const e = yield* failure(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: before })))
      assert.strictEqual(e._tag, "Gone")
      const now = yield* fake.resourceVersion
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(cluster.watch(Builtin.ConfigMap, { resourceVersion: now }), 1)))
      yield* Effect.yieldNow
      yield* cluster.create(Builtin.ConfigMap, cm("b"))
      assert.deepStrictEqual(summary(yield* Fiber.join(fiber)), ["ADDED b"])
    }).pipe(provide()))

  it.effect("restart: watches fail with Transport, history is gone, objects and resourceVersions carry on", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const rv = yield* fake.resourceVersion
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      const fiber = yield* Effect.forkChild(failure(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: rv }))))
      yield* Effect.yieldNow
      yield* fake.restart
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "Transport")
      yield* cluster.get(Builtin.ConfigMap, at)
      const b = yield* cluster.create(Builtin.ConfigMap, cm("b"))
      assert.isAbove(Number(b.metadata.resourceVersion), Number(rv))
      // The restarted server's history starts at the restart: an earlier version is 410 Gone.
      const gone = yield* failure(Stream.runCollect(cluster.watch(Builtin.ConfigMap, { resourceVersion: rv })))
      assert.strictEqual(gone._tag, "Gone")
    }).pipe(provide()))

  it.effect("faults are plain data: a generated schedule round-trips through the Fault Schema and is injected", () =>
    Effect.gen(function*() {
      const { cluster, fake } = yield* services
      const schedule = yield* Arbitrary.sampleEffect(Arbitrary.schema(FakeCluster.Fault), { count: 25, seed: 7 })
      assert.strictEqual(schedule.length, 25)
      for (const fault of schedule) {
        assert.isTrue(Schema.is(FakeCluster.Fault)(fault))
      }
      // Only "get" faults on one object, so every failure below comes from the schedule.
      const gets = schedule.map((f) => ({ ...f, verb: "get" as const, resource: "v1/ConfigMap", namespace: "default", name: "a", times: 1, when: "before" as const }))
      yield* cluster.create(Builtin.ConfigMap, cm("a"))
      for (const f of gets) yield* fake.failNext(f)
      for (const f of gets) {
        const fiber = yield* Effect.forkChild(failure(cluster.get(Builtin.ConfigMap, at)))
        if ("timeout" in f.error) yield* TestClock.adjust(f.error.timeout)
        const e = yield* Fiber.join(fiber)
        assert.strictEqual(e._tag, "timeout" in f.error ? "Transport" : f.error._tag)
      }
      yield* cluster.get(Builtin.ConfigMap, at)
    }).pipe(provide()))
})
