/**
 * Differential test (see `Differential.ts`): the write semantics of a real kube-apiserver (Envtest,
 * with the controller-manager for garbage collection and namespaces; reached through the live
 * `Cluster`) and of `FakeCluster`, step by step: the status, reason, message and causes of a failure,
 * the metadata the server maintains (generation, finalizers, deletion marks, ownerReferences, labels)
 * and the user's fields of types the server does not default (ConfigMaps, custom resources).
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, type Cluster } from "@kubefx/core"
import { Effect } from "effect"
import * as Differential from "./Differential.ts"
import { Widget } from "../../testkit/test/FakeClusterFixtures.ts"

type Obj = Differential.Obj

const cm = (ns: string, name: string, meta: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Obj => ({
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
const merge = (body: unknown): Cluster.Patch => ({ type: "merge", body })
const withMeta = (o: Obj, meta: Record<string, unknown>): Obj => ({ ...o, metadata: { ...o.metadata, ...meta } })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("FakeCluster against kube-apiserver: writes", () => {
  layer(Differential.realLayer({ controllerManager: true }), Differential.layerOptions)("writes", (it) => {
    it.effect("create: validation (422 with field causes), AlreadyExists, NotFound, dry run", () =>
      Effect.gen(function*() {
        const ns = "create"
        const d = yield* Differential.make(ns)
        yield* d.step("create with resourceVersion", (c) => c.create(Builtin.ConfigMap, cm(ns, "rv", { resourceVersion: "5" })))
        yield* d.step("create without name", (c) => c.create(Builtin.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: ns } }))
        yield* d.step("invalid metadata", (c) =>
          c.create(Builtin.ConfigMap, cm(ns, "Bad_Name", {
            labels: { "bad key": "v", ok: "bad value!" },
            finalizers: ["orphan", "foregroundDeletion", "Bad/x/y", "nodomain", "kubernetes", "Ab.c/x", "ex.com/", "/x", "-a.com/x"],
            ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o", uid: "" }]
          })))
        yield* d.step("too long", (c) =>
          c.create(Builtin.ConfigMap, cm(ns, "a".repeat(254), { labels: { [`${"b".repeat(254)}/x`]: "v".repeat(64), [`x/${"c".repeat(64)}`]: "" } })))
        yield* d.step("namespace name too long", (c) => c.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "n".repeat(64) } }))
        yield* d.step("widget with an unqualified finalizer", (c) => c.create(Widget, widget(ns, "unq", { size: 1 }, { finalizers: ["nodomain", "Bad/x/y"] })))
        yield* d.step("invalid owner references", (c) =>
          c.create(Builtin.ConfigMap, cm(ns, "owners", {
            ownerReferences: [
              { apiVersion: "", kind: "", name: "", uid: "" },
              { name: "e", uid: "u1", kind: "Event", apiVersion: "v1" },
              { apiVersion: "v1", kind: "ConfigMap", name: "a", uid: "u2", controller: true },
              { apiVersion: "v1", kind: "ConfigMap", name: "b", uid: "u3", controller: true, blockOwnerDeletion: true }
            ]
          })))
        yield* d.step("invalid widget", (c) => c.create(Widget, widget(ns, "w", { size: 0, mode: "slow", items: [{ name: 1 }] })))
        yield* d.step("widget missing size", (c) => c.create(Widget, widget(ns, "w", {})))
        yield* d.step("widget pruned, status dropped", (c) => c.create(Widget, { ...widget(ns, "p", { size: 2, extra: 1 }), status: { ready: true } }))
        yield* d.step("widget kind mismatch", (c) => c.create(Widget, { ...widget(ns, "k", { size: 1 }), kind: "Gadget" }))
        yield* d.step("duplicate", (c) => c.create(Widget, widget(ns, "p", { size: 2 })))
        yield* d.step("missing namespace", (c) => c.create(Builtin.ConfigMap, cm("nowhere", "x")))
        yield* d.step("service name with a digit", (c) =>
          c.create(Builtin.Service, { apiVersion: "v1", kind: "Service", metadata: { name: "1abc", namespace: ns }, spec: { ports: [{ port: 80 }] } }))
        yield* d.step("dry run", (c) => c.create(Builtin.ConfigMap, cm(ns, "dry"), { dryRun: true }))
        yield* d.step("dry run stored nothing", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "dry" }))
        yield* d.step("get missing", (c) => c.get(Builtin.Deployment, { namespace: ns, name: "nope" }))
        yield* d.step("get missing widget", (c) => c.get(Widget, { namespace: ns, name: "nope" }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("update: 409 on a stale resourceVersion, status subresource, patches", () =>
      Effect.gen(function*() {
        const ns = "update"
        const d = yield* Differential.make(ns)
        yield* d.step("create p", (c) => c.create(Widget, widget(ns, "p", { size: 2 })))
        yield* d.step("widget put without resourceVersion", (c) => c.replace(Widget, widget(ns, "p", { size: 3 })))
        yield* d.step("widget put missing", (c) => c.replace(Widget, widget(ns, "nope", { size: 3 })))
        yield* d.step("create a", (c) => c.create(Builtin.ConfigMap, cm(ns, "a", {}, { data: { x: "1" } })))
        yield* d.step("put a", (c, own) => c.replace(Builtin.ConfigMap, { ...own("create a"), data: { x: "2" } }))
        yield* d.step("put a stale", (c, own) => c.replace(Builtin.ConfigMap, { ...own("create a"), data: { x: "3" } }))
        yield* d.step("put a without resourceVersion", (c, own) =>
          c.replace(Builtin.ConfigMap, { ...withMeta(own("put a"), { resourceVersion: undefined }), data: { x: "4" } }))
        yield* d.step("put a empty metadata maps", (c, own) =>
          c.replace(Builtin.ConfigMap, withMeta(own("put a without resourceVersion"), { labels: {}, annotations: {}, finalizers: [] })))
        yield* d.step("put a bad label", (c, own) => c.replace(Builtin.ConfigMap, withMeta(own("put a empty metadata maps"), { labels: { "bad key": "v" } })))
        yield* d.step("put a other uid", (c, own) =>
          c.replace(Builtin.ConfigMap, withMeta(own("put a empty metadata maps"), { uid: "11111111-1111-1111-1111-111111111111" })))
        yield* d.step("patch uid", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, merge({ metadata: { uid: "other" } })))
        yield* d.step("merge patch stale rv", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, merge({ metadata: { resourceVersion: "1" } })))
        yield* d.step("json patch test fails", (c) =>
          c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, { type: "json", body: [{ op: "test", path: "/data/x", value: "9" }] }))
        yield* d.step("patch missing", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "nope" }, merge({ data: { a: "b" } })))
        yield* d.step("strategic patch on a widget", (c) => c.patch(Widget, { namespace: ns, name: "p" }, { type: "strategic", body: { spec: { size: 2 } } }))
        yield* d.step("lease put creates", (c) =>
          c.replace(Builtin.Lease, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "l", namespace: ns } }))
        // /status writes change only status; main-resource writes leave status alone.
        yield* d.step("widget status", (c) =>
          c.patchStatus(Widget, { namespace: ns, name: "p" }, merge({ spec: { size: 9 }, metadata: { labels: { via: "status" } }, status: { ready: true } })))
        yield* d.step("widget bad status", (c) => c.patchStatus(Widget, { namespace: ns, name: "p" }, merge({ status: { ready: "yes" } })))
        yield* d.step("widget put status", (c, own) =>
          c.replaceStatus(Widget, { ...withMeta(own("widget status"), { labels: { via: "put" } }), spec: { size: 8 }, status: { ready: false } }))
        yield* d.step("widget put status stale", (c, own) => c.replaceStatus(Widget, { ...own("widget status"), status: { ready: true } }))
        yield* d.step("widget bad label", (c, own) => c.replace(Widget, withMeta(own("widget put status"), { labels: { "bad key": "v" } })))
        yield* d.step("widget spec change", (c) => c.patch(Widget, { namespace: ns, name: "p" }, merge({ spec: { size: 4 }, status: { ready: true } })))
        yield* d.step("widget put spec and status", (c, own) => c.replace(Widget, { ...own("widget spec change"), spec: { size: 5 }, status: { ready: true } }))
        yield* d.step("configmap has no status", (c) => c.patchStatus(Builtin.ConfigMap, { namespace: ns, name: "a" }, merge({ status: { x: 1 } })))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("delete: finalizers keep the object with a deletionTimestamp, no new finalizers, preconditions", () =>
      Effect.gen(function*() {
        const ns = "delete"
        const d = yield* Differential.make(ns)
        yield* d.step("widget with finalizer", (c) => c.create(Widget, widget(ns, "f", { size: 1 }, { finalizers: ["x.io/a"] })))
        yield* d.step("delete it", (c) => c.delete(Widget, { namespace: ns, name: "f" }))
        yield* d.step("still there", (c) => c.get(Widget, { namespace: ns, name: "f" }))
        yield* d.step("delete again", (c) => c.delete(Widget, { namespace: ns, name: "f" }))
        yield* d.step("add a finalizer while deleting", (c, own) => c.replace(Widget, withMeta(own("delete it"), { finalizers: ["x.io/a", "x.io/b"] })))
        yield* d.step("add one by patch", (c) => c.patch(Widget, { namespace: ns, name: "f" }, merge({ metadata: { finalizers: ["x.io/a", "x.io/c"] } })))
        yield* d.step("create while deleting", (c) => c.create(Widget, widget(ns, "f", { size: 1 })))
        yield* d.step("configmap with finalizer", (c) => c.create(Builtin.ConfigMap, cm(ns, "cf", { finalizers: ["x.io/a"] })))
        yield* d.step("delete the configmap", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "cf" }))
        yield* d.step("add a finalizer to the configmap", (c, own) => c.replace(Builtin.ConfigMap, withMeta(own("delete the configmap"), { finalizers: ["x.io/a", "x.io/b"] })))
        yield* d.step("release the configmap", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "cf" }, merge({ metadata: { finalizers: [] } })))
        yield* d.step("remove the last finalizer", (c, own) => c.replace(Widget, withMeta(own("delete it"), { finalizers: [] })))
        yield* d.step("gone", (c) => c.get(Widget, { namespace: ns, name: "f" }))
        yield* d.step("delete missing", (c) => c.delete(Widget, { namespace: ns, name: "f" }))
        // Preconditions.
        yield* d.step("create a", (c) => c.create(Builtin.ConfigMap, cm(ns, "a")))
        yield* d.step("delete uid precondition", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "a" }, { preconditions: { uid: "x" } }))
        yield* d.step("delete resourceVersion precondition", (c) =>
          c.delete(Builtin.ConfigMap, { namespace: ns, name: "a" }, { preconditions: { resourceVersion: "1" } }))
        yield* d.step("delete with matching preconditions", (c, own) =>
          c.delete(Builtin.ConfigMap, { namespace: ns, name: "a" }, {
            preconditions: { uid: own("create a").metadata.uid, resourceVersion: own("create a").metadata.resourceVersion }
          }))
        yield* d.step("a is gone", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "a" }))
        // What an immediate delete returns: the object for some types, the name and uid only for most.
        yield* d.step("create b", (c) => c.create(Builtin.ConfigMap, cm(ns, "b", { labels: { x: "y" } }, { data: { k: "v" } })))
        yield* d.step("delete b", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "b" }), (o, own) => ({ ...(Differential.project(o) as object), uid: o.metadata.uid === own("create b").metadata.uid }))
        yield* d.step("create s", (c) =>
          c.create(Builtin.ServiceAccount, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "s", namespace: ns, labels: { x: "y" } } }))
        yield* d.step("delete s", (c) => c.delete(Builtin.ServiceAccount, { namespace: ns, name: "s" }), (o, own) => ({ ...(Differential.project(o) as object), uid: o.metadata.uid === own("create s").metadata.uid }))
        yield* d.step("create w", (c) => c.create(Widget, widget(ns, "w", { size: 1 })))
        yield* d.step("delete w", (c) => c.delete(Widget, { namespace: ns, name: "w" }), (o, own) => ({ ...(Differential.project(o) as object), uid: o.metadata.uid === own("create w").metadata.uid }))
        yield* d.step("create dry", (c) => c.create(Widget, widget(ns, "dry", { size: 1 })))
        yield* d.step("dry-run delete", (c) => c.delete(Widget, { namespace: ns, name: "dry" }, { dryRun: true }))
        yield* d.step("dry-run deleted nothing", (c) => c.get(Widget, { namespace: ns, name: "dry" }))
        yield* d.step("dry-run delete with a finalizer", (c) =>
          Effect.andThen(
            c.patch(Widget, { namespace: ns, name: "dry" }, merge({ metadata: { finalizers: ["x.io/f"] } })),
            c.delete(Widget, { namespace: ns, name: "dry" }, { dryRun: true })
          ))
        yield* d.step("still not deleting", (c) => c.get(Widget, { namespace: ns, name: "dry" }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("garbage collection by ownerReferences: background, foreground and orphan propagation", () =>
      Effect.gen(function*() {
        const ns = "gc"
        const d = yield* Differential.make(ns)
        const ref = (own: Differential.Own, owner: string, block?: boolean) => ({
          apiVersion: "v1",
          kind: "ConfigMap",
          name: owner,
          uid: own(owner).metadata.uid!,
          ...(block === undefined ? {} : { blockOwnerDeletion: block })
        })
        // Background (the default): the owner goes at once, its dependents after it.
        yield* d.step("owner0", (c) => c.create(Builtin.ConfigMap, cm(ns, "owner0")))
        yield* d.step("dependent of owner0", (c, own) => c.create(Builtin.ConfigMap, cm(ns, "dep0", { ownerReferences: [ref(own, "owner0")] })))
        yield* d.step("widget dependent of owner0", (c, own) => c.create(Widget, widget(ns, "wdep0", { size: 1 }, { ownerReferences: [ref(own, "owner0")] })))
        yield* d.step("background delete", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "owner0" }), () => ({}))
        yield* d.step("owner0 gone", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "owner0" }))
        yield* d.settle("dependent collected", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "dep0" }))
        yield* d.settle("widget dependent collected", (c) => c.get(Widget, { namespace: ns, name: "wdep0" }))
        // Foreground: the owner waits, with foregroundDeletion, for its blocking dependents.
        yield* d.step("owner", (c) => c.create(Builtin.ConfigMap, cm(ns, "owner")))
        yield* d.step("blocking dependent", (c, own) => c.create(Builtin.ConfigMap, cm(ns, "dep", { finalizers: ["x.io/hold"], ownerReferences: [ref(own, "owner", true)] })))
        yield* d.step("other dependent", (c, own) => c.create(Builtin.ConfigMap, cm(ns, "dep2", { ownerReferences: [ref(own, "owner", false)] })))
        yield* d.step("foreground delete", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "owner" }, { propagationPolicy: "Foreground" }))
        yield* d.settle("non-blocking dependent deleted", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "dep2" }))
        yield* d.settle("blocking dependent deleting", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "dep" }))
        yield* d.settle("owner waits", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "owner" }))
        yield* d.step("release the dependent", (c) => c.patch(Builtin.ConfigMap, { namespace: ns, name: "dep" }, merge({ metadata: { finalizers: null } })))
        yield* d.settle("owner gone", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "owner" }))
        // Orphan: the dependents lose the ownerReference and stay.
        yield* d.step("owner2", (c) => c.create(Builtin.ConfigMap, cm(ns, "owner2")))
        yield* d.step("dependent of owner2", (c, own) => c.create(Builtin.ConfigMap, cm(ns, "dep3", { ownerReferences: [ref(own, "owner2")] })))
        yield* d.step("orphan delete", (c) => c.delete(Builtin.ConfigMap, { namespace: ns, name: "owner2" }, { propagationPolicy: "Orphan" }))
        yield* d.settle("orphaned dependent", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "dep3" }))
        yield* d.settle("owner2 gone", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "owner2" }))
        // An owner that does not exist (any more): the dependent is collected.
        yield* d.step("dangling owner", (c) =>
          c.create(Builtin.ConfigMap, cm(ns, "dangling", { ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "ghost", uid: "11111111-1111-1111-1111-111111111111" }] })))
        yield* d.settle("dangling collected", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "dangling" }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("namespaces: creating in a missing or terminating one; deletion empties it first", () =>
      Effect.gen(function*() {
        const d = yield* Differential.make("team")
        yield* d.step("content", (c) => c.create(Builtin.ConfigMap, cm("team", "held", { finalizers: ["x.io/hold"] })))
        yield* d.step("delete namespace", (c) => c.delete(Builtin.Namespace, { name: "team" }))
        yield* d.step("create in terminating namespace", (c) => c.create(Builtin.ConfigMap, cm("team", "new")))
        yield* d.settle("content deleting", (c) => c.get(Builtin.ConfigMap, { namespace: "team", name: "held" }))
        yield* d.step("release content", (c) => c.patch(Builtin.ConfigMap, { namespace: "team", name: "held" }, merge({ metadata: { finalizers: null } })))
        yield* d.settle("namespace gone", (c) => c.get(Builtin.Namespace, { name: "team" }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("label and field selectors: operators, malformed selectors, unsupported fields", () =>
      Effect.gen(function*() {
        const ns = "selectors"
        const d = yield* Differential.make(ns)
        yield* d.step("labelled", (c) => c.create(Builtin.ConfigMap, cm(ns, "l1", { labels: { test: "sel", app: "web", size: "3" } })))
        yield* d.step("labelled 2", (c) => c.create(Builtin.ConfigMap, cm(ns, "l2", { labels: { test: "sel" } })))
        for (const selector of ["app=web", "app==web", "app!=web", "app in (web,db)", "app notin (web)", "app notin ()", "app in ()", "size>2", "size<2", "!app", "app"]) {
          yield* d.step(`labelSelector ${selector}`, (c) => c.list(Builtin.ConfigMap, { namespace: ns, labelSelector: `test=sel,${selector}` }))
        }
        for (const labelSelector of ["a b", "=x", "app=a,", "app>x", "!", "app=(", "a/b/c=x", "Ab.c/x=y", `x=${"v".repeat(64)}`, "x=a b"]) {
          yield* d.step(`bad labelSelector ${labelSelector}`, (c) => c.list(Builtin.ConfigMap, { namespace: ns, labelSelector }))
        }
        yield* d.step("unknown field selector", (c) => c.list(Builtin.ConfigMap, { fieldSelector: "data.x=1" }))
        yield* d.step("unknown field selector on a widget", (c) => c.list(Widget, { namespace: ns, fieldSelector: "spec.x=1" }))
        yield* d.step("field selector", (c) => c.list(Builtin.ConfigMap, { namespace: ns, fieldSelector: "metadata.name=l1" }))
        yield* d.step("field selector !=", (c) => c.list(Builtin.ConfigMap, { namespace: ns, fieldSelector: "metadata.name!=l1", labelSelector: "test=sel" }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("apply without a field manager (refused by the live client before sending; the server's answer)", () =>
      Effect.gen(function*() {
        const ns = "apply-manager"
        const d = yield* Differential.make(ns)
        yield* d.rawStep(
          "apply without manager",
          {
            method: "PATCH",
            path: `/api/v1/namespaces/${ns}/configmaps/ap`,
            body: cm(ns, "ap"),
            contentType: "application/apply-patch+yaml"
          },
          (c) => c.apply(Builtin.ConfigMap, cm(ns, "ap"), { fieldManager: "" })
        )
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)
  })
})
