/**
 * A running operator: what `Operator.run` returns, for tests, health checks and metrics; its settings; and
 * the `Controllers` registry through which `Health` finds every controller of a process.
 *
 * The stages a controller wires together (Watcher → Store → Trigger → WorkQueue → workers → Reconciler) are
 * modules of their own; the wiring itself is internal.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, type Schedule, type Scope } from "effect"
import type { ReconcileFailure, ReconcilerConfig, WriteKind } from "./Reconciler.ts"
import type { Stats } from "./WorkQueue.ts"

/**
 * Which namespaces an operator watches.
 *
 * @since 0.1.0
 * @category models
 */
export type Namespaces = "all" | ReadonlyArray<string>

/**
 * Everything a controller runs by: the reconcile settings plus how it watches and schedules. `Operator.make`
 * produces one with every default filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ControllerConfig<Spec, Status, E, R> extends ReconcilerConfig<Spec, Status, E, R> {
  readonly namespaces: Namespaces
  readonly parentSelector: string | undefined
  readonly maxConcurrency: number
  readonly resyncPeriod: Duration.Duration
  readonly retry: Schedule.Schedule<unknown, ReconcileFailure>
  readonly shutdownTimeout: Duration.Duration
}

/**
 * A running operator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Controller {
  readonly name: string
  /** Completes once every watcher has delivered its first list; workers start only then. */
  readonly synced: Effect.Effect<void>
  readonly hasSynced: Effect.Effect<boolean>
  /** Nothing queued and nothing being reconciled (delayed retries and requeues do not count). */
  readonly isIdle: Effect.Effect<boolean>
  readonly stats: Effect.Effect<ControllerStats>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ControllerStats extends Stats {
  readonly reconciles: number
  readonly failures: number
  /** Writes made by reconciles, by kind (dry runs and reads not counted). */
  readonly writes: Readonly<Record<WriteKind, number>>
  readonly parents: number
  /** Watchers currently connected and streaming (the rest are listing or waiting to reconnect). */
  readonly watchersReady: number
  readonly watchers: number
  /** For each watcher that is not streaming, its last error: what a readiness probe reports. */
  readonly watchProblems: ReadonlyArray<string>
}

/**
 * The running controllers of a process. `Operator.layer` and `Operator.run` register themselves here when
 * the service is present; `Health` reads it.
 *
 * @since 0.1.0
 * @category services
 */
export class Controllers extends Context.Service<Controllers, {
  /** Adds a controller for as long as the Scope lasts: a stopped controller leaves (and stops counting for health). */
  readonly register: (controller: Controller) => Effect.Effect<void, never, Scope.Scope>
  readonly all: Effect.Effect<ReadonlyArray<Controller>>
}>()("@kubefx/core/Controllers") {
  /**
   * An empty registry.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<Controllers> = Layer.sync(Controllers, () => {
    const list = new Set<Controller>()
    return {
      register: (controller) =>
        Effect.acquireRelease(Effect.sync(() => void list.add(controller)), () => Effect.sync(() => void list.delete(controller))),
      all: Effect.sync(() => [...list])
    }
  })
}
