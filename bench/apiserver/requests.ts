/**
 * Requests counted by verb, in core's one request vocabulary (`Cluster.Verb`: the API server's verbs, so the
 * port's `replace` counts as `update`). The apiserver child counts its own requests at the `Cluster` port; the
 * parent takes differences of the counts it reports.
 *
 * @since 0.1.0
 */
import { Cluster, type ClusterError, type Resource } from "@kubefx/core"
import { Effect, Layer, Stream } from "effect"

/**
 * Requests made, by verb. A watch counts once per (re)connection; retries inside `KubeCluster` (429, 5xx) are not
 * counted again.
 *
 * @since 0.1.0
 * @category models
 */
export type Counts = Record<Cluster.Verb, number>

/**
 * Every verb at 0.
 *
 * @since 0.1.0
 * @category constructors
 */
export const zeroCounts = (): Counts => Object.fromEntries(Cluster.Verb.literals.map((v) => [v, 0])) as Counts

/**
 * Requests that change the cluster (`Cluster.writeVerbs`).
 *
 * @since 0.1.0
 * @category figures
 */
export const writesOf = (counts: Counts): number => Cluster.Verb.literals.reduce((n, v) => (Cluster.writeVerbs.has(v) ? n + counts[v] : n), 0)

/**
 * Requests that only read: get, list and watch.
 *
 * @since 0.1.0
 * @category figures
 */
export const readsOf = (counts: Counts): number => Cluster.Verb.literals.reduce((n, v) => (Cluster.writeVerbs.has(v) ? n : n + counts[v]), 0)

/**
 * The requests made between two counts (`a` the later).
 *
 * @since 0.1.0
 * @category figures
 */
export const minus = (a: Counts, b: Counts): Counts =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - b[k as Cluster.Verb]])) as Counts

/**
 * Requests by resource (the type's plural, as the API server's metrics name it), then by verb.
 *
 * @since 0.1.0
 * @category models
 */
export type ResourceCounts = Record<string, Counts>

/**
 * The requests made between two counts by resource (`a` the later); a resource missing from `b` counts from 0.
 *
 * @since 0.1.0
 * @category figures
 */
export const minusByResource = (a: ResourceCounts, b: ResourceCounts): ResourceCounts =>
  Object.fromEntries(Object.entries(a).map(([resource, counts]) => [resource, minus(counts, b[resource] ?? zeroCounts())]))

/**
 * The counts of `resources` added up (all of them when `resources` is undefined).
 *
 * @since 0.1.0
 * @category figures
 */
export const sumOf = (byResource: ResourceCounts, resources?: ReadonlyArray<string>): Counts => {
  const total = zeroCounts()
  for (const [resource, counts] of Object.entries(byResource)) {
    if (resources !== undefined && !resources.includes(resource)) continue
    for (const v of Cluster.Verb.literals) total[v] += counts[v]
  }
  return total
}

type Method = keyof Cluster.Cluster["Service"]

/** The `Cluster` below it, `record(verb, type)` called for each request when it runs. */
const layerTally = (record: (verb: Cluster.Verb, type: Resource.ResourceType) => void) =>
  Layer.effect(
    Cluster.Cluster,
    Effect.gen(function*() {
      const inner = yield* Cluster.Cluster
      const tally = <A>(method: Method, type: Resource.ResourceType, call: () => Effect.Effect<A, ClusterError.ClusterError>) =>
        Effect.suspend(() => {
          record(Cluster.verbOf[method], type)
          return call()
        })
      return Cluster.Cluster.of({
        get: (type, address) => tally("get", type, () => inner.get(type, address)),
        list: (type, options) => tally("list", type, () => inner.list(type, options)),
        watch: (type, options) =>
          Stream.suspend(() => {
            record(Cluster.verbOf.watch, type)
            return inner.watch(type, options)
          }),
        create: (type, object, options) => tally("create", type, () => inner.create(type, object, options)),
        replace: (type, object, options) => tally("replace", type, () => inner.replace(type, object, options)),
        apply: (type, object, options) => tally("apply", type, () => inner.apply(type, object, options)),
        patch: (type, address, patch, options) => tally("patch", type, () => inner.patch(type, address, patch, options)),
        delete: (type, address, options) => tally("delete", type, () => inner.delete(type, address, options)),
        replaceStatus: (type, object, options) => tally("replaceStatus", type, () => inner.replaceStatus(type, object, options)),
        patchStatus: (type, address, patch, options) => tally("patchStatus", type, () => inner.patchStatus(type, address, patch, options))
      })
    })
  )

/**
 * The `Cluster` below it, each call counted in `counts` (under `Cluster.verbOf` its method) when it runs.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCounting = (counts: Counts) => layerTally((verb) => void counts[verb]++)

/**
 * The `Cluster` below it, each call counted in `byResource` under its type's plural: how the harness counts its
 * own requests, to take them out of the API server's counters.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCountingByResource = (byResource: ResourceCounts) =>
  layerTally((verb, type) => {
    const counts = (byResource[type.plural] ??= zeroCounts())
    counts[verb]++
  })
