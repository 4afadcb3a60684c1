/**
 * Leader election between replicas, on the fake cluster's Leases, under TestClock: one leader at a time
 * whatever the API server or the clocks do, and no write by a replica once it may no longer lead.
 *
 * Each replica talks to the one FakeCluster through a `Link` of its own, which records what reaches the
 * server (and when) and can cut that replica off from its Lease, as a network partition or an overloaded
 * API server would; the other replicas keep their connection.
 */
import { describe, expect, it } from "@effect/vitest"
import { Builtin, Cluster, ClusterError, LeaderElection, Operator, Resource } from "@kubefx/core"
import { FakeCluster } from "@kubefx/testkit"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Logger, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Registry, sync as webSync, web, Web, WebOperator } from "./fixtures/Web.ts"

type Svc = Cluster.Cluster["Service"]

const options = (identity: string) => ({ name: "echo-operator", namespace: "default", identity })
const holderOf = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    const lease = yield* cluster.get(Builtin.Lease, { namespace: "default", name })
    return (lease["spec"] as { holderIdentity?: string }).holderIdentity
  })
const holder = holderOf("echo-operator")
const drain = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})
/** Moves time a second at a time, letting every fiber woken on the way run before the next step. */
const advance = (seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds; i++) {
      yield* TestClock.adjust("1 second")
      yield* drain
    }
  })
const nowMillis = Clock.currentTimeMillis

/** What happens to a replica's Lease requests: answered, never answered (the client gives up after 60 s), refused, or writes delayed. */
type LeaseFault = "none" | "hang" | "fail" | { readonly slowWrites: Duration.Input }

interface Sent {
  readonly time: number
  readonly verb: Cluster.Verb
  readonly resource: string
  readonly name: string
}

/** One replica's connection to the API server. */
interface Link {
  readonly cluster: Svc
  /** Requests that reached the server, with the (test) time they reached it. */
  readonly sent: Array<Sent>
  fault: LeaseFault
}

const makeLink = (inner: Svc, clock: Clock.Clock): Link => {
  const sent: Array<Sent> = []
  const link: { cluster: Svc | undefined; sent: Array<Sent>; fault: LeaseFault } = { cluster: undefined, sent, fault: "none" }
  const send = <A>(
    verb: Cluster.Verb,
    type: Resource.ResourceType<any>,
    name: string | undefined,
    call: Effect.Effect<A, ClusterError.ClusterError>
  ): Effect.Effect<A, ClusterError.ClusterError> =>
    Effect.suspend(() => {
      const fault = type.kind === "Lease" ? link.fault : "none"
      if (fault === "hang") {
        return Effect.sleep("60 seconds").pipe(
          Effect.andThen(Effect.fail(new ClusterError.Transport({ message: "no answer within the client's 60 s request timeout" })))
        )
      }
      if (fault === "fail") {
        return Effect.fail(new ClusterError.ServerError({ message: "the server is currently unable to handle the request", status: 503 }))
      }
      const delay = typeof fault === "object" && Cluster.writeVerbs.has(verb) ? Effect.sleep(fault.slowWrites) : Effect.void
      return Effect.andThen(
        delay,
        Effect.suspend(() => {
          sent.push({ time: clock.currentTimeMillisUnsafe(), verb, resource: Resource.typeKey(type), name: name ?? "" })
          return call
        })
      )
    })
  const cluster: Svc = {
    get: (type, address) => send("get", type, address.name, inner.get(type, address)),
    list: (type, options) => send("list", type, undefined, inner.list(type, options)),
    watch: (type, options) => inner.watch(type, options),
    create: (type, object, options) => send("create", type, object.metadata.name, inner.create(type, object, options)),
    replace: (type, object, options) => send("update", type, object.metadata.name, inner.replace(type, object, options)),
    apply: (type, object, options) => send("apply", type, object.metadata.name, inner.apply(type, object, options)),
    patch: (type, address, patch, options) => send("patch", type, address.name, inner.patch(type, address, patch, options)),
    delete: (type, address, options) => send("delete", type, address.name, inner.delete(type, address, options)),
    replaceStatus: (type, object, options) =>
      send("updateStatus", type, object.metadata.name, inner.replaceStatus(type, object, options)),
    patchStatus: (type, address, patch, options) =>
      send("patchStatus", type, address.name, inner.patchStatus(type, address, patch, options))
  }
  link.cluster = cluster
  return link as Link
}

const linkTo = Effect.gen(function*() {
  return makeLink(yield* Cluster.Cluster, yield* Clock.Clock)
})

/** A Clock `offsetMillis` ahead of (or behind) the test's: another machine's wall clock, and its monotonic clock's own origin. */
const skewed = (clock: Clock.Clock, offsetMillis: number): Clock.Clock => {
  const nanos = BigInt(offsetMillis) * 1_000_000n
  return {
    currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + offsetMillis,
    currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + offsetMillis),
    currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + nanos,
    currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + nanos),
    monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe() + nanos,
    monotonicTimeNanos: Effect.sync(() => clock.monotonicTimeNanosUnsafe() + nanos),
    sleep: (duration) => clock.sleep(duration)
  }
}

/** Who believes it leads: a candidate's work marks itself while it runs. */
const makeBeliefs = () => {
  const leading = new Set<string>()
  const timeline: Array<{ readonly time: number; readonly leaders: ReadonlyArray<string> }> = []
  return {
    leading,
    timeline,
    /** Work that leads until it is stopped. */
    work: (id: string, started?: Deferred.Deferred<void>) =>
      Effect.sync(() => void leading.add(id)).pipe(
        Effect.andThen(started === undefined ? Effect.void : Deferred.succeed(started, undefined)),
        Effect.andThen(Effect.never),
        Effect.ensuring(Effect.sync(() => void leading.delete(id)))
      ),
    sample: Effect.map(nowMillis, (time) => void timeline.push({ time, leaders: [...leading].sort() })),
    /** The samples at which more than one candidate believed it led. */
    overlaps: () => timeline.filter((s) => s.leaders.length > 1)
  }
}

/** Advances `seconds` in steps of `stepMillis`, sampling who leads after each step. */
const advanceSampling = (beliefs: ReturnType<typeof makeBeliefs>, seconds: number, stepMillis = 250) =>
  Effect.gen(function*() {
    for (let i = 0; i < (seconds * 1000) / stepMillis; i++) {
      yield* TestClock.adjust(Duration.millis(stepMillis))
      yield* drain
      yield* beliefs.sample
    }
  })

const firstTimeLeading = (beliefs: ReturnType<typeof makeBeliefs>, id: string) =>
  beliefs.timeline.find((s) => s.leaders.includes(id))?.time
const lastTimeLeading = (beliefs: ReturnType<typeof makeBeliefs>, id: string) =>
  beliefs.timeline.findLast((s) => s.leaders.includes(id))?.time

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

  it.effect("a blackholed API server: the leader abandons its hung attempts and stops by its renew deadline", () =>
    Effect.gen(function*() {
      const beliefs = makeBeliefs()
      const linkA = yield* linkTo
      const started = yield* Deferred.make<void>()
      const a = yield* LeaderElection.run(options("a"))(beliefs.work("a", started)).pipe(
        Effect.provideService(Cluster.Cluster, linkA.cluster),
        Effect.forkChild
      )
      yield* Deferred.await(started)
      yield* advanceSampling(beliefs, 3) // renewed at 2 s
      const lastRenewStarted = linkA.sent.findLast((r) => r.verb === "update")!.time
      expect(lastRenewStarted).toBe(2000)
      linkA.fault = "hang" // from now on nothing it sends about the Lease is answered
      yield* advanceSampling(beliefs, 8)
      // Its last successful renewal started at 2 s: it may lead until 12 s and not a moment longer.
      expect(beliefs.leading.has("a")).toBe(true)
      yield* advanceSampling(beliefs, 1)
      expect(yield* nowMillis).toBe(12_000)
      expect(beliefs.leading.has("a")).toBe(false)
      expect(lastTimeLeading(beliefs, "a")).toBeLessThan(lastRenewStarted + 10_000)
      const exit = yield* Fiber.await(a)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/LeadershipLost/)
    }).pipe(Effect.provide(FakeCluster.layer())))

  it.effect("another candidate takes over a leaseDuration after IT saw the record last change, not by the holder's renewTime", () =>
    Effect.gen(function*() {
      const beliefs = makeBeliefs()
      const linkA = yield* linkTo
      const started = yield* Deferred.make<void>()
      yield* LeaderElection.run(options("a"))(beliefs.work("a", started)).pipe(
        Effect.provideService(Cluster.Cluster, linkA.cluster),
        Effect.forkChild
      )
      yield* Deferred.await(started)
      yield* advanceSampling(beliefs, 3) // renewTime 2 s: the last change of the record
      linkA.fault = "hang"
      yield* advanceSampling(beliefs, 5)
      // B arrives at 8 s and first sees the record then: for B it is fresh until 8 + 15 = 23 s.
      const b = yield* Effect.forkChild(LeaderElection.run(options("b"))(beliefs.work("b")))
      yield* advanceSampling(beliefs, 20)
      const taken = firstTimeLeading(beliefs, "b")
      expect(taken).toBeDefined()
      expect(taken!).toBeGreaterThanOrEqual(23_000)
      expect(taken!).toBeLessThanOrEqual(25_000)
      expect(beliefs.overlaps()).toEqual([])
      expect(yield* holder).toBe("b")
      yield* Fiber.interrupt(b)
    }).pipe(Effect.provide(FakeCluster.layer())))

  it.effect("a renewal counts from when it started, not from when its slow answer arrived", () =>
    Effect.gen(function*() {
      const beliefs = makeBeliefs()
      const linkA = yield* linkTo
      const started = yield* Deferred.make<void>()
      yield* LeaderElection.run(options("a"))(beliefs.work("a", started)).pipe(
        Effect.provideService(Cluster.Cluster, linkA.cluster),
        Effect.forkChild
      )
      yield* Deferred.await(started)
      yield* advanceSampling(beliefs, 1)
      // The renewal sent at 2 s reaches the server (and is answered) 1.5 s later.
      linkA.fault = { slowWrites: "1500 millis" }
      yield* advanceSampling(beliefs, 2.75)
      expect(linkA.sent.findLast((r) => r.verb === "update")?.time).toBe(3500)
      // Then every renewal is refused at once.
      linkA.fault = "fail"
      yield* advanceSampling(beliefs, 8)
      expect(yield* nowMillis).toBe(11_750)
      expect(beliefs.leading.has("a")).toBe(true)
      yield* advanceSampling(beliefs, 0.25)
      // 2 s (when the successful renewal started) + renewDeadline, not 3.5 s + renewDeadline.
      expect(beliefs.leading.has("a")).toBe(false)
    }).pipe(Effect.provide(FakeCluster.layer())))

  it.effect.each([
    { a: -10_000, b: 10_000 },
    { a: 10_000, b: -10_000 },
    { a: 0, b: 20_000 }
  ])("clocks $a ms and $b ms off: never two leaders at once", ({ a: offsetA, b: offsetB }) =>
    Effect.gen(function*() {
      const beliefs = makeBeliefs()
      const clock = yield* Clock.Clock
      const stopA = yield* Deferred.make<void>()
      const a = yield* LeaderElection.run(options("a"))(
        Effect.raceFirst(beliefs.work("a"), Deferred.await(stopA))
      ).pipe(Effect.provideService(Clock.Clock, skewed(clock, offsetA)), Effect.forkChild)
      yield* advanceSampling(beliefs, 1)
      const b = yield* LeaderElection.run(options("b"))(beliefs.work("b")).pipe(
        Effect.provideService(Clock.Clock, skewed(clock, offsetB)),
        Effect.forkChild
      )
      yield* advanceSampling(beliefs, 40)
      expect(beliefs.overlaps()).toEqual([])
      expect(firstTimeLeading(beliefs, "b")).toBeUndefined()
      expect(yield* holder).toBe("a")
      // The leader steps down; the other takes over at its next attempt.
      yield* Deferred.succeed(stopA, undefined)
      yield* Fiber.join(a)
      yield* advanceSampling(beliefs, 20)
      expect(beliefs.overlaps()).toEqual([])
      expect(firstTimeLeading(beliefs, "b")).toBeLessThanOrEqual(44_000)
      expect(beliefs.leading.has("b")).toBe(true)
      yield* Fiber.interrupt(b)
    }).pipe(Effect.provide(FakeCluster.layer())))

  it.effect("once leadership is lost, writes through the Cluster are refused before the work is stopped", () =>
    Effect.gen(function*() {
      const linkA = yield* linkTo
      const started = yield* Deferred.make<void>()
      const onStop: Array<Exit.Exit<unknown, ClusterError.ClusterError>> = []
      const configMap = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" } })
      const a = yield* LeaderElection.run(options("a"))(
        Effect.gen(function*() {
          const cluster = yield* Cluster.Cluster
          yield* cluster.create(Builtin.ConfigMap, configMap("while-leading"))
          yield* Deferred.succeed(started, undefined)
          return yield* Effect.never
        }).pipe(
          // What a reconcile interrupted halfway would still do: one more write on the way out.
          Effect.onInterrupt(() =>
            Effect.gen(function*() {
              const cluster = yield* Cluster.Cluster
              onStop.push(yield* Effect.exit(cluster.create(Builtin.ConfigMap, configMap("after-loss"))))
            })
          )
        )
      ).pipe(Effect.provideService(Cluster.Cluster, linkA.cluster), Effect.forkChild)
      yield* Deferred.await(started)
      linkA.fault = "fail"
      yield* advance(12)
      yield* Fiber.await(a)
      expect(onStop).toHaveLength(1)
      const exit = onStop[0]!
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toMatch(/Forbidden/)
      expect(JSON.stringify(exit)).toMatch(/leader/)
      expect(linkA.sent.filter((r) => r.resource === "v1/ConfigMap").map((r) => r.name)).toEqual(["while-leading"])
    }).pipe(Effect.provide(FakeCluster.layer())))
})

// ---------------------------------------------------------------------------------------------------------------------
// As an option of Operator.run: replicas of one operator on one cluster.
// ---------------------------------------------------------------------------------------------------------------------

const env = Layer.mergeAll(FakeCluster.layer({ types: [Web] }), Registry.layerMemory)
const election = (identity: string) => ({ leaderElection: { namespace: "default", identity } })

interface Reconcile {
  readonly replica: string
  readonly time: number
  readonly message: string
}

/** A replica of the Web operator whose handler records each call; replica "a" sleeps for 10 s when the message is "slow". */
const replica = (id: string, reconciles: Array<Reconcile>, handlerWrites: Array<Exit.Exit<unknown, ClusterError.ClusterError>>) =>
  Operator.make({
    ...WebOperator,
    sync: (req) =>
      Effect.gen(function*() {
        reconciles.push({ replica: id, time: yield* nowMillis, message: req.parent.spec.message })
        if (id === "a" && req.parent.spec.message === "slow") {
          yield* Effect.sleep("10 seconds")
          // A handler's own write, after its operator lost the Lease.
          const cluster = yield* Cluster.Cluster
          handlerWrites.push(
            yield* Effect.exit(cluster.create(Builtin.ConfigMap, {
              apiVersion: "v1", kind: "ConfigMap", metadata: { name: `from-${id}`, namespace: "default" }
            }))
          )
        }
        return yield* webSync(req)
      })
  })

const start = <Spec, Status, E, R>(operator: Operator.Operator<Spec, Status, E, R>, link: Link, identity: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Scope.Scope)
    yield* Operator.run(operator, election(identity)).pipe(
      Effect.provideService(Cluster.Cluster, link.cluster),
      Scope.provide(scope)
    )
    return scope
  })

const nonLeaseWrites = (link: Link) => link.sent.filter((r) => Cluster.writeVerbs.has(r.verb) && r.resource !== "coordination.k8s.io/v1/Lease")

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => void lines.push(`${options.logLevel} ${JSON.stringify(options.message)}`))
  return { lines, layer: Logger.layer([logger]) }
}

describe("Operator.run with leaderElection", () => {
  it.effect("a second replica does not reconcile until the first releases the Lease", () =>
    Effect.gen(function*() {
      const reconciles: Array<Reconcile> = []
      const cluster = yield* Cluster.Cluster
      yield* cluster.create(Web, web("a"))
      const linkA = yield* linkTo
      const linkB = yield* linkTo
      const scopeA = yield* start(replica("a", reconciles, []), linkA, "a")
      yield* advance(1)
      const scopeB = yield* start(replica("b", reconciles, []), linkB, "b")
      yield* advance(30)
      expect(reconciles.map((r) => r.replica)).toEqual(["a"])
      expect(nonLeaseWrites(linkB)).toEqual([])
      expect(yield* holderOf("web-operator")).toBe("a")
      // Changes go to the leader only.
      yield* cluster.patch(Web, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { message: "two" } } })
      yield* advance(5)
      expect(reconciles.map((r) => r.replica)).toEqual(["a", "a"])
      // The leader shuts down and releases the Lease; the other replica takes over at its next attempt.
      yield* Scope.close(scopeA, Exit.void)
      const released = yield* nowMillis
      yield* advance(3)
      expect(yield* holderOf("web-operator")).toBe("b")
      const fromB = reconciles.filter((r) => r.replica === "b")
      expect(fromB.length).toBe(1)
      expect(fromB[0]!.time).toBeLessThanOrEqual(released + 2000)
      // A converged the parent, so B's first reconcile finds nothing to do; the next change it applies.
      expect(nonLeaseWrites(linkB)).toEqual([])
      yield* cluster.patch(Web, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { message: "three" } } })
      yield* advance(1)
      expect(reconciles.map((r) => `${r.replica} ${r.message}`)).toEqual(["a hi", "a two", "b two", "b three"])
      expect(nonLeaseWrites(linkB).length).toBeGreaterThan(0)
      yield* Scope.close(scopeB, Exit.void)
    }).pipe(Effect.provide(env)))

  it.effect("on shutdown the leader finishes its in-flight reconcile, still renewing, and only then releases the Lease", () =>
    Effect.gen(function*() {
      const reconciles: Array<Reconcile> = []
      const handlerWrites: Array<Exit.Exit<unknown, ClusterError.ClusterError>> = []
      const cluster = yield* Cluster.Cluster
      yield* cluster.create(Web, web("a"))
      const linkA = yield* linkTo
      const linkB = yield* linkTo
      const scopeA = yield* start(replica("a", reconciles, handlerWrites), linkA, "a")
      yield* advance(1)
      yield* start(replica("b", reconciles, handlerWrites), linkB, "b")
      yield* advance(3)
      // A slow reconcile (10 s) starts at 4 s; A is told to stop at 5 s, so its last renewal before that was at 4 s.
      yield* cluster.patch(Web, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { message: "slow" } } })
      yield* advance(1)
      const closing = yield* Effect.forkChild(Scope.close(scopeA, Exit.void))
      yield* advance(12)
      yield* Fiber.join(closing)
      // Its writes at 14 s went through: it renewed while finishing (else its term would have ended at 14 s).
      expect(handlerWrites).toHaveLength(1)
      expect(Exit.isSuccess(handlerWrites[0]!)).toBe(true)
      expect(nonLeaseWrites(linkA).filter((r) => r.time >= 14_000).length).toBeGreaterThan(0)
      // Then it released the Lease, and B took over at its next attempt, not a lease duration later.
      expect(yield* holderOf("web-operator")).toBe("b")
      const fromB = reconciles.filter((r) => r.replica === "b")
      expect(fromB.map((r) => r.message)).toEqual(["slow"])
      expect(fromB[0]!.time).toBeLessThanOrEqual(17_000)
    }).pipe(Effect.provide(env)))

  it.effect("a replica cut off from its Lease writes nothing after its renew deadline; the other takes over, then it can lead again", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      return yield* Effect.gen(function*() {
        const reconciles: Array<Reconcile> = []
        const handlerWrites: Array<Exit.Exit<unknown, ClusterError.ClusterError>> = []
        const cluster = yield* Cluster.Cluster
        yield* cluster.create(Web, web("a"))
        const linkA = yield* linkTo
        const linkB = yield* linkTo
        yield* start(replica("a", reconciles, handlerWrites), linkA, "a")
        yield* drain
        const scopeB = yield* start(replica("b", reconciles, handlerWrites), linkB, "b")
        yield* advance(3) // A renewed at 2 s
        const deadline = linkA.sent.findLast((r) => r.verb === "update" && r.resource === "coordination.k8s.io/v1/Lease")!.time + 10_000
        expect(deadline).toBe(12_000)
        linkA.fault = "fail"
        // A slow reconcile starts at 4 s, sleeps across A's deadline, and tries to write at 14 s.
        yield* advance(1)
        yield* cluster.patch(Web, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { message: "slow" } } })
        yield* advance(26)
        expect(reconciles.filter((r) => r.replica === "a").map((r) => r.message)).toEqual(["hi", "slow"])
        const late = nonLeaseWrites(linkA).filter((r) => r.time >= deadline)
        expect(late).toEqual([])
        // The handler's own write was refused with a typed error, and the reconcile failed as LeadershipLost.
        expect(handlerWrites).toHaveLength(1)
        const refused = handlerWrites[0]!
        expect(Exit.isFailure(refused) && JSON.stringify(refused.cause)).toMatch(/Forbidden/)
        expect(logs.lines.some((l) => /reconcile failed \(LeadershipLost\)/.test(l))).toBe(true)
        // B took over once the record had not changed for a lease duration by its own observation (last change: 2 s).
        const fromB = reconciles.filter((r) => r.replica === "b")
        expect(fromB.length).toBeGreaterThan(0)
        expect(fromB[0]!.time).toBeGreaterThanOrEqual(17_000)
        expect(yield* holderOf("web-operator")).toBe("b")
        // A stands by; once B leaves and A's connection is back, A leads and reconciles again.
        yield* cluster.patch(Web, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { message: "three" } } })
        yield* advance(1)
        linkA.fault = "none"
        const before = reconciles.length
        yield* Scope.close(scopeB, Exit.void)
        yield* advance(5)
        expect(yield* holderOf("web-operator")).toBe("a")
        expect(reconciles.slice(before).map((r) => `${r.replica} ${r.message}`)).toEqual(["a three"])
      }).pipe(Effect.provide(logs.layer))
    }).pipe(Effect.provide(env)))

  it.effect("hand-wired LeaderElection.run around Operator.run: the lost leader's detached reconcile is fenced too", () =>
    Effect.gen(function*() {
      const reconciles: Array<Reconcile> = []
      const handlerWrites: Array<Exit.Exit<unknown, ClusterError.ClusterError>> = []
      const cluster = yield* Cluster.Cluster
      yield* cluster.create(Web, web("a"))
      const linkA = yield* linkTo
      const a = yield* LeaderElection.run({ name: "web-operator", namespace: "default", identity: "a" })(
        Effect.scoped(Effect.andThen(Operator.run(replica("a", reconciles, handlerWrites)), Effect.never))
      ).pipe(Effect.provideService(Cluster.Cluster, linkA.cluster), Effect.forkChild)
      yield* advance(3)
      linkA.fault = "fail"
      yield* advance(1)
      yield* cluster.patch(Web, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { message: "slow" } } })
      yield* advance(30)
      expect(reconciles.map((r) => r.message)).toEqual(["hi", "slow"])
      expect(nonLeaseWrites(linkA).filter((r) => r.time >= 12_000)).toEqual([])
      expect(handlerWrites).toHaveLength(1)
      expect(Exit.isFailure(handlerWrites[0]!)).toBe(true)
      const exit = yield* Fiber.await(a)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/LeadershipLost/)
    }).pipe(Effect.provide(env)))
})
