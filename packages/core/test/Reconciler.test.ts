/**
 * Hazards of one reconcile, each found by review and held here by a test that failed before its fix:
 * partial applies, backoff that events bypass, handlers that throw before returning an Effect, and
 * handlers that mutate the snapshot they are given.
 */
import { describe, expect, it } from "@effect/vitest"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Effect, Layer, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Builtin from "../src/Builtin.ts"
import * as Child from "../src/Child.ts"
import { Cluster } from "../src/Cluster.ts"
import * as ClusterError from "../src/ClusterError.ts"
import * as Conditions from "../src/Conditions.ts"
import type * as Handler from "../src/Handler.ts"
import * as Operator from "../src/Operator.ts"
import * as Resource from "../src/Resource.ts"
import { Registry, web, Web, WebOperator } from "./fixtures/Web.ts"

const App = Resource.custom({
  group: "test.kubefx.io",
  version: "v1",
  kind: "App",
  plural: "apps",
  spec: Schema.Struct({ version: Schema.String }),
  status: Schema.Struct({ seen: Schema.optionalKey(Schema.Number) })
})
type Spec = typeof App.spec.Type
type Status = typeof App.status.Type
type Request = Handler.SyncRequest<Spec, Status>

const env = Layer.mergeAll(FakeCluster.layer({ types: [App] }), TestKit.TestKit.layer)
const at = (name: string) => ({ namespace: "default", name })
const app = (name: string, version: string): Resource.KubeObject => ({
  apiVersion: App.apiVersion,
  kind: App.kind,
  metadata: { name, namespace: "default" },
  spec: { version }
})
/** One ConfigMap per parent, named after the spec's version: a new version renames the child. */
const configMapFor = (req: Request) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: `${req.parent.metadata.name}-${req.parent.spec.version}` },
  data: { version: req.parent.spec.version }
})
const operator = (overrides: Partial<Operator.OperatorConfig<Spec, Status, unknown, never>> = {}) =>
  Operator.make({
    name: "app-operator",
    parent: App,
    children: [Child.of(Builtin.ConfigMap, { update: "replace" })],
    sync: (req: Request) => Effect.succeed({ status: {}, children: [configMapFor(req)] }),
    ...overrides
  })
const names = (objects: ReadonlyArray<Resource.KubeObject>) => objects.map((o) => o.metadata.name).sort()
const configMaps = Effect.flatMap(FakeCluster.FakeCluster, (fake) => Effect.map(fake.objects(Builtin.ConfigMap), names))
const reconcileError = (o: Resource.KubeObject) => Conditions.get(Conditions.fromStatus(o["status"]), Conditions.ReconcileError)
/**
 * The port as a live client behaves: every answer is a fresh, mutable object (FakeCluster freezes its copies,
 * which would hide a handler's mutation from the test).
 */
const unfrozen = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const inner = yield* Cluster
    const copy = <T>(e: Effect.Effect<T, ClusterError.ClusterError>) => Effect.map(e, (v) => structuredClone(v))
    const port: Cluster["Service"] = {
      get: (t, a) => copy(inner.get(t, a)),
      list: (t, o) => copy(inner.list(t, o)),
      watch: (t, o) => Stream.map(inner.watch(t, o), (event) => structuredClone(event)),
      create: (t, o, w) => copy(inner.create(t, o, w)),
      replace: (t, o, w) => copy(inner.replace(t, o, w)),
      apply: (t, o, w) => copy(inner.apply(t, o, w)),
      patch: (t, a, p, w) => copy(inner.patch(t, a, p, w)),
      delete: (t, a, d) => copy(inner.delete(t, a, d)),
      replaceStatus: (t, o, w) => copy(inner.replaceStatus(t, o, w)),
      patchStatus: (t, a, p, w) => copy(inner.patchStatus(t, a, p, w))
    }
    return yield* body.pipe(Effect.provideService(Cluster, port))
  })

const invalid = () =>
  new ClusterError.Invalid({ message: "ConfigMap \"a-v2\" is invalid: data: Too long", status: 422, causes: [] })

describe("Reconciler", () => {
  it.effect("a rename whose create fails deletes nothing: deletes run only after every create succeeded", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const fake = yield* FakeCluster.FakeCluster
      yield* TestKit.run(operator())
      yield* cluster.create(App, app("a", "v1"))
      yield* TestKit.settle()
      expect(yield* configMaps).toEqual(["a-v1"])
      yield* fake.failNext({ verb: "create", type: Builtin.ConfigMap, times: 3, error: invalid() })
      yield* cluster.patch(App, at("a"), { type: "merge", body: { spec: { version: "v2" } } })
      yield* TestKit.settle({ horizon: "2 seconds" }).pipe(Effect.ignore)
      // The old child still serves while the new one cannot be created.
      expect(yield* configMaps).toEqual(["a-v1"])
      expect(reconcileError(yield* cluster.get(App, at("a")))).toMatchObject({ status: "True", reason: "WriteFailed" })
      yield* TestClock.adjust("1 minute")
      yield* TestKit.settle()
      expect(yield* configMaps).toEqual(["a-v2"])
    }).pipe(Effect.provide(env)))

  it.effect("a failing parent whose children keep changing retries by its backoff and Retry-After, not at the event rate", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const fake = yield* FakeCluster.FakeCluster
      yield* TestKit.run(operator({
        sync: (req) =>
          Effect.succeed({ status: {}, children: [configMapFor(req), { ...configMapFor(req), metadata: { name: `${req.parent.metadata.name}-extra` } }] })
      }))
      yield* cluster.create(App, app("a", "v1"))
      yield* TestKit.settle()
      // Every create of the extra child is throttled for 30 s, while someone edits the other child every second.
      yield* cluster.delete(Builtin.ConfigMap, at("a-extra"))
      yield* fake.failNext({ verb: "create", type: Builtin.ConfigMap, name: "a-extra", times: 1000, error: FakeCluster.errors.tooManyRequests(30) })
      for (let i = 0; i < 60; i++) {
        yield* cluster.patch(Builtin.ConfigMap, at("a-v1"), { type: "merge", body: { metadata: { annotations: { tick: String(i) } } } }).pipe(Effect.ignore)
        yield* TestClock.adjust("1 second")
        for (let j = 0; j < 20; j++) yield* Effect.yieldNow
      }
      const requests = yield* fake.requests
      const deleted = requests.findIndex((r) => r.verb === "delete" && r.name === "a-extra")
      const creates = requests.slice(deleted).filter((r) => r.verb === "create" && r.name === "a-extra")
      // 60 s of edits: the first attempt and then one every 30 s at most, never one per edit.
      expect(creates.length).toBeGreaterThanOrEqual(2)
      expect(creates.length).toBeLessThanOrEqual(3)
      for (let i = 1; i < creates.length; i++) expect(creates[i]!.time - creates[i - 1]!.time).toBeGreaterThanOrEqual(30_000)
    }).pipe(Effect.provide(env)))

  it.effect("a handler that throws before returning an Effect gets an error condition like any other defect", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      yield* TestKit.run(operator({
        sync: (req) => {
          if (req.parent.spec.version === "boom") throw new TypeError("handler exploded synchronously")
          return Effect.succeed({ status: {}, children: [configMapFor(req)] })
        }
      }))
      yield* cluster.create(App, app("a", "boom"))
      yield* cluster.create(App, app("b", "v1"))
      yield* TestKit.settle({ horizon: "3 seconds" }).pipe(Effect.ignore)
      const failed = reconcileError(yield* cluster.get(App, at("a")))
      expect(failed).toMatchObject({ status: "True", reason: "SyncFailed" })
      expect(failed?.message).toMatch(/handler exploded synchronously/)
      expect(yield* configMaps).toEqual(["b-v1"])
    }).pipe(Effect.provide(env)))

  it.effect("a handler that mutates its snapshot cannot corrupt the cache: the snapshot is frozen", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      const seen: Array<string | undefined> = []
      const refused: Array<boolean> = []
      yield* TestKit.run(operator({
        sync: (req) =>
          Effect.sync(() => {
            seen.push(req.parent.metadata.labels?.["tampered"])
            try {
              ;(req.parent.metadata as { labels?: Record<string, string> }).labels = { tampered: "yes" }
              const cm = req.children.of(Builtin.ConfigMap)[0] as { data?: Record<string, string> } | undefined
              if (cm !== undefined) cm.data = { version: "tampered" }
              refused.push(false)
            } catch {
              refused.push(true)
            }
            return { status: {}, children: [configMapFor(req)] }
          })
      }))
      yield* cluster.create(App, app("a", "v1"))
      yield* TestKit.settle()
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("10 minutes") // a resync: the handler sees the cache again
        yield* TestKit.settle()
      }
      expect(seen.length).toBeGreaterThanOrEqual(4)
      expect(seen.every((v) => v === undefined)).toBe(true)
      expect(refused.every((r) => r)).toBe(true)
    }).pipe(unfrozen, Effect.provide(env)))

  it.effect("a create that finds the operator's own child (the cache had not caught up) is not a failure", () =>
    Effect.gen(function*() {
      const inner = yield* Cluster
      // The ConfigMap watch and list never show a-v1, as a relist from a lagging cache would not.
      const hide = <T extends { readonly items: ReadonlyArray<Resource.KubeObject> }>(list: T): T =>
        ({ ...list, items: list.items.filter((o) => o.metadata.name !== "a-v1") })
      const blind: Cluster["Service"] = {
        ...inner,
        list: (t, o) => (t === Builtin.ConfigMap ? Effect.map(inner.list(t, o), hide) : inner.list(t, o)) as never,
        watch: (t, o) => (t === Builtin.ConfigMap ? Stream.filter(inner.watch(t, o), (e) => e.object.metadata.name !== "a-v1") : inner.watch(t, o)) as never
      }
      return yield* Effect.gen(function*() {
        const cluster = yield* Cluster
        const controller = yield* TestKit.run(operator())
        yield* cluster.create(App, app("a", "v1"))
        yield* TestKit.settle()
        // A relist (after compaction and a dropped watch) evicts the child the operator just created.
        const fake = yield* FakeCluster.FakeCluster
        yield* fake.compact
        yield* fake.dropWatches({ error: true })
        yield* TestKit.settle()
        const parent = yield* cluster.get(App, at("a"))
        expect(reconcileError(parent)).toMatchObject({ status: "False" })
        expect(yield* configMaps).toEqual(["a-v1"])
        expect((yield* controller.stats).failures).toBe(0)
      }).pipe(Effect.provideService(Cluster, blind))
    }).pipe(Effect.provide(env)))

  it.effect("a write whose result shows a change the sync did not see (a child became ready meanwhile) reconciles again", () =>
    Effect.gen(function*() {
      const inner = yield* Cluster
      // As when kube-controller-manager updates a Deployment's status between our read and our write: the
      // apply's answer already carries the new status, so the watch events for it arrive as old news.
      let race = false
      const racing: Cluster["Service"] = {
        ...inner,
        apply: (t, o, w) =>
          t !== Builtin.Deployment || !race
            ? inner.apply(t, o, w)
            : Effect.gen(function*() {
              const applied = yield* inner.apply(t, o, w)
              const replicas = (applied["spec"] as { replicas?: number }).replicas ?? 1
              yield* inner.replaceStatus(t, { ...applied, status: { replicas, availableReplicas: replicas, readyReplicas: replicas } })
              return yield* inner.get(t, { namespace: applied.metadata.namespace ?? "", name: applied.metadata.name ?? "" })
            }) as never
      }
      return yield* Effect.gen(function*() {
        const cluster = yield* Cluster
        yield* TestKit.run(Operator.make({ ...WebOperator, resyncPeriod: "1 hour" }))
        yield* cluster.create(Web, web("a"))
        yield* TestKit.settle({ horizon: "1 minute" })
        race = true
        yield* cluster.patch(Web, at("a"), { type: "merge", body: { spec: { replicas: 2 } } })
        yield* TestKit.settle({ horizon: "1 minute" })
        const parent = yield* cluster.get(Web, at("a"))
        expect(Conditions.get(Conditions.fromStatus(parent["status"]), "Ready")).toMatchObject({ status: "True", reason: "Available" })
      }).pipe(Effect.provideService(Cluster, racing))
    }).pipe(Effect.provide(Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory))))

  it.effect("a parent relabelled out of the operator's selector is released: its finalizer removed, its children left", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      yield* TestKit.run(operator({ parentSelector: "team=a", finalize: () => Effect.succeed({ finalized: true }) }))
      yield* cluster.create(App, { ...app("x", "v1"), metadata: { name: "x", namespace: "default", labels: { team: "a" } } })
      yield* TestKit.settle()
      expect((yield* cluster.get(App, at("x"))).metadata.finalizers).toEqual(["kubefx.io/app-operator"])
      yield* cluster.patch(App, at("x"), { type: "merge", body: { metadata: { labels: { team: "b" } } } })
      yield* TestKit.settle()
      const released = yield* cluster.get(App, at("x"))
      expect(released.metadata.finalizers ?? []).toEqual([])
      expect(yield* configMaps).toEqual(["x-v1"])
      // Deleting it now is not held up by an operator that no longer handles it.
      yield* cluster.delete(App, at("x"))
      yield* TestKit.settle()
      expect(yield* Effect.flip(cluster.get(App, at("x")))).toMatchObject({ _tag: "NotFound" })
    }).pipe(Effect.provide(env)))

  it.effect("a parent deleted and created again under the same name gets children owned by its new uid", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      yield* TestKit.run(operator())
      yield* cluster.create(App, app("a", "v1"))
      yield* TestKit.settle()
      const first = yield* cluster.get(App, at("a"))
      yield* cluster.delete(App, at("a"))
      yield* cluster.create(App, app("a", "v1"))
      yield* TestKit.settle()
      const second = yield* cluster.get(App, at("a"))
      expect(second.metadata.uid).not.toBe(first.metadata.uid)
      const child = yield* cluster.get(Builtin.ConfigMap, at("a-v1"))
      expect(child.metadata.ownerReferences?.map((o) => o.uid)).toEqual([second.metadata.uid])
      expect(reconcileError(second)).toMatchObject({ status: "False" })
    }).pipe(Effect.provide(env)))

  it.effect("a finalize that fails keeps the finalizer and is retried until it succeeds", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster
      let attempts = 0
      yield* TestKit.run(operator({
        finalize: () =>
          Effect.suspend(() => ++attempts < 3 ? Effect.fail(new Error("external API down")) : Effect.succeed({ finalized: true }))
      }))
      yield* cluster.create(App, app("a", "v1"))
      yield* TestKit.settle()
      yield* cluster.delete(App, at("a"))
      yield* TestKit.settle({ horizon: "200 millis" }).pipe(Effect.ignore)
      const held = yield* cluster.get(App, at("a"))
      expect(held.metadata.finalizers).toEqual(["kubefx.io/app-operator"])
      expect(reconcileError(held)).toMatchObject({ status: "True", reason: "FinalizeFailed" })
      yield* TestKit.settle()
      expect(attempts).toBe(3)
      expect(yield* Effect.flip(cluster.get(App, at("a")))).toMatchObject({ _tag: "NotFound" })
    }).pipe(Effect.provide(env)))
})
