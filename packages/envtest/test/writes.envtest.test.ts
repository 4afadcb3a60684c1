/**
 * The engine's writes against a real kube-apiserver: a CRD whose status schema lacks the fields the engine writes
 * (`conditions`, `observedGeneration`) prunes them; the engine notices from the answer, warns once and writes
 * nothing on resync. Applied children are created without a read, and an unowned object of a child's name is
 * never taken over (the conditional apply fails with 409 and the object is left as it was).
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Child, Cluster, Operator, type Resource, Resource as R } from "@kubefx/core"
import { Manifests } from "@kubefx/k8s"
import { Duration, Effect, Exit, Logger, Schema, Scope } from "effect"
import { EnvtestCluster } from "../src/index.ts"

const Item = R.custom({
  group: "writes.kubefx.io", version: "v1", kind: "Item", plural: "items",
  spec: Schema.Struct({ size: Schema.Number }),
  status: Schema.Struct({ size: Schema.optionalKey(Schema.Number) })
})
// The CRD as a user might have written it by hand: its status schema declares `size` and nothing else.
const BareItem: Resource.CustomResource<unknown, unknown> = { ...Item, status: Schema.Struct({ size: Schema.optionalKey(Schema.Number) }) }

const operator = Operator.make({
  name: "item-operator",
  parent: Item,
  children: [Child.of(Builtin.ConfigMap, { update: "apply" })],
  resyncPeriod: "2 seconds",
  sync: (req) =>
    Effect.succeed({
      status: { size: req.parent.spec.size },
      children: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: req.parent.metadata.name! }, data: { size: String(req.parent.spec.size) } }]
    })
})

interface Tally {
  reads: number
  writes: number
  warnings: Array<string>
}

/** The live port, counting the operator's gets and writes. */
const counting = (tally: Tally) =>
  Effect.map(Cluster.Cluster, (inner): Cluster.Cluster["Service"] => {
    const write = <A, E>(e: Effect.Effect<A, E>) => Effect.tap(e, () => Effect.sync(() => tally.writes++))
    return {
      ...inner,
      get: (t, a) => Effect.tap(inner.get(t, a), () => Effect.sync(() => tally.reads++)).pipe(
        Effect.tapError(() => Effect.sync(() => tally.reads++))
      ),
      create: (t, o, w) => write(inner.create(t, o, w)),
      replace: (t, o, w) => write(inner.replace(t, o, w)),
      apply: (t, o, w) => write(inner.apply(t, o, w)),
      patch: (t, a, p, w) => write(inner.patch(t, a, p, w)),
      delete: (t, a, d) => write(inner.delete(t, a, d)),
      replaceStatus: (t, o, w) => write(inner.replaceStatus(t, o, w)),
      patchStatus: (t, a, p, w) => write(inner.patchStatus(t, a, p, w))
    }
  })

const start = (tally: Tally) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Scope.Scope)
    const port = yield* counting(tally)
    const logger = Logger.make((o) => {
      if (o.logLevel === "Warn") tally.warnings.push(String(o.message))
    })
    const controller = yield* Operator.run(operator).pipe(
      Effect.provideService(Cluster.Cluster, port),
      Effect.provide(Logger.layer([logger])),
      Scope.provide(scope)
    )
    yield* controller.synced
    return Scope.close(scope, Exit.void)
  })

const item = (name: string, size: number): Resource.KubeObject => ({
  apiVersion: Item.apiVersion, kind: Item.kind, metadata: { name, namespace: "default" }, spec: { size }
})

const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 120; i++) {
      if (yield* check) return
      yield* Effect.sleep("250 millis")
    }
    return yield* Effect.die(new Error(`${what} never happened`))
  })

const Env = EnvtestCluster.layer({ crds: [Effect.runSync(Manifests.crd(BareItem))], userAgent: "writes-envtest" })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("the engine's writes on kube-apiserver", () => {
  layer(Env, { timeout: "3 minutes", excludeTestServices: true })("a CRD that prunes conditions", (it) => {
    it.effect("pruned status fields: warned once, 0 writes on resync; children created with 0 reads", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const tally: Tally = { reads: 0, writes: 0, warnings: [] }
        const stop = yield* start(tally)
        yield* cluster.create(Item, item("a", 1))
        yield* cluster.create(Item, item("b", 2))
        yield* until("convergence", Effect.map(Effect.all([cluster.get(Item, { namespace: "default", name: "a" }), cluster.get(Item, { namespace: "default", name: "b" })]), (ps) =>
          ps.every((p) => (p["status"] as { size?: number } | undefined)?.size === (p["spec"] as { size: number }).size)))
        yield* Effect.sleep("1 second")
        const afterConverge = tally.writes
        yield* Effect.sleep(Duration.seconds(5)) // two resyncs at 2 s
        yield* stop
        const stored = yield* cluster.get(Item, { namespace: "default", name: "a" })
        // The server really pruned them: the status holds only what its schema declares.
        assert.deepStrictEqual(stored["status"], { size: 1 })
        assert.strictEqual(tally.writes - afterConverge, 0, "writes on resync")
        // 2 parents × (ConfigMap + status): the first status write, which lost its conditions, is not repeated.
        assert.strictEqual(afterConverge, 4, "writes to converge")
        assert.strictEqual(tally.reads, 0, "reads to converge")
        assert.strictEqual(tally.warnings.length, 1, tally.warnings.join("\n"))
        assert.match(tally.warnings[0]!, /status\.conditions/)
        assert.match(tally.warnings[0]!, /status\.observedGeneration/)
        const child = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "a" })
        assert.deepStrictEqual(child.metadata.managedFields?.map((m) => [m.manager, m.operation]), [["item-operator", "Apply"]])
      }), 60_000)

    it.effect("an unowned object of a child's name is left as it was", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const squatter = yield* cluster.create(Builtin.ConfigMap, {
          apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default" }, data: { size: "mine" }
        })
        const tally: Tally = { reads: 0, writes: 0, warnings: [] }
        const stop = yield* start(tally)
        yield* cluster.create(Item, item("c", 3))
        yield* until("a look at the squatter", Effect.sync(() => tally.reads > 0))
        yield* Effect.sleep("1 second")
        yield* stop
        const after = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "c" })
        assert.deepStrictEqual(after, squatter)
      }), 60_000)
  })
})
