/**
 * An in-memory API server behind the `Cluster` port, with the real server's semantics: resource
 * versions, generations, optimistic concurrency, status subresources, finalizers, garbage
 * collection by ownerReferences, namespace lifecycle, paged lists, watches with a bounded history
 * (410 Gone), bookmarks, selectors, patches and server-side apply; plus test controls: a request
 * log and fault injection.
 *
 * Where it differs from a real kube-apiserver, the package README says so ("Deliberate differences").
 *
 * @example
 * ```ts
 * declare const EchoServer: Resource.CustomResource<{ readonly message: string }, {}, any, any>
 *
 * it.effect("creates a child", () =>
 *   Effect.gen(function*() {
 *     const cluster = yield* Cluster.Cluster
 *     const fake = yield* FakeCluster.FakeCluster
 *     yield* cluster.create(Builtin.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "default" } })
 *     expect(yield* fake.writes).toBe(1)
 *   }).pipe(Effect.provide(FakeCluster.layer({ types: [EchoServer] }))))
 * ```
 *
 * @since 0.1.0
 */
import { Builtin, Cluster, ClusterError, Resource } from "@kubefx/core"
import { Clock, Context, Duration, Effect, Layer, Schema, Stream } from "effect"
import { currentEnv, run } from "./internal/fakeCluster/bridge.ts"
import { engine } from "./internal/fakeCluster/engine.ts"
import { inject, matches, type PendingFault, target, toMatch } from "./internal/fakeCluster/faults.ts"
import type { Env } from "./internal/fakeCluster/model.ts"
import { State } from "./internal/fakeCluster/state.ts"
import { bookmarkEvent, drop, offer, type OpenWatch, openWatch, resume } from "./internal/fakeCluster/watchStreams.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Types served besides `Builtin.all`: the CRDs installed in this cluster. */
  readonly types?: ReadonlyArray<Resource.ResourceType<any>>
  /** Events kept per type for watch resumption (the watch cache's capacity). Default 1,000. */
  readonly historyLimit?: number
  /**
   * `"strict"` (default) enforces namespace lifecycle admission: namespaced objects can only be
   * created in an existing, non-terminating Namespace (`default`, `kube-system`, `kube-public` and
   * `kube-node-lease` exist from the start). `"lenient"` accepts any namespace.
   */
  readonly namespaces?: "strict" | "lenient"
  /**
   * `"immediate"` (default) runs the garbage collector synchronously at the end of every write;
   * `"manual"` leaves collection to `FakeCluster.collectGarbage`, to test the window in which
   * dependents outlive their owner.
   */
  readonly garbageCollection?: "immediate" | "manual"
  /** How often a watch with `allowBookmarks` receives a BOOKMARK. Default 1 minute, as the watch cache. */
  readonly bookmarkInterval?: Duration.Input
  /** Field manager recorded for writes that name none. Default `"kubefx-fake"`. */
  readonly defaultFieldManager?: string
}

/**
 * A verb as the API server's audit log names it. The same as `Cluster.Verb`, kubefx's one vocabulary
 * for requests.
 *
 * @since 0.1.0
 * @category models
 */
export const Verb = Cluster.Verb

/**
 * @since 0.1.0
 * @category models
 */
export type Verb = Cluster.Verb

/**
 * Verbs that can change the cluster (`Cluster.writeVerbs`).
 *
 * @since 0.1.0
 * @category constants
 */
export const writeVerbs: ReadonlySet<Verb> = Cluster.writeVerbs

/**
 * One call made through the `Cluster` port.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly verb: Verb
  /** The type key, e.g. `apps/v1/Deployment`. */
  readonly resource: string
  /** Absent for cluster-wide lists/watches and cluster-scoped types. */
  readonly namespace?: string
  /** Absent for list, watch, and a create by generateName. */
  readonly name?: string
  readonly subresource?: "status"
  readonly dryRun: boolean
  /** A watch that asked for the current state first (`sendInitialEvents`): it stands in for a list. */
  readonly initialEvents?: true
  /** When the request arrived, in Clock milliseconds. */
  readonly time: number
}

/**
 * The test controls of the in-memory cluster.
 *
 * @since 0.1.0
 * @category services
 */
export class FakeCluster extends Context.Service<FakeCluster, {
  /** Installs a type (as applying a CRD would). */
  readonly register: (type: Resource.ResourceType<any>) => Effect.Effect<void>
  /** Every stored object, or those of one type: copies, sorted by namespace and name. */
  readonly objects: (type?: Resource.ResourceType<any>) => Effect.Effect<ReadonlyArray<Resource.KubeObject>>
  /** Creates objects as a user would, without recording requests: the test's starting state. */
  readonly seed: <A extends Resource.KubeObject>(
    type: Resource.ResourceType<A>,
    objects: ReadonlyArray<Resource.KubeObject>
  ) => Effect.Effect<ReadonlyArray<A>, ClusterError.ClusterError>
  /** Every request made through the `Cluster` port since the start or the last `clearRequests`. */
  readonly requests: Effect.Effect<ReadonlyArray<Request>>
  readonly clearRequests: Effect.Effect<void>
  /** How many of `requests` are writes (see `writeVerbs`), dry runs included. */
  readonly writes: Effect.Effect<number>
  /** The cluster's current resourceVersion. */
  readonly resourceVersion: Effect.Effect<string>
  /** Sends a BOOKMARK now to every open watch that allows bookmarks. */
  readonly bookmark: Effect.Effect<void>
  /** Runs the garbage collector to completion (needed only with `garbageCollection: "manual"`). */
  readonly collectGarbage: Effect.Effect<void>
  /**
   * Makes the next `times` (default 1) requests that match fail with `error`; see `Fault`.
   * Faults queue up: each request consumes the oldest matching one.
   */
  readonly failNext: (fault: FaultInput) => Effect.Effect<void>
  /**
   * Delays every matching request by `duration` (on the Clock); the newest matching rule wins. With
   * `{ answer: true }` the request takes effect at once (its watch events go out) and only its answer is
   * delayed: how a real API server's answer can trail the watch event of the same write.
   */
  readonly latency: (duration: Duration.Input, match?: MatchInput, options?: { readonly answer?: boolean }) => Effect.Effect<void>
  /** Removes every pending fault and latency rule, and resumes stalled watches. */
  readonly clearFaults: Effect.Effect<void>
  /** Open watches stop delivering (events are held back) without ending, as a wedged connection does. */
  readonly stallWatches: Effect.Effect<void>
  /** Stalled watches deliver what was held back, then continue. */
  readonly resumeWatches: Effect.Effect<void>
  /** Open watches end (`{ error: true }`: fail with `Transport`), as when the server closes connections. */
  readonly dropWatches: (options?: { readonly error?: boolean }) => Effect.Effect<void>
  /** Drops the event history: resuming a watch or a paged list from an earlier version is then 410 Gone. */
  readonly compact: Effect.Effect<void>
  /**
   * An API server restart: open watches fail with `Transport` and the history is compacted (resuming
   * is 410 Gone); objects stay and resourceVersions keep increasing.
   */
  readonly restart: Effect.Effect<void>
}>()("@kubefx/testkit/FakeCluster") {}

/**
 * Which requests a fault or latency rule applies to; every field given must match.
 *
 * @since 0.1.0
 * @category faults
 */
export const Match = Schema.Struct({
  verb: Schema.optionalKey(Verb),
  /** The type key, e.g. `apps/v1/Deployment` (see `Resource.typeKey`). */
  resource: Schema.optionalKey(Schema.String),
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 * @category faults
 */
export type Match = typeof Match.Type

/**
 * A `Match` that may name its type by descriptor instead of key.
 *
 * @since 0.1.0
 * @category faults
 */
export interface MatchInput {
  readonly verb?: Verb
  readonly resource?: string
  readonly type?: Resource.ResourceType<any>
  readonly namespace?: string
  readonly name?: string
}

/**
 * The request hangs for `timeout`, then fails with `Transport`, as a client-side timeout does.
 *
 * @since 0.1.0
 * @category faults
 */
export const Timeout = Schema.Struct({
  timeout: Schema.Duration.check(
    Schema.makeFilter((d: Duration.Duration) =>
      (Duration.isFinite(d) && Duration.toMillis(d) >= 0) || "a finite, non-negative duration"
    )
  )
})

/**
 * How a faulty request fails: any `ClusterError`, or a `Timeout`.
 *
 * @since 0.1.0
 * @category faults
 */
export const FaultError = Schema.Union([
  ClusterError.Conflict,
  ClusterError.Gone,
  ClusterError.TooManyRequests,
  ClusterError.ServerError,
  ClusterError.Transport,
  ClusterError.NotFound,
  ClusterError.AlreadyExists,
  ClusterError.Invalid,
  ClusterError.Forbidden,
  ClusterError.Unauthorized,
  Timeout
])

/**
 * @since 0.1.0
 * @category faults
 */
export type FaultError = typeof FaultError.Type

/**
 * An injected failure, as plain data so that a property test can generate a schedule of them
 * (`Arbitrary.schema(FakeCluster.Fault)`).
 *
 * `when: "after"` applies the request first and then fails it: the write happened but the caller
 * never heard, as when a response is lost.
 *
 * @since 0.1.0
 * @category faults
 */
export const Fault = Schema.Struct({
  ...Match.fields,
  times: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))),
  when: Schema.optionalKey(Schema.Literals(["before", "after"])),
  error: FaultError
})

/**
 * @since 0.1.0
 * @category faults
 */
export type Fault = typeof Fault.Type

/**
 * A `Fault` that may name its type by descriptor.
 *
 * @since 0.1.0
 * @category faults
 */
export type FaultInput = Fault | (Omit<Fault, "resource"> & { readonly type: Resource.ResourceType<any> })

/**
 * Ready-made fault errors with the server's messages: 409, 410, 429 with Retry-After, 500, 503 and a
 * client timeout.
 *
 * @since 0.1.0
 * @category faults
 */
export const errors = {
  conflict: (): FaultError =>
    new ClusterError.Conflict({
      message: "the object has been modified; please apply your changes to the latest version and try again",
      causes: []
    }),
  gone: (): FaultError => new ClusterError.Gone({ message: "too old resource version" }),
  tooManyRequests: (retryAfterSeconds = 1): FaultError =>
    new ClusterError.TooManyRequests({
      message: "Too many requests, please try again later.",
      retryAfterSeconds
    }),
  internalError: (): FaultError =>
    new ClusterError.ServerError({ message: "Internal error occurred: injected", status: 500, reason: "InternalError" }),
  unavailable: (retryAfterSeconds?: number): FaultError =>
    new ClusterError.ServerError({
      message: "the server is currently unable to handle the request",
      status: 503,
      reason: "ServiceUnavailable",
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds })
    }),
  timeout: (duration: Duration.Input): FaultError => ({ timeout: Duration.fromInputUnsafe(duration) })
}

/**
 * Builds a fresh cluster: its `Cluster` port and its controls.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const env = yield* currentEnv
  const state = new State(
    {
      historyLimit: options.historyLimit ?? 1000,
      namespaces: options.namespaces ?? "strict",
      garbageCollection: options.garbageCollection ?? "immediate",
      engine
    },
    [...Builtin.all, ...(options.types ?? [])],
    env
  )
  const bookmarkInterval = Duration.fromInputUnsafe(options.bookmarkInterval ?? "1 minute")
  const defaultManager = options.defaultFieldManager ?? "kubefx-fake"
  let log: Array<Request> = []
  const watches = new Set<OpenWatch>()

  let faults: Array<PendingFault> = []
  let latencies: Array<{ readonly match: Match; readonly duration: Duration.Duration; readonly answer: boolean }> = []

  /** One request: recorded, delayed and failed as the test controls say, then run against the state. */
  const call = <A>(request: Omit<Request, "time">, op: (env: Env) => A): Effect.Effect<A, ClusterError.ClusterError> =>
    Effect.gen(function*() {
      const time = yield* Clock.currentTimeMillis
      log.push({ ...request, time })
      const delay = latencies.findLast((l) => matches(l.match, request))
      if (delay !== undefined && !delay.answer) yield* Effect.sleep(delay.duration)
      const fault = faults.find((f) => matches(f.match, request))
      if (fault !== undefined) {
        fault.remaining -= 1
        if (fault.remaining <= 0) faults = faults.filter((f) => f !== fault)
        if (fault.when === "before") return yield* inject(fault.error, request)
      }
      const result = yield* run(op)
      if (delay !== undefined && delay.answer) yield* Effect.sleep(delay.duration)
      if (fault !== undefined) return yield* inject(fault.error, request)
      return result
    })

  const metaOf = (object: Resource.KubeObject): Resource.ObjectMeta => object?.metadata ?? {}

  const writeRequest = (
    verb: Verb,
    type: Resource.ResourceType<any>,
    where: { readonly namespace?: string | undefined; readonly name?: string | undefined },
    options: { readonly dryRun?: boolean | undefined },
    subresource?: "status"
  ): Omit<Request, "time"> => ({
    verb,
    resource: Resource.typeKey(type),
    ...target(where.namespace, where.name),
    ...(subresource === undefined ? {} : { subresource }),
    dryRun: options.dryRun === true
  })

  const flags = (options: Cluster.WriteOptions) => ({
    fieldManager: options.fieldManager ?? defaultManager,
    dryRun: options.dryRun === true
  })

  const statusOf = (type: Resource.ResourceType<any>, where: { readonly namespace?: string | undefined; readonly name?: string | undefined }) => {
    const info = state.resolve(type)
    if (!info.type.statusSubresource) {
      throw new ClusterError.NotFound({
        message: "the server could not find the requested resource",
        resource: info.key,
        ...target(where.namespace, where.name)
      })
    }
    return info
  }

  const cluster = Cluster.Cluster.of({
    get: (type, address) =>
      call(writeRequest("get", type, address, {}), () => state.get(state.resolve(type), address.namespace, address.name) as any),
    list: (type, options = {}) =>
      call(writeRequest("list", type, { namespace: options.namespace }, {}), () => state.list(state.resolve(type), options) as any),
    watch: (type, options) =>
      Stream.unwrap(
        call({ ...writeRequest("watch", type, { namespace: options.namespace }, {}), ...(options.sendInitialEvents === true ? { initialEvents: true } : {}) }, () => state.resolve(type)).pipe(
          Effect.map((info) => openWatch(state, watches, bookmarkInterval, info, options))
        )
      ) as any,
    create: (type, object, options = {}) =>
      call(
        writeRequest("create", type, metaOf(object), options),
        (env) => state.create(state.resolve(type), object, flags(options), env) as any
      ),
    replace: (type, object, options = {}) =>
      call(
        writeRequest("update", type, metaOf(object), options),
        (env) => state.replace(state.resolve(type), object, flags(options), env, undefined) as any
      ),
    replaceStatus: (type, object, options = {}) =>
      call(
        writeRequest("updateStatus", type, metaOf(object), options, "status"),
        (env) => state.replace(statusOf(type, metaOf(object)), object, flags(options), env, "status") as any
      ),
    patch: (type, address, patch, options = {}) =>
      call(
        writeRequest("patch", type, address, options),
        (env) => state.patch(state.resolve(type), address.namespace, address.name, patch, flags(options), env, undefined) as any
      ),
    patchStatus: (type, address, patch, options = {}) =>
      call(
        writeRequest("patchStatus", type, address, options, "status"),
        (env) => state.patch(statusOf(type, address), address.namespace, address.name, patch, flags(options), env, "status") as any
      ),
    apply: (type, object, options) =>
      call(
        writeRequest("apply", type, metaOf(object), options),
        (env) =>
          state.apply(state.resolve(type), object, {
            fieldManager: options.fieldManager,
            force: options.force === true,
            dryRun: options.dryRun === true
          }, env) as any
      ),
    delete: (type, address, options = {}) =>
      call(
        writeRequest("delete", type, address, options),
        (env) => state.delete(state.resolve(type), address.namespace, address.name, options, env) as any
      )
  })

  const fake = FakeCluster.of({
    register: (type) => Effect.sync(() => void state.register(type)),
    objects: (type) =>
      Effect.sync(() => {
        const info = type === undefined ? undefined : state.typeFor(type)
        if (type !== undefined && info === undefined) return []
        return state.snapshot(info)
      }),
    seed: (type, objects) =>
      run((env) => {
        const info = state.resolve(type)
        return objects.map((o) => state.create(info, o, { fieldManager: defaultManager, dryRun: false }, env) as any)
      }),
    requests: Effect.sync(() => [...log]),
    clearRequests: Effect.sync(() => {
      log = []
    }),
    writes: Effect.sync(() => log.filter((r) => writeVerbs.has(r.verb)).length),
    resourceVersion: Effect.sync(() => String(state.rv)),
    bookmark: Effect.sync(() => {
      for (const w of watches) if (w.allowBookmarks) offer(w, bookmarkEvent(w.info, state.rv))
    }),
    collectGarbage: Effect.flatMap(currentEnv, (env) => Effect.sync(() => state.collectGarbage(env))),
    failNext: (input) =>
      Effect.sync(() => {
        const fault = Schema.decodeUnknownSync(Fault)(
          "type" in input ? { ...input, type: undefined, resource: Resource.typeKey(input.type) } : input
        )
        faults.push({
          match: toMatch(fault),
          error: input.error,
          when: fault.when ?? "before",
          remaining: fault.times ?? 1
        })
      }),
    latency: (duration, match = {}, options = {}) =>
      Effect.sync(() =>
        void latencies.push({ match: toMatch(match), duration: Duration.fromInputUnsafe(duration), answer: options.answer === true })
      ),
    clearFaults: Effect.sync(() => {
      faults = []
      latencies = []
      resume(watches)
    }),
    stallWatches: Effect.sync(() => {
      for (const w of watches) w.held ??= []
    }),
    resumeWatches: Effect.sync(() => resume(watches)),
    dropWatches: (options = {}) =>
      Effect.sync(() => drop(watches, options.error === true, "the watch connection was closed (injected)")),
    compact: Effect.sync(() => state.compact()),
    restart: Effect.sync(() => {
      drop(watches, true, "the API server restarted: connection reset (injected)")
      state.compact()
    })
  })

  return { cluster, fake } as const
})

/**
 * A fresh in-memory cluster: provides the `Cluster` port and the `FakeCluster` controls.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Cluster.Cluster | FakeCluster> =>
  Layer.effectContext(
    Effect.map(make(options), ({ cluster, fake }) =>
      Context.make(Cluster.Cluster, cluster).pipe(Context.add(FakeCluster, fake)))
  )
