/**
 * The write fence of one leadership term: a wrapper of the `Cluster` port through which everything that runs
 * under the election writes. While the term lasts, writes go through; from the moment it ends, every write is
 * refused with `Forbidden` before it is sent, and a write still in flight is abandoned. Reads (get, list, watch)
 * always go through, so a replica that stands by keeps its caches warm.
 *
 * A term lasts until `until` on the monotonic clock, which the elector moves forward with each successful
 * renewal (`extend`), or until the elector ends it (`close`: the Lease has another holder, or the work stepped
 * down). The deadline is checked at each write, so the fence is shut at the renew deadline itself, not when the
 * elector gets round to noticing, and always before the work is told to stop.
 *
 * A Kubernetes API server has no fencing tokens: a request already received when the term ends may still be
 * applied. The gap between `renewDeadline` and `leaseDuration` is what absorbs it.
 */
import { Clock, Context, Deferred, Duration, Effect, Ref } from "effect"
import { Cluster, type ObjectAddress, type Verb } from "../../Cluster.ts"
import { type ClusterError, Forbidden } from "../../ClusterError.ts"
import { type ResourceType, typeKey } from "../../Resource.ts"

interface State {
  /** Writes are allowed while the monotonic clock is before this (milliseconds). */
  readonly until: number
  /** Why writes are refused once they are. */
  readonly reason: string
}

export interface Fence {
  /** The Lease the term is held on, `namespace/name`. */
  readonly lease: string
  readonly state: Ref.Ref<State>
  /** Completes when the term is ended early (`close`), so writes in flight learn of it at once. */
  readonly closed: Deferred.Deferred<void>
}

/** The fence of the term the current fiber runs in, when it runs under a leader election. */
export class CurrentFence extends Context.Service<CurrentFence, Fence>()("@kubefx/core/internal/controller/fence/CurrentFence") {}

/** The Clock's monotonic time in milliseconds: immune to wall-clock steps, and the only time a term is measured in. */
export const monotonicMillis: Effect.Effect<number> = Clock.clockWith((c) => c.monotonicTimeNanos).pipe(
  Effect.map((nanos) => Number(nanos / 1000n) / 1000)
)

/** A fence for a term not yet begun: every write is refused until `extend`. */
export const make = (lease: string): Effect.Effect<Fence> =>
  Effect.gen(function*() {
    return {
      lease,
      state: yield* Ref.make<State>({ until: -Infinity, reason: "this replica has not been elected" }),
      closed: yield* Deferred.make<void>()
    }
  })

/** Lets writes through until `until` (monotonic milliseconds). No effect once the fence is closed. */
export const extend = (fence: Fence, until: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (yield* Deferred.isDone(fence.closed)) return
    yield* Ref.set(fence.state, { until, reason: "its renew deadline passed without a successful renewal" })
  })

/** Ends the term: from now on every write is refused, for `reason`. */
export const close = (fence: Fence, reason: string): Effect.Effect<void> =>
  Ref.set(fence.state, { until: -Infinity, reason }).pipe(Effect.andThen(Deferred.succeed(fence.closed, undefined)), Effect.asVoid)

/** Why writes are refused now, or undefined while they are allowed. */
export const refusal = (fence: Fence): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    const state = yield* Ref.get(fence.state)
    return (yield* monotonicMillis) < state.until ? undefined : state.reason
  })

/** Completes, with the reason, when the term ends: at its deadline as it stands then, or at `close`. */
const ended = (fence: Fence): Effect.Effect<string> =>
  Effect.gen(function*() {
    while (true) {
      const state = yield* Ref.get(fence.state)
      const left = state.until - (yield* monotonicMillis)
      if (left <= 0) return state.reason
      yield* Effect.raceFirst(Effect.sleep(Duration.millis(left)), Deferred.await(fence.closed))
    }
  })

const refused = (fence: Fence, verb: Verb, type: ResourceType<any>, at: Partial<ObjectAddress>, detail: string) => {
  const resource = typeKey(type)
  const where = `${at.namespace ? `${at.namespace}/` : ""}${at.name ?? ""}`
  return new Forbidden({
    message: `${verb} ${resource} ${where}: ${detail}: this replica is not the leader (Lease ${fence.lease})`,
    resource,
    ...(at.namespace ? { namespace: at.namespace } : {}),
    ...(at.name ? { name: at.name } : {})
  })
}

/** The `Cluster` port behind the fence. */
export const cluster = (fence: Fence, inner: Cluster["Service"]): Cluster["Service"] => {
  const write = <A>(verb: Verb, type: ResourceType<any>, at: Partial<ObjectAddress>, call: Effect.Effect<A, ClusterError>) =>
    Effect.gen(function*() {
      const reason = yield* refusal(fence)
      if (reason !== undefined) return yield* refused(fence, verb, type, at, `refused, not sent (${reason})`)
      return yield* Effect.raceFirst(
        call,
        Effect.flatMap(ended(fence), (why) =>
          Effect.fail(refused(fence, verb, type, at, `abandoned in flight; it may or may not have been applied (${why})`)))
      )
    })
  const meta = (object: { readonly metadata?: Partial<ObjectAddress> }) => object.metadata ?? {}
  return {
    get: (type, address) => inner.get(type, address),
    list: (type, options) => inner.list(type, options),
    watch: (type, options) => inner.watch(type, options),
    create: (type, object, options) => write("create", type, meta(object), inner.create(type, object, options)),
    replace: (type, object, options) => write("update", type, meta(object), inner.replace(type, object, options)),
    apply: (type, object, options) => write("apply", type, meta(object), inner.apply(type, object, options)),
    patch: (type, address, patch, options) => write("patch", type, address, inner.patch(type, address, patch, options)),
    delete: (type, address, options) => write("delete", type, address, inner.delete(type, address, options)),
    replaceStatus: (type, object, options) => write("updateStatus", type, meta(object), inner.replaceStatus(type, object, options)),
    patchStatus: (type, address, patch, options) => write("patchStatus", type, address, inner.patchStatus(type, address, patch, options))
  }
}

/** Runs `effect` behind the fence: its `Cluster` is the fenced one, and `CurrentFence` tells it which term it runs in. */
export const guard = (fence: Fence, inner: Cluster["Service"]) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<Exclude<R, CurrentFence>, Cluster>> =>
  effect.pipe(
    Effect.provideService(CurrentFence, fence),
    Effect.provideService(Cluster, cluster(fence, inner))
  )
