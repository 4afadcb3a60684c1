/**
 * Leader election between replicas, on the fake cluster's Leases, under TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Builtin, Cluster, LeaderElection } from "@kubefx/core"
import { FakeCluster } from "@kubefx/testkit"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"

const options = (identity: string) => ({ name: "echo-operator", namespace: "default", identity })
const holder = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  const lease = yield* cluster.get(Builtin.Lease, { namespace: "default", name: "echo-operator" })
  return (lease["spec"] as { holderIdentity?: string }).holderIdentity
})
const drain = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})
/** Moves time a second at a time, letting every fiber woken on the way run before the next step. */
const advance = (seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds; i++) {
      yield* TestClock.adjust("1 second")
      yield* drain
    }
  })

describe("LeaderElection", () => {
  it.effect("only one candidate runs; the other takes over as soon as the leader releases the Lease", () =>
    Effect.gen(function*() {
      const runningA = yield* Deferred.make<void>()
      const stopA = yield* Deferred.make<void>()
      let bRan = false
      const a = yield* Effect.forkChild(LeaderElection.run(options("a"))(Deferred.succeed(runningA, undefined).pipe(Effect.andThen(Deferred.await(stopA)))))
      yield* Deferred.await(runningA)
      const b = yield* Effect.forkChild(LeaderElection.run(options("b"))(Effect.sync(() => { bRan = true })))
      yield* advance(30) // A renews throughout; B keeps trying
      yield* drain
      expect(bRan).toBe(false)
      expect(yield* holder).toBe("a")
      yield* Deferred.succeed(stopA, undefined)
      yield* Fiber.join(a)
      yield* advance(2) // one retry period, not a whole lease duration
      yield* Fiber.join(b)
      expect(bRan).toBe(true)
    }).pipe(Effect.provide(FakeCluster.layer())))

  it.effect("a leader that cannot renew within renewDeadline stops its work and fails with LeadershipLost", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCluster.FakeCluster
      const started = yield* Deferred.make<void>()
      let interrupted = false
      const a = yield* Effect.forkChild(LeaderElection.run(options("a"))(
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => Effect.sync(() => { interrupted = true })))
      ))
      yield* Deferred.await(started)
      yield* fake.failNext({ verb: "update", type: Builtin.Lease, times: 100, error: FakeCluster.errors.unavailable() })
      yield* advance(12)
      const exit = yield* Fiber.await(a)
      expect(interrupted).toBe(true)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/LeadershipLost/)
      yield* fake.clearFaults
      // The Lease still names "a" until it expires; then another candidate takes it.
      const b = yield* Effect.forkChild(LeaderElection.run(options("b"))(Effect.void))
      yield* advance(20)
      yield* Fiber.join(b)
      const cluster = yield* Cluster.Cluster
      const lease = yield* cluster.get(Builtin.Lease, { namespace: "default", name: "echo-operator" })
      expect((lease["spec"] as { leaseTransitions?: number }).leaseTransitions).toBe(1)
    }).pipe(Effect.provide(FakeCluster.layer())))

  it.effect("an expired Lease of a vanished leader is taken over after leaseDuration, not before", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* TestClock.adjust("1 hour")
      const t = new Date(yield* Effect.clockWith((c) => c.currentTimeMillis)).toISOString()
      yield* cluster.create(Builtin.Lease, {
        apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "echo-operator", namespace: "default" },
        spec: { holderIdentity: "ghost", leaseDurationSeconds: 15, renewTime: t, acquireTime: t }
      })
      let ran = false
      const b = yield* Effect.forkChild(LeaderElection.run(options("b"))(Effect.sync(() => { ran = true })))
      yield* advance(10)
      yield* drain
      expect(ran).toBe(false)
      yield* advance(8)
      yield* Fiber.join(b)
      expect(ran).toBe(true)
    }).pipe(Effect.provide(FakeCluster.layer())))
})
