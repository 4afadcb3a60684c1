/**
 * Every engine rule, end to end: an operator (test/fixtures/Web.ts) against the fake cluster, time under TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Builtin, Child, Cluster, Conditions, type Handler, Logging, Operator, Plan, type Resource } from "@kubefx/core"
import { FakeCluster, TestKit } from "@kubefx/testkit"
import { Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { finalize, Registry, sync, web, Web, WebOperator, type WebSpec, type WebStatus } from "./fixtures/Web.ts"

const env = Layer.mergeAll(FakeCluster.layer({ types: [Web] }), TestKit.TestKit.layer, Registry.layerMemory)

const at = (name: string) => ({ namespace: "default", name })

const withCluster = <A, E>(f: (c: Cluster.Cluster["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    return yield* f(yield* Cluster.Cluster)
  })
const get = (type: Resource.ResourceType, name: string) => withCluster((c) => c.get(type, at(name)))
const exists = (type: Resource.ResourceType, name: string) =>
  get(type, name).pipe(Effect.as(true), Effect.catchTag("NotFound", () => Effect.succeed(false)))
const statusOf = (o: Resource.KubeObject) => (o["status"] ?? {}) as WebStatus & { observedGeneration?: number }
const condition = (o: Resource.KubeObject, type: string) => Conditions.get(Conditions.fromStatus(o["status"]), type)

const create = (o: Resource.KubeObject) => withCluster((c) => c.create(Web, o))
const patchSpec = (name: string, spec: Record<string, unknown>) =>
  withCluster((c) => c.patch(Web, at(name), { type: "merge", body: { spec } }))
const writes = TestKit.requests({ writesOnly: true })

type Req = Handler.SyncRequest<WebSpec, WebStatus>
const variant = (overrides: Partial<Operator.OperatorConfig<WebSpec, WebStatus, unknown, Registry>>) =>
  Operator.make({ ...WebOperator, ...overrides })

describe("Operator on the fake cluster", () => {
  it.effect("creates owned, labelled children and writes status with observedGeneration", () =>
    Effect.gen(function*() {
      yield* TestKit.run(WebOperator)
      yield* create(web("a", { message: "hello", replicas: 2 }))
      yield* TestKit.settle()
      const parent = yield* get(Web, "a")
      for (const type of [Builtin.Deployment, Builtin.Service]) {
        const child = yield* get(type, "a")
        expect(child.metadata.ownerReferences).toEqual([
          { apiVersion: Web.apiVersion, kind: "Web", name: "a", uid: parent.metadata.uid, controller: true, blockOwnerDeletion: true }
        ])
        expect(child.metadata.labels?.[Plan.operatorLabel]).toBe("web-operator")
      }
      const deployment = yield* get(Builtin.Deployment, "a")
      expect((deployment["spec"] as { replicas: number }).replicas).toBe(2)
      expect(statusOf(parent).observedGeneration).toBe(1)
      expect(statusOf(parent).url).toBe("http://a.default.svc")
      expect(condition(parent, Conditions.ReconcileError)?.status).toBe("False")
      // Nothing marks the Deployment available in this test, so the handler reports Ready=False.
      expect(condition(parent, "Ready")).toMatchObject({ status: "False", reason: "Progressing", observedGeneration: 1 })
    }).pipe(Effect.provide(env)))

  it.effect("a converged operator makes zero writes on resync, and its own writes do not trigger reconciles", () =>
    Effect.gen(function*() {
      const controller = yield* TestKit.run(WebOperator)
      yield* create(web("a"))
      yield* create(web("b"))
      yield* TestKit.settle()
      // One reconcile per parent: the children and status it wrote came back as watch events and were ignored.
      expect((yield* controller.stats).reconciles).toBe(2)
      const before = (yield* writes).length
      yield* TestClock.adjust("10 minutes") // the default resync period
      const report = yield* TestKit.settle()
      expect((yield* controller.stats).reconciles).toBe(4)
      expect(report.writes).toBe(0)
      expect((yield* writes).length).toBe(before)
    }).pipe(Effect.provide(env)))

  it.effect("spec changes are applied; fields removed from the desired child are removed; others' fields stay", () =>
    Effect.gen(function*() {
      yield* TestKit.run(WebOperator)
      yield* create(web("a", { message: "one", replicas: 3 }))
      yield* TestKit.settle()
      const cluster = yield* Cluster.Cluster
      // Another writer (say, a mesh injector) adds an annotation to the Deployment: not ours, so it stays.
      yield* cluster.apply(Builtin.Deployment, {
        apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "a", namespace: "default", annotations: { "mesh/inject": "true" } }
      }, { fieldManager: "mesh" })
      // The handler stops setting replicas (spec.replicas dropped from the parent → default 1, still set) and the message changes.
      yield* patchSpec("a", { message: "two", replicas: null })
      yield* TestKit.settle()
      const d = yield* get(Builtin.Deployment, "a")
      const container = (d["spec"] as any).template.spec.containers[0]
      expect(container.args).toEqual(["-text=two", "-listen=:5678"])
      expect((d["spec"] as any).replicas).toBe(1)
      expect(d.metadata.annotations?.["mesh/inject"]).toBe("true")
      const parent = yield* get(Web, "a")
      expect(statusOf(parent).observedGeneration).toBe(2)
    }).pipe(Effect.provide(env)))

  it.effect("a field the handler stops declaring is removed from the child (apply policy)", () =>
    Effect.gen(function*() {
      const withLabel = (label: boolean) => (req: Req) =>
        Effect.map(sync(req), (res) => ({
          ...res,
          children: res.children.map((c) =>
            c.kind === "Deployment" && label ? { ...c, metadata: { ...c.metadata, labels: { ...c.metadata.labels, tier: "web" } } } : c
          )
        }))
      let labelled = true
      yield* TestKit.run(variant({ sync: (req) => withLabel(labelled)(req) }))
      yield* create(web("a"))
      yield* TestKit.settle()
      expect((yield* get(Builtin.Deployment, "a")).metadata.labels?.["tier"]).toBe("web")
      labelled = false
      yield* patchSpec("a", { message: "changed" })
      yield* TestKit.settle()
      expect((yield* get(Builtin.Deployment, "a")).metadata.labels?.["tier"]).toBeUndefined()
    }).pipe(Effect.provide(env)))

  it.effect("tampering with a child is reverted; the replace policy overwrites other writers", () =>
    Effect.gen(function*() {
      yield* TestKit.run(WebOperator)
      yield* create(web("a"))
      yield* TestKit.settle()
      const cluster = yield* Cluster.Cluster
      const svc = yield* get(Builtin.Service, "a")
      yield* cluster.replace(Builtin.Service, { ...svc, spec: { ...(svc["spec"] as object), ports: [{ name: "http", port: 9999, targetPort: 1, protocol: "TCP" }] } })
      const dep = yield* get(Builtin.Deployment, "a")
      yield* cluster.replace(Builtin.Deployment, { ...dep, spec: { ...(dep["spec"] as object), replicas: 7 } })
      yield* TestKit.settle()
      expect(((yield* get(Builtin.Service, "a"))["spec"] as any).ports[0].port).toBe(80)
      expect(((yield* get(Builtin.Deployment, "a"))["spec"] as any).replicas).toBe(1)
      // A deleted child comes back.
      yield* cluster.delete(Builtin.Service, at("a"))
      yield* TestKit.settle()
      expect(yield* exists(Builtin.Service, "a")).toBe(true)
    }).pipe(Effect.provide(env)))

  it.effect("update policies: recreate replaces the object (new uid); onDelete leaves it until someone deletes it", () =>
    Effect.gen(function*() {
      yield* TestKit.run(variant({
        children: [Child.of(Builtin.Deployment, { update: "onDelete" }), Child.of(Builtin.Service, { update: "recreate" })]
      }))
      yield* create(web("a", { message: "one", replicas: 1 }))
      yield* TestKit.settle()
      const svcBefore = yield* get(Builtin.Service, "a")
      yield* patchSpec("a", { message: "two", replicas: 2 })
      yield* TestKit.settle()
      // onDelete: the Deployment keeps the old spec.
      expect(((yield* get(Builtin.Deployment, "a"))["spec"] as any).replicas).toBe(1)
      // recreate: the Service is unchanged in content here, so it stays; tamper with it to force a difference.
      const cluster = yield* Cluster.Cluster
      yield* cluster.replace(Builtin.Service, { ...svcBefore, spec: { ...(svcBefore["spec"] as object), ports: [{ port: 1 }] } })
      yield* TestKit.settle()
      const svcAfter = yield* get(Builtin.Service, "a")
      expect(svcAfter.metadata.uid).not.toBe(svcBefore.metadata.uid)
      expect((svcAfter["spec"] as any).ports[0].port).toBe(80)
      // onDelete: once deleted, the Deployment comes back with the current spec.
      yield* cluster.delete(Builtin.Deployment, at("a"))
      yield* TestKit.settle()
      expect(((yield* get(Builtin.Deployment, "a"))["spec"] as any).replicas).toBe(2)
    }).pipe(Effect.provide(env)))

  it.effect("TestKit.settle reports a hot loop: a sync that asks to run again at once, forever, never goes quiet", () =>
    Effect.gen(function*() {
      let n = 0
      yield* TestKit.run(variant({
        sync: (req) =>
          Effect.map(sync(req), (res) => ({
            ...res,
            requeueAfter: "0 millis",
            children: res.children.map((c) => c.kind === "Service" ? { ...c, metadata: { ...c.metadata, annotations: { generation: String(++n) } } } : c)
          }))
      }))
      yield* create(web("a"))
      const result = yield* Effect.flip(TestKit.settle())
      expect(result.message).toMatch(/hot loop/)
      expect(n).toBeGreaterThan(100)
    }).pipe(Effect.provide(env)))

  it.effect("a failing sync never deletes children: it sets an error condition and retries with backoff", () =>
    Effect.gen(function*() {
      let attempts = 0
      const controller = yield* TestKit.run(variant({
        sync: (req) =>
          req.parent.spec.message === "fail"
            ? Effect.suspend(() => {
              attempts++
              return Effect.fail(new Error("backend unavailable"))
            })
            : sync(req)
      }))
      yield* create(web("a"))
      yield* TestKit.settle()
      yield* patchSpec("a", { message: "fail" })
      yield* TestKit.settle({ horizon: "3 seconds" }).pipe(Effect.ignore)
      expect(yield* exists(Builtin.Deployment, "a")).toBe(true)
      expect(yield* exists(Builtin.Service, "a")).toBe(true)
      const parent = yield* get(Web, "a")
      expect(condition(parent, Conditions.ReconcileError)).toMatchObject({ status: "True", reason: "SyncFailed" })
      expect(condition(parent, Conditions.ReconcileError)?.message).toMatch(/backend unavailable/)
      expect(condition(parent, "Ready")?.status).toBe("False")
      // Backoff: a few attempts in 3 s (0.5 s, 1 s, 2 s …), not a hot loop.
      const early = attempts
      expect(early).toBeGreaterThanOrEqual(2)
      expect(early).toBeLessThanOrEqual(5)
      yield* TestClock.adjust("1 minute")
      yield* TestKit.settle({ horizon: "1 second" }).pipe(Effect.ignore)
      expect(attempts - early).toBeLessThanOrEqual(6)
      // Fixing the spec recovers and resets the condition.
      yield* patchSpec("a", { message: "ok" })
      yield* TestKit.settle()
      const fixed = yield* get(Web, "a")
      expect(condition(fixed, Conditions.ReconcileError)?.status).toBe("False")
      expect((yield* controller.stats).failures).toBeGreaterThan(0)
    }).pipe(Effect.provide(env), Effect.provide(process.env.DBG ? Logging.layer({ level: "Debug" }) : Layer.empty)))

  it.effect("an invalid spec gets a condition quoting the decode error, and children stay as they are", () =>
    Effect.gen(function*() {
      const lenient = Layer.mergeAll(FakeCluster.layer({ types: [{ ...Web, spec: undefined } as never] }), TestKit.TestKit.layer, Registry.layerMemory)
      return yield* Effect.gen(function*() {
        yield* TestKit.run(WebOperator)
        yield* create(web("a"))
        yield* TestKit.settle()
        const before = yield* get(Builtin.Deployment, "a")
        yield* patchSpec("a", { replicas: "many" })
        yield* TestKit.settle()
        const parent = yield* get(Web, "a")
        expect(condition(parent, Conditions.ReconcileError)).toMatchObject({ status: "True", reason: "InvalidSpec" })
        expect(condition(parent, Conditions.ReconcileError)?.message).toMatch(/replicas/)
        expect(yield* get(Builtin.Deployment, "a")).toEqual(before)
      }).pipe(Effect.provide(lenient))
    }))

  it.effect("a finalizer is added only when finalize exists, and removed only after finalize reports done", () =>
    Effect.gen(function*() {
      let done = false
      let calls = 0
      yield* TestKit.run(variant({
        finalize: (req) =>
          Effect.suspend((): Effect.Effect<Handler.FinalizeResponse<WebStatus>, never, Registry> => {
            calls++
            return done ? finalize(req) : Effect.succeed({ finalized: false, requeueAfter: "10 seconds" })
          })
      }))
      yield* create(web("a"))
      yield* TestKit.settle()
      expect((yield* get(Web, "a")).metadata.finalizers).toEqual(["kubefx.io/web-operator"])
      const cluster = yield* Cluster.Cluster
      yield* cluster.delete(Web, at("a"))
      yield* TestKit.settle({ horizon: "25 seconds" })
      const held = yield* get(Web, "a")
      expect(held.metadata.deletionTimestamp).toBeDefined()
      expect(calls).toBeGreaterThanOrEqual(2)
      // Children are untouched while finalizing.
      expect(yield* exists(Builtin.Deployment, "a")).toBe(true)
      done = true
      yield* TestClock.adjust("10 seconds")
      yield* TestKit.settle()
      expect(yield* exists(Web, "a")).toBe(false)
      // The owner is gone: garbage collection removed the children.
      expect(yield* exists(Builtin.Deployment, "a")).toBe(false)
      expect((yield* (yield* Registry).entries).size).toBe(0)
    }).pipe(Effect.provide(env)))

  it.effect("without finalize, no finalizer is added; an object already being deleted never gets one", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const labelled = (name: string, op: string, extra: Partial<Resource.ObjectMeta> = {}) => ({
        ...web(name),
        metadata: { ...web(name).metadata, labels: { op }, ...extra }
      })
      yield* cluster.create(Web, labelled("held", "echo", { finalizers: ["example.com/someone-else"] }))
      yield* cluster.delete(Web, at("held"))
      yield* TestKit.run(variant({ parentSelector: "op=echo" }))
      yield* TestKit.run(variant({ name: "plain-operator", finalize: undefined, parentSelector: "op=plain" }))
      yield* create(labelled("with-finalize", "echo"))
      yield* create(labelled("without", "plain"))
      yield* TestKit.settle()
      expect((yield* get(Web, "held")).metadata.finalizers).toEqual(["example.com/someone-else"])
      expect((yield* get(Web, "with-finalize")).metadata.finalizers).toEqual(["kubefx.io/web-operator"])
      expect((yield* get(Web, "without")).metadata.finalizers).toBeUndefined()
      expect(yield* exists(Builtin.Deployment, "without")).toBe(true)
    }).pipe(Effect.provide(env)))

  it.effect("objects it does not own are never touched: a squatter blocks the child and is reported", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const squatter = yield* cluster.create(Builtin.Service, {
        apiVersion: "v1", kind: "Service", metadata: { name: "a", namespace: "default" }, spec: { ports: [{ port: 1234 }] }
      })
      yield* TestKit.run(WebOperator)
      yield* create(web("a"))
      yield* TestKit.settle({ horizon: "5 seconds" }).pipe(Effect.ignore)
      expect(yield* get(Builtin.Service, "a")).toEqual(squatter)
      const parent = yield* get(Web, "a")
      expect(condition(parent, Conditions.ReconcileError)).toMatchObject({ status: "True", reason: "ChildConflict" })
      expect(condition(parent, Conditions.ReconcileError)?.message).toMatch(/not owned by this parent/)
      // The Deployment, which is not blocked, was created.
      expect(yield* exists(Builtin.Deployment, "a")).toBe(true)
    }).pipe(Effect.provide(env)))

  it.effect("a defect in a handler is isolated to its parent and retried; the operator keeps running", () =>
    Effect.gen(function*() {
      let thrown = 0
      yield* TestKit.run(variant({
        sync: (req) =>
          req.parent.metadata.name === "bad"
            ? Effect.sync(() => {
              thrown++
              throw new TypeError("cannot read properties of undefined")
            })
            : sync(req)
      }))
      yield* create(web("bad"))
      yield* create(web("good"))
      yield* TestKit.settle({ horizon: "5 seconds" }).pipe(Effect.ignore)
      expect(yield* exists(Builtin.Deployment, "good")).toBe(true)
      expect(yield* exists(Builtin.Deployment, "bad")).toBe(false)
      expect(thrown).toBeGreaterThan(1)
      const bad = yield* get(Web, "bad")
      expect(condition(bad, Conditions.ReconcileError)?.message).toMatch(/cannot read properties of undefined/)
      // Still running: a new parent converges.
      yield* create(web("late"))
      yield* TestKit.settle({ horizon: "5 seconds" }).pipe(Effect.ignore)
      expect(yield* exists(Builtin.Deployment, "late")).toBe(true)
    }).pipe(Effect.provide(env)))

  it.effect("never two reconciles of one parent at once; events during a reconcile cause exactly one more", () =>
    Effect.gen(function*() {
      let running = 0
      let maxRunning = 0
      let runs = 0
      const entered = yield* Deferred.make<void>()
      yield* TestKit.run(variant({
        maxConcurrency: 4,
        sync: (req) =>
          Effect.gen(function*() {
            running++
            runs++
            maxRunning = Math.max(maxRunning, running)
            yield* Deferred.succeed(entered, undefined)
            yield* Effect.sleep("5 seconds")
            running--
            return yield* sync(req)
          })
      }))
      yield* create(web("a"))
      yield* Deferred.await(entered)
      for (let i = 0; i < 5; i++) yield* patchSpec("a", { message: `edit ${i}` })
      yield* TestKit.settle()
      expect(maxRunning).toBe(1)
      expect(runs).toBe(2)
      const d = yield* get(Builtin.Deployment, "a")
      expect((d["spec"] as any).template.spec.containers[0].args[0]).toBe("-text=edit 4")
    }).pipe(Effect.provide(env)))

  it.effect("on shutdown: no new work is taken and an in-flight reconcile finishes its writes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      yield* TestKit.run(variant({
        shutdownTimeout: "30 seconds",
        sync: (req) => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.sleep("10 seconds")), Effect.andThen(sync(req)))
      })).pipe(Scope.provide(scope))
      yield* create(web("a"))
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      yield* create(web("b"))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      expect(yield* exists(Builtin.Deployment, "a")).toBe(true)
      expect(yield* exists(Builtin.Deployment, "b")).toBe(false)
    }).pipe(Effect.provide(env)))

  it.effect("on shutdown, a reconcile that outlives the timeout is interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      yield* TestKit.run(variant({
        shutdownTimeout: "2 seconds",
        sync: (req) => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.sleep("1 hour")), Effect.andThen(sync(req)))
      })).pipe(Scope.provide(scope))
      yield* create(web("a"))
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(closing)
      expect(yield* exists(Builtin.Deployment, "a")).toBe(false)
    }).pipe(Effect.provide(env)))

  it.effect("several operators run in one process, composed as layers", () =>
    Effect.gen(function*() {
      const first = variant({ parentSelector: "op=first" })
      const second = variant({ name: "second-operator", finalizerName: "kubefx.io/second-operator", parentSelector: "op=second" })
      yield* Layer.build(Layer.mergeAll(Operator.layer(first), Operator.layer(second)))
      const labelled = (name: string, op: string) => ({ ...web(name), metadata: { ...web(name).metadata, labels: { op } } })
      yield* create(labelled("a", "first"))
      yield* create(labelled("b", "second"))
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust("1 second")
        for (let j = 0; j < 50; j++) yield* Effect.yieldNow
      }
      expect((yield* get(Builtin.Deployment, "a")).metadata.labels?.[Plan.operatorLabel]).toBe("web-operator")
      expect((yield* get(Builtin.Deployment, "b")).metadata.labels?.[Plan.operatorLabel]).toBe("second-operator")
      expect((yield* get(Web, "b")).metadata.finalizers).toEqual(["kubefx.io/second-operator"])
    }).pipe(Effect.provide(env)))

  it.effect("an operator never takes over children another operator manages for the same parent", () =>
    Effect.gen(function*() {
      yield* TestKit.run(WebOperator)
      yield* create(web("a"))
      yield* TestKit.settle()
      const before = [yield* get(Builtin.Deployment, "a"), yield* get(Builtin.Service, "a")]
      yield* TestKit.run(variant({ name: "greedy-operator", finalize: undefined }))
      yield* TestKit.settle({ horizon: "10 seconds" }).pipe(Effect.ignore)
      expect([yield* get(Builtin.Deployment, "a"), yield* get(Builtin.Service, "a")]).toEqual(before)
      // It tried: a create the server refused (AlreadyExists), and an apply on condition that nothing was there
      // (refused: 409), then a read that showed the object was not its own; no unconditional write followed.
      const greedy = (yield* TestKit.requests()).filter((r) => r.operator === "greedy-operator" && r.resource !== "test.kubefx.io/v1/Web")
      expect(greedy.some((r) => r.verb === "update")).toBe(false)
      expect(greedy.filter((r) => r.verb === "apply").length).toBeGreaterThan(0)
      expect(greedy.filter((r) => r.verb === "get").length).toBeGreaterThanOrEqual(greedy.filter((r) => r.verb === "apply").length)
    }).pipe(Effect.provide(env)))
})
