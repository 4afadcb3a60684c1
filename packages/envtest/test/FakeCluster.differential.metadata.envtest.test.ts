/**
 * Differential test (see `Differential.ts`): the metadata the server maintains (resourceVersion,
 * generation, uid, creationTimestamp), namespaced and cluster-scoped types, selectors and paged lists,
 * through the live `Cluster` of a real kube-apiserver and through `FakeCluster`.
 *
 * The API server compacts etcd every second here (`--etcd-compaction-interval=1s`), so that a list at
 * an old resourceVersion is gone (410) within seconds, as after `FakeCluster.compact`.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, type Cluster } from "@kubefx/core"
import { Effect } from "effect"
import * as Differential from "./Differential.ts"
import { Widget } from "../../testkit/test/FakeClusterFixtures.ts"

type Obj = Differential.Obj

const cm = (ns: string, name: string, extra: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, ...meta },
  ...extra
})
const widget = (ns: string, name: string, spec: unknown, meta: Record<string, unknown> = {}): Obj => ({
  apiVersion: "test.kubefx.io/v1",
  kind: "Widget",
  metadata: { name, namespace: ns, ...meta },
  spec
})
const deployment = (ns: string, name: string, replicas: number): Obj => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: ns },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "busybox" }] } }
  }
})

const rv = (o: any): bigint => BigInt(o.metadata?.resourceVersion ?? o.resourceVersion)
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
const merge = (body: unknown): Cluster.Patch => ({ type: "merge", body })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("FakeCluster against kube-apiserver: metadata and lists", () => {
  layer(Differential.realLayer({ apiServerArgs: ["--etcd-compaction-interval=1s"] }), Differential.layerOptions)(
    "server-maintained metadata",
    (it) => {
      it.effect("resourceVersion is an opaque string that increases across the cluster, on objects and lists", () =>
        Effect.gen(function*() {
          const ns = "rv"
          const d = yield* Differential.make(ns)
          const isVersion = (o: any) => ({ isString: typeof o.metadata.resourceVersion === "string" && o.metadata.resourceVersion !== "" })
          yield* d.step("create a", (c) => c.create(Builtin.ConfigMap, cm(ns, "a")), isVersion)
          yield* d.step("create a widget", (c) => c.create(Widget, widget(ns, "w", { size: 1 })), (o, own) => ({
            ...isVersion(o),
            // one counter for the whole cluster: a write to another type comes after
            afterOtherType: rv(o) > rv(own("create a"))
          }))
          yield* d.step("update a", (c, own) => c.replace(Builtin.ConfigMap, { ...own("create a"), data: { k: "v" } }), (o, own) => ({
            increased: rv(o) > rv(own("create a widget"))
          }))
          yield* d.step("no-op update", (c, own) => c.replace(Builtin.ConfigMap, own("update a")), (o, own) => ({
            unchanged: rv(o) === rv(own("update a"))
          }))
          yield* d.step("get a", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "a" }), (o, own) => ({
            asWritten: o.metadata.resourceVersion === own("update a").metadata.resourceVersion
          }))
          yield* d.step("list", (c) => c.list(Builtin.ConfigMap, { namespace: ns }), (l, own) => ({
            isString: typeof l.resourceVersion === "string" && l.resourceVersion !== "",
            // a list is at least as new as every write before it, of any type
            notOlder: rv(l) >= rv(own("update a")) && rv(l) >= rv(own("create a widget")),
            items: l.items.map((i: Obj) => `${i.metadata.name}@${i.metadata.resourceVersion === own("get a").metadata.resourceVersion}`)
          }))
          yield* d.step("list another type", (c) => c.list(Widget, { namespace: ns }), (l, own) => ({
            notOlder: rv(l) >= rv(own("update a"))
          }))
          yield* d.step("status write", (c) => c.patchStatus(Widget, { namespace: ns, name: "w" }, merge({ status: { ready: true } })), (o, own) => ({
            increased: rv(o) > rv(own("update a"))
          }))
          yield* d.step("delete a", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "a" }), () => ({}))
          yield* d.step("list after delete", (c) => c.list(Builtin.ConfigMap, { namespace: ns }), (l, own) => ({
            increased: rv(l) > rv(own("status write")),
            items: l.items.length
          }))
          assert.deepStrictEqual(d.problems, [])
        }), Differential.TIMEOUT)

      it.effect("generation is bumped on spec changes only (not metadata, not status); uid and creationTimestamp", () =>
        Effect.gen(function*() {
          const ns = "generation"
          const d = yield* Differential.make(ns)
          const meta = (o: any, own: Differential.Own) => ({
            generation: o.metadata.generation,
            sameUid: o.metadata.uid === own("create").metadata.uid,
            sameCreation: o.metadata.creationTimestamp === own("create").metadata.creationTimestamp
          })
          yield* d.step("create", (c) => c.create(Widget, widget(ns, "g", { size: 1 })), (o) => ({
            generation: o.metadata.generation,
            uid: typeof o.metadata.uid === "string" && o.metadata.uid.length > 0,
            creationTimestamp: RFC3339.test(o.metadata.creationTimestamp)
          }))
          yield* d.step("label", (c) => c.patch(Widget, { namespace: ns, name: "g" }, merge({ metadata: { labels: { a: "b" } } })), meta)
          yield* d.step("annotation", (c) => c.patch(Widget, { namespace: ns, name: "g" }, merge({ metadata: { annotations: { a: "b" } } })), meta)
          yield* d.step("finalizer", (c) => c.patch(Widget, { namespace: ns, name: "g" }, merge({ metadata: { finalizers: ["x.io/f"] } })), meta)
          yield* d.step("status", (c) => c.patchStatus(Widget, { namespace: ns, name: "g" }, merge({ status: { ready: true } })), meta)
          yield* d.step("status in a main write", (c, own) => c.replace(Widget, { ...own("status"), status: { ready: false } }), meta)
          yield* d.step("spec", (c) => c.patch(Widget, { namespace: ns, name: "g" }, merge({ spec: { size: 2 } })), meta)
          yield* d.step("same spec", (c, own) => c.replace(Widget, own("spec")), meta)
          yield* d.step("spec by apply", (c) => c.apply(Widget, widget(ns, "g", { size: 3 }), { fieldManager: "m" }), meta)
          yield* d.step("delete with a finalizer", (c) => c.delete(Widget, { namespace: ns, name: "g" }), meta)
          yield* d.step("release", (c) => c.patch(Widget, { namespace: ns, name: "g" }, merge({ metadata: { finalizers: null } })), () => ({}))
          yield* d.step("recreate", (c) => c.create(Widget, widget(ns, "g", { size: 1 })), (o, own) => ({
            generation: o.metadata.generation,
            newUid: o.metadata.uid !== own("create").metadata.uid
          }))

          // Deployments also count annotation changes (for their rollback annotation).
          const dmeta = (o: any, own: Differential.Own) => ({
            generation: o.metadata.generation,
            sameUid: o.metadata.uid === own("deployment").metadata.uid
          })
          yield* d.step("deployment", (c) => c.create(Builtin.Deployment, deployment(ns, "web", 1)), (o) => ({ generation: o.metadata.generation }))
          yield* d.step("deployment label", (c) => c.patch(Builtin.Deployment, { namespace: ns, name: "web" }, merge({ metadata: { labels: { a: "b" } } })), dmeta)
          yield* d.step("deployment annotation", (c) => c.patch(Builtin.Deployment, { namespace: ns, name: "web" }, merge({ metadata: { annotations: { a: "b" } } })), dmeta)
          yield* d.step("deployment replicas", (c) => c.patch(Builtin.Deployment, { namespace: ns, name: "web" }, merge({ spec: { replicas: 2 } })), dmeta)
          yield* d.step("deployment status", (c) =>
            c.patchStatus(Builtin.Deployment, { namespace: ns, name: "web" }, merge({ status: { observedGeneration: 3 } })), dmeta)

          // Types without a spec have no generation.
          yield* d.step("configmap", (c) => c.create(Builtin.ConfigMap, cm(ns, "c", { data: { a: "1" } })), (o) => ({ generation: o.metadata.generation }))
          yield* d.step("configmap data", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "c" }, merge({ data: { a: "2" } })), (o) => ({ generation: o.metadata.generation }))
          assert.deepStrictEqual(d.problems, [])
        }), Differential.TIMEOUT)

      it.effect("namespaced and cluster-scoped types; label and field selectors across namespaces", () =>
        Effect.gen(function*() {
          const ns = "scope"
          const other = "scope-other"
          const d = yield* Differential.make(ns)
          yield* d.step("other namespace", (c) => c.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: other } }))
          yield* d.step("cluster-scoped with a namespace", (c) =>
            c.create(Builtin.ClusterRole, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "scope-role", namespace: ns } }))
          yield* d.step("get cluster-scoped", (c) => c.get(Builtin.ClusterRole, { name: "scope-role" }))
          yield* d.step("list cluster-scoped", (c) => c.list(Builtin.ClusterRole, { labelSelector: "!kubernetes.io/bootstrapping", fieldSelector: "metadata.name=scope-role" }))
          for (const [n, name] of [[ns, "a"], [ns, "b"], [other, "a"]] as const) {
            yield* d.step(`create ${n}/${name}`, (c) => c.create(Builtin.ConfigMap, cm(n, name, {}, { labels: { test: "scope", name } })))
          }
          yield* d.step("same name, other namespace", (c) => c.get(Builtin.ConfigMap, { namespace: other, name: "a" }))
          yield* d.step("list one namespace", (c) => c.list(Builtin.ConfigMap, { namespace: ns, labelSelector: "test=scope" }))
          yield* d.step("list all namespaces", (c) => c.list(Builtin.ConfigMap, { labelSelector: "test=scope" }))
          yield* d.step("list by metadata.namespace", (c) => c.list(Builtin.ConfigMap, { labelSelector: "test=scope", fieldSelector: `metadata.namespace=${other}` }))
          yield* d.step("list by metadata.name", (c) => c.list(Builtin.ConfigMap, { labelSelector: "test=scope", fieldSelector: "metadata.name=a" }))
          yield* d.step("list by both", (c) => c.list(Builtin.ConfigMap, { fieldSelector: `metadata.name=a,metadata.namespace=${ns}` }))
          yield* d.step("list by name !=", (c) => c.list(Builtin.ConfigMap, { labelSelector: "test=scope", fieldSelector: "metadata.name!=a" }))
          yield* d.step("list by label set", (c) => c.list(Builtin.ConfigMap, { labelSelector: "test=scope,name in (b)" }))
          yield* d.step("widget field selector", (c) => c.list(Widget, { fieldSelector: `metadata.namespace=${ns}` }))
          yield* d.step("unsupported field", (c) => c.list(Builtin.ConfigMap, { fieldSelector: "metadata.uid=x" }))
          assert.deepStrictEqual(d.problems, [])
        }), Differential.TIMEOUT)

      it.effect("paged lists: limit and continue over one consistent snapshot; an old resourceVersion is 410 Gone", () =>
        Effect.gen(function*() {
          const ns = "paging"
          const d = yield* Differential.make(ns)
          for (const name of ["a", "b", "c", "d", "e"]) {
            yield* d.step(`create ${name}`, (c) => c.create(Builtin.ConfigMap, cm(ns, name, { data: { v: "1" } })))
          }
          const page = (l: Cluster.ObjectList) => ({ items: l.items.map((i) => i.metadata.name), more: l.continue !== undefined })
          yield* d.step("page 1", (c) => c.list(Builtin.ConfigMap, { namespace: ns, limit: 2 }), page)
          // Changes after the first page are not in the later ones: all pages are one snapshot.
          yield* d.step("delete c", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "c" }), () => ({}))
          yield* d.step("update d", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "d" }, merge({ data: { v: "2" } })), () => ({}))
          yield* d.step("create f", (c) => c.create(Builtin.ConfigMap, cm(ns, "f")), () => ({}))
          yield* d.step("page 2", (c, own) => c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: own("page 1").continue }), (l, own) => ({
            ...page(l),
            snapshot: l.resourceVersion === own("page 1").resourceVersion,
            data: l.items.map((i: Obj) => i["data"])
          }))
          yield* d.step("page 3", (c, own) => c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: own("page 2").continue }), page)
          yield* d.step("fresh list", (c) => c.list(Builtin.ConfigMap, { namespace: ns }), page)
          yield* d.step("bad continue", (c) => c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: "garbage" }))
          yield* d.step("continue with a resourceVersion", (c, own) =>
            c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: own("page 1").continue, resourceVersion: own("page 1").resourceVersion }))
          // A paged list at a resourceVersion reads exactly that version (the legacy rule).
          yield* d.step("at the first page's version", (c, own) =>
            c.list(Builtin.ConfigMap, { namespace: ns, limit: 10, resourceVersion: own("page 1").resourceVersion }), page)
          yield* d.step("a future version", (c, own) =>
            c.list(Builtin.ConfigMap, { namespace: ns, resourceVersion: String(rv(own("fresh list")) + 1000n) }))
          yield* d.step("bad continue (base64)", (c) => c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: "a.b" }))
          yield* d.step("bad continue (version)", (c) =>
            c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: Buffer.from(JSON.stringify({ v: "x", rv: 1, start: "a" })).toString("base64url") }))
          yield* d.step("bad continue (start key)", (c) =>
            c.list(Builtin.ConfigMap, {
              namespace: ns,
              limit: 2,
              continue: Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: 1, start: "../x" })).toString("base64url")
            }))
          // The real server compacts etcd every second and its watch cache follows within 15 s (until then
          // it still serves old snapshots); the fake is compacted by hand.
          yield* d.controls.compact
          yield* d.settle("at a compacted version", (c, own) =>
            c.list(Builtin.ConfigMap, { namespace: ns, limit: 10, resourceVersion: own("page 1").resourceVersion }), page, "30 seconds")
          yield* d.settle("continue from a compacted version", (c, own) =>
            c.list(Builtin.ConfigMap, { namespace: ns, limit: 2, continue: own("page 1").continue }), page, "30 seconds")
          assert.deepStrictEqual(d.problems, [])
        }), Differential.TIMEOUT)
    }
  )
})
