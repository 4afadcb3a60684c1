/**
 * The controller's watches: which (type, namespace, selector) it watches, and their feed into the store.
 * One watcher per (type, namespace); children are selected by the tracking label, so the cache holds only
 * this operator's objects.
 */
import { Deferred, Effect, type Scope, Stream } from "effect"
import type { Cluster } from "../../Cluster.ts"
import type { Namespaces } from "../../Controller.ts"
import type { ChildConfig } from "../../Child.ts"
import { operatorLabel } from "../../Plan.ts"
import { type ResourceType, typeKey } from "../../Resource.ts"
import * as Store from "../../Store.ts"
import * as Watcher from "../../Watcher.ts"

export interface WatchSpec {
  readonly type: ResourceType
  readonly options: Watcher.WatcherOptions
}

/** The watches an operator needs. Pure. */
export const plan = (config: {
  readonly name: string
  readonly parent: ResourceType
  readonly children: ReadonlyArray<ChildConfig<any>>
  readonly namespaces: Namespaces
  readonly parentSelector: string | undefined
}): ReadonlyArray<WatchSpec> => {
  const namespaces: ReadonlyArray<string | undefined> = config.namespaces === "all" ? [undefined] : config.namespaces
  const childNamespaces = config.parent.namespaced ? namespaces : [undefined]
  const inNamespace = (ns: string | undefined) => (ns === undefined ? {} : { namespace: ns })
  const specs: Array<WatchSpec> = []
  // A cluster-scoped parent has no namespace to narrow by: one watch, however many namespaces are listed.
  for (const ns of config.parent.namespaced ? namespaces : [undefined]) {
    specs.push({
      type: config.parent,
      options: { ...inNamespace(ns), ...(config.parentSelector ? { labelSelector: config.parentSelector } : {}) }
    })
  }
  for (const child of config.children) {
    for (const ns of child.type.namespaced ? childNamespaces : [undefined]) {
      specs.push({ type: child.type, options: { ...inNamespace(ns), labelSelector: `${operatorLabel}=${config.name}` } })
    }
  }
  return specs
}

export interface Watches {
  /** Completes once every watch has delivered its first list into the store. */
  readonly synced: Effect.Effect<void>
  readonly hasSynced: Effect.Effect<boolean>
  readonly count: number
  /** Watches connected and streaming now. */
  readonly ready: () => number
  /** Why each watch that is not streaming is not (its last error), e.g. a missing CRD or an RBAC denial. */
  readonly problems: () => ReadonlyArray<string>
}

/** Runs every watch in the current Scope, applying its events to `store` and handing accepted changes on. */
export const start = (
  specs: ReadonlyArray<WatchSpec>,
  store: Store.Store,
  onChanges: (changes: ReadonlyArray<Store.Change>) => Effect.Effect<void>
): Effect.Effect<Watches, never, Scope.Scope | Cluster> =>
  Effect.gen(function*() {
    const listed = yield* Effect.forEach(specs, () => Deferred.make<void>())
    const allSynced = yield* Deferred.make<void>()
    const states: Array<Watcher.WatcherState> = specs.map(() => "listing")
    const errors: Array<string | undefined> = specs.map(() => undefined)
    const where = (spec: WatchSpec) => `${typeKey(spec.type)}${spec.options.namespace === undefined ? "" : ` in ${spec.options.namespace}`}`
    yield* Effect.forEach(specs, (spec, i) =>
      Watcher.watch(spec.type, {
        ...spec.options,
        onState: (s, error) =>
          Effect.sync(() => {
            states[i] = s
            if (s === "watching") errors[i] = undefined
            else if (error !== undefined) errors[i] = `watch of ${where(spec)}: ${error._tag}: ${error.message}`
          })
      }).pipe(
        Stream.runForEach((event) =>
          Effect.suspend(() => onChanges(Store.applyEvent(store, spec.type, event, spec.options.namespace))).pipe(
            Effect.andThen(event._tag === "Restarted" ? Deferred.succeed(listed[i]!, undefined) : Effect.void)
          )
        ),
        Effect.forkScoped
      ), { discard: true })
    yield* Effect.forEach(listed, Deferred.await, { discard: true }).pipe(
      Effect.andThen(Deferred.succeed(allSynced, undefined)),
      Effect.andThen(Effect.logDebug("caches synced")),
      Effect.forkScoped
    )
    return {
      synced: Deferred.await(allSynced),
      hasSynced: Deferred.isDone(allSynced),
      count: specs.length,
      ready: () => states.filter((s) => s === "watching").length,
      problems: () => errors.filter((e): e is string => e !== undefined)
    }
  })
