/**
 * Differential test: the same requests against a real kube-apiserver (Envtest, with the
 * controller-manager for garbage collection and namespaces) and against `FakeCluster`; each step's
 * outcome must agree: the status, reason, message and causes of a failure, the metadata the server
 * maintains (generation, finalizers, deletion marks, ownerReferences, labels) and the user's fields
 * of types the server does not default (ConfigMaps, custom resources).
 *
 * Needs the envtest binaries (scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, it } from "@effect/vitest"
import { Builtin, type Cluster, ClusterError, type Resource } from "@kubefx/core"
import { Duration, Effect } from "effect"
import { Envtest, FakeCluster } from "../src/index.ts"
import { Widget } from "./FakeClusterFixtures.ts"

const widgetCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.test.kubefx.io" },
  spec: {
    group: "test.kubefx.io",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      subresources: { status: {} },
      // What the Widget Schema in the fixtures generates.
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: {
              type: "object",
              required: ["size"],
              properties: {
                size: { type: "integer", minimum: 1, maximum: 10 },
                mode: { type: "string", enum: ["fast", "safe"] },
                items: { type: "array", items: { type: "object", required: ["name"], properties: { name: { type: "string" } } } }
              }
            },
            status: { type: "object", properties: { ready: { type: "boolean" } } }
          }
        }
      }
    }]
  }
}

type Obj = Resource.KubeObject

/** What a step observed: a failure as the server reports it, or the fields both sides must agree on. */
type Outcome =
  | { readonly ok: false; readonly status: number; readonly message: string; readonly causes: ReadonlyArray<unknown> }
  | { readonly ok: true; readonly object: Obj | undefined }

/** The operations of the `Cluster` port, as one side performs them. */
interface Side {
  readonly create: (type: Resource.ResourceType<any>, obj: Obj, o?: Cluster.WriteOptions) => Effect.Effect<Outcome>
  readonly get: (type: Resource.ResourceType<any>, ns: string, name: string) => Effect.Effect<Outcome>
  readonly replace: (type: Resource.ResourceType<any>, obj: Obj) => Effect.Effect<Outcome>
  readonly replaceStatus: (type: Resource.ResourceType<any>, obj: Obj) => Effect.Effect<Outcome>
  readonly patch: (type: Resource.ResourceType<any>, ns: string, name: string, patch: Cluster.Patch, status?: boolean) => Effect.Effect<Outcome>
  readonly apply: (type: Resource.ResourceType<any>, obj: Obj, manager: string) => Effect.Effect<Outcome>
  readonly delete: (type: Resource.ResourceType<any>, ns: string, name: string, o?: Cluster.DeleteOptions) => Effect.Effect<Outcome>
  readonly list: (type: Resource.ResourceType<any>, o: Cluster.ListOptions) => Effect.Effect<Outcome>
}

const statusOf = (e: ClusterError.ClusterError): number => {
  switch (e._tag) {
    case "NotFound":
      return 404
    case "AlreadyExists":
    case "Conflict":
      return 409
    case "Gone":
      return 410
    case "Forbidden":
      return 403
    case "Unauthorized":
      return 401
    case "TooManyRequests":
      return 429
    case "Invalid":
    case "ServerError":
      return e.status
    case "Transport":
      return 0
  }
}

const failed = (e: ClusterError.ClusterError): Outcome => ({
  ok: false,
  status: statusOf(e),
  message: e.message,
  causes: "causes" in e ? e.causes : []
})

const fakeSide = (cluster: Cluster.Cluster["Service"]): Side => {
  const run = (eff: Effect.Effect<unknown, ClusterError.ClusterError>): Effect.Effect<Outcome> =>
    eff.pipe(
      Effect.map((object): Outcome => ({ ok: true, object: object as Obj })),
      Effect.catch((e) => Effect.succeed(failed(e)))
    )
  return {
    create: (type, obj, o) => run(cluster.create(type, obj, o)),
    get: (type, ns, name) => run(cluster.get(type, { namespace: ns, name })),
    replace: (type, obj) => run(cluster.replace(type, obj)),
    replaceStatus: (type, obj) => run(cluster.replaceStatus(type, obj)),
    patch: (type, ns, name, patch, status) =>
      run(status ? cluster.patchStatus(type, { namespace: ns, name }, patch) : cluster.patch(type, { namespace: ns, name }, patch)),
    apply: (type, obj, manager) => run(cluster.apply(type, obj, { fieldManager: manager })),
    delete: (type, ns, name, o) => run(cluster.delete(type, { namespace: ns, name }, o)),
    list: (type, o) =>
      run(cluster.list(type, o).pipe(Effect.map((l) => ({ apiVersion: "v1", kind: "List", metadata: {}, items: l.items }))))
  }
}

const collection = (type: Resource.ResourceType<any>, ns: string) =>
  `${type.group === "" ? "/api/v1" : `/apis/${type.group}/${type.version}`}${type.namespaced ? `/namespaces/${ns}` : ""}/${type.plural}`

const realSide = (env: Envtest.Envtest): Side => {
  const send = (method: string, path: string, body?: unknown, contentType?: string): Effect.Effect<Outcome> =>
    Envtest.request(env, { method, path, ...(body === undefined ? {} : { body }), ...(contentType ? { contentType } : {}) }).pipe(
      Effect.map((res): Outcome => {
        const b = res.body as any
        if (res.status < 300) return { ok: true, object: b?.kind === "Status" ? undefined : b }
        // Through the same mapping the live Cluster uses, so both sides fail with the same shape.
        return failed(ClusterError.fromStatus(res.status, {
          reason: b?.reason,
          message: b?.message ?? String(b),
          causes: b?.details?.causes
        }))
      }),
      Effect.orDie
    )
  const nsOf = (obj: Obj) => obj.metadata.namespace ?? ""
  const patchType = { merge: "application/merge-patch+json", json: "application/json-patch+json", strategic: "application/strategic-merge-patch+json" }
  return {
    create: (type, obj, o) => send("POST", `${collection(type, nsOf(obj))}${o?.dryRun ? "?dryRun=All" : ""}`, obj),
    get: (type, ns, name) => send("GET", `${collection(type, ns)}/${name}`),
    replace: (type, obj) => send("PUT", `${collection(type, nsOf(obj))}/${obj.metadata.name}`, obj),
    replaceStatus: (type, obj) => send("PUT", `${collection(type, nsOf(obj))}/${obj.metadata.name}/status`, obj),
    patch: (type, ns, name, patch, status) =>
      send("PATCH", `${collection(type, ns)}/${name}${status ? "/status" : ""}`, patch.body, patchType[patch.type]),
    apply: (type, obj, manager) =>
      send("PATCH", `${collection(type, nsOf(obj))}/${obj.metadata.name}?fieldManager=${encodeURIComponent(manager)}`, obj, "application/apply-patch+yaml"),
    delete: (type, ns, name, o) => send("DELETE", `${collection(type, ns)}/${name}`, o ?? {}),
    list: (type, o) => {
      const q = new URLSearchParams()
      for (const k of ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion"] as const) {
        if (o[k] !== undefined) q.set(k, String(o[k]))
      }
      return send("GET", `${collection(type, o.namespace ?? "")}?${q}`)
    }
  }
}

/** The fields both sides maintain the same way. */
const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)

/** JSON with object keys sorted: key order carries no meaning. */
const canonical = (u: unknown): unknown =>
  Array.isArray(u)
    ? u.map(canonical)
    : typeof u === "object" && u !== null
    ? Object.fromEntries(Object.entries(u).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)]))
    : u

const project = (o: Outcome): unknown => {
  if (!o.ok) {
    // The server validates object fields in map order, so several causes come in no fixed order:
    // compare them as a multiset, and the aggregated message up to where it lists them.
    const sorted = [...o.causes].sort(byJson)
    const message = new Set(o.causes.map((c: any) => `${c.field}: ${c.message}`)).size > 1 ? o.message.replace(/: \[.*\]$/s, ": [...]") : o.message
    return { status: o.status, message, causes: sorted }
  }
  const obj = o.object as any
  if (obj === undefined) return { ok: true }
  if (Array.isArray(obj.items)) return { items: obj.items.map((i: Obj) => `${i.metadata.namespace ?? ""}/${i.metadata.name}`) }
  const m = obj.metadata ?? {}
  return {
    name: m.name,
    namespace: m.namespace,
    generation: m.generation,
    finalizers: m.finalizers,
    deleting: m.deletionTimestamp !== undefined,
    deletionGracePeriodSeconds: m.deletionGracePeriodSeconds,
    labels: m.labels,
    owners: m.ownerReferences?.map((r: any) => r.name),
    hasResourceVersion: m.resourceVersion !== undefined,
    ...(obj.kind === "ConfigMap" || obj.kind === "Widget" ? { data: obj.data, spec: obj.spec, status: obj.status } : {})
  }
}

/** UIDs differ between the two clusters; everything else must not. */
const show = (o: Outcome) =>
  JSON.stringify(canonical(project(o))).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uid>")

const cm = (name: string, meta: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", ...meta },
  ...extra
})
const widget = (name: string, spec: unknown, meta: Record<string, unknown> = {}): Obj => ({
  apiVersion: "test.kubefx.io/v1",
  kind: "Widget",
  metadata: { name, namespace: "default", ...meta },
  spec
})

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("FakeCluster against kube-apiserver", () => {
  it.live("each step agrees with the real server", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.make({ crds: [widgetCrd], controllerManager: true })
      const fake = yield* FakeCluster.make({ types: [Widget] })
      const real = realSide(env)
      const mine = fakeSide(fake.cluster)
      const problems: Array<string> = []
      const results = new Map<string, { real: Outcome; fake: Outcome }>()

      /** One step on both sides; `f` may use the previous step results of its own side. */
      const step = (label: string, f: (side: Side, own: (label: string) => Obj) => Effect.Effect<Outcome>) =>
        Effect.gen(function*() {
          const ownOf = (which: "real" | "fake") => (l: string) => {
            const r = results.get(l)?.[which]
            if (r === undefined || !r.ok || r.object === undefined) throw new Error(`step ${l} has no object on the ${which} side`)
            return r.object
          }
          const r = yield* f(real, ownOf("real"))
          const m = yield* f(mine, ownOf("fake"))
          results.set(label, { real: r, fake: m })
          const a = show(r)
          const b = show(m)
          if (a !== b) problems.push(`${label}\n  real: ${a}\n  fake: ${b}`)
        })

      /** Waits until the real server's asynchronous controllers got the object to the fake's state. */
      const settle = (label: string, f: (side: Side) => Effect.Effect<Outcome>) =>
        Effect.gen(function*() {
          const expected = show(yield* f(mine))
          let observed = ""
          for (let i = 0; i < 40; i++) {
            observed = show(yield* f(real))
            if (observed === expected) return
            yield* Effect.sleep(Duration.millis(250))
          }
          problems.push(`${label} (after settling)\n  real: ${observed}\n  fake: ${expected}`)
        })

      // Creation and validation.
      yield* step("create with resourceVersion", (s) => s.create(Builtin.ConfigMap, cm("rv", { resourceVersion: "5" })))
      yield* step("create without name", (s) => s.create(Builtin.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "default" } }))
      yield* step("invalid metadata", (s) =>
        s.create(Builtin.ConfigMap, cm("Bad_Name", {
          labels: { "bad key": "v", ok: "bad value!" },
          finalizers: ["orphan", "foregroundDeletion"],
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "o", uid: "" }]
        })))
      yield* step("invalid widget", (s) => s.create(Widget, widget("w", { size: 0, mode: "slow", items: [{ name: 1 }] })))
      yield* step("widget missing size", (s) => s.create(Widget, widget("w", {})))
      yield* step("widget pruned, status dropped", (s) => s.create(Widget, { ...widget("p", { size: 2, extra: 1 }), status: { ready: true } }))
      yield* step("widget kind mismatch", (s) => s.create(Widget, { ...widget("k", { size: 1 }), kind: "Gadget" }))
      yield* step("duplicate", (s) => s.create(Widget, widget("p", { size: 2 })))
      yield* step("missing namespace", (s) => s.create(Builtin.ConfigMap, cm("x", { namespace: "nowhere" })))
      yield* step("service name with a digit", (s) =>
        s.create(Builtin.Service, { apiVersion: "v1", kind: "Service", metadata: { name: "1abc", namespace: "default" }, spec: { ports: [{ port: 80 }] } }))
      yield* step("dry run", (s) => s.create(Builtin.ConfigMap, cm("dry"), { dryRun: true }))
      yield* step("get missing", (s) => s.get(Builtin.Deployment, "default", "nope"))

      // Updates.
      yield* step("widget put without resourceVersion", (s) => s.replace(Widget, widget("p", { size: 3 })))
      yield* step("widget put missing", (s) => s.replace(Widget, widget("nope", { size: 3 })))
      yield* step("create a", (s) => s.create(Builtin.ConfigMap, cm("a", {}, { data: { x: "1" } })))
      yield* step("put a", (s, own) => s.replace(Builtin.ConfigMap, { ...own("create a"), data: { x: "2" } }))
      yield* step("put a stale", (s, own) => s.replace(Builtin.ConfigMap, { ...own("create a"), data: { x: "3" } }))
      yield* step("put a empty metadata maps", (s, own) =>
        s.replace(Builtin.ConfigMap, { ...own("put a"), metadata: { ...own("put a").metadata, labels: {}, annotations: {}, finalizers: [] } }))
      yield* step("put a bad label", (s, own) =>
        s.replace(Builtin.ConfigMap, { ...own("put a"), metadata: { ...own("put a").metadata, labels: { "bad key": "v" } } }))
      yield* step("patch uid", (s) => s.patch(Builtin.ConfigMap, "default", "a", { type: "merge", body: { metadata: { uid: "other" } } }))
      yield* step("merge patch stale rv", (s) => s.patch(Builtin.ConfigMap, "default", "a", { type: "merge", body: { metadata: { resourceVersion: "1" } } }))
      yield* step("json patch test fails", (s) =>
        s.patch(Builtin.ConfigMap, "default", "a", { type: "json", body: [{ op: "test", path: "/data/x", value: "9" }] }))
      yield* step("strategic patch on a widget", (s) => s.patch(Widget, "default", "p", { type: "strategic", body: { spec: { size: 2 } } }))
      yield* step("lease put creates", (s) =>
        s.replace(Builtin.Lease, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "l", namespace: "default" } }))
      yield* step("widget status", (s) => s.patch(Widget, "default", "p", { type: "merge", body: { spec: { size: 9 }, status: { ready: true } } }, true))
      yield* step("widget bad status", (s) => s.patch(Widget, "default", "p", { type: "merge", body: { status: { ready: "yes" } } }, true))
      yield* step("widget bad label", (s, own) =>
        s.replace(Widget, { ...own("widget status"), metadata: { ...own("widget status").metadata, labels: { "bad key": "v" } } }))
      yield* step("widget spec change", (s) => s.patch(Widget, "default", "p", { type: "merge", body: { spec: { size: 4 }, status: { ready: false } } }))
      yield* step("apply without manager", (s) => s.apply(Builtin.ConfigMap, cm("ap"), ""))
      yield* step("apply creates", (s) => s.apply(Builtin.ConfigMap, cm("ap", {}, { data: { k: "v" } }), "op"))

      // Deletion and finalizers.
      yield* step("widget with finalizer", (s) => s.create(Widget, widget("f", { size: 1 }, { finalizers: ["x.io/a"] })))
      yield* step("delete it", (s) => s.delete(Widget, "default", "f"))
      yield* step("add a finalizer while deleting", (s, own) =>
        s.replace(Widget, { ...own("delete it"), metadata: { ...own("delete it").metadata, finalizers: ["x.io/a", "x.io/b"] } }))
      yield* step("remove the last finalizer", (s, own) =>
        s.replace(Widget, { ...own("delete it"), metadata: { ...own("delete it").metadata, finalizers: [] } }))
      yield* step("gone", (s) => s.get(Widget, "default", "f"))
      yield* step("delete uid precondition", (s) => s.delete(Builtin.ConfigMap, "default", "a", { preconditions: { uid: "x" } }))

      // Garbage collection.
      yield* step("owner", (s) => s.create(Builtin.ConfigMap, cm("owner")))
      const ref = (s: (l: string) => Obj, block: boolean) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        name: "owner",
        uid: s("owner").metadata.uid!,
        blockOwnerDeletion: block
      })
      yield* step("blocking dependent", (s, own) => s.create(Builtin.ConfigMap, cm("dep", { finalizers: ["x.io/hold"], ownerReferences: [ref(own, true)] })))
      yield* step("other dependent", (s, own) => s.create(Builtin.ConfigMap, cm("dep2", { ownerReferences: [ref(own, false)] })))
      yield* step("foreground delete", (s) => s.delete(Builtin.ConfigMap, "default", "owner", { propagationPolicy: "Foreground" }))
      yield* settle("non-blocking dependent deleted", (s) => s.get(Builtin.ConfigMap, "default", "dep2"))
      yield* settle("blocking dependent deleting", (s) => s.get(Builtin.ConfigMap, "default", "dep"))
      yield* settle("owner waits", (s) => s.get(Builtin.ConfigMap, "default", "owner"))
      yield* step("release the dependent", (s) => s.patch(Builtin.ConfigMap, "default", "dep", { type: "merge", body: { metadata: { finalizers: null } } }))
      yield* settle("owner gone", (s) => s.get(Builtin.ConfigMap, "default", "owner"))
      yield* step("owner2", (s) => s.create(Builtin.ConfigMap, cm("owner2")))
      yield* step("dependent of owner2", (s, own) =>
        s.create(Builtin.ConfigMap, cm("dep3", { ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner2", uid: own("owner2").metadata.uid! }] })))
      yield* step("orphan delete", (s) => s.delete(Builtin.ConfigMap, "default", "owner2", { propagationPolicy: "Orphan" }))
      yield* settle("orphaned dependent", (s) => s.get(Builtin.ConfigMap, "default", "dep3"))
      yield* step("dangling owner", (s) =>
        s.create(Builtin.ConfigMap, cm("dangling", { ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "ghost", uid: "11111111-1111-1111-1111-111111111111" }] })))
      yield* settle("dangling collected", (s) => s.get(Builtin.ConfigMap, "default", "dangling"))

      // Namespaces.
      yield* step("namespace", (s) => s.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } }))
      yield* step("content", (s) => s.create(Builtin.ConfigMap, cm("held", { namespace: "team", finalizers: ["x.io/hold"] })))
      yield* step("delete namespace", (s) => s.delete(Builtin.Namespace, "", "team"))
      yield* step("create in terminating namespace", (s) => s.create(Builtin.ConfigMap, cm("new", { namespace: "team" })))
      yield* settle("content deleting", (s) => s.get(Builtin.ConfigMap, "team", "held"))
      yield* step("release content", (s) => s.patch(Builtin.ConfigMap, "team", "held", { type: "merge", body: { metadata: { finalizers: null } } }))
      yield* settle("namespace gone", (s) => s.get(Builtin.Namespace, "", "team"))

      // Lists.
      yield* step("labelled", (s) => s.create(Builtin.ConfigMap, cm("l1", { labels: { test: "sel", app: "web", size: "3" } })))
      yield* step("labelled 2", (s) => s.create(Builtin.ConfigMap, cm("l2", { labels: { test: "sel" } })))
      for (const selector of ["app=web", "app!=web", "app in (web,db)", "app notin ()", "app in ()", "size>2", "!app", "app"]) {
        yield* step(`labelSelector ${selector}`, (s) => s.list(Builtin.ConfigMap, { namespace: "default", labelSelector: `test=sel,${selector}` }))
      }
      for (const labelSelector of ["a b", "=x", "app=a,", "app>x", "!", "app=("]) {
        yield* step(`bad labelSelector ${labelSelector}`, (s) => s.list(Builtin.ConfigMap, { namespace: "default", labelSelector }))
      }
      yield* step("unknown field selector", (s) => s.list(Builtin.ConfigMap, { fieldSelector: "data.x=1" }))
      yield* step("unknown field selector on a widget", (s) => s.list(Widget, { namespace: "default", fieldSelector: "spec.x=1" }))
      yield* step("field selector", (s) => s.list(Builtin.ConfigMap, { namespace: "default", fieldSelector: "metadata.name=l1" }))

      assert.deepStrictEqual(problems, [])
    }).pipe(Effect.scoped), 300_000)
})
