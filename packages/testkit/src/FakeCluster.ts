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
import { Cause, Clock, Context, Duration, Effect, Layer, Queue, Random, Schedule, Schema, Stream } from "effect"
import { engine } from "./internal/fakeCluster/engine.ts"
import { State } from "./internal/fakeCluster/state.ts"
import type { Env, Sink } from "./internal/fakeCluster/state.ts"
import type { TypeInfo } from "./internal/fakeCluster/types.ts"

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
 * A verb as the API server's audit log names it.
 *
 * @since 0.1.0
 * @category models
 */
export const Verb = Schema.Literals([
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "apply",
  "delete",
  "updateStatus",
  "patchStatus"
])

/**
 * @since 0.1.0
 * @category models
 */
export type Verb = typeof Verb.Type

/**
 * Verbs that can change the cluster.
 *
 * @since 0.1.0
 * @category constants
 */
export const writeVerbs: ReadonlySet<Verb> = new Set(["create", "update", "patch", "apply", "delete", "updateStatus", "patchStatus"])

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
}>()("@kubefx/testkit/FakeCluster") {}

interface OpenWatch {
  readonly info: TypeInfo
  readonly queue: Queue.Queue<Cluster.WatchEvent, ClusterError.ClusterError | Cause.Done>
  readonly allowBookmarks: boolean
  sink: Sink | undefined
}

const bookmarkEvent = (info: TypeInfo, rv: number): Cluster.WatchEvent => ({
  type: "BOOKMARK",
  object: { apiVersion: info.type.apiVersion, kind: info.type.kind, metadata: { resourceVersion: String(rv) } }
})

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

  const record = (request: Omit<Request, "time">) =>
    Effect.flatMap(Clock.currentTimeMillis, (time) => Effect.sync(() => void log.push({ ...request, time })))

  /** Runs one synchronous state operation; a thrown `ClusterError` becomes the typed failure. */
  const run = <A>(f: (env: Env) => A): Effect.Effect<A, ClusterError.ClusterError> =>
    Effect.flatMap(currentEnv, (env) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(f(env))
        } catch (e) {
          if (ClusterError.isClusterError(e)) return Effect.fail(e)
          return Effect.die(e)
        }
      }))

  const target = (namespace: string | undefined, name: string | undefined) => ({
    ...(namespace === undefined || namespace === "" ? {} : { namespace }),
    ...(name === undefined || name === "" ? {} : { name })
  })

  const metaOf = (object: Resource.KubeObject) => object?.metadata ?? {}

  const cluster = Cluster.Cluster.of({
    get: (type, address) =>
      record({ verb: "get", resource: Resource.typeKey(type), ...target(address.namespace, address.name), dryRun: false }).pipe(
        Effect.andThen(run(() => state.get(state.resolve(type), address.namespace, address.name) as any))
      ),
    list: (type, options = {}) =>
      record({ verb: "list", resource: Resource.typeKey(type), ...target(options.namespace, undefined), dryRun: false }).pipe(
        Effect.andThen(run(() => state.list(state.resolve(type), options) as any))
      ),
    watch: (type, options) =>
      Stream.unwrap(
        record({ verb: "watch", resource: Resource.typeKey(type), ...target(options.namespace, undefined), dryRun: false }).pipe(
          Effect.andThen(run(() => state.resolve(type))),
          Effect.map((info) => openWatch(info, options))
        )
      ) as any,
    create: (type, object, options = {}) =>
      record({
        verb: "create",
        resource: Resource.typeKey(type),
        ...target(metaOf(object).namespace, metaOf(object).name),
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) =>
          state.create(state.resolve(type), object, {
            fieldManager: options.fieldManager ?? defaultManager,
            dryRun: options.dryRun === true
          }, env) as any
        ))
      ),
    replace: (type, object, options = {}) =>
      record({
        verb: "update",
        resource: Resource.typeKey(type),
        ...target(metaOf(object).namespace, metaOf(object).name),
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) =>
          state.replace(state.resolve(type), object, {
            fieldManager: options.fieldManager ?? defaultManager,
            dryRun: options.dryRun === true
          }, env, undefined) as any
        ))
      ),
    replaceStatus: (type, object, options = {}) =>
      record({
        verb: "updateStatus",
        resource: Resource.typeKey(type),
        ...target(metaOf(object).namespace, metaOf(object).name),
        subresource: "status",
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) => {
          const info = state.resolve(type)
          if (!info.type.statusSubresource) throw notFoundStatus(info, metaOf(object))
          return state.replace(info, object, {
            fieldManager: options.fieldManager ?? defaultManager,
            dryRun: options.dryRun === true
          }, env, "status") as any
        }))
      ),
    patch: (type, address, patch, options = {}) =>
      record({
        verb: "patch",
        resource: Resource.typeKey(type),
        ...target(address.namespace, address.name),
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) =>
          state.patch(state.resolve(type), address.namespace, address.name, patch, {
            fieldManager: options.fieldManager ?? defaultManager,
            dryRun: options.dryRun === true
          }, env, undefined) as any
        ))
      ),
    patchStatus: (type, address, patch, options = {}) =>
      record({
        verb: "patchStatus",
        resource: Resource.typeKey(type),
        ...target(address.namespace, address.name),
        subresource: "status",
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) => {
          const info = state.resolve(type)
          if (!info.type.statusSubresource) throw notFoundStatus(info, address)
          return state.patch(info, address.namespace, address.name, patch, {
            fieldManager: options.fieldManager ?? defaultManager,
            dryRun: options.dryRun === true
          }, env, "status") as any
        }))
      ),
    apply: (type, object, options) =>
      record({
        verb: "apply",
        resource: Resource.typeKey(type),
        ...target(metaOf(object).namespace, metaOf(object).name),
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) =>
          state.apply(state.resolve(type), object, {
            fieldManager: options.fieldManager,
            force: options.force === true,
            dryRun: options.dryRun === true
          }, env) as any
        ))
      ),
    delete: (type, address, options = {}) =>
      record({
        verb: "delete",
        resource: Resource.typeKey(type),
        ...target(address.namespace, address.name),
        dryRun: options.dryRun === true
      }).pipe(
        Effect.andThen(run((env) => state.delete(state.resolve(type), address.namespace, address.name, options, env) as any))
      )
  })

  const openWatch = (info: TypeInfo, options: Cluster.WatchOptions): Stream.Stream<Cluster.WatchEvent, ClusterError.ClusterError> =>
    Stream.callback<Cluster.WatchEvent, ClusterError.ClusterError>((queue) =>
      Effect.gen(function*() {
        const w: OpenWatch = { info, queue, allowBookmarks: options.allowBookmarks === true, sink: undefined }
        const from = options.resourceVersion === "" || options.resourceVersion === "0"
          ? undefined
          : Number(options.resourceVersion)
        // A watch from a future version only sees what comes after that version.
        const deliver = (event: Cluster.WatchEvent) => {
          if (from !== undefined && Number(event.object.metadata.resourceVersion) <= from) return
          Queue.offerUnsafe(queue, event)
        }
        const registration = yield* run(() => state.watch(info, options, deliver))
        w.sink = registration.sink
        watches.add(w)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            state.unwatch(registration.sink)
            watches.delete(w)
          })
        )
        for (const event of registration.replay) Queue.offerUnsafe(queue, event)
        if (registration.waitFor !== undefined) {
          const wanted = registration.waitFor
          // The watch cache waits up to 3 s for a resourceVersion it has not reached, then gives up.
          yield* Effect.forkScoped(Effect.sleep("3 seconds").pipe(
            Effect.andThen(Effect.sync(() => {
              if (state.rv < wanted) {
                Queue.failCauseUnsafe(
                  queue,
                  Cause.fail(
                    new ClusterError.ServerError({
                      message: `Timeout: Too large resource version: ${wanted}, current: ${state.rv}`,
                      status: 504,
                      reason: "Timeout",
                      resource: info.key
                    })
                  )
                )
              }
            }))
          ))
        }
        if (options.timeoutSeconds !== undefined && options.timeoutSeconds > 0) {
          yield* Effect.forkScoped(
            Effect.sleep(Duration.seconds(options.timeoutSeconds)).pipe(Effect.andThen(Effect.sync(() => Queue.endUnsafe(queue))))
          )
        }
        if (w.allowBookmarks) {
          yield* Effect.forkScoped(
            Effect.sync(() => Queue.offerUnsafe(queue, bookmarkEvent(info, state.rv))).pipe(
              Effect.delay(bookmarkInterval),
              Effect.repeat(Schedule.forever)
            )
          )
        }
      })
    )

  const notFoundStatus = (info: TypeInfo, meta: { readonly name?: string | undefined; readonly namespace?: string | undefined }) =>
    new ClusterError.NotFound({
      message: `the server could not find the requested resource (${info.qualifiedResource}/status)`,
      resource: info.key,
      ...target(meta.namespace, meta.name)
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
      for (const w of watches) if (w.allowBookmarks) Queue.offerUnsafe(w.queue, bookmarkEvent(w.info, state.rv))
    }),
    collectGarbage: Effect.flatMap(currentEnv, (env) => Effect.sync(() => state.collectGarbage(env)))
  })

  return { cluster, fake } as const
})

const currentEnv: Effect.Effect<Env> = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  const random = yield* Random.Random
  return { now, random: () => random.nextDoubleUnsafe() }
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
