/**
 * An operator: a parent type, the child types it owns, and the handler that says what the children and
 * status should be. `make` checks the definition and fills in the defaults; `run` starts it as a `Controller`
 * (watchers → store → trigger → work queue → bounded workers → reconcile) and `layer` does the same as a
 * Layer for `main`. With the `leaderElection` option, several replicas can run and only the elected one
 * reconciles (see `RunOptions`).
 *
 * @since 0.1.0
 */
import { Data, Duration, type Effect, Layer, Schedule, type Scope } from "effect"
import type { ChildConfig } from "./Child.ts"
import type { Cluster } from "./Cluster.ts"
import type * as Ctl from "./Controller.ts"
import type { Finalize, Sync } from "./Handler.ts"
import * as Internal from "./internal/controller/run.ts"
import type { LeaderElectionOptions } from "./LeaderElection.ts"
import type { ReconcileFailure } from "./Reconciler.ts"
import type { CustomResource } from "./Resource.ts"
import { typeKey } from "./Resource.ts"

/**
 * What a user writes.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorConfig<Spec, Status, E, R> {
  /** Used as field manager, in the tracking label and the default finalizer: a DNS label, at most 63 characters. */
  readonly name: string
  readonly parent: CustomResource<Spec, Status, any, any>
  readonly children: ReadonlyArray<ChildConfig<any>>
  readonly sync: Sync<Spec, Status, E, R>
  /** When present, parents get a finalizer and this runs until it reports `finalized` before they go. */
  readonly finalize?: Finalize<Spec, Status, E, R> | undefined
  /** Default `"all"`. */
  readonly namespaces?: Ctl.Namespaces | undefined
  /** Only parents matching this label selector are handled. */
  readonly parentSelector?: string | undefined
  /** Reconciles running at once (never two for one parent). Default 4. */
  readonly maxConcurrency?: number | undefined
  /** Every parent is reconciled again this often, at low priority. Default 10 minutes. */
  readonly resyncPeriod?: Duration.Input | undefined
  /** Delay before retrying a failed reconcile, per parent; reset by a success. Default: exponential from 500 ms, ×2, capped at 5 minutes, jittered. */
  readonly retry?: Schedule.Schedule<unknown, ReconcileFailure> | undefined
  /** Default `kubefx.io/<name>`. */
  readonly finalizerName?: string | undefined
  /** On shutdown, in-flight reconciles get this long to finish before they are interrupted. Default 30 seconds. */
  readonly shutdownTimeout?: Duration.Input | undefined
}

/**
 * A checked, complete operator definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operator<Spec, Status, E, R> extends Ctl.ControllerConfig<Spec, Status, E, R> {}

/**
 * An operator definition that cannot run.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOperator extends Data.TaggedError("InvalidOperator")<{ readonly message: string }> {}

/**
 * The default per-parent retry policy.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultRetry: Schedule.Schedule<unknown, ReconcileFailure> = Schedule.min([
  // Capped, jittered (±20%), capped again: the cap holds (jitter alone would reach 6 minutes) and parents
  // failing together still spread out below it.
  Schedule.min([Schedule.exponential("500 millis", 2), Schedule.spaced("5 minutes")]).pipe(Schedule.jittered),
  Schedule.spaced("5 minutes")
])

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/**
 * Checks and completes a definition. Throws `InvalidOperator` for a definition that can never run (a
 * programming error, found at start-up rather than at the first reconcile).
 *
 * @example
 * ```ts
 * const EchoServer = Resource.custom({
 *   group: "example.com", version: "v1alpha1", kind: "EchoServer", plural: "echoservers",
 *   spec: Schema.Struct({ message: Schema.String }),
 *   status: Schema.Struct({})
 * })
 * const sync = (req: Handler.SyncRequest<typeof EchoServer.spec.Type, typeof EchoServer.status.Type>) =>
 *   Effect.succeed({ status: {}, children: [] })
 *
 * const operator = Operator.make({
 *   name: "echo-operator",
 *   parent: EchoServer,
 *   children: [Child.of(Builtin.Deployment), Child.of(Builtin.Service, { update: "replace" })],
 *   sync
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <Spec, Status, E = never, R = never>(
  config: OperatorConfig<Spec, Status, E, R>
): Operator<Spec, Status, E, R> => {
  if (!dnsLabel.test(config.name) || config.name.length > 63) {
    throw new InvalidOperator({ message: `operator name ${JSON.stringify(config.name)} must be a DNS label (a-z, 0-9, '-', at most 63 characters)` })
  }
  const seen = new Set<string>()
  for (const c of config.children) {
    const k = typeKey(c.type)
    if (seen.has(k)) throw new InvalidOperator({ message: `child type ${k} is declared twice` })
    if (k === typeKey(config.parent)) throw new InvalidOperator({ message: `the parent type ${k} cannot also be a child type` })
    seen.add(k)
  }
  const maxConcurrency = config.maxConcurrency ?? 4
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new InvalidOperator({ message: `maxConcurrency must be a positive integer, got ${maxConcurrency}` })
  }
  if (config.namespaces !== undefined && config.namespaces !== "all" && config.namespaces.length === 0) {
    throw new InvalidOperator({ message: `namespaces must be "all" or a non-empty list` })
  }
  return {
    name: config.name,
    fieldManager: config.name,
    parent: config.parent,
    children: config.children,
    sync: config.sync,
    finalize: config.finalize,
    finalizerName: config.finalizerName ?? `kubefx.io/${config.name}`,
    namespaces: config.namespaces ?? "all",
    parentSelector: config.parentSelector,
    maxConcurrency,
    resyncPeriod: Duration.fromInputUnsafe(config.resyncPeriod ?? "10 minutes"),
    retry: config.retry ?? defaultRetry,
    shutdownTimeout: Duration.fromInputUnsafe(config.shutdownTimeout ?? "30 seconds")
  }
}

/**
 * How an operator runs, beyond its definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /**
   * Run as one of several replicas, only the one holding a `coordination.k8s.io/v1` Lease reconciling
   * (`LeaderElection` describes the algorithm and its guarantees). Every replica watches and keeps its cache
   * warm, and so reports ready; the leader alone takes work, starting with every parent it knows. When it loses
   * the Lease (its renew deadline passed without a renewal, or another replica holds it), every write it makes is
   * refused from that moment, its reconciles end (failing as `LeadershipLost`, not retried) and it campaigns
   * again. On shutdown the leader finishes its reconciles, then releases the Lease so another takes over at once.
   *
   * `name` defaults to the operator's name, `identity` to a random id (use the pod name). RBAC: the Lease needs
   * get, create and update in `namespace` (`kubefx manifests --leader-election`).
   */
  readonly leaderElection?: (Omit<LeaderElectionOptions, "name"> & { readonly name?: string | undefined }) | undefined
}

/**
 * Starts an operator in the current Scope and returns its `Controller`. Closing the Scope shuts it down
 * gracefully: watchers stop, no new work is taken, in-flight reconciles get `shutdownTimeout` to finish (and,
 * with leader election, the Lease is released after that).
 * When a `Controller.Controllers` registry is in context, the controller joins it.
 *
 * @example
 * ```ts
 * declare const operator: Operator.Operator<unknown, unknown, never, never>
 *
 * // Two replicas on one cluster: only the one holding the Lease default/<operator name> reconciles.
 * const replica = (identity: string) => Operator.run(operator, { leaderElection: { namespace: "default", identity } })
 * const replicas = Effect.all([replica("a"), replica("b")])
 * ```
 * @since 0.1.0
 * @category running
 */
export const run: <Spec, Status, E, R>(
  operator: Operator<Spec, Status, E, R>,
  options?: RunOptions
) => Effect.Effect<Ctl.Controller, never, Scope.Scope | Cluster | R> = Internal.run

/**
 * The operator as a Layer: starts with the layer, shuts down gracefully when the layer is released.
 * Several operators compose with `Layer.mergeAll`. `options` as for `run`: with `leaderElection`, run as many
 * replicas as you like and only the elected one reconciles.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Operator } from "@kubefx/core"
 * import { ClientConfig, KubeCluster } from "@kubefx/k8s"
 * import { Layer } from "effect"
 * declare const operator: Operator.Operator<unknown, unknown, never, never>
 *
 * const Main = Operator.layer(operator, {
 *   leaderElection: { namespace: "operators", identity: process.env["POD_NAME"] }
 * }).pipe(
 *   Layer.provide(KubeCluster.layer),
 *   Layer.provide(ClientConfig.layerFromEnvironment({ operatorName: "echo-operator" }))
 * )
 * NodeRuntime.runMain(Layer.launch(Main))
 * ```
 * @since 0.1.0
 * @category running
 */
export const layer = <Spec, Status, E, R>(
  operator: Operator<Spec, Status, E, R>,
  options?: RunOptions
): Layer.Layer<never, never, Cluster | R> => Layer.effectDiscard(run(operator, options))
