/**
 * Running operators in tests: start them against whatever `Cluster` the test provides (usually `FakeCluster`),
 * then `settle` — let everything run, advancing the `TestClock` through requeues, retries and reconnects,
 * until nothing is left to do within a horizon. Every API request the operators make is counted, so a test
 * can assert that a converged operator writes nothing.
 *
 * @since 0.1.0
 */
import { Cluster, type Controller, Operator } from "@kubefx/core"
import { Clock, Context, Duration, Effect, Layer, Schema, type Scope, Stream } from "effect"
import { TestClock } from "effect/testing"

type ClusterService = Cluster.Cluster["Service"]

/**
 * An operator request, as counted by the TestKit.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorRequest {
  readonly operator: string
  /** The verb of the port method called (`Cluster.verbOf`): `replace` is recorded as `update`. */
  readonly verb: Cluster.Verb
  readonly resource: string
  readonly namespace: string
  readonly name: string
}

/**
 * Verbs that change the cluster: `Cluster.writeVerbs`, kept here so existing code compiles.
 *
 * @since 0.1.0
 * @category constants
 */
export const writeVerbs: ReadonlySet<OperatorRequest["verb"]> = Cluster.writeVerbs

/**
 * `settle` gave up: the operators were still busy when the horizon ran out (a hot loop, or work that never ends).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotSettled extends Schema.TaggedError<NotSettled>()("NotSettled", {
  message: Schema.String
}) {}

/**
 * @since 0.1.0
 * @category services
 */
export class TestKit extends Context.Service<TestKit, {
  readonly controllers: Array<Controller.Controller>
  readonly requests: Array<OperatorRequest>
  /** Calls started and not yet finished. */
  readonly inflight: { count: number }
  /**
   * Work due later on the Clock that is not an operator's (a `Workloads.simulate` readiness timer): when it is
   * due (millis, by the Clock), by name. `settle` advances time to it as it does to a queue's delayed keys.
   */
  readonly timers: Map<string, number>
}>()("@kubefx/testkit/TestKit") {
  /**
   * A fresh TestKit: no operators, no recorded requests.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<TestKit> = Layer.sync(TestKit, () => ({ controllers: [], requests: [], inflight: { count: 0 }, timers: new Map() }))
}

const addressOf = (a: { readonly namespace?: string; readonly name: string }) => ({ namespace: a.namespace ?? "", name: a.name })
const objectAddress = (o: { readonly metadata: { readonly namespace?: string; readonly name?: string } }) => ({
  namespace: o.metadata.namespace ?? "",
  name: o.metadata.name ?? ""
})

const recording = (inner: ClusterService, kit: TestKit["Service"], operator: string): ClusterService => {
  const track = <A, E, R>(
    method: keyof ClusterService,
    resource: string,
    at: { namespace: string; name: string },
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      kit.requests.push({ operator, verb: Cluster.verbOf[method], resource, ...at })
      kit.inflight.count++
      return Effect.ensuring(effect, Effect.sync(() => kit.inflight.count--))
    })
  const key = (t: { readonly apiVersion: string; readonly kind: string }) => `${t.apiVersion}/${t.kind}`
  return {
    get: (type, address) => track("get", key(type), addressOf(address), inner.get(type, address)),
    list: (type, options) => track("list", key(type), { namespace: options?.namespace ?? "", name: "" }, inner.list(type, options)),
    watch: (type, options) =>
      Stream.unwrap(Effect.sync(() => {
        kit.requests.push({ operator, verb: Cluster.verbOf.watch, resource: key(type), namespace: options.namespace ?? "", name: "" })
        return inner.watch(type, options)
      })),
    create: (type, object, options) => track("create", key(type), objectAddress(object), inner.create(type, object, options)),
    replace: (type, object, options) => track("replace", key(type), objectAddress(object), inner.replace(type, object, options)),
    apply: (type, object, options) => track("apply", key(type), objectAddress(object), inner.apply(type, object, options)),
    patch: (type, address, patch, options) => track("patch", key(type), addressOf(address), inner.patch(type, address, patch, options)),
    delete: (type, address, options) => track("delete", key(type), addressOf(address), inner.delete(type, address, options)),
    replaceStatus: (type, object, options) =>
      track("replaceStatus", key(type), objectAddress(object), inner.replaceStatus(type, object, options)),
    patchStatus: (type, address, patch, options) =>
      track("patchStatus", key(type), addressOf(address), inner.patchStatus(type, address, patch, options))
  }
}

/**
 * Starts an operator for the rest of the test's Scope, recording its requests.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <Spec, Status, E, R>(
  operator: Operator.Operator<Spec, Status, E, R>
): Effect.Effect<Controller.Controller, never, Scope.Scope | Cluster.Cluster | TestKit | R> =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    const inner = yield* Cluster.Cluster
    const controller = yield* Operator.run(operator).pipe(
      Effect.provideService(Cluster.Cluster, recording(inner, kit, operator.name))
    )
    kit.controllers.push(controller)
    return controller
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface SettleOptions {
  /** How much simulated time `settle` may advance in all. Default 10 minutes. */
  readonly horizon?: Duration.Input
  /** Clock step taken when nothing moves but work remains (a backoff or latency in progress). Default 1 second. */
  readonly tick?: Duration.Input
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SettleReport {
  /** Simulated time advanced. */
  readonly advancedMillis: number
  /** Requests made by operators while settling. */
  readonly requests: number
  readonly writes: number
}

const drain = Effect.gen(function*() {
  for (let i = 0; i < 64; i++) yield* Effect.yieldNow
})

/**
 * Runs until every operator has synced its caches, nothing is queued or running, every watch is connected,
 * no call is in flight, and no requeue or `timers` entry (a `Workloads.simulate` readiness) is due within the
 * horizon. Advances the `TestClock` as needed; fails
 * with `NotSettled` if the operators are still busy when the horizon runs out.
 *
 * @since 0.1.0
 * @category running
 */
export const settle = (options: SettleOptions = {}): Effect.Effect<SettleReport, NotSettled, TestKit> =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    const horizon = Duration.toMillis(Duration.fromInputUnsafe(options.horizon ?? "10 minutes"))
    const tick = Duration.toMillis(Duration.fromInputUnsafe(options.tick ?? "1 second"))
    const startRequests = kit.requests.length
    const startWrites = kit.requests.filter((r) => writeVerbs.has(r.verb)).length
    let advanced = 0
    let lastSignature = ""
    let quiet = 0
    let stalls = 0
    // Rounds without the clock moving: an operator that never goes quiet without time passing is in a hot loop.
    let spins = 0
    const totals = Effect.map(Effect.forEach(kit.controllers, (c) => c.stats), (all) => ({
      parents: all.reduce((n, s) => n + s.parents, 0),
      reconciles: all.reduce((n, s) => n + s.reconciles, 0)
    }))
    // Reconciles since the clock last moved: a converging operator needs a few per parent, a hot loop never stops.
    let reconcilesAtAdvance = (yield* totals).reconciles
    while (true) {
      yield* drain
      const now = yield* totals
      if ((++spins > 2000 && spins > 2000 + 20 * now.parents) || now.reconciles - reconcilesAtAdvance > 200 + 20 * now.parents) {
        const stats = yield* Effect.forEach(kit.controllers, (c) => c.stats)
        return yield* new NotSettled({
          message: `hot loop: operators kept working without time passing (${kit.requests.length - startRequests} requests while settling; ${
            stats.map((s, i) => `${kit.controllers[i]!.name} reconciles=${s.reconciles} queued=${s.queued} processing=${s.processing}`).join("; ")
          }); last requests: ${kit.requests.slice(-6).map((r) => `${r.verb} ${r.resource} ${r.namespace}/${r.name}`).join(", ")}`
        })
      }
      const stats = yield* Effect.forEach(kit.controllers, (c) =>
        Effect.all({ synced: c.hasSynced, idle: c.isIdle, stats: c.stats })
      )
      const busy = kit.inflight.count > 0 ||
        stats.some((s) => !s.synced || !s.idle || s.stats.watchersReady < s.stats.watchers)
      const signature = `${kit.requests.length}|${kit.inflight.count}|${stats.map((s) => `${s.synced}${s.idle}${s.stats.reconciles}${s.stats.queued}${s.stats.watchersReady}`).join(",")}`
      if (signature === lastSignature) quiet++
      else {
        quiet = 0
        stalls = 0
      }
      lastSignature = signature
      if (!busy) {
        if (quiet < 2) continue
        const clock = yield* Clock.currentTimeMillis
        const due = [
          ...stats.map((s) => s.stats.nextDueInMillis).filter((d): d is number => d !== undefined),
          ...Array.from(kit.timers.values(), (at) => at - clock)
        ]
        // At least 1 ms, rounded up: a due time a fraction of a millisecond away would otherwise never be reached.
        const next = due.length === 0 ? undefined : Math.max(1, Math.ceil(Math.min(...due)))
        if (next === undefined || advanced + next > horizon) break
        yield* TestClock.adjust(Duration.millis(next))
        advanced += next
        quiet = 0
        spins = 0
        reconcilesAtAdvance = (yield* totals).reconciles
        continue
      }
      if (quiet < 3) continue
      // Busy but nothing moves: something waits on the clock (retry backoff, reconnect, injected latency).
      if (advanced >= horizon) {
        return yield* new NotSettled({
          message: `operators still busy after ${advanced} ms of simulated time: ${
            stats.map((s, i) => `${kit.controllers[i]!.name} synced=${s.synced} idle=${s.idle} queued=${s.stats.queued} processing=${s.stats.processing} watchers=${s.stats.watchersReady}/${s.stats.watchers}`).join("; ")
          }; calls in flight=${kit.inflight.count}`
        })
      }
      // Waits grow the longer nothing moves (reconnect backoff reaches 30 s), so a stuck wait costs few steps.
      const step = Math.min(tick * 2 ** stalls, 30_000, horizon - advanced)
      stalls++
      yield* TestClock.adjust(Duration.millis(step))
      advanced += step
      quiet = 0
      spins = 0
      reconcilesAtAdvance = (yield* totals).reconciles
    }
    const made = kit.requests.slice(startRequests)
    return {
      advancedMillis: advanced,
      requests: made.length,
      writes: kit.requests.filter((r) => writeVerbs.has(r.verb)).length - startWrites
    }
  })

/**
 * Requests recorded so far (optionally only writes).
 *
 * @since 0.1.0
 * @category accessors
 */
export const requests = (options?: { readonly writesOnly?: boolean }): Effect.Effect<ReadonlyArray<OperatorRequest>, never, TestKit> =>
  Effect.gen(function*() {
    const kit = yield* TestKit
    return options?.writesOnly ? kit.requests.filter((r) => writeVerbs.has(r.verb)) : [...kit.requests]
  })
