/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it: of several replicas
 * of an operator only the one holding the Lease runs; it renews the Lease every `retryPeriod`, and if it cannot
 * renew within `renewDeadline` it stops. Others take the Lease over once they have seen it unchanged for
 * `leaseDuration`.
 *
 * The guarantees, with the leader's and the others' view of time kept apart so that no two replicas lead at once:
 *
 * - every write to the Lease is a compare-and-swap on its resourceVersion, so two candidates never both win it;
 * - every attempt is bounded (by `retryPeriod`, and by the time left until the renew deadline): a blackholed API
 *   server cannot keep a leader believing it leads;
 * - the leader's term runs from when its last successful renewal started, to `renewDeadline` after that;
 * - another candidate judges expiry only by how long it has itself seen the record unchanged, never by the
 *   holder's timestamps, so clock skew between replicas does not matter;
 * - whatever runs under the election writes through a fenced `Cluster`: once the term ends, every write is
 *   refused (with `ClusterError.Forbidden`) before the work is stopped. Reads go on.
 *
 * An operator usually needs none of this by hand: `Operator.layer(operator, { leaderElection: { namespace } })`
 * runs it for you. `run` is for wrapping anything else.
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
import { Data, Effect } from "effect"
import type { Cluster } from "./Cluster.ts"
import * as Election from "./internal/controller/election.ts"

/**
 * The Lease's `name` and `namespace`, this candidate's `identity`, and the timings (`leaseDuration` 15 s,
 * `renewDeadline` 10 s, `retryPeriod` 2 s by default; each documented on its field).
 *
 * @since 0.1.0
 * @category models
 */
export type LeaderElectionOptions = Election.Options

/**
 * The leader could not renew its Lease in time (or another candidate holds it now): whatever ran under the
 * election has been stopped, and the writes it still tried were refused. Exit and let a new process campaign.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeadershipLost extends Data.TaggedError("LeadershipLost")<{ readonly message: string }> {}

/**
 * Runs `effect` only while this candidate leads: waits to acquire the Lease, runs `effect` while renewing it,
 * and releases the Lease when `effect` ends or is interrupted (so a successor need not wait for it to expire).
 *
 * `effect` gets a fenced `Cluster`: once the renew deadline passes without a renewal, or another holder is seen,
 * its writes fail with `ClusterError.Forbidden` (reads still work); then `effect` is interrupted and `run` fails
 * with `LeadershipLost`. A reconcile of an operator running inside fails as `LeadershipLost` and is not retried.
 *
 * Dies at once when `renewDeadline` is not less than `leaseDuration`, or `retryPeriod` not less than `renewDeadline`.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: LeaderElectionOptions) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LeadershipLost, R | Cluster> =>
  Election.resolve(options).pipe(
    Effect.flatMap((settings) =>
      Election.lead(settings, (reason) => new LeadershipLost({ message: `${settings.namespace}/${settings.name}: ${reason}` }))(effect)
    )
  )
