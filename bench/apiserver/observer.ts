/**
 * The harness's view of the workload in every measurement alike: watches of EchoServers, Deployments and
 * Services in this process, from which it knows when every parent is converged. The measured child never
 * reports convergence itself, so the floor and kubefx are timed by the same judge.
 *
 * @since 0.1.0
 */
import { Builtin, type Resource, Watcher } from "@kubefx/core"
import { Deferred, Effect, Stream } from "effect"
import { EchoServer } from "../../examples/echo-server/src/EchoServer.ts"
import { poll } from "../harness/poll.ts"
import { epochNow } from "../harness/sample.ts"
import { namespace } from "../harness/workload.ts"

/**
 * `converged`: every parent has the status of its generation, a Deployment carrying its spec and a Service, both
 * owned by it (and the finalizer, when the observer was told one). `deployments`: every parent's Deployment carries its spec.
 *
 * @since 0.1.0
 * @category models
 */
export type Condition = "converged" | "deployments"

/**
 * @since 0.1.0
 * @category models
 */
export interface Observer {
  /** Every watch has listed. */
  readonly synced: Effect.Effect<void>
  /**
   * The moment `condition` last became true (epoch ms), once it is true and became so at or after `after`;
   * undefined after `timeoutMillis`.
   */
  readonly awaitCondition: (condition: Condition, after: number, timeoutMillis: number) => Effect.Effect<number | undefined>
}

const labelSelector = "app.kubernetes.io/name=echo-server"

const messageOf = (deployment: Resource.KubeObject): string | undefined => {
  const spec = deployment["spec"] as { template?: { spec?: { containers?: ReadonlyArray<{ args?: ReadonlyArray<string> }> } } } | undefined
  const arg = spec?.template?.spec?.containers?.[0]?.args?.find((a) => a.startsWith("-text="))
  return arg?.slice("-text=".length)
}

const ownerUid = (o: Resource.KubeObject) => o.metadata.ownerReferences?.find((r) => r.controller === true)?.uid

/**
 * Starts the watches (for the scope) and keeps, per parent, whether it is converged and whether its Deployment
 * is current. `parents` is how many there must be; with a `finalizer`, a parent is converged only once it has it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startObserver = (parents: number, options: { readonly finalizer?: string | undefined } = {}) =>
  Effect.gen(function*() {
    const echo = new Map<string, Resource.KubeObject>()
    const deployments = new Map<string, Resource.KubeObject>()
    const services = new Map<string, Resource.KubeObject>()
    const notConverged = new Set<string>()
    const staleDeployment = new Set<string>()
    const holds: Record<Condition, boolean> = { converged: false, deployments: false }
    const since: Record<Condition, number> = { converged: 0, deployments: 0 }

    const evaluate = (name: string) => {
      const p = echo.get(name)
      if (p === undefined) {
        notConverged.delete(name)
        staleDeployment.delete(name)
        return
      }
      const uid = p.metadata.uid
      const d = deployments.get(name)
      const s = services.get(name)
      const message = (p["spec"] as { message?: string } | undefined)?.message
      const current = d !== undefined && ownerUid(d) === uid && messageOf(d) === message
      const observed = (p["status"] as { observedGeneration?: number } | undefined)?.observedGeneration
      const finalized = options.finalizer === undefined || (p.metadata.finalizers ?? []).includes(options.finalizer)
      const converged = current && finalized && s !== undefined && ownerUid(s) === uid && observed === p.metadata.generation
      if (current) staleDeployment.delete(name)
      else staleDeployment.add(name)
      if (converged) notConverged.delete(name)
      else notConverged.add(name)
    }
    const settle = () => {
      const now = epochNow()
      const full = echo.size === parents
      const next: Record<Condition, boolean> = { converged: full && notConverged.size === 0, deployments: full && staleDeployment.size === 0 }
      for (const c of ["converged", "deployments"] as const) {
        if (next[c] && !holds[c]) since[c] = now
        holds[c] = next[c]
      }
    }

    const watchInto = (type: Resource.ResourceType, map: Map<string, Resource.KubeObject>, synced: Deferred.Deferred<void>, selector?: string) =>
      Watcher.watch(type, { namespace, ...(selector === undefined ? {} : { labelSelector: selector }) }).pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            switch (event._tag) {
              case "Restarted": {
                map.clear()
                for (const o of event.objects) map.set(o.metadata.name!, o)
                for (const name of echo.keys()) evaluate(name)
                for (const name of [...notConverged, ...staleDeployment]) if (!echo.has(name)) evaluate(name)
                Deferred.doneUnsafe(synced, Effect.void)
                break
              }
              case "Applied":
                map.set(event.object.metadata.name!, event.object)
                evaluate(event.object.metadata.name!)
                break
              case "Deleted":
                map.delete(event.object.metadata.name!)
                evaluate(event.object.metadata.name!)
                break
            }
            settle()
          })
        ),
        Effect.forkScoped
      )

    const flags = [yield* Deferred.make<void>(), yield* Deferred.make<void>(), yield* Deferred.make<void>()] as const
    yield* watchInto(EchoServer, echo, flags[0])
    yield* watchInto(Builtin.Deployment, deployments, flags[1], labelSelector)
    yield* watchInto(Builtin.Service, services, flags[2], labelSelector)

    return {
      synced: Effect.forEach(flags, Deferred.await, { discard: true }),
      awaitCondition: (condition, after, timeoutMillis) =>
        poll(Effect.sync(() => (holds[condition] && since[condition] >= after ? since[condition] : undefined)), {
          every: "5 millis",
          deadline: performance.now() + timeoutMillis
        })
    } satisfies Observer
  })
