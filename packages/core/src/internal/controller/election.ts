/**
 * The elector behind `LeaderElection.run` and `Operator.run`'s `leaderElection` option: client-go's leaderelection
 * on a `coordination.k8s.io/v1` Lease, with the rules that keep two replicas from leading at once made explicit.
 *
 * - **Every attempt is bounded.** An attempt (a GET, then a create or a compare-and-swap replace) gets at most
 *   `retryPeriod`, and the leader's at most the time left until its renew deadline; a request that never answers
 *   is abandoned and tried afresh, never waited on (client-go bounds a renewal with a `renewDeadline` context).
 * - **The leader counts from when a renewal started.** The server may have applied it at any moment after that, so
 *   the term a successful renewal buys ends `renewDeadline` after the attempt STARTED, not after its answer came.
 * - **Expiry is judged by one's own observation.** A candidate never compares the holder's `renewTime` with its own
 *   clock: a record (resourceVersion, holder, renewTime) it has seen unchanged for the record's
 *   `leaseDurationSeconds`, by its own clock, since it first saw it, is expired (client-go's `observedTime`). Clock
 *   skew between replicas is then harmless; only a difference in clock rates beyond `leaseDuration -
 *   renewDeadline` over one lease could matter.
 * - **Fence first.** When the term ends (the deadline passed without a renewal, or another holder is seen) the
 *   write fence is shut before anything else, and only then is the work stopped.
 *
 * All durations are measured on the Clock's monotonic time; the Lease's timestamps are informational.
 */
import { Clock, Duration, Effect, Fiber, Option, Random } from "effect"
import { Lease } from "../../Builtin.ts"
import { Cluster } from "../../Cluster.ts"
import type { ClusterError } from "../../ClusterError.ts"
import type { KubeObject } from "../../Resource.ts"
import * as Fence from "./fence.ts"

/** What `LeaderElection.LeaderElectionOptions` is (the public module re-exports it). */
export interface Options {
  /** The Lease's name, usually the operator's. */
  readonly name: string
  readonly namespace: string
  /** This candidate, unique among replicas (the pod name). Default: a random id. */
  readonly identity?: string | undefined
  /** How long a Lease holds without renewal before others may take it. Default 15 s. */
  readonly leaseDuration?: Duration.Input | undefined
  /**
   * The leader stops if it could not renew for this long. Default 10 s; must be less than leaseDuration: the
   * difference is the margin for writes already on their way and for clocks that run at different rates.
   */
  readonly renewDeadline?: Duration.Input | undefined
  /** Time between attempts to acquire or renew, and the most an attempt may take. Default 2 s; less than renewDeadline. */
  readonly retryPeriod?: Duration.Input | undefined
}

/** Checked options, every default filled in. */
export interface Settings {
  readonly name: string
  readonly namespace: string
  readonly identity: string
  readonly leaseMillis: number
  readonly renewDeadlineMillis: number
  readonly retryMillis: number
}

/** Fills in the defaults (a random identity among them); dies on settings that can never work. */
export const resolve = (options: Options): Effect.Effect<Settings> =>
  Effect.gen(function*() {
    const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))
    const settings: Settings = {
      name: options.name,
      namespace: options.namespace,
      identity: options.identity ?? `kubefx-${Math.floor((yield* Random.next) * 1e12).toString(36)}`,
      leaseMillis: millis(options.leaseDuration ?? "15 seconds"),
      renewDeadlineMillis: millis(options.renewDeadline ?? "10 seconds"),
      retryMillis: millis(options.retryPeriod ?? "2 seconds")
    }
    if (settings.renewDeadlineMillis >= settings.leaseMillis) {
      return yield* Effect.die(new Error("LeaderElection: renewDeadline must be less than leaseDuration"))
    }
    if (!(settings.retryMillis > 0 && settings.retryMillis < settings.renewDeadlineMillis)) {
      return yield* Effect.die(new Error("LeaderElection: retryPeriod must be positive and less than renewDeadline"))
    }
    return settings
  })

interface LeaseSpec {
  readonly holderIdentity?: string
  readonly leaseDurationSeconds?: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions?: number
}

/** `metav1.MicroTime`: RFC 3339 with microseconds. */
const microTime = (millis: number): string => new Date(millis).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

const specOf = (lease: KubeObject): LeaseSpec => (lease["spec"] ?? {}) as LeaseSpec

/** One candidate: its settings, its connection (not fenced: the elector's own writes never are) and what it saw. */
interface Candidate {
  readonly settings: Settings
  readonly cluster: Cluster["Service"]
  /** The record as last seen, and when (monotonic ms) this version of it was first seen. */
  observed: { readonly version: string; readonly at: number } | undefined
}

/** Notes the record; a changed record restarts the expiry count, from now (after the read that returned it). */
const observe = (candidate: Candidate, lease: KubeObject) =>
  Effect.gen(function*() {
    const spec = specOf(lease)
    const version = `${lease.metadata.resourceVersion ?? ""}|${spec.holderIdentity ?? ""}|${spec.renewTime ?? ""}`
    if (candidate.observed?.version !== version) candidate.observed = { version, at: yield* Fence.monotonicMillis }
  })

type Attempt =
  /** This candidate holds the Lease now. */
  | { readonly _tag: "Holding" }
  /** Someone else does, and its record has not expired by this candidate's observation. */
  | { readonly _tag: "HeldBy"; readonly holder: string }
  /** No verdict: an error, no answer in time, or a lost compare-and-swap. */
  | { readonly _tag: "Failed" }

const holding: Attempt = { _tag: "Holding" }
const failed: Attempt = { _tag: "Failed" }
const heldBy = (holder: string): Attempt => ({ _tag: "HeldBy", holder })

/** One attempt to acquire or renew, unbounded. */
const attempt = (candidate: Candidate): Effect.Effect<Attempt, ClusterError> =>
  Effect.gen(function*() {
    const { cluster, settings } = candidate
    const address = { namespace: settings.namespace, name: settings.name }
    const now = microTime(yield* Clock.currentTimeMillis)
    const leaseSeconds = Math.ceil(settings.leaseMillis / 1000)
    const existing = yield* cluster.get(Lease, address).pipe(
      Effect.map((l): KubeObject | undefined => l),
      Effect.catchTag("NotFound", () => Effect.succeed(undefined))
    )
    if (existing === undefined) {
      const created = yield* cluster.create(Lease, {
        apiVersion: Lease.apiVersion,
        kind: Lease.kind,
        metadata: address,
        spec: { holderIdentity: settings.identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 }
      })
      yield* observe(candidate, created)
      return holding
    }
    yield* observe(candidate, existing)
    const spec = specOf(existing)
    const holder = spec.holderIdentity ?? ""
    const mine = holder === settings.identity
    if (holder !== "" && !mine) {
      const seconds = spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds > 0 ? spec.leaseDurationSeconds : leaseSeconds
      const unchangedFor = (yield* Fence.monotonicMillis) - candidate.observed!.at
      if (unchangedFor < seconds * 1000) return heldBy(holder)
    }
    // Free, expired by our observation, or ours: take it or renew it. The resourceVersion makes this a compare-and-swap.
    const replaced = yield* cluster.replace(Lease, {
      ...existing,
      spec: {
        ...spec,
        holderIdentity: settings.identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: mine ? spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1
      }
    })
    yield* observe(candidate, replaced)
    return holding
  }).pipe(Effect.catchTags({ Conflict: () => Effect.succeed(failed), AlreadyExists: () => Effect.succeed(failed) }))

/** An attempt that gets at most `millis`; errors and timeouts are logged and give no verdict. */
const bounded = (candidate: Candidate, millis: number): Effect.Effect<Attempt> =>
  attempt(candidate).pipe(
    Effect.timeoutOption(Duration.millis(millis)),
    Effect.flatMap((result) =>
      Option.isSome(result)
        ? Effect.succeed(result.value)
        : Effect.as(Effect.logWarning(`leader election: no answer within ${Math.round(millis)} ms; trying again`), failed)
    ),
    Effect.catch((e: ClusterError) => Effect.as(Effect.logWarning(`leader election: ${e._tag}: ${e.message}`), failed))
  )

/** Tries every `retryPeriod` until this candidate holds the Lease; opens the fence for the term that buys. */
const campaign = (candidate: Candidate, fence: Fence.Fence) =>
  Effect.gen(function*() {
    const { retryMillis, renewDeadlineMillis } = candidate.settings
    while (true) {
      const started = yield* Fence.monotonicMillis
      if ((yield* bounded(candidate, retryMillis))._tag === "Holding") {
        yield* Fence.extend(fence, started + renewDeadlineMillis)
        return started + renewDeadlineMillis
      }
      yield* Effect.sleep(Duration.millis(retryMillis))
    }
  })

/**
 * Renews every `retryPeriod` until the term ends, and returns why it ended, after shutting the fence. Sleeps are cut
 * short at the deadline, so the end is noticed on time.
 */
const renew = (candidate: Candidate, fence: Fence.Fence, term: number): Effect.Effect<string> =>
  Effect.gen(function*() {
    const { retryMillis, renewDeadlineMillis } = candidate.settings
    let until = term
    while (true) {
      yield* Effect.sleep(Duration.millis(Math.max(0, Math.min(retryMillis, until - (yield* Fence.monotonicMillis)))))
      const started = yield* Fence.monotonicMillis
      if (started >= until) {
        const reason = `could not renew the Lease within renewDeadline (${renewDeadlineMillis} ms)`
        yield* Fence.close(fence, reason)
        return reason
      }
      const result = yield* bounded(candidate, Math.min(retryMillis, until - started))
      if (result._tag === "Holding") {
        until = started + renewDeadlineMillis
        yield* Fence.extend(fence, until)
      } else if (result._tag === "HeldBy") {
        const reason = `${result.holder} holds the Lease now`
        yield* Fence.close(fence, reason)
        return reason
      }
    }
  })

/** Gives the Lease up, if this candidate still holds it, so a successor need not wait for it to expire. Bounded. */
const release = (candidate: Candidate) =>
  Effect.gen(function*() {
    const { cluster, settings } = candidate
    const lease = yield* cluster.get(Lease, { namespace: settings.namespace, name: settings.name })
    if (specOf(lease).holderIdentity !== settings.identity) return
    yield* cluster.replace(Lease, { ...lease, spec: { ...specOf(lease), holderIdentity: "", leaseDurationSeconds: 1 } })
    yield* Effect.logInfo("released leadership")
  }).pipe(Effect.timeoutOption(Duration.millis(candidate.settings.retryMillis)), Effect.ignore)

/**
 * Runs `effect` only while this candidate leads (see `LeaderElection.run`), behind a fence: every write it makes
 * through `Cluster` is refused once the term ends. Fails with `lost(reason)` when leadership is lost.
 */
export const lead = <L>(settings: Settings, lost: (reason: string) => L) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | L, R | Cluster> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const fence = yield* Fence.make(`${settings.namespace}/${settings.name}`)
    const candidate: Candidate = { settings, cluster, observed: undefined }
    const log = Effect.annotateLogs({ lease: fence.lease, identity: settings.identity })

    yield* Effect.logInfo("campaigning for leadership").pipe(log)
    const term = yield* campaign(candidate, fence).pipe(log)
    yield* Effect.logInfo("became the leader").pipe(log)

    const work = yield* Effect.forkChild(Fence.guard(fence, cluster)(effect))
    const renewing = yield* Effect.forkChild(renew(candidate, fence, term).pipe(log))
    // The work has ended (or is being stopped from outside): shut the fence, then hand the Lease on.
    const stepDown = Fiber.interrupt(renewing).pipe(
      Effect.andThen(Fence.close(fence, "this replica stepped down")),
      Effect.andThen(release(candidate).pipe(log))
    )
    const outcome = yield* Effect.raceFirst(
      Effect.map(Fiber.await(work), (exit) => ({ _tag: "done" as const, exit })),
      Effect.map(Fiber.join(renewing), (reason) => ({ _tag: "lost" as const, reason }))
    ).pipe(
      // Stopped from outside (shutdown): renewals go on while the work winds down, so its last writes are allowed.
      Effect.onInterrupt(() => Fiber.interrupt(work).pipe(Effect.andThen(stepDown)))
    )
    if (outcome._tag === "lost") {
      // The fence is already shut; now stop the work (which may take its shutdown timeout, its writes all refused).
      yield* Effect.logError(`leadership lost: ${outcome.reason}; stopping`).pipe(log)
      yield* Fiber.interrupt(work)
      return yield* Effect.fail(lost(outcome.reason))
    }
    yield* stepDown
    return yield* outcome.exit
  })

