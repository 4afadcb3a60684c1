/**
 * The live `Cluster` (`KubeCluster.layer` over a `ClientConfig` read from a kubeconfig) against a real
 * kube-apiserver started by `EnvtestCluster`: CRUD, server-side apply, patches, the status subresource,
 * paging, watch resume, 410 relist, typed errors from real `Status` bodies, and RBAC denial.
 *
 * Two control planes: one with the server's default flags for almost everything, and one with
 * `--watch-cache=false --etcd-compaction-interval=1s` for the 410 cases. With the watch cache on, an old
 * resourceVersion is served from the cache (or from etcd, which has not compacted yet) and a fresh server
 * never answers 410 in test time; without the cache, watches and continued lists go to etcd, which the API
 * server compacts every second, so a version a few seconds old is gone.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); without them the file fails. Set
 * KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Cluster, ClusterError, Resource, Watcher } from "@kubefx/core"
import { EnvtestCluster } from "@kubefx/envtest"
import { Duration, Effect, Fiber, Layer, Redacted, Schema, Stream } from "effect"
import * as ClientConfig from "../src/ClientConfig.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import * as Manifests from "../src/Manifests.ts"

const GadgetSpec = Schema.Struct({
  size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })),
  color: Schema.optionalKey(Schema.String)
})
const GadgetStatus = Schema.Struct({ phase: Schema.optionalKey(Schema.String) })
/** A custom type with a status subresource; its CRD is generated the way an operator's is. */
const Gadget = Resource.custom({
  group: "test.kubefx.io",
  version: "v1",
  kind: "Gadget",
  plural: "gadgets",
  spec: GadgetSpec,
  status: GadgetStatus
})
const gadgetCrd = Effect.runSync(Manifests.crd(Gadget))

const layerOptions = { timeout: "3 minutes", excludeTestServices: true } as const
const TIMEOUT = 120_000

type Obj = Resource.KubeObject

const configMap = (namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, ...(labels === undefined ? {} : { labels }) },
  data
})
const gadget = (namespace: string, name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Obj => ({
  apiVersion: Gadget.apiVersion,
  kind: Gadget.kind,
  metadata: { name, namespace },
  spec,
  ...extra
})
const dataOf = (o: Obj) => o["data"] as Record<string, string> | undefined
const specOf = (o: Obj) => o["spec"] as Record<string, unknown>
const statusOf = (o: Obj) => o["status"] as Record<string, unknown> | undefined

/** A fresh namespace per test, so tests never see each other's objects. */
const namespace = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* cluster.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name } })
    return name
  })

/** Repeats `check` every 200 ms until it yields true; fails after `within` (real time). */
const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, within: Duration.Input = "30 seconds") =>
  Effect.suspend(function loop(): Effect.Effect<void, E, R> {
    return check.pipe(Effect.flatMap((ok) => (ok ? Effect.void : Effect.sleep("200 millis").pipe(Effect.andThen(loop)))))
  }).pipe(
    Effect.timeoutOrElse({ duration: within, orElse: () => Effect.die(new Error(`timed out waiting until ${what}`)) })
  )

/** Takes stream elements into an array as they come; `until` waits for a condition on them. */
const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.gen(function*() {
    const seen: Array<A> = []
    const fiber = yield* stream.pipe(Stream.runForEach((a) => Effect.sync(() => seen.push(a))), Effect.forkScoped)
    const until = (what: string, done: (seen: ReadonlyArray<A>) => boolean) =>
      eventually(what, Effect.sync(() => done(seen)))
    return { seen, fiber, until }
  })

const failure = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("KubeCluster against a real kube-apiserver", () => {
  layer(EnvtestCluster.layer({ crds: [gadgetCrd] }), layerOptions)("default server", (it) => {
    it.effect("create, get, replace, delete, with the server's own errors for each misuse", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("crud")
        const created = yield* cluster.create(Builtin.ConfigMap, configMap(ns, "a", { k: "1" }))
        assert.strictEqual(created.metadata.namespace, ns)
        assert.isString(created.metadata.uid)
        assert.deepStrictEqual(dataOf(created), { k: "1" })

        const read = yield* cluster.get(Builtin.ConfigMap, { namespace: ns, name: "a" })
        assert.strictEqual(read.metadata.resourceVersion, created.metadata.resourceVersion)

        const dup = yield* failure(cluster.create(Builtin.ConfigMap, configMap(ns, "a", { k: "2" })))
        assert.strictEqual(dup._tag, "AlreadyExists")
        assert.include(dup.message, `configmaps "a" already exists`)
        assert.include(dup.message, `create v1/ConfigMap ${ns}/a`)

        const replaced = yield* cluster.replace(Builtin.ConfigMap, { ...read, data: { k: "2" } })
        assert.deepStrictEqual(dataOf(replaced), { k: "2" })
        assert.notStrictEqual(replaced.metadata.resourceVersion, read.metadata.resourceVersion)
        // the same resourceVersion again is stale now
        const stale = yield* failure(cluster.replace(Builtin.ConfigMap, { ...read, data: { k: "3" } }))
        assert.strictEqual(stale._tag, "Conflict")
        assert.include(stale.message, "the object has been modified")

        const invalid = yield* failure(cluster.create(Builtin.ConfigMap, configMap(ns, "Not_A_Name", {})))
        assert.strictEqual(invalid._tag, "Invalid")
        if (invalid._tag === "Invalid") {
          assert.strictEqual(invalid.status, 422)
          assert.deepInclude(invalid.causes.map((c) => c.field), "metadata.name")
        }

        const missing = yield* failure(cluster.get(Builtin.ConfigMap, { namespace: ns, name: "nope" }))
        assert.strictEqual(missing._tag, "NotFound")
        assert.include(missing.message, `configmaps "nope" not found`)
        assert.strictEqual(missing.name, "nope")
        assert.strictEqual(missing.namespace, ns)

        // a precondition on another uid is refused; the right one deletes
        const wrongUid = yield* failure(
          cluster.delete(Builtin.ConfigMap, { namespace: ns, name: "a" }, { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } })
        )
        assert.strictEqual(wrongUid._tag, "Conflict")
        assert.include(wrongUid.message, "the UID in the precondition (00000000-0000-0000-0000-000000000000) does not match")
        const deleted = yield* cluster.delete(Builtin.ConfigMap, { namespace: ns, name: "a" }, { preconditions: { uid: created.metadata.uid! } })
        assert.strictEqual(deleted.metadata.name, "a")
        assert.strictEqual((yield* failure(cluster.get(Builtin.ConfigMap, { namespace: ns, name: "a" })))._tag, "NotFound")

        // a type the server does not serve
        const Unknown = Resource.make({ group: "nothing.kubefx.io", version: "v1", kind: "Nothing", plural: "nothings" })
        assert.strictEqual((yield* failure(cluster.list(Unknown, { namespace: ns })))._tag, "NotFound")
      }), TIMEOUT)

    it.effect("a finalizer holds a delete: the object comes back with a deletionTimestamp until it is released", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("finalizers")
        yield* cluster.create(Builtin.ConfigMap, {
          ...configMap(ns, "held", { k: "1" }),
          metadata: { name: "held", namespace: ns, finalizers: ["test.kubefx.io/hold"] }
        })
        const held = yield* cluster.delete(Builtin.ConfigMap, { namespace: ns, name: "held" })
        assert.isString(held.metadata.deletionTimestamp)
        assert.deepStrictEqual(held.metadata.finalizers, ["test.kubefx.io/hold"])
        yield* cluster.patch(Builtin.ConfigMap, { namespace: ns, name: "held" }, { type: "merge", body: { metadata: { finalizers: null } } })
        assert.strictEqual((yield* failure(cluster.get(Builtin.ConfigMap, { namespace: ns, name: "held" })))._tag, "NotFound")
      }), TIMEOUT)

    it.effect("server-side apply: creates, shares fields, reports conflicts by manager and field, and force takes them", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("apply")
        const first = yield* cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", { a: "1", b: "1" }), { fieldManager: "alice" })
        assert.deepStrictEqual(dataOf(first), { a: "1", b: "1" })
        assert.deepStrictEqual(first.metadata.managedFields?.map((m) => [m.manager, m.operation]), [["alice", "Apply"]])

        // bob declares a field alice owns, with another value
        const conflict = yield* failure(cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", { b: "2" }), { fieldManager: "bob" }))
        assert.strictEqual(conflict._tag, "Conflict")
        if (conflict._tag === "Conflict") {
          assert.deepStrictEqual(conflict.causes.map((c) => [c.reason, c.field]), [["FieldManagerConflict", ".data.b"]])
          assert.include(conflict.causes[0]?.message ?? "", `conflict with "alice"`)
        }
        assert.include(conflict.message, "Apply failed with 1 conflict")

        // the same value is shared ownership, not a conflict
        yield* cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", { a: "1" }), { fieldManager: "bob" })
        const forced = yield* cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", { a: "1", b: "2" }), { fieldManager: "bob", force: true })
        assert.deepStrictEqual(dataOf(forced), { a: "1", b: "2" })

        // alice drops b, which she no longer owns: it stays (bob's); she drops a, which bob shares: it stays
        const afterAlice = yield* cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", {}), { fieldManager: "alice" })
        assert.deepStrictEqual(dataOf(afterAlice), { a: "1", b: "2" })
        // bob drops a, now owned by nobody else: it goes
        const afterBob = yield* cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", { b: "2" }), { fieldManager: "bob" })
        assert.deepStrictEqual(dataOf(afterBob), { b: "2" })

        const dry = yield* cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", { b: "3" }), { fieldManager: "bob", dryRun: true })
        assert.deepStrictEqual(dataOf(dry), { b: "3" })
        assert.deepStrictEqual(dataOf(yield* cluster.get(Builtin.ConfigMap, { namespace: ns, name: "cfg" })), { b: "2" })

        const noManager = yield* failure(cluster.apply(Builtin.ConfigMap, configMap(ns, "cfg", {}), { fieldManager: "" }))
        assert.strictEqual(noManager._tag, "Invalid")
      }), TIMEOUT)

    it.effect("merge, JSON and strategic merge patches carry their own content types", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("patches")
        const at = { namespace: ns, name: "p" }
        yield* cluster.create(Builtin.ConfigMap, configMap(ns, "p", { a: "1", b: "1" }))
        const merged = yield* cluster.patch(Builtin.ConfigMap, at, { type: "merge", body: { data: { a: null, c: "3" } } })
        assert.deepStrictEqual(dataOf(merged), { b: "1", c: "3" })

        const json = yield* cluster.patch(Builtin.ConfigMap, at, {
          type: "json",
          body: [{ op: "test", path: "/data/b", value: "1" }, { op: "replace", path: "/data/b", value: "2" }, { op: "add", path: "/data/d", value: "4" }]
        }, { fieldManager: "patcher" })
        assert.deepStrictEqual(dataOf(json), { b: "2", c: "3", d: "4" })
        assert.include(json.metadata.managedFields?.map((m) => m.manager) ?? [], "patcher")
        // a failed test op changes nothing and is reported by the server
        const failedTest = yield* failure(cluster.patch(Builtin.ConfigMap, at, {
          type: "json",
          body: [{ op: "test", path: "/data/b", value: "wrong" }, { op: "remove", path: "/data/b" }]
        }))
        // (the server's own Status for a failed test op says no more than this)
        assert.strictEqual(failedTest._tag, "Invalid")
        if (failedTest._tag === "Invalid") assert.strictEqual(failedTest.status, 422)
        assert.include(failedTest.message, "patch v1/ConfigMap patches/p: the server rejected our request")
        assert.deepStrictEqual(dataOf(yield* cluster.get(Builtin.ConfigMap, at)), { b: "2", c: "3", d: "4" })

        // strategic merge: containers are merged by name, not replaced as a list
        const deployment = {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", namespace: ns },
          spec: {
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web" } },
              spec: { containers: [{ name: "app", image: "app:1" }, { name: "sidecar", image: "side:1" }] }
            }
          }
        }
        yield* cluster.create(Builtin.Deployment, deployment)
        const strategic = yield* cluster.patch(Builtin.Deployment, { namespace: ns, name: "web" }, {
          type: "strategic",
          body: { spec: { template: { spec: { containers: [{ name: "app", image: "app:2" }] } } } }
        })
        const containers = (specOf(strategic)["template"] as any).spec.containers as Array<{ name: string; image: string }>
        assert.deepStrictEqual(containers.map((c) => [c.name, c.image]), [["app", "app:2"], ["sidecar", "side:1"]])
        // the same body as a merge patch replaces the list
        const replacedList = yield* cluster.patch(Builtin.Deployment, { namespace: ns, name: "web" }, {
          type: "merge",
          body: { spec: { template: { spec: { containers: [{ name: "app", image: "app:3" }] } } } }
        })
        assert.deepStrictEqual(((specOf(replacedList)["template"] as any).spec.containers as Array<{ name: string }>).map((c) => c.name), ["app"])
      }), TIMEOUT)

    it.effect("status subresource of a generated CRD: status and spec are written separately; the schema is enforced", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("status")
        const at = { namespace: ns, name: "g" }
        // status in a create is dropped by the server
        const created = yield* cluster.create(Gadget, gadget(ns, "g", { size: 3 }, { status: { phase: "Ignored" } }))
        assert.isUndefined(created["status"])
        assert.strictEqual(created.metadata.generation, 1)

        const withStatus = yield* cluster.replaceStatus(Gadget, { ...created, status: { phase: "Ready", observedGeneration: 1 } })
        assert.deepStrictEqual(statusOf(withStatus), { phase: "Ready", observedGeneration: 1 })
        // a status write does not bump the generation, and spec changes sent to /status are ignored
        assert.strictEqual(withStatus.metadata.generation, 1)
        const specViaStatus = yield* cluster.patchStatus(Gadget, at, { type: "merge", body: { spec: { size: 9 }, status: { phase: "Busy" } } })
        assert.strictEqual(specOf(specViaStatus)["size"], 3)
        assert.strictEqual(statusOf(specViaStatus)?.["phase"], "Busy")

        // a spec write bumps the generation and leaves status alone, even when it carries a status
        const specWrite = yield* cluster.patch(Gadget, at, { type: "merge", body: { spec: { size: 4 }, status: { phase: "Overwritten" } } })
        assert.strictEqual(specWrite.metadata.generation, 2)
        assert.strictEqual(statusOf(specWrite)?.["phase"], "Busy")

        // a stale status replace conflicts
        const stale = yield* failure(cluster.replaceStatus(Gadget, { ...withStatus, status: { phase: "Old" } }))
        assert.strictEqual(stale._tag, "Conflict")

        // the generated openAPIV3Schema is enforced: bounds, types, required spec
        const tooBig = yield* failure(cluster.create(Gadget, gadget(ns, "big", { size: 11 })))
        assert.strictEqual(tooBig._tag, "Invalid")
        if (tooBig._tag === "Invalid") {
          assert.deepStrictEqual(tooBig.causes.map((c) => c.field), ["spec.size"])
          assert.include(tooBig.message, "should be less than or equal to 10")
        }
        const wrongType = yield* failure(cluster.create(Gadget, gadget(ns, "typed", { size: "three" })))
        assert.strictEqual(wrongType._tag, "Invalid")
        const noSpec = yield* failure(cluster.create(Gadget, { apiVersion: Gadget.apiVersion, kind: Gadget.kind, metadata: { name: "bare", namespace: ns } }))
        assert.strictEqual(noSpec._tag, "Invalid")
        assert.include(noSpec.message, "spec")
      }), TIMEOUT)

    it.effect("lists page with limit and continue; listAll follows every page; selectors filter on the server", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("paging")
        for (let i = 0; i < 7; i++) {
          yield* cluster.create(Builtin.ConfigMap, configMap(ns, `cm-${i}`, { i: String(i) }, { parity: i % 2 === 0 ? "even" : "odd" }))
        }
        const names: Array<string> = []
        let cont: string | undefined
        let pages = 0
        const versions = new Set<string>()
        do {
          const page = yield* cluster.list(Builtin.ConfigMap, { namespace: ns, limit: 3, ...(cont === undefined ? {} : { continue: cont }) })
          pages++
          versions.add(page.resourceVersion)
          for (const item of page.items) {
            assert.strictEqual(item.kind, "ConfigMap")
            assert.strictEqual(item.apiVersion, "v1")
            names.push(item.metadata.name!)
          }
          cont = page.continue
        } while (cont !== undefined)
        assert.strictEqual(pages, 3)
        assert.deepStrictEqual(names, Array.from({ length: 7 }, (_, i) => `cm-${i}`))
        // every page belongs to the first page's snapshot
        assert.strictEqual(versions.size, 1)

        const all = yield* Watcher.listAll(Builtin.ConfigMap, { namespace: ns, pageSize: 2 })
        assert.strictEqual(all.items.length, 7)
        const even = yield* Watcher.listAll(Builtin.ConfigMap, { namespace: ns, labelSelector: "parity=even", pageSize: 2 })
        assert.deepStrictEqual(even.items.map((o) => o.metadata.name), ["cm-0", "cm-2", "cm-4", "cm-6"])
        const one = yield* cluster.list(Builtin.ConfigMap, { namespace: ns, fieldSelector: "metadata.name=cm-5" })
        assert.deepStrictEqual(one.items.map((o) => o.metadata.name), ["cm-5"])
        const badSelector = yield* failure(cluster.list(Builtin.ConfigMap, { namespace: ns, labelSelector: "a in (" }))
        assert.strictEqual(badSelector._tag, "Invalid")
      }), TIMEOUT)

    it.effect("a watch delivers every change after its resourceVersion, in order, and resumes from the last one seen", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("watch")
        yield* cluster.create(Builtin.ConfigMap, configMap(ns, "before", { k: "0" }))
        const start = (yield* cluster.list(Builtin.ConfigMap, { namespace: ns })).resourceVersion

        yield* cluster.create(Builtin.ConfigMap, configMap(ns, "w", { k: "1" }))
        yield* cluster.patch(Builtin.ConfigMap, { namespace: ns, name: "w" }, { type: "merge", body: { data: { k: "2" } } })
        yield* cluster.delete(Builtin.ConfigMap, { namespace: ns, name: "w" })

        const first = yield* cluster.watch(Builtin.ConfigMap, { namespace: ns, resourceVersion: start, timeoutSeconds: 30 }).pipe(
          Stream.take(3),
          Stream.runCollect
        )
        assert.deepStrictEqual(first.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "w"], ["MODIFIED", "w"], ["DELETED", "w"]])
        assert.strictEqual(dataOf(first[1]!.object)?.["k"], "2")
        const last = first[2]!.object.metadata.resourceVersion!

        // resuming from the last version seen gives only what came later: nothing is repeated
        const live = yield* collect(cluster.watch(Builtin.ConfigMap, { namespace: ns, resourceVersion: last, timeoutSeconds: 30 }))
        yield* cluster.create(Builtin.ConfigMap, configMap(ns, "after", { k: "3" }))
        yield* live.until("the resumed watch sees the new object", (seen) => seen.length >= 1)
        yield* Fiber.interrupt(live.fiber)
        assert.deepStrictEqual(live.seen.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "after"]])

        // the server ends a watch after timeoutSeconds: the stream ends rather than hanging
        const ended = yield* cluster.watch(Builtin.ConfigMap, { namespace: ns, resourceVersion: last, timeoutSeconds: 1 }).pipe(
          Stream.runCollect,
          Effect.timeoutOption("20 seconds")
        )
        assert.strictEqual(ended._tag, "Some")
      }), TIMEOUT)

    it.effect("the core Watcher on the live layer: a list, then every change as it happens", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("watcher")
        yield* cluster.create(Gadget, gadget(ns, "one", { size: 1 }))
        const events = yield* collect(Watcher.watch(Gadget, { namespace: ns }))
        yield* events.until("the initial list", (seen) => seen.length >= 1)
        const initial = events.seen[0]!
        assert.strictEqual(initial._tag, "Restarted")
        if (initial._tag === "Restarted") assert.deepStrictEqual(initial.objects.map((o) => o.metadata.name), ["one"])

        yield* cluster.create(Gadget, gadget(ns, "two", { size: 2 }))
        yield* cluster.patchStatus(Gadget, { namespace: ns, name: "two" }, { type: "merge", body: { status: { phase: "Ready" } } })
        yield* cluster.delete(Gadget, { namespace: ns, name: "one" })
        yield* events.until("three changes", (seen) => seen.length >= 4)
        assert.deepStrictEqual(
          events.seen.slice(1).map((e) => (e._tag === "Restarted" ? ["Restarted"] : [e._tag, e.object.metadata.name])),
          [["Applied", "two"], ["Applied", "two"], ["Deleted", "one"]]
        )
        const statusEvent = events.seen[2]!
        if (statusEvent._tag === "Applied") assert.strictEqual(statusOf(statusEvent.object)?.["phase"], "Ready")
      }), TIMEOUT)

    it.effect("RBAC: the restricted user gets Forbidden naming the user, the verb and where its credentials came from", () =>
      Effect.gen(function*() {
        const admin = yield* Cluster.Cluster
        const env = yield* EnvtestCluster.EnvtestCluster
        const ns = yield* namespace("rbac")
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "secretless", { k: "v" }))

        const asRestricted = <A, E>(effect: Effect.Effect<A, E, Cluster.Cluster>) =>
          effect.pipe(Effect.provide(EnvtestCluster.clientFor("restricted")))
        const denied = yield* asRestricted(Effect.gen(function*() {
          return yield* failure((yield* Cluster.Cluster).list(Builtin.ConfigMap, { namespace: ns }))
        }))
        assert.strictEqual(denied._tag, "Forbidden")
        assert.instanceOf(denied, ClusterError.Forbidden)
        assert.include(denied.message, `User "${env.restrictedUser}" cannot list resource "configmaps"`)
        assert.include(denied.message, `in the namespace "${ns}"`)
        assert.include(denied.message, `credentials from ${env.kubeconfigPath} (context envtest-restricted)`)
        assert.notInclude(denied.message, Redacted.value(env.restrictedUserToken))

        // granted get/list on ConfigMaps in the namespace: reads work, writes stay forbidden
        yield* admin.create(Builtin.Role, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "read-configmaps", namespace: ns },
          rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }]
        })
        yield* admin.create(Builtin.RoleBinding, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: "read-configmaps", namespace: ns },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-configmaps" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: env.restrictedUser }]
        })
        yield* asRestricted(Effect.gen(function*() {
          const restricted = yield* Cluster.Cluster
          // the authorizer learns about new bindings through its own watch: give it a moment
          yield* eventually(
            "the RoleBinding takes effect",
            restricted.list(Builtin.ConfigMap, { namespace: ns }).pipe(
              Effect.as(true),
              Effect.catchTag("Forbidden", () => Effect.succeed(false))
            )
          )
          const read = yield* restricted.get(Builtin.ConfigMap, { namespace: ns, name: "secretless" })
          assert.deepStrictEqual(dataOf(read), { k: "v" })
          const write = yield* failure(restricted.create(Builtin.ConfigMap, configMap(ns, "mine", {})))
          assert.strictEqual(write._tag, "Forbidden")
          assert.include(write.message, `cannot create resource "configmaps"`)
          const otherNs = yield* failure(restricted.list(Builtin.ConfigMap, { namespace: "default" }))
          assert.strictEqual(otherNs._tag, "Forbidden")
        }))
      }), TIMEOUT)
    it.effect("a token the server does not know is Unauthorized, and the message does not carry it", () =>
      Effect.gen(function*() {
        const env = yield* EnvtestCluster.EnvtestCluster
        const token = "not-a-real-token-0123456789"
        const error = yield* Effect.gen(function*() {
          return yield* failure((yield* Cluster.Cluster).list(Builtin.ConfigMap, { namespace: "default" }))
        }).pipe(
          Effect.provide(KubeCluster.layer.pipe(
            Layer.provide(ClientConfig.layer({ server: env.server, ca: env.caPem, auth: { token: Redacted.make(token) }, userAgent: "envtest-test" })),
            Layer.fresh
          ))
        )
        assert.strictEqual(error._tag, "Unauthorized")
        assert.include(error.message, "list v1/ConfigMap in namespace default: Unauthorized")
        assert.include(error.message, "credentials from ClientConfig options")
        assert.notInclude(error.message, token)
      }), TIMEOUT)
  })

  layer(
    EnvtestCluster.layer({ apiServerArgs: ["--watch-cache=false", "--etcd-compaction-interval=1s"] }),
    layerOptions
  )("server compacting etcd every second, without a watch cache", (it) => {
    /** Writes elsewhere until `check` holds, so etcd's revision moves on and compaction passes old versions. */
    const churnUntil = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        let i = 0
        yield* eventually(
          what,
          Effect.gen(function*() {
            yield* cluster.apply(Builtin.ConfigMap, configMap("default", "churn", { i: String(i++) }), { fieldManager: "churn" })
            return yield* check
          }),
          "60 seconds"
        )
      })

    it.effect("a watch from a compacted resourceVersion and a stale continue token fail with Gone", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace("gone")
        for (let i = 0; i < 3; i++) yield* cluster.create(Builtin.ConfigMap, configMap(ns, `c${i}`, {}))
        const page = yield* cluster.list(Builtin.ConfigMap, { namespace: ns, limit: 1 })
        assert.isString(page.continue)

        const watchFromOld = Effect.gen(function*() {
          const result = yield* cluster.watch(Builtin.ConfigMap, { namespace: ns, resourceVersion: page.resourceVersion, timeoutSeconds: 1 })
            .pipe(Stream.runDrain, Effect.flip, Effect.option)
          return result
        })
        let gone: ClusterError.ClusterError | undefined
        yield* churnUntil("the old resourceVersion is compacted", Effect.map(watchFromOld, (r) => {
          if (r._tag === "Some") gone = r.value
          return r._tag === "Some"
        }))
        assert.strictEqual(gone?._tag, "Gone")
        assert.include(gone?.message, "watch v1/ConfigMap in namespace gone")
        assert.include(gone?.message, "too old")

        const expired = yield* failure(cluster.list(Builtin.ConfigMap, { namespace: ns, limit: 1, continue: page.continue! }))
        assert.strictEqual(expired._tag, "Gone")
        assert.include(expired.message, "continue parameter is too old")
      }), TIMEOUT)

    it.effect.each(["stream", "list"] as const)("the core Watcher (initial state by %s) relists after 410 Gone (no reconnect backoff) and delivers the complete current set", (initialState) =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* namespace(`relist-${initialState}`)
        yield* cluster.create(Builtin.ConfigMap, configMap(ns, "a", {}))
        const states: Array<Watcher.WatcherState> = []
        const events = yield* collect(Watcher.watch(Builtin.ConfigMap, {
          namespace: ns,
          initialState,
          // each watch ends after a second and resumes from the last version seen, which nothing in this
          // namespace advances: once compaction passes it, the resume is answered with 410
          timeoutSeconds: [1, 1],
          onState: (s) => Effect.sync(() => states.push(s))
        }))
        yield* events.until("the first list", (seen) => seen.length >= 1)
        yield* cluster.create(Builtin.ConfigMap, configMap(ns, "b", {}))
        const names = (e: Watcher.WatcherEvent) => (e._tag === "Restarted" ? e.objects.map((o) => o.metadata.name).sort() : [])
        // b arrives by the watch or, if compaction was quicker, by a relist; later relists list a and b
        yield* churnUntil(
          "the watcher relists a and b",
          Effect.sync(() => events.seen.slice(1).some((e) => e._tag === "Restarted" && names(e).join() === "a,b"))
        )
        assert.deepStrictEqual(names(events.seen[0]!), ["a"])
        // The first 410 goes straight back to listing, with no backoff (relists in a row after it wait one out)
        // Streamed, the watch that sends the state is the one that watches on.
        assert.deepStrictEqual(states.slice(0, 3), initialState === "list" ? ["listing", "connecting", "watching"] : ["listing", "watching", "connecting"])
        const relist = states.indexOf("listing", 1)
        assert.isAbove(relist, 0)
        assert.strictEqual(states[relist - 1], "watching")
        assert.isAbove(states.lastIndexOf("listing"), 0)
      }), TIMEOUT)
  })
})
