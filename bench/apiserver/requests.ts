/**
 * Requests counted by verb, in core's one request vocabulary (`Cluster.Verb`: the API server's verbs, so the
 * port's `replace` counts as `update`). The apiserver child counts its own requests at the `Cluster` port; the
 * parent takes differences of the counts it reports.
 *
 * @since 0.1.0
 */
import { Cluster, type ClusterError } from "@kubefx/core"
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

type Method = keyof Cluster.Cluster["Service"]

/**
 * The `Cluster` below it, each call counted in `counts` (under `Cluster.verbOf` its method) when it runs.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCounting = (counts: Counts) =>
  Layer.effect(
    Cluster.Cluster,
    Effect.gen(function*() {
      const inner = yield* Cluster.Cluster
      const tally = <A>(method: Method, call: () => Effect.Effect<A, ClusterError.ClusterError>) =>
        Effect.suspend(() => {
          counts[Cluster.verbOf[method]]++
          return call()
        })
      return Cluster.Cluster.of({
        get: (type, address) => tally("get", () => inner.get(type, address)),
        list: (type, options) => tally("list", () => inner.list(type, options)),
        watch: (type, options) =>
          Stream.suspend(() => {
            counts[Cluster.verbOf.watch]++
            return inner.watch(type, options)
          }),
        create: (type, object, options) => tally("create", () => inner.create(type, object, options)),
        replace: (type, object, options) => tally("replace", () => inner.replace(type, object, options)),
        apply: (type, object, options) => tally("apply", () => inner.apply(type, object, options)),
        patch: (type, address, patch, options) => tally("patch", () => inner.patch(type, address, patch, options)),
        delete: (type, address, options) => tally("delete", () => inner.delete(type, address, options)),
        replaceStatus: (type, object, options) => tally("replaceStatus", () => inner.replaceStatus(type, object, options)),
        patchStatus: (type, address, patch, options) => tally("patchStatus", () => inner.patchStatus(type, address, patch, options))
      })
    })
  )
