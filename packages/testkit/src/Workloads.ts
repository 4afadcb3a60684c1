/**
 * Stands in for the controllers a fake cluster does not run: after a delay, Deployments and StatefulSets
 * report every replica ready and available, as kube-controller-manager and kubelets would for healthy pods.
 * Lets tests (and the demo) exercise status logic that depends on child readiness.
 *
 * @since 0.1.0
 */
import { Builtin, Cluster, Resource, Watcher } from "@kubefx/core"
import { Clock, Duration, Effect, FiberMap, type Scope, Stream } from "effect"
import { TestKit } from "./TestKit.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface SimulateOptions {
  /** Time from a workload change until it reports ready. Default 2 seconds. */
  readonly readyAfter?: Duration.Input
  /** Types to simulate. Default Deployment and StatefulSet. */
  readonly types?: ReadonlyArray<Resource.ResourceType>
}

const isSettled = (o: Resource.KubeObject): boolean => {
  const spec = (o["spec"] ?? {}) as { replicas?: number }
  const status = (o["status"] ?? {}) as { observedGeneration?: number; availableReplicas?: number }
  return status.observedGeneration === o.metadata.generation && (status.availableReplicas ?? 0) === (spec.replicas ?? 1)
}

const readyStatus = (o: Resource.KubeObject, now: string) => {
  const replicas = ((o["spec"] ?? {}) as { replicas?: number }).replicas ?? 1
  return {
    observedGeneration: o.metadata.generation,
    replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    updatedReplicas: replicas,
    conditions: [{ type: "Available", status: "True", reason: "MinimumReplicasAvailable", lastTransitionTime: now }]
  }
}

/**
 * Runs the simulation for the rest of the Scope.
 *
 * @since 0.1.0
 * @category running
 */
export const simulate = (options: SimulateOptions = {}): Effect.Effect<void, never, Cluster.Cluster | Scope.Scope> =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    const delay = Duration.fromInputUnsafe(options.readyAfter ?? "2 seconds")
    const pending = yield* FiberMap.make<string>()
    // Under a TestKit, each pending readiness is a timer `settle` waits for (it advances the clock to it).
    const kit = yield* Effect.serviceOption(TestKit)
    const timers = kit._tag === "Some" ? kit.value.timers : undefined
    for (const type of options.types ?? [Builtin.Deployment, Builtin.StatefulSet]) {
      const markReady = (key: string, o: Resource.KubeObject) =>
        Effect.gen(function*() {
          timers?.set(`workloads|${key}`, (yield* Clock.currentTimeMillis) + Duration.toMillis(delay))
          yield* Effect.sleep(delay)
          const current = yield* cluster.get(type, { namespace: o.metadata.namespace ?? "", name: o.metadata.name ?? "" })
          if (isSettled(current)) return
          const now = new Date(yield* Effect.clockWith((c) => c.currentTimeMillis)).toISOString().replace(/\.\d+Z$/, "Z")
          yield* cluster.replaceStatus(type, { ...current, status: readyStatus(current, now) })
        }).pipe(Effect.catch(() => Effect.void), Effect.ensuring(Effect.sync(() => timers?.delete(`workloads|${key}`))))
      yield* Watcher.watch(type).pipe(
        Stream.runForEach((event) => {
          const objects = event._tag === "Restarted" ? event.objects : event._tag === "Applied" ? [event.object] : []
          return Effect.forEach(objects, (o) => {
            const key = `${Resource.typeKey(type)}|${o.metadata.namespace}/${o.metadata.name}`
            return isSettled(o) || o.metadata.deletionTimestamp !== undefined
              ? Effect.void
              : FiberMap.run(pending, key, markReady(key, o), { onlyIfMissing: true }).pipe(Effect.asVoid)
          }, { discard: true })
        }),
        Effect.forkScoped
      )
    }
  })
