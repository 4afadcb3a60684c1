/**
 * API discovery: turns a kind (optionally with its group and version) into the `ResourceType` the
 * `Cluster` port needs (URL plural, namespaced or not, whether it has a status subresource), by asking the
 * server (`/api`, `/apis`, `/apis/<group>/<version>`).
 *
 * Answers are cached. A kind not found in the cache triggers one refresh before `NotFound`, so a CRD
 * installed after the first lookup is found without a restart.
 *
 * @example
 * ```ts
 * const types = Effect.gen(function*() {
 *   const deployments = yield* Discovery.resolve({ kind: "Deployment" })          // apps/v1, "deployments"
 *   const widgets = yield* Discovery.resolve(Discovery.query("example.com/v1", "Widget"))
 *   return [deployments, widgets]
 * })
 * ```
 *
 * @since 0.1.0
 */
import { ClusterError, Resource } from "@kubefx/core"
import { Context, Duration, Effect, Layer, Result, Schema } from "effect"
import type { ClientConfig } from "./ClientConfig.ts"
import type { ConfigError } from "./ClientConfigError.ts"
import { ApiClient, type Call, defaultRetry, type RetryPolicy, retrying } from "./internal/client.ts"
import { groupVersionPath } from "./internal/paths.ts"
import * as Wire from "./internal/wire.ts"

/**
 * What to look up. `kind` also matches, case-insensitively, a resource's plural, singular or short
 * names (`deploy`, `deployments`), as kubectl does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Query {
  readonly kind: string
  /** `""` for the core group; omitted searches the core group first, then every group in server order. */
  readonly group?: string
  /** Omitted uses the group's preferred version, then its others. */
  readonly version?: string
}

/**
 * A query from an object's `apiVersion` (`apps/v1`, or `v1` for the core group) and kind.
 *
 * @since 0.1.0
 * @category constructors
 */
export const query = (apiVersion: string, kind: string): Query => {
  const slash = apiVersion.indexOf("/")
  return slash < 0
    ? { kind, group: "", version: apiVersion }
    : { kind, group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) }
}

/**
 * One API group the server serves, with its versions, preferred first.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiGroup {
  readonly name: string
  readonly versions: ReadonlyArray<string>
}

const ApiVersions = Schema.Struct({ versions: Schema.Array(Schema.String) })

const ApiGroupList = Schema.Struct({
  groups: Schema.Array(Schema.Struct({
    name: Schema.String,
    versions: Schema.Array(Schema.Struct({ version: Schema.String })),
    preferredVersion: Schema.optionalKey(Schema.Struct({ version: Schema.String }))
  }))
})

const ApiResourceList = Schema.Struct({
  resources: Schema.Array(Schema.Struct({
    name: Schema.String,
    singularName: Schema.optionalKey(Schema.String),
    namespaced: Schema.Boolean,
    kind: Schema.String,
    shortNames: Schema.optionalKey(Schema.Array(Schema.String))
  }))
})
type ApiResourceList = typeof ApiResourceList.Type

/**
 * Looks up how the server serves a kind. Build it with `layer`.
 *
 * @since 0.1.0
 * @category services
 */
export class Discovery extends Context.Service<Discovery, {
  /** The resource type serving `query.kind`; `NotFound` when the server serves none. */
  readonly resolve: (query: Query) => Effect.Effect<Resource.ResourceType, ClusterError.ClusterError>
  /** The groups the server serves, the core group (`""`) first. Cached. */
  readonly groups: Effect.Effect<ReadonlyArray<ApiGroup>, ClusterError.ClusterError>
  /** Drops every cached answer (e.g. after installing or removing CRDs). */
  readonly invalidate: Effect.Effect<void>
}>()("@kubefx/k8s/Discovery") {}

/**
 * Fewer, shorter retries than other calls: an aggregated API that is down (a broken metrics-server is
 * common) answers 503 to every try, and a lookup should not stall on it.
 */
const discoveryRetry: RetryPolicy = { ...defaultRetry, maxAttempts: 3, baseDelay: Duration.millis(100) }

const make = Effect.gen(function*() {
  const client = yield* ApiClient
  let groupsCache: ReadonlyArray<ApiGroup> | undefined
  // Per group/version: its resources, or why it could not be read (until the next refresh).
  const resourcesCache = new Map<string, Result.Result<ApiResourceList, ClusterError.ClusterError>>()

  const fetch = <S extends Schema.Codec<any, any>>(path: string, schema: S) => {
    const call: Call = { verb: "discover", method: "GET", path, target: { resource: path } }
    return retrying(discoveryRetry, "discover")(client.send(call)).pipe(
      Effect.flatMap((res) => {
        const decoded = Schema.decodeUnknownResult(schema as Schema.Codec<S["Type"], unknown>)(res.json)
        return Result.isSuccess(decoded)
          ? Effect.succeed(decoded.success as S["Type"])
          : Effect.fail(
            new ClusterError.Transport({
              resource: path,
              message: `discover ${path}: unreadable discovery document: ${Wire.issueMessage(decoded.failure)}`
            })
          )
      })
    )
  }

  const groups: Effect.Effect<ReadonlyArray<ApiGroup>, ClusterError.ClusterError> = Effect.suspend(() => {
    if (groupsCache !== undefined) return Effect.succeed(groupsCache)
    return Effect.all([fetch("/api", ApiVersions), fetch("/apis", ApiGroupList)]).pipe(
      Effect.map(([core, named]) => {
        const list: Array<ApiGroup> = [
          { name: "", versions: core.versions },
          ...named.groups.map((g) => {
            const preferred = g.preferredVersion?.version
            const others = g.versions.map((v) => v.version).filter((v) => v !== preferred)
            return { name: g.name, versions: preferred === undefined ? others : [preferred, ...others] }
          })
        ]
        groupsCache = list
        return list as ReadonlyArray<ApiGroup>
      })
    )
  })

  const resources = (group: string, version: string) =>
    Effect.suspend(() => {
      const key = `${group}/${version}`
      const cached = resourcesCache.get(key)
      if (cached !== undefined) return Effect.fromResult(cached)
      return fetch(groupVersionPath(group, version), ApiResourceList).pipe(
        Effect.result,
        Effect.tap((result) => Effect.sync(() => resourcesCache.set(key, result))),
        Effect.flatMap(Effect.fromResult)
      )
    })

  const matchIn = (list: ApiResourceList, group: string, version: string, kind: string) => {
    const lower = kind.toLowerCase()
    const top = list.resources.filter((r) => !r.name.includes("/"))
    const found = top.find((r) => r.kind === kind) ??
      top.find((r) =>
        r.kind.toLowerCase() === lower || r.name === lower || r.singularName === lower ||
        (r.shortNames ?? []).includes(lower)
      )
    if (found === undefined) return undefined
    return Resource.make({
      group,
      version,
      kind: found.kind,
      plural: found.name,
      namespaced: found.namespaced,
      statusSubresource: list.resources.some((r) => r.name === `${found.name}/status`)
    })
  }

  /** One pass over the (possibly cached) discovery data. */
  const search = (q: Query) =>
    Effect.gen(function*() {
      const all = yield* groups
      const candidates = q.group === undefined ? all : all.filter((g) => g.name === q.group)
      let unavailable: ClusterError.ClusterError | undefined
      for (const group of candidates) {
        const versions = q.version === undefined ? group.versions : group.versions.filter((v) => v === q.version)
        for (const version of versions) {
          const list = yield* Effect.result(resources(group.name, version))
          if (Result.isFailure(list)) {
            // An aggregated API that is down must not hide kinds served elsewhere; with an explicit
            // group it is the answer.
            if (q.group !== undefined) return yield* Effect.fail(list.failure)
            unavailable ??= list.failure
            continue
          }
          const found = matchIn(list.success, group.name, version, q.kind)
          if (found !== undefined) return { found, unavailable }
        }
      }
      return { found: undefined, unavailable }
    })

  const describe = (q: Query) =>
    `kind ${q.kind}${q.group === undefined ? "" : ` in group "${q.group}"`}${
      q.version === undefined ? "" : ` version ${q.version}`
    }`

  const resolve = (q: Query): Effect.Effect<Resource.ResourceType, ClusterError.ClusterError> =>
    Effect.gen(function*() {
      const wasCached = groupsCache !== undefined
      let result = yield* search(q)
      if (result.found === undefined && wasCached) {
        resourcesCache.clear()
        groupsCache = undefined
        result = yield* search(q)
      }
      if (result.found !== undefined) return result.found
      if (result.unavailable !== undefined) return yield* Effect.fail(result.unavailable)
      return yield* new ClusterError.NotFound({
        message: `discover: the API server serves no ${describe(q)}; is its CustomResourceDefinition installed?`
      })
    })

  return Discovery.of({
    resolve,
    groups,
    invalidate: Effect.sync(() => {
      groupsCache = undefined
      resourcesCache.clear()
    })
  })
})

/**
 * Discovery over the live API server. Built together with `KubeCluster.layer`, both share one
 * connection pool.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Discovery, ConfigError, ClientConfig> = Layer.effect(Discovery, make).pipe(
  Layer.provide(ApiClient.layer)
)

/**
 * Resolves a kind with the `Discovery` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const resolve = (q: Query): Effect.Effect<Resource.ResourceType, ClusterError.ClusterError, Discovery> =>
  Effect.flatMap(Effect.service(Discovery), (d) => d.resolve(q))
