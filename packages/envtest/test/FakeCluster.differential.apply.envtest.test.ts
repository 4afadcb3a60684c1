/**
 * Differential test (see `Differential.ts`): server-side apply with several field managers (managedFields
 * ownership, conflicts unless forced, fields a manager stops applying are removed, shared ownership),
 * updates recorded by PUT and patches, merge patch and JSON patch results, through the live `Cluster`
 * of a real kube-apiserver and through `FakeCluster`.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, type Cluster } from "@kubefx/core"
import { Effect } from "effect"
import * as Differential from "./Differential.ts"
import { Widget } from "../../testkit/test/FakeClusterFixtures.ts"

type Obj = Differential.Obj

const cm = (ns: string, data?: Record<string, string>, labels?: Record<string, string>): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "a", namespace: ns, ...(labels === undefined ? {} : { labels }) },
  ...(data === undefined ? {} : { data })
})
const widget = (ns: string, spec: Record<string, unknown>): Obj => ({
  apiVersion: "test.kubefx.io/v1",
  kind: "Widget",
  metadata: { name: "w", namespace: ns },
  spec
})

/** The object and who owns which of its fields. */
const owned = (o: Obj) => ({ ...(Differential.project(o) as object), fields: Differential.ownership(o) })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("FakeCluster against kube-apiserver: server-side apply and patches", () => {
  layer(Differential.realLayer(), Differential.layerOptions)("apply", (it) => {
    it.effect("server-side apply: managedFields per manager, conflicts unless forced, fields no longer applied are removed", () =>
      Effect.gen(function*() {
        const ns = "apply"
        const d = yield* Differential.make(ns)
        const apply = (manager: string, object: Obj, options: Partial<Cluster.ApplyOptions> = {}) => (c: Differential.Port) =>
          c.apply(Builtin.ConfigMap, object, { fieldManager: manager, ...options })
        yield* d.step("alice creates", apply("alice", cm(ns, { x: "1", y: "2" }, { team: "a" })), owned)
        yield* d.step("alice again: no change", apply("alice", cm(ns, { x: "1", y: "2" }, { team: "a" })), (o, own) => ({
          ...owned(o),
          sameVersion: o.metadata.resourceVersion === own("alice creates").metadata.resourceVersion
        }))
        yield* d.step("bob conflicts", apply("bob", cm(ns, { x: "9" })))
        yield* d.step("bob, same value: shared", apply("bob", cm(ns, { y: "2" })), owned)
        yield* d.step("bob forces", apply("bob", cm(ns, { x: "9", y: "2" }), { force: true }), owned)
        // alice no longer applies data: y stays (bob still applies it), x is bob's.
        yield* d.step("alice drops data", apply("alice", cm(ns, undefined, { team: "a" })), owned)
        yield* d.step("bob drops y", apply("bob", cm(ns, { x: "9" })), owned)
        yield* d.step("alice drops the label", apply("alice", cm(ns, undefined, { other: "b" })), owned)
        yield* d.step("dry run", apply("carol", cm(ns, { z: "3" }), { dryRun: true }), owned)
        yield* d.step("dry run stored nothing", (c) => c.get(Builtin.ConfigMap, { namespace: ns, name: "a" }), owned)
        yield* d.step("stale resourceVersion", (c) =>
          c.apply(Builtin.ConfigMap, { ...cm(ns, { x: "9" }), metadata: { name: "a", namespace: ns, resourceVersion: "1" } }, { fieldManager: "bob" }))
        yield* d.step("missing object with a resourceVersion", (c) =>
          c.apply(Builtin.ConfigMap, { ...cm(ns, { x: "9" }), metadata: { name: "nope", namespace: ns, resourceVersion: "1" } }, { fieldManager: "bob" }))
        yield* d.step("wrong kind", (c) => c.apply(Builtin.ConfigMap, { ...cm(ns, { x: "9" }), kind: "Secret" }, { fieldManager: "bob" }))

        // Other writers are recorded as Update entries; apply then conflicts with them.
        yield* d.step("dave puts", (c, own) =>
          c.replace(Builtin.ConfigMap, { ...own("alice drops the label"), data: { x: "9", d: "4" } }, { fieldManager: "dave" }), owned)
        yield* d.step("bob conflicts with an updater", apply("bob", cm(ns, { x: "9", d: "5" })))
        yield* d.step("erin merge-patches", (c) =>
          c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, { type: "merge", body: { data: { e: "5", d: null } } }, { fieldManager: "erin" }), owned)
        yield* d.step("frank json-patches", (c) =>
          c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, {
            type: "json",
            body: [
              { op: "test", path: "/data/e", value: "5" },
              { op: "add", path: "/data/f", value: "6" },
              { op: "replace", path: "/data/e", value: "7" },
              { op: "remove", path: "/metadata/labels/other" },
              { op: "copy", from: "/data/f", path: "/data/g" },
              { op: "move", from: "/data/g", path: "/data/h" }
            ]
          }, { fieldManager: "frank" }), owned)
        yield* d.step("json patch on a missing path", (c) =>
          c.patch(Builtin.ConfigMap, { namespace: ns, name: "a" }, { type: "json", body: [{ op: "remove", path: "/data/nope" }] }))
        yield* d.step("bob forces over everyone", apply("bob", cm(ns, { x: "1", e: "1", f: "1" }), { force: true }), owned)
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("server-side apply of a custom resource: atomic lists, spec and status ownership", () =>
      Effect.gen(function*() {
        const ns = "apply-widget"
        const d = yield* Differential.make(ns)
        const apply = (manager: string, spec: Record<string, unknown>, force = false) => (c: Differential.Port) =>
          c.apply(Widget, widget(ns, spec), { fieldManager: manager, force })
        yield* d.step("alice creates", apply("alice", { size: 1, items: [{ name: "a" }] }), owned)
        yield* d.step("bob conflicts on the list", apply("bob", { items: [{ name: "b" }] }))
        yield* d.step("bob forces the list", apply("bob", { items: [{ name: "b" }] }, true), owned)
        yield* d.step("alice drops size: required, so invalid", apply("alice", { mode: "fast" }))
        yield* d.step("alice changes size", apply("alice", { size: 2 }), owned)
        yield* d.step("status by merge patch", (c) =>
          c.patchStatus(Widget, { namespace: ns, name: "w" }, { type: "merge", body: { status: { ready: true } } }, { fieldManager: "ctrl" }), owned)
        yield* d.step("apply ignores status", (c) =>
          c.apply(Widget, { ...widget(ns, { size: 2 }), status: { ready: false } }, { fieldManager: "alice" }), owned)
        yield* d.step("apply bad spec", apply("alice", { size: 20 }))
        yield* d.step("apply wrong kind", (c) => c.apply(Widget, { ...widget(ns, { size: 2 }), kind: "Gadget" }, { fieldManager: "alice" }))
        yield* d.step("apply wrong version", (c) => c.apply(Widget, { ...widget(ns, { size: 2 }), apiVersion: "test.kubefx.io/v2" }, { fieldManager: "alice" }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)

    it.effect("merge patch and JSON patch results", () =>
      Effect.gen(function*() {
        const ns = "patch"
        const d = yield* Differential.make(ns)
        const at = { namespace: ns, name: "w" }
        yield* d.step("create", (c) => c.create(Widget, widget(ns, { size: 1, mode: "fast", items: [{ name: "a" }, { name: "b" }] })))
        yield* d.step("merge: replace a list, delete a key", (c) =>
          c.patch(Widget, at, { type: "merge", body: { spec: { items: [{ name: "c" }], mode: null } } }))
        yield* d.step("merge: labels", (c) =>
          c.patch(Widget, at, { type: "merge", body: { metadata: { labels: { a: "1", b: "2" } } } }))
        yield* d.step("merge: remove a label", (c) =>
          c.patch(Widget, at, { type: "merge", body: { metadata: { labels: { a: null } } } }))
        yield* d.step("merge: invalid result", (c) => c.patch(Widget, at, { type: "merge", body: { spec: { size: "big" } } }))
        yield* d.step("json: list operations", (c) =>
          c.patch(Widget, at, {
            type: "json",
            body: [
              { op: "add", path: "/spec/items/0", value: { name: "first" } },
              { op: "add", path: "/spec/items/-", value: { name: "last" } },
              { op: "replace", path: "/spec/size", value: 5 },
              { op: "remove", path: "/spec/items/1" }
            ]
          }))
        yield* d.step("json: add to a missing parent", (c) =>
          c.patch(Widget, at, { type: "json", body: [{ op: "add", path: "/spec/nested/deep", value: 1 }] }))
        yield* d.step("json: bad index", (c) =>
          c.patch(Widget, at, { type: "json", body: [{ op: "replace", path: "/spec/items/9", value: { name: "x" } }] }))
        yield* d.step("json: test fails", (c) =>
          c.patch(Widget, at, { type: "json", body: [{ op: "test", path: "/spec/size", value: 4 }] }))
        yield* d.step("json: escaped keys", (c) =>
          c.patch(Widget, at, { type: "json", body: [{ op: "add", path: "/metadata/annotations", value: { "a/b": "1", "c~d": "2" } }, { op: "remove", path: "/metadata/annotations/a~1b" }] }), (o) => ({ ...(Differential.project(o) as object), annotations: o.metadata.annotations }))
        yield* d.step("merge: status on the main resource is ignored", (c) =>
          c.patch(Widget, at, { type: "merge", body: { status: { ready: true } } }))
        assert.deepStrictEqual(d.problems, [])
      }), Differential.TIMEOUT)
  })
})
