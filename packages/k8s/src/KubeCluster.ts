/**
 * The live `Cluster`: the core port implemented over HTTP against a real API server.
 *
 * - Connections are reused: one keep-alive pool per TLS identity (a client certificate rotated by an
 *   exec plugin gets a fresh pool), shared with `Discovery` when both layers are built together.
 * - Every failure is a typed `ClusterError`, decoded from the server's `metav1.Status`; 401/403 messages
 *   name the configuration the credentials came from, and no message carries a credential.
 * - Credentials are asked of `ClientConfig` per request. After a 401 the request is sent once more with
 *   fresh credentials (`refreshCredentials`, when the config has it): an expired token or a rotated
 *   certificate costs no failed call. Repeated headers (`multiHeaders`, e.g. `Impersonate-Group`) go out
 *   as one header line per value.
 * - 429 and 5xx answers and connection failures are retried within bounds (see `Options.retry`);
 *   writes are repeated only when the server did not process them.
 * - Watches stream the chunked response line by line and last the timeout asked for (randomized 5–10
 *   minutes by default, as client-go's). A watch fails with `Transport` when its connection is silent for
 *   `watchStallTimeout` (60 s by default): a half-open connection (a dead NAT entry, a vanished peer) is
 *   found within that bound, and the watcher resumes from its last resourceVersion. So that a healthy
 *   quiet watch is never silent that long, it is served as requests the server ends within three quarters
 *   of the stall timeout (45 s), each resuming where the last one ended.
 * - Patches carry their own content types (apply, merge, JSON, strategic): nothing defaults to JSON Patch.
 *
 * @example
 * ```ts
 * import { ClientConfig, Discovery, KubeCluster } from "@kubefx/k8s"
 * // Cluster (and Discovery, sharing its connections) for the pod's service account or ~/.kube/config
 * const Live = Layer.mergeAll(KubeCluster.layer, Discovery.layer).pipe(
 *   Layer.provide(ClientConfig.layerFromEnvironment({ userAgent: "my-operator/1.0" })))
 * ```
 *
 * @since 0.1.0
 */
import { Cluster, ClusterError, Resource } from "@kubefx/core"
import { Duration, Effect, Layer, Random, Result, Stream } from "effect"
import type { ClientConfig } from "./ClientConfig.ts"
import type { ConfigError } from "./ClientConfigError.ts"
import { ApiClient, type Call, defaultRetry, describeCall, type RetryPolicy, retrying, type Target } from "./internal/client.ts"
import { collectionPath, objectPath } from "./internal/paths.ts"
import * as Watch from "./internal/watch.ts"
import * as Wire from "./internal/wire.ts"

/**
 * Tuning for the live cluster. Every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Retries of throttled (429), failed (5xx) and unanswered calls. */
  readonly retry?: {
    /** Tries in all, including the first. Default 5; 1 disables retries. */
    readonly maxAttempts?: number
    /** No try starts later than this after the first. Default 30 seconds. */
    readonly budget?: Duration.Input
    /** First backoff delay (doubled per try, jittered) when the server gave no `Retry-After`. Default 200 ms. */
    readonly baseDelay?: Duration.Input
    /** Cap of one backoff delay. Default 5 seconds. */
    readonly maxDelay?: Duration.Input
  }
  /**
   * A watch that receives no byte for this long fails with `Transport` (the watcher then resumes from
   * its last resourceVersion). Default {@link defaultWatchStallTimeout} (60 s).
   *
   * Each watch request asks the server to end it within three quarters of this (45 s by default; a
   * longer `timeoutSeconds` is served as several requests, each resuming from the last resourceVersion
   * seen), because over HTTP/1.1 the end of a response is the only byte a quiet watch is sure to get: the
   * API server sends bookmarks about once a minute only while the resourceVersion moves. A longer stall
   * timeout means fewer requests and later detection; `Duration.infinity` turns detection off and sends
   * one request per watch, as asked.
   */
  readonly watchStallTimeout?: Duration.Input
}

/**
 * How long a watch may go without a byte before it is failed as dead: 60 s, the bound client-go reaches
 * with HTTP/2 PINGs (30 s idle, 15 s for the answer). Bookmarks cannot be relied on to keep a quiet
 * watch talking within it, so requests are kept shorter (see `Options.watchStallTimeout`).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultWatchStallTimeout: Duration.Duration = Duration.seconds(60)

const contentTypes: Record<Cluster.Patch["type"], string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json"
}

/**
 * The `Content-Type` the API server expects for a patch of this kind.
 *
 * @since 0.1.0
 * @category constants
 */
export const patchContentType = (type: Cluster.Patch["type"]): string => contentTypes[type]

/**
 * `Content-Type` of a server-side apply. The body is JSON, which is valid YAML.
 *
 * @since 0.1.0
 * @category constants
 */
export const applyContentType = "application/apply-patch+yaml"

const resolvePolicy = (options: Options["retry"]): RetryPolicy => ({
  maxAttempts: Math.max(1, options?.maxAttempts ?? defaultRetry.maxAttempts),
  budget: options?.budget === undefined ? defaultRetry.budget : Duration.fromInputUnsafe(options.budget),
  baseDelay: options?.baseDelay === undefined ? defaultRetry.baseDelay : Duration.fromInputUnsafe(options.baseDelay),
  maxDelay: options?.maxDelay === undefined ? defaultRetry.maxDelay : Duration.fromInputUnsafe(options.maxDelay)
})

const make = (options: Options) =>
  Effect.gen(function*() {
    const client = yield* ApiClient
    const policy = resolvePolicy(options.retry)
    const stallTimeout = options.watchStallTimeout === undefined
      ? defaultWatchStallTimeout
      : Duration.fromInputUnsafe(options.watchStallTimeout)
    const requestSeconds = Watch.requestSecondsFor(stallTimeout)
    const defaultNamespace = client.config.namespace

    /** The namespace a request addresses: none for cluster-scoped types, the config's when unset. */
    const namespaceFor = (type: Resource.ResourceType<any>, namespace: string | undefined): string | undefined =>
      type.namespaced ? (namespace === undefined || namespace === "" ? defaultNamespace : namespace) : undefined

    const targetOf = (type: Resource.ResourceType<any>, namespace: string | undefined, name?: string): Target => ({
      resource: Resource.typeKey(type),
      ...(namespace === undefined ? {} : { namespace }),
      ...(name === undefined || name === "" ? {} : { name })
    })

    const requireName = (call: Call, name: string | undefined): Effect.Effect<string, ClusterError.Invalid> =>
      name !== undefined && name !== ""
        ? Effect.succeed(name)
        : Effect.fail(
          new ClusterError.Invalid({
            ...call.target,
            status: 400,
            message: `${describeCall(call)}: metadata.name is required`,
            causes: [{ field: "metadata.name", reason: "FieldValueRequired", message: "Required value" }]
          })
        )

    const decodeObject = <A extends Resource.KubeObject>(call: Call, json: unknown) => {
      const decoded = Wire.decodeObject(json)
      return Result.isSuccess(decoded)
        ? Effect.succeed(decoded.success as A)
        : Effect.fail(
          new ClusterError.Transport({
            ...call.target,
            message: `${describeCall(call)}: unreadable response body: ${Wire.issueMessage(decoded.failure)}`
          })
        )
    }

    const objectCall = <A extends Resource.KubeObject>(call: Call) =>
      retrying(policy, call.verb)(client.send(call)).pipe(
        Effect.flatMap((res) => decodeObject<A>(call, res.json))
      )

    const writeQuery = (options: Cluster.WriteOptions | undefined) => ({
      fieldManager: options?.fieldManager,
      dryRun: options?.dryRun === true ? "All" : undefined
    })

    /** A call on one named object: validates the name, then builds the path. */
    const onObject = <A extends Resource.KubeObject>(
      type: Resource.ResourceType<A>,
      verb: Call["verb"],
      method: Call["method"],
      address: Cluster.ObjectAddress,
      rest: Pick<Call, "query" | "body" | "contentType">,
      subresource?: string
    ) => {
      const namespace = namespaceFor(type, address.namespace)
      const shape: Call = { verb, method, path: "", target: targetOf(type, namespace, address.name), ...rest }
      return requireName(shape, address.name).pipe(
        Effect.flatMap((name) =>
          objectCall<A>({ ...shape, path: objectPath(type, namespace, name, subresource) })
        )
      )
    }

    const addressOf = (object: Resource.KubeObject): Cluster.ObjectAddress => ({
      name: object.metadata.name ?? "",
      ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace })
    })

    const get: Cluster.Cluster["Service"]["get"] = (type, address) =>
      onObject(type, "get", "GET", address, {})

    const list: Cluster.Cluster["Service"]["list"] = (type, options) => {
      const namespace = type.namespaced && options?.namespace ? options.namespace : undefined
      const call: Call = {
        verb: "list",
        method: "GET",
        path: collectionPath(type, namespace),
        query: {
          labelSelector: options?.labelSelector,
          fieldSelector: options?.fieldSelector,
          limit: options?.limit,
          continue: options?.continue,
          resourceVersion: options?.resourceVersion
        },
        target: targetOf(type, namespace)
      }
      return retrying(policy, "list")(client.send(call)).pipe(
        Effect.flatMap((res) => {
          const decoded = Wire.decodeObjectList(res.json)
          if (Result.isFailure(decoded)) {
            return Effect.fail(
              new ClusterError.Transport({
                ...call.target,
                message: `${describeCall(call)}: unreadable list: ${Wire.issueMessage(decoded.failure)}`
              })
            )
          }
          const { items, metadata } = decoded.success
          const cont = metadata?.continue
          return Effect.succeed({
            // The server leaves apiVersion and kind out of list items.
            items: (items ?? []).map((item) => ({ apiVersion: type.apiVersion, kind: type.kind, ...item })),
            resourceVersion: metadata?.resourceVersion ?? "",
            ...(cont === undefined || cont === "" ? {} : { continue: cont })
          } as unknown as Cluster.ObjectList<any>)
        })
      )
    }

    const watch: Cluster.Cluster["Service"]["watch"] = (type, options) =>
      Stream.unwrap(Effect.map(
        // client-go's spread: watches of many types do not all end, and reconnect, at once.
        options.timeoutSeconds === undefined ? Random.nextIntBetween(300, 600) : Effect.succeed(options.timeoutSeconds),
        (totalSeconds) => {
          const namespace = type.namespaced && options.namespace ? options.namespace : undefined
          const request = (resourceVersion: string, timeoutSeconds: number, initialEvents: boolean): Call => ({
            verb: "watch",
            method: "GET",
            path: collectionPath(type, namespace),
            query: {
              watch: 1,
              resourceVersion,
              ...(initialEvents ? { sendInitialEvents: "true", resourceVersionMatch: "NotOlderThan" } : {}),
              allowWatchBookmarks: options.allowBookmarks === true ? "true" : undefined,
              timeoutSeconds,
              labelSelector: options.labelSelector,
              fieldSelector: options.fieldSelector
            },
            target: targetOf(type, namespace)
          })
          return Watch.resuming(
            (resourceVersion, timeoutSeconds, initialEvents) =>
              Watch.events(client, request(resourceVersion, timeoutSeconds, initialEvents), retrying(policy, "watch"), stallTimeout, options.onOpen),
            { resourceVersion: options.resourceVersion, totalSeconds, requestSeconds, initialEvents: options.sendInitialEvents === true }
          ) as Stream.Stream<Cluster.WatchEvent<any>, ClusterError.ClusterError>
        }
      ))

    const create: Cluster.Cluster["Service"]["create"] = (type, object, options) => {
      const namespace = namespaceFor(type, object.metadata.namespace)
      return objectCall({
        verb: "create",
        method: "POST",
        path: collectionPath(type, namespace),
        query: writeQuery(options),
        body: object,
        target: targetOf(type, namespace, object.metadata.name)
      })
    }

    const replace: Cluster.Cluster["Service"]["replace"] = (type, object, options) =>
      onObject(type, "update", "PUT", addressOf(object), { query: writeQuery(options), body: object })

    const apply: Cluster.Cluster["Service"]["apply"] = (type, object, options) => {
      const shape: Call = {
        verb: "apply",
        method: "PATCH",
        path: "",
        target: targetOf(type, namespaceFor(type, object.metadata.namespace), object.metadata.name)
      }
      if (options.fieldManager === "") {
        return Effect.fail(
          new ClusterError.Invalid({
            ...shape.target,
            status: 400,
            message: `${describeCall(shape)}: a fieldManager is required for server-side apply`,
            causes: [{ field: "fieldManager", reason: "FieldValueRequired", message: "Required value" }]
          })
        )
      }
      return onObject(type, "apply", "PATCH", addressOf(object), {
        query: { ...writeQuery(options), force: options.force === true ? "true" : undefined },
        body: object,
        contentType: applyContentType
      })
    }

    const patchCall = (verb: "patch" | "patchStatus", subresource?: string): Cluster.Cluster["Service"]["patch"] =>
    (type, address, patch, options) =>
      onObject(type, verb, "PATCH", address, {
        query: writeQuery(options),
        body: patch.body,
        contentType: patchContentType(patch.type)
      }, subresource)

    const delete_: Cluster.Cluster["Service"]["delete"] = (type, address, options) => {
      const body = deleteOptionsBody(options)
      const namespace = namespaceFor(type, address.namespace)
      return onObject(type, "delete", "DELETE", address, {
        query: { dryRun: options?.dryRun === true ? "All" : undefined },
        ...(body === undefined ? {} : { body })
      }).pipe(Effect.map((object) => deletedObject(type, address.name, namespace, object)))
    }

    const replaceStatus: Cluster.Cluster["Service"]["replaceStatus"] = (type, object, options) =>
      onObject(type, "updateStatus", "PUT", addressOf(object), { query: writeQuery(options), body: object }, "status")

    return Cluster.Cluster.of({
      get,
      list,
      watch,
      create,
      replace,
      apply,
      patch: patchCall("patch"),
      delete: delete_,
      replaceStatus,
      patchStatus: patchCall("patchStatus", "status")
    })
  })

/**
 * Most types answer a delete with the object; some answer with a success `Status`, which names the
 * object only. The port promises an object, so the one built from the Status carries what it knows.
 */
const deletedObject = <A extends Resource.KubeObject>(
  type: Resource.ResourceType<A>,
  requestedName: string,
  namespace: string | undefined,
  object: Resource.KubeObject
): A => {
  if (object.kind !== "Status" || type.kind === "Status") return object as A
  const details = (object as { details?: { name?: unknown; uid?: unknown } }).details
  const name = typeof details?.name === "string" ? details.name : requestedName
  return {
    apiVersion: type.apiVersion,
    kind: type.kind,
    metadata: {
      name,
      ...(namespace === undefined ? {} : { namespace }),
      ...(typeof details?.uid === "string" ? { uid: details.uid } : {})
    }
  } as unknown as A
}

/** `metav1.DeleteOptions`, or nothing when every option is at its default. */
const deleteOptionsBody = (options: Cluster.DeleteOptions | undefined): object | undefined => {
  if (options === undefined) return undefined
  const fields = {
    ...(options.propagationPolicy === undefined ? {} : { propagationPolicy: options.propagationPolicy }),
    ...(options.preconditions === undefined ? {} : { preconditions: options.preconditions }),
    ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }),
    ...(options.dryRun === true ? { dryRun: ["All"] } : {})
  }
  return Object.keys(fields).length === 0 ? undefined : { apiVersion: "v1", kind: "DeleteOptions", ...fields }
}

/**
 * The live `Cluster` with the given tuning. Fails to build with a `ConfigError` when the server or proxy
 * URL is unusable. The proxy is `ClientConfig.proxyUrl` when set, else `HTTPS_PROXY` / `HTTP_PROXY` /
 * `NO_PROXY` as Go reads them; `http://`, `https://`, `socks5://` and `socks5h://` proxies are supported.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerOptions = (options: Options): Layer.Layer<Cluster.Cluster, ConfigError, ClientConfig> =>
  Layer.effect(Cluster.Cluster, make(options)).pipe(Layer.provide(ApiClient.layer))

/**
 * The live `Cluster` with default tuning.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Cluster.Cluster, ConfigError, ClientConfig> = layerOptions({})
