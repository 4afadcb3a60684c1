/**
 * Zero writes on resync on a real kube-apiserver, for children the server normalises: resource quantities it
 * canonicalises (`1000m` → `1`, `1024Mi` → `1Gi`), a Secret's `stringData` (stored as `data`), and the
 * defaults it fills in. Also after a restart, when the operator has not yet seen its own writes' answers.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Child, Cluster, Conditions, Operator, type Resource, Resource as R } from "@kubefx/core"
import { Manifests } from "@kubefx/k8s"
import { Duration, Effect, Exit, Schema, Scope } from "effect"
import { EnvtestCluster } from "../src/index.ts"

const Db = R.custom({
  group: "noop.kubefx.io", version: "v1", kind: "Db", plural: "dbs",
  spec: Schema.Struct({ password: Schema.String }), status: Schema.Struct({})
})

const operator = (update: Child.UpdatePolicy) =>
  Operator.make({
    name: `db-${update}`,
    parent: Db,
    parentSelector: `policy=${update}`,
    children: [Child.of(Builtin.Deployment, { update }), Child.of(Builtin.Secret, { update })],
    resyncPeriod: "2 seconds",
    sync: (req) =>
      Effect.succeed({
        status: {},
        children: [
          {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: req.parent.metadata.name! },
            spec: {
              selector: { matchLabels: { app: req.parent.metadata.name! } },
              template: {
                metadata: { labels: { app: req.parent.metadata.name! } },
                spec: {
                  containers: [{
                    name: "db", image: "postgres:17",
                    resources: { requests: { cpu: "1000m", memory: "1024Mi" }, limits: { memory: "2048Mi" } },
                    ports: [{ containerPort: 5432 }]
                  }]
                }
              }
            }
          },
          { apiVersion: "v1", kind: "Secret", metadata: { name: req.parent.metadata.name! }, stringData: { password: req.parent.spec.password } }
        ]
      })
  })

interface Tally {
  writes: number
  dryRuns: number
}

/** The live port, counting the operator's writes (dry runs apart). */
const counting = (tally: Tally) =>
  Effect.map(Cluster.Cluster, (inner): Cluster.Cluster["Service"] => {
    const count = <A, E>(dryRun: boolean | undefined, e: Effect.Effect<A, E>) =>
      Effect.tap(e, () => Effect.sync(() => (dryRun === true ? tally.dryRuns++ : tally.writes++)))
    return {
      ...inner,
      create: (t, o, w) => count(w?.dryRun, inner.create(t, o, w)),
      replace: (t, o, w) => count(w?.dryRun, inner.replace(t, o, w)),
      apply: (t, o, w) => count(w.dryRun, inner.apply(t, o, w)),
      patch: (t, a, p, w) => count(w?.dryRun, inner.patch(t, a, p, w)),
      delete: (t, a, d) => count(undefined, inner.delete(t, a, d)),
      replaceStatus: (t, o, w) => count(w?.dryRun, inner.replaceStatus(t, o, w)),
      patchStatus: (t, a, p, w) => count(w?.dryRun, inner.patchStatus(t, a, p, w))
    }
  })

const start = (update: Child.UpdatePolicy, tally: Tally) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Scope.Scope)
    const port = yield* counting(tally)
    const controller = yield* Operator.run(operator(update)).pipe(Effect.provideService(Cluster.Cluster, port), Scope.provide(scope))
    yield* controller.synced
    return Scope.close(scope, Exit.void)
  })

const converged = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    for (let i = 0; i < 240; i++) {
      const parent = yield* cluster.get(Db, { namespace: "default", name })
      const synced = Conditions.get(Conditions.fromStatus(parent["status"]), Conditions.ReconcileError)?.status === "False"
      const secret = yield* Effect.option(cluster.get(Builtin.Secret, { namespace: "default", name }))
      if (synced && secret._tag === "Some") return
      yield* Effect.sleep("250 millis")
    }
    return yield* Effect.die(new Error(`${name} did not converge`))
  })

const Env = EnvtestCluster.layer({ crds: [Effect.runSync(Manifests.crd(Db))], userAgent: "noop-envtest" })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("no-op reconciles on kube-apiserver", () => {
  layer(Env, { timeout: "3 minutes", excludeTestServices: true })("children the server normalises", (it) => {
    for (const update of ["apply", "replace"] as const) {
      it.effect(`${update}: 0 writes over three resyncs, and 0 after a restart`, () =>
        Effect.gen(function*() {
          const cluster = yield* Cluster.Cluster
          const tally: Tally = { writes: 0, dryRuns: 0 }
          const stop = yield* start(update, tally)
          const parent: Resource.KubeObject = {
            apiVersion: Db.apiVersion, kind: Db.kind, metadata: { name: `db-${update}`, namespace: "default", labels: { policy: update } }, spec: { password: "s3cret" }
          }
          yield* cluster.create(Db, parent)
          yield* converged(`db-${update}`)
          yield* Effect.sleep("1 second") // let the watch events of the convergence writes arrive
          const afterConverge = tally.writes
          yield* Effect.sleep(Duration.seconds(7)) // three resyncs at 2 s
          assert.strictEqual(tally.writes - afterConverge, 0, "writes on resync")
          yield* stop
          // The stored objects really hold the normal forms (so the check above had something to survive).
          const d = yield* cluster.get(Builtin.Deployment, { namespace: "default", name: `db-${update}` })
          assert.deepStrictEqual((d["spec"] as any).template.spec.containers[0].resources, { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } })
          const s = yield* cluster.get(Builtin.Secret, { namespace: "default", name: `db-${update}` })
          assert.isUndefined(s["stringData"])

          const restarted: Tally = { writes: 0, dryRuns: 0 }
          const stopAgain = yield* start(update, restarted)
          yield* Effect.sleep(Duration.seconds(5))
          yield* stopAgain
          assert.strictEqual(restarted.writes, 0, "writes after a restart")
          console.log(`${update}: converged with ${afterConverge} writes; 0 on resync; after a restart ${restarted.dryRuns} dry run(s), 0 writes`)
        }), 60_000)
    }
  })
})
