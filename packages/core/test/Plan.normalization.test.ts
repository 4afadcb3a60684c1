/**
 * No-op detection survives the server's normalisation: quantities it canonicalises (`1000m` → `1`,
 * `1024Mi` → `1Gi`) and a Secret's `stringData` (stored as `data`) make the literal desired child never a
 * subset of the stored one, so without the normal form every resync wrote. Here a normalising layer in front of
 * the fake cluster plays the API server's part; the real-server proof is packages/envtest/test/noop.envtest.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Builtin from "../src/Builtin.ts"
import * as Child from "../src/Child.ts"
import { Cluster, writeVerbs } from "../src/Cluster.ts"
import * as Operator from "../src/Operator.ts"
import * as Plan from "../src/Plan.ts"
import * as Resource from "../src/Resource.ts"

const Db = Resource.custom({
  group: "test.kubefx.io", version: "v1", kind: "Db", plural: "dbs",
  spec: Schema.Struct({ password: Schema.String }), status: Schema.Struct({})
})

const canonical: Record<string, string> = { "1000m": "1", "1024Mi": "1Gi", "2048Mi": "2Gi" }
/** What kube-apiserver does to these values on every write. */
const normalize = (o: Resource.KubeObject): Resource.KubeObject => {
  const walk = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(walk)
    : v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    : typeof v === "string" && canonical[v] !== undefined ? canonical[v]
    : v
  const out = walk(o) as Resource.KubeObject & { stringData?: Record<string, string>; data?: Record<string, string> }
  if (out.kind !== "Secret" || out.stringData === undefined) return out
  const { stringData, ...rest } = out
  const encoded = Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString("base64")]))
  return { ...rest, data: { ...rest.data, ...encoded } }
}
const normalizing = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* Cluster
    const port: Cluster["Service"] = {
      ...inner,
      create: (t, o, w) => inner.create(t, normalize(o), w),
      replace: (t, o, w) => inner.replace(t, normalize(o), w),
      apply: (t, o, w) => inner.apply(t, normalize(o), w)
    }
    return yield* body.pipe(Effect.provideService(Cluster, port))
  })

const operator = (update: Child.UpdatePolicy) =>
  Operator.make({
    name: "db-operator",
    parent: Db,
    children: [Child.of(Builtin.Deployment, { update }), Child.of(Builtin.Secret, { update })],
    resyncPeriod: "1 minute",
    sync: (req) =>
      Effect.succeed({
        status: {},
        children: [
          {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: req.parent.metadata.name! },
            spec: {
              selector: { matchLabels: { app: "db" } },
              template: {
                metadata: { labels: { app: "db" } },
                spec: { containers: [{ name: "db", image: "postgres:17", resources: { requests: { cpu: "1000m", memory: "1024Mi" }, limits: { memory: "2048Mi" } } }] }
              }
            }
          },
          { apiVersion: "v1", kind: "Secret", metadata: { name: req.parent.metadata.name! }, stringData: { password: req.parent.spec.password } }
        ]
      })
  })

const env = Layer.mergeAll(FakeCluster.layer({ types: [Db] }), TestKit.TestKit.layer)
const realWrites = Effect.map(
  Effect.flatMap(FakeCluster.FakeCluster, (f) => f.requests),
  (rs) => rs.filter((r) => writeVerbs.has(r.verb) && !r.dryRun && r.resource !== "test.kubefx.io/v1/Db")
)

describe("no-op detection under server normalisation", () => {
  for (const update of ["apply", "replace", "recreate"] as const) {
    it.effect(`a converged ${update} child the server normalised is not written again on resync, nor after a restart`, () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster
        const fake = yield* FakeCluster.FakeCluster
        const first = yield* Scope.make()
        yield* TestKit.run(operator(update)).pipe(Scope.provide(first))
        yield* cluster.create(Db, { apiVersion: Db.apiVersion, kind: Db.kind, metadata: { name: "a", namespace: "default" }, spec: { password: "s3cret" } })
        yield* TestKit.settle({ horizon: "5 seconds" })
        const converged = (yield* realWrites).length
        expect(converged).toBe(2)
        for (let i = 0; i < 3; i++) {
          yield* TestClock.adjust("1 minute")
          yield* TestKit.settle({ horizon: "5 seconds" })
        }
        expect((yield* realWrites).length).toBe(converged)
        // A restarted operator knows no normal forms: it may ask with a dry run, but writes nothing.
        yield* Scope.close(first, Exit.void)
        yield* fake.clearRequests
        const second = yield* Scope.make()
        yield* TestKit.run(operator(update)).pipe(Scope.provide(second))
        yield* TestKit.settle({ horizon: "5 seconds" })
        yield* TestClock.adjust("1 minute")
        yield* TestKit.settle({ horizon: "5 seconds" })
        expect(yield* realWrites).toEqual([])
        // Drift is still drift: someone changes a declared field, the operator puts it back.
        const d = yield* cluster.get(Builtin.Deployment, { namespace: "default", name: "a" })
        const spec = d["spec"] as any
        yield* cluster.replace(Builtin.Deployment, { ...d, spec: { ...spec, template: { ...spec.template, spec: { containers: [{ ...spec.template.spec.containers[0], resources: { requests: { cpu: "3" } } }] } } } })
        yield* TestKit.settle({ horizon: "5 seconds" })
        const fixed = yield* cluster.get(Builtin.Deployment, { namespace: "default", name: "a" })
        expect((fixed["spec"] as any).template.spec.containers[0].resources.requests).toEqual({ cpu: "1", memory: "1Gi" })
        yield* Scope.close(second, Exit.void)
      }).pipe(normalizing, Effect.provide(env)))
  }

  it("project keeps what the desired child declares, as the server stored it", () => {
    const desired = { spec: { replicas: 1, resources: { cpu: "1000m" }, ports: [{ port: 80 }] }, stringData: { a: "x" } }
    const stored = { spec: { replicas: 1, resources: { cpu: "1" }, ports: [{ port: 80, protocol: "TCP" }], paused: false }, data: { a: "eA==" } }
    expect(Plan.project(desired, stored)).toEqual({ spec: { replicas: 1, resources: { cpu: "1" }, ports: [{ port: 80 }] } })
    // an admission webhook appended a list item: the stored list is taken whole
    expect(Plan.project({ env: [{ name: "A" }] }, { env: [{ name: "A" }, { name: "INJECTED" }] })).toEqual({ env: [{ name: "A" }, { name: "INJECTED" }] })
  })
})

