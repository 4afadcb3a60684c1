/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it: of several replicas
 * of an operator only the one holding the Lease runs; it renews the Lease every `retryPeriod`, and if it cannot
 * renew within `renewDeadline` it stops (the caller exits, and a fresh process campaigns again). Others take the
 * Lease over once it has not been renewed for `leaseDuration`.
 *
 * Every write is a compare-and-swap on the Lease's resourceVersion, so two candidates can never both win.
 *
 * @example
 * ```ts
 * declare const EchoOperator: Operator.Operator<unknown, unknown, never, never>
 *
 * const main = Layer.launch(Operator.layer(EchoOperator)).pipe(
 *   LeaderElection.run({ name: "echo-operator", namespace: "operators", identity: process.env["POD_NAME"] ?? "local" }),
 *   Effect.provide(KubeCluster.layer), Effect.provide(ClientConfig.layerInCluster({ operatorName: "echo-operator" })))
 * NodeRuntime.runMain(main)   // exits non-zero on LeadershipLost; Kubernetes restarts the pod
 * ```
 * @since 0.1.0
 */
import { Data, Duration, Effect, Fiber, Random } from "effect"
import { Lease } from "./Builtin.ts"
import { Cluster } from "./Cluster.ts"
import type { ClusterError } from "./ClusterError.ts"
import type { KubeObject } from "./Resource.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface LeaderElectionOptions {
  /** The Lease's name, usually the operator's. */
  readonly name: string
  readonly namespace: string
  /** This candidate, unique among replicas (the pod name). Default: a random id. */
  readonly identity?: string
  /** How long a Lease holds without renewal before others may take it. Default 15 s. */
  readonly leaseDuration?: Duration.Input
  /** The leader gives up if it could not renew for this long. Default 10 s; must be less than leaseDuration. */
  readonly renewDeadline?: Duration.Input
  /** Time between attempts to acquire or renew. Default 2 s. */
  readonly retryPeriod?: Duration.Input
}

/**
 * The leader could not renew its Lease in time (or another candidate holds it now): whatever ran under the
 * election has been stopped. Exit and let a new process campaign.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeadershipLost extends Data.TaggedError("LeadershipLost")<{ readonly message: string }> {}

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

const now = Effect.clockWith((c) => c.currentTimeMillis)

/**
 * One attempt to acquire or renew. Succeeds with true when this candidate holds the Lease afterwards.
 */
const tryAcquireOrRenew = (
  options: Required<Pick<LeaderElectionOptions, "name" | "namespace">> & { readonly identity: string; readonly leaseSeconds: number }
): Effect.Effect<boolean, ClusterError, Cluster> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const t = yield* now
    const address = { namespace: options.namespace, name: options.name }
    const existing = yield* cluster.get(Lease, address).pipe(
      Effect.map((l): KubeObject | undefined => l),
      Effect.catchTag("NotFound", () => Effect.succeed(undefined))
    )
    if (existing === undefined) {
      yield* cluster.create(Lease, {
        apiVersion: Lease.apiVersion,
        kind: Lease.kind,
        metadata: address,
        spec: {
          holderIdentity: options.identity,
          leaseDurationSeconds: options.leaseSeconds,
          acquireTime: microTime(t),
          renewTime: microTime(t),
          leaseTransitions: 0
        }
      })
      return true
    }
    const spec = specOf(existing)
    const held = spec.holderIdentity !== undefined && spec.holderIdentity !== ""
    const mine = spec.holderIdentity === options.identity
    const renewed = spec.renewTime === undefined ? 0 : Date.parse(spec.renewTime)
    const expired = t > renewed + (spec.leaseDurationSeconds ?? options.leaseSeconds) * 1000
    if (held && !mine && !expired) return false
    // Take it (free or expired) or renew it; the resourceVersion makes this a compare-and-swap.
    yield* cluster.replace(Lease, {
      ...existing,
      spec: {
        ...spec,
        holderIdentity: options.identity,
        leaseDurationSeconds: options.leaseSeconds,
        acquireTime: mine ? spec.acquireTime : microTime(t),
        renewTime: microTime(t),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1
      }
    })
    return true
  }).pipe(Effect.catchTags({ Conflict: () => Effect.succeed(false), AlreadyExists: () => Effect.succeed(false) }))

/**
 * Runs `effect` only while this candidate leads: waits to acquire the Lease, runs `effect` while renewing it,
 * interrupts `effect` and fails with `LeadershipLost` if renewal fails for `renewDeadline`, and releases the Lease
 * when `effect` ends or is interrupted (so a successor need not wait for it to expire).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: LeaderElectionOptions) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LeadershipLost, R | Cluster> =>
  Effect.gen(function*() {
    const identity = options.identity ?? `kubefx-${Math.floor((yield* Random.next) * 1e12).toString(36)}`
    const leaseDuration = Duration.toMillis(Duration.fromInputUnsafe(options.leaseDuration ?? "15 seconds"))
    const renewDeadline = Duration.toMillis(Duration.fromInputUnsafe(options.renewDeadline ?? "10 seconds"))
    const retryPeriod = Duration.fromInputUnsafe(options.retryPeriod ?? "2 seconds")
    if (renewDeadline >= leaseDuration) {
      return yield* Effect.die(new Error("LeaderElection: renewDeadline must be less than leaseDuration"))
    }
    const attempt = tryAcquireOrRenew({
      name: options.name,
      namespace: options.namespace,
      identity,
      leaseSeconds: Math.ceil(leaseDuration / 1000)
    }).pipe(
      Effect.catch((e: ClusterError) => Effect.as(Effect.logWarning(`leader election: ${e._tag}: ${e.message}`), false))
    )
    const log = Effect.annotateLogs({ lease: `${options.namespace}/${options.name}`, identity })

    yield* Effect.logInfo("campaigning for leadership").pipe(log)
    while (!(yield* attempt)) yield* Effect.sleep(retryPeriod)
    yield* Effect.logInfo("became the leader").pipe(log)

    const release = Effect.gen(function*() {
      const cluster = yield* Cluster
      const lease = yield* cluster.get(Lease, { namespace: options.namespace, name: options.name })
      if (specOf(lease).holderIdentity !== identity) return
      yield* cluster.replace(Lease, { ...lease, spec: { ...specOf(lease), holderIdentity: "", leaseDurationSeconds: 1 } })
      yield* Effect.logInfo("released leadership").pipe(log)
    }).pipe(Effect.ignore)

    // Renew until a renewal has failed for renewDeadline; then leadership is lost.
    const renewLoop: Effect.Effect<LeadershipLost, never, Cluster> = Effect.gen(function*() {
      let lastRenewed = yield* now
      while (true) {
        yield* Effect.sleep(retryPeriod)
        if (yield* attempt) {
          lastRenewed = yield* now
          continue
        }
        if ((yield* now) - lastRenewed >= renewDeadline) {
          return new LeadershipLost({ message: `could not renew Lease ${options.namespace}/${options.name} for ${renewDeadline} ms` })
        }
      }
    })

    const work = yield* Effect.forkChild(effect)
    const renewing = yield* Effect.forkChild(renewLoop)
    const outcome = yield* Effect.raceFirst(
      Fiber.join(work).pipe(Effect.map((a) => ({ _tag: "done" as const, a }))),
      Fiber.join(renewing).pipe(Effect.map((lost) => ({ _tag: "lost" as const, lost })))
    ).pipe(Effect.onInterrupt(() => Effect.andThen(Fiber.interrupt(work), release)))
    if (outcome._tag === "lost") {
      yield* Fiber.interrupt(work)
      yield* Effect.logError(outcome.lost.message).pipe(log)
      return yield* outcome.lost
    }
    yield* Fiber.interrupt(renewing)
    yield* release
    return outcome.a
  })
