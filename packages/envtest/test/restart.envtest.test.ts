/**
 * The real kube-apiserver process restarted under a running operator: its watches fail, reconnect with
 * backoff (no storm of lists), and no work is lost: what changed while it was down, and after, converges.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Child, Cluster, Operator, Resource } from "@kubefx/core"
import { Manifests } from "@kubefx/k8s"
import { Effect, Schema } from "effect"
import { EnvtestCluster } from "../src/index.ts"

const Note = Resource.custom({
  group: "restart.kubefx.io", version: "v1", kind: "Note", plural: "notes",
  spec: Schema.Struct({ text: Schema.String }), status: Schema.Struct({})
})

const NoteOperator = Operator.make({
  name: "note-operator",
  parent: Note,
  children: [Child.of(Builtin.ConfigMap)],
  sync: (req) =>
    Effect.succeed({
      status: {},
      children: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${req.parent.metadata.name}-note` }, data: { text: req.parent.spec.text } }]
    })
})

const note = (name: string, text: string): Resource.KubeObject => ({
  apiVersion: Note.apiVersion, kind: Note.kind, metadata: { name, namespace: "default" }, spec: { text }
})

/** Waits until the ConfigMap of `name` holds `text`; returns the seconds it took. */
const converged = (name: string, text: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    const t0 = performance.now()
    for (let i = 0; i < 480; i++) {
      const cm = yield* Effect.option(cluster.get(Builtin.ConfigMap, { namespace: "default", name: `${name}-note` }))
      if (cm._tag === "Some" && (cm.value["data"] as { text?: string } | undefined)?.text === text) return (performance.now() - t0) / 1000
      yield* Effect.sleep("250 millis")
    }
    return yield* Effect.die(new Error(`${name} did not converge to ${JSON.stringify(text)}`))
  })

const Env = EnvtestCluster.layer({ crds: [Effect.runSync(Manifests.crd(Note))], userAgent: "restart-envtest" })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("kube-apiserver restarted under a running operator", () => {
  layer(Env, { timeout: "3 minutes", excludeTestServices: true })("restart", (it) => {
    it.effect("reconnects with backoff, relists at most once per watch, and loses no work", () =>
      Effect.gen(function*() {
        const env = yield* EnvtestCluster.EnvtestCluster
        const inner = yield* Cluster.Cluster
        const lists: Array<number> = []
        const counted: Cluster.Cluster["Service"] = {
          ...inner,
          list: (t, o) => Effect.tap(inner.list(t, o), () => Effect.sync(() => void lists.push(performance.now())))
        }
        const controller = yield* Operator.run(NoteOperator).pipe(Effect.provideService(Cluster.Cluster, counted))
        yield* controller.synced
        yield* inner.create(Note, note("a", "one"))
        yield* converged("a", "one")
        const listsBefore = lists.length

        const restartedAt = performance.now()
        yield* env.restartApiServer
        const downFor = (performance.now() - restartedAt) / 1000
        // Changes after the restart: a new parent and an edit of the old one.
        yield* inner.create(Note, note("b", "two"))
        yield* inner.patch(Note, { namespace: "default", name: "a" }, { type: "merge", body: { spec: { text: "three" } } })
        const seconds = Math.max(yield* converged("b", "two"), yield* converged("a", "three"))
        const stats = yield* controller.stats
        const relists = lists.length - listsBefore
        console.log(`kube-apiserver restart: down and back in ${downFor.toFixed(1)} s; converged ${seconds.toFixed(1)} s later; ${relists} list(s) by ${stats.watchers} watch(es) since`)
        // The restarted server's watch cache starts afresh, so each watch may relist once (410), but no more.
        assert.isAtMost(relists, stats.watchers)
        assert.strictEqual(stats.watchersReady, stats.watchers)
      }).pipe(Effect.scoped), 150_000)
  })
})
