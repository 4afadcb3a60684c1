/**
 * The echo-server operator end to end on a real API server: etcd, kube-apiserver and
 * kube-controller-manager (garbage collection, and the Deployment controller reporting status) from
 * `EnvtestCluster`, the live `KubeCluster` layer, and the same `EchoOperator` that `npm start` runs.
 * Real time throughout: every wait is a poll with a deadline.
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); without them the file fails. Set
 * KUBEFX_ENVTEST=0 to switch it off.
 */
import { execFile } from "node:child_process"
import { afterAll, assert, describe, layer } from "@effect/vitest"
import { Builtin, Cluster, Conditions, Logging, Operator, Plan, Resource } from "@kubefx/core"
import { Manifests } from "@kubefx/k8s"
import { EnvtestCluster } from "@kubefx/envtest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Directory } from "../src/Directory.ts"
import { EchoServer } from "../src/EchoServer.ts"
import { EchoOperator } from "../src/operator.ts"

const echoCrd = Effect.runSync(Manifests.crd(EchoServer))
const ReplicaSet = Resource.make({ group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets" })
const TIMEOUT = 240_000
/** How long convergence may take on a loaded 2-core machine before a test gives up. */
const DEADLINE = "90 seconds"

type Obj = Resource.KubeObject

const echo = (namespace: string, name: string, spec: Record<string, unknown>): Obj => ({
  apiVersion: EchoServer.apiVersion,
  kind: EchoServer.kind,
  metadata: { name, namespace },
  spec
})
const deploymentSpec = (o: Obj) => o["spec"] as { replicas?: number; template: { spec: { containers: Array<{ args: Array<string> }> } } }
const serviceSpec = (o: Obj) => o["spec"] as { ports: Array<{ port: number; targetPort: number }>; clusterIP?: string }
const statusOf = (o: Obj) =>
  (o["status"] ?? {}) as { observedGeneration?: number; url?: string; ready?: boolean; availableReplicas?: number }
const argsOf = (d: Obj) => deploymentSpec(d).template.spec.containers[0]?.args ?? []

/** Repeats `check` every 250 ms until it returns true; a string says what is still missing, for the timeout message. */
const eventually = <E, R>(what: string, check: Effect.Effect<true | string, E, R>, within: Duration.Input = DEADLINE) =>
  Effect.gen(function*() {
    let last = "not checked yet"
    yield* Effect.suspend(function loop(): Effect.Effect<void, E, R> {
      return check.pipe(Effect.flatMap((r) => {
        if (r === true) return Effect.void
        last = r
        return Effect.sleep("250 millis").pipe(Effect.andThen(loop))
      }))
    }).pipe(
      Effect.timeoutOrElse({
        duration: within,
        orElse: () => Effect.die(new Error(`timed out after ${Duration.format(Duration.fromInputUnsafe(within))} waiting until ${what}: ${last}`))
      })
    )
  })

const find = (type: Resource.ResourceType, namespace: string, name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    return yield* cluster.get(type, { namespace, name }).pipe(
      Effect.map((o): Obj | undefined => o),
      Effect.catchTag("NotFound", () => Effect.succeed(undefined))
    )
  })

/**
 * The parent is converged: its Deployment runs `message` with `replicas`, its Service is there, both are
 * controlled by it, and its status reports the current generation.
 */
const converged = (namespace: string, name: string, message: string, replicas = 1) =>
  Effect.gen(function*() {
    const parent = yield* find(EchoServer, namespace, name)
    if (parent === undefined) return `EchoServer ${name} is missing`
    const deployment = yield* find(Builtin.Deployment, namespace, name)
    const service = yield* find(Builtin.Service, namespace, name)
    if (deployment === undefined) return `Deployment ${name} is missing`
    if (service === undefined) return `Service ${name} is missing`
    for (const child of [deployment, service]) {
      const owner = child.metadata.ownerReferences?.find((o) => o.controller === true)
      if (owner?.uid !== parent.metadata.uid) return `${child.kind} ${name} is not controlled by its EchoServer`
    }
    if (argsOf(deployment)[0] !== `-text=${message}`) return `Deployment ${name} runs ${argsOf(deployment)[0]}`
    if (deploymentSpec(deployment).replicas !== replicas) return `Deployment ${name} has ${deploymentSpec(deployment).replicas} replicas`
    if (serviceSpec(service).ports[0]?.port !== 80) return `Service ${name} listens on ${serviceSpec(service).ports[0]?.port}`
    const status = statusOf(parent)
    if (status.observedGeneration !== parent.metadata.generation) {
      return `status of ${name} is for generation ${status.observedGeneration}, not ${parent.metadata.generation}`
    }
    return true as const
  })

const allConverged = (namespace: string, expected: ReadonlyArray<readonly [name: string, message: string]>) =>
  Effect.gen(function*() {
    for (const [name, message] of expected) {
      const r = yield* converged(namespace, name, message)
      if (r !== true) return r
    }
    return true as const
  })

const gone = (type: Resource.ResourceType, namespace: string, name: string) =>
  Effect.map(find(type, namespace, name), (o) => (o === undefined ? (true as const) : `${type.kind} ${name} still exists`))

const createNamespace = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* cluster.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name } })
    return name
  })

/**
 * Runs an operator in a scope of its own, so a test can stop it (gracefully) and start another; the test's
 * scope closes it at the latest, so no operator outlives its test.
 */
const startOperator = Effect.gen(function*() {
  const scope = yield* Scope.fork(yield* Scope.Scope)
  const controller = yield* Operator.run(EchoOperator).pipe(Scope.provide(scope))
  yield* controller.synced.pipe(Effect.timeoutOrElse({ duration: DEADLINE, orElse: () => Effect.die(new Error("operator never synced")) }))
  return { controller, stop: Scope.close(scope, Exit.void) }
})

const kubectl = (kubeconfig: string, args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile("kubectl", ["--kubeconfig", kubeconfig, ...args], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout: String(stdout), stderr: String(stderr) }))
    })
    return Effect.sync(() => child.kill())
  })

const started = performance.now()
const timings: Array<string> = []
const timed = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const a = yield* effect
    timings.push(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    return a
  })

const Env = Layer.mergeAll(
  EnvtestCluster.layer({ crds: [echoCrd], controllerManager: true, userAgent: "echo-server-envtest" }),
  // One directory for the whole file: it is the operator's external state, and it outlives a restart.
  Directory.layerMemory,
  Logging.layer({ level: process.env["KUBEFX_LOG"] === "debug" ? "Debug" : "Warn" })
).pipe(Layer.tap(() => Effect.sync(() => timings.push(`control plane ready: ${((performance.now() - started) / 1000).toFixed(1)} s after start`))))

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("echo-server operator on a real API server", () => {
  afterAll(() => {
    console.log(`echo-server envtest suite: ${((performance.now() - started) / 1000).toFixed(1)} s in all\n  ${timings.join("\n  ")}`)
  })

  layer(Env, { timeout: "3 minutes", excludeTestServices: true })("with kube-controller-manager", (it) => {
    it.effect("creates children and status for each EchoServer, applies spec changes, and kubectl sees the objects", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const env = yield* EnvtestCluster.EnvtestCluster
        const ns = yield* createNamespace("lifecycle")
        const { controller } = yield* startOperator
        yield* cluster.create(EchoServer, echo(ns, "hello", { message: "hello", replicas: 1 }))
        yield* cluster.create(EchoServer, echo(ns, "bonjour", { message: "bonjour" }))
        yield* timed("two parents converged", eventually("both parents converge", allConverged(ns, [["hello", "hello"], ["bonjour", "bonjour"]])))

        const parent = (yield* find(EchoServer, ns, "hello"))!
        assert.deepStrictEqual(parent.metadata.finalizers, ["kubefx.io/echo-operator"])
        const status = statusOf(parent)
        assert.strictEqual(status.url, `http://hello.${ns}.svc`)
        // nothing runs pods here, so the Deployment controller reports no available replica
        const ready = Conditions.get(Conditions.fromStatus(parent["status"]), "Ready")
        assert.strictEqual(ready?.status, "False")
        assert.strictEqual(ready?.message, "0/1 replicas available")
        const deployment = (yield* find(Builtin.Deployment, ns, "hello"))!
        assert.strictEqual(deployment.metadata.labels?.[Plan.operatorLabel], "echo-operator")
        assert.deepStrictEqual(deployment.metadata.managedFields?.filter((m) => m.manager === "echo-operator").map((m) => m.operation), ["Apply"])
        const service = (yield* find(Builtin.Service, ns, "hello"))!
        // the server allocated a cluster IP; the operator's replace keeps it
        assert.match(serviceSpec(service).clusterIP ?? "", /^10\.0\.0\.\d+$/)
        assert.isTrue((yield* (yield* Directory).entries).has(`${ns}/hello`))

        // a spec change rolls out to the Deployment, and status follows the generation
        yield* cluster.patch(EchoServer, { namespace: ns, name: "hello" }, { type: "merge", body: { spec: { message: "hello again", replicas: 3 } } })
        yield* timed("spec change applied", eventually("the change reaches the Deployment", converged(ns, "hello", "hello again", 3)))
        assert.strictEqual(statusOf((yield* find(EchoServer, ns, "hello"))!).observedGeneration, 2)
        assert.strictEqual(serviceSpec((yield* find(Builtin.Service, ns, "hello"))!).clusterIP, serviceSpec(service).clusterIP)

        // converged means quiet: once idle, no reconcile loop keeps writing (status, Service replace, ...)
        yield* eventually("the operator is idle", Effect.map(controller.isIdle, (idle) => idle || "busy"))
        const quiet = yield* Effect.all([find(EchoServer, ns, "hello"), find(Builtin.Service, ns, "hello"), find(Builtin.Deployment, ns, "hello")])
        yield* Effect.sleep("3 seconds")
        const later = yield* Effect.all([find(EchoServer, ns, "hello"), find(Builtin.Service, ns, "hello"), find(Builtin.Deployment, ns, "hello")])
        assert.strictEqual(later[0]?.metadata.resourceVersion, quiet[0]?.metadata.resourceVersion, "no status writes when nothing changed")
        assert.strictEqual(later[1]?.metadata.resourceVersion, quiet[1]?.metadata.resourceVersion, "no Service writes when nothing changed")
        assert.strictEqual(later[2]?.metadata.generation, quiet[2]?.metadata.generation, "no Deployment spec writes when nothing changed")

        // kubectl reads the same kubeconfig and sees the operator's objects
        const listed = yield* kubectl(env.kubeconfigPath, ["get", "echoservers", "-n", ns, "-o", "json"])
        assert.strictEqual(listed.code, 0, listed.stderr)
        const items = (JSON.parse(listed.stdout) as { items: Array<Obj> }).items
        assert.deepStrictEqual(items.map((o) => o.metadata.name).sort(), ["bonjour", "hello"])
        assert.strictEqual(statusOf(items.find((o) => o.metadata.name === "hello")!).url, `http://hello.${ns}.svc`)
        const short = yield* kubectl(env.kubeconfigPath, ["get", "echo", "-n", ns, "-o", "name"])
        assert.strictEqual(short.code, 0, short.stderr)
        assert.deepStrictEqual(short.stdout.trim().split("\n").sort(), [
          "echoserver.example.kubefx.io/bonjour",
          "echoserver.example.kubefx.io/hello"
        ])
        const children = yield* kubectl(env.kubeconfigPath, [
          "get", "deployments,services", "-n", ns, "-l", `${Plan.operatorLabel}=echo-operator`, "-o", "name"
        ])
        assert.strictEqual(children.code, 0, children.stderr)
        assert.deepStrictEqual(children.stdout.trim().split("\n").sort(), [
          "deployment.apps/bonjour",
          "deployment.apps/hello",
          "service/bonjour",
          "service/hello"
        ])
      }), TIMEOUT)

    it.effect("tampering with a child is undone: another manager's edit of an owned field, and a deleted Service", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const ns = yield* createNamespace("tamper")
        yield* startOperator
        yield* cluster.create(EchoServer, echo(ns, "victim", { message: "original" }))
        yield* eventually("the parent converges", converged(ns, "victim", "original"))
        const before = (yield* find(Builtin.Deployment, ns, "victim"))!
        const serviceBefore = (yield* find(Builtin.Service, ns, "victim"))!

        // another field manager edits fields the operator owns (replicas, the container args) with a merge patch
        const tampered = yield* cluster.patch(Builtin.Deployment, { namespace: ns, name: "victim" }, {
          type: "merge",
          body: { spec: { replicas: 4, template: { spec: { containers: [{ name: "echo", image: "hashicorp/http-echo:1.0", args: ["-text=hacked"] }] } } } }
        }, { fieldManager: "tamperer" })
        assert.strictEqual(deploymentSpec(tampered).replicas, 4)
        yield* timed("Deployment tamper undone", eventually("the Deployment is restored", converged(ns, "victim", "original")))
        const restored = (yield* find(Builtin.Deployment, ns, "victim"))!
        assert.strictEqual(restored.metadata.uid, before.metadata.uid, "restored in place, not recreated")
        assert.isAbove(restored.metadata.generation!, tampered.metadata.generation!)

        // the Service (replace policy) gets its port back
        yield* cluster.patch(Builtin.Service, { namespace: ns, name: "victim" }, {
          type: "merge",
          body: { spec: { ports: [{ name: "http", port: 8080, targetPort: 5678, protocol: "TCP" }] } }
        }, { fieldManager: "tamperer" })
        yield* timed("Service tamper undone", eventually("the Service port is restored", converged(ns, "victim", "original")))
        assert.strictEqual((yield* find(Builtin.Service, ns, "victim"))!.metadata.uid, serviceBefore.metadata.uid)

        // a deleted Service comes back (a new object, owned by the same parent)
        yield* cluster.delete(Builtin.Service, { namespace: ns, name: "victim" })
        yield* timed("deleted Service recreated", eventually("the Service is recreated", Effect.gen(function*() {
          const service = yield* find(Builtin.Service, ns, "victim")
          if (service === undefined) return "the Service is missing"
          if (service.metadata.uid === serviceBefore.metadata.uid) return "the old Service is still there"
          return yield* converged(ns, "victim", "original")
        })))
      }), TIMEOUT)

    it.effect("deleting an EchoServer runs finalize (the directory entry goes), then the controller manager collects its children", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const directory = yield* Directory
        const ns = yield* createNamespace("deletion")
        yield* startOperator
        yield* cluster.create(EchoServer, echo(ns, "doomed", { message: "bye" }))
        yield* cluster.create(EchoServer, echo(ns, "survivor", { message: "stay" }))
        yield* eventually("both converge", allConverged(ns, [["doomed", "bye"], ["survivor", "stay"]]))
        assert.isTrue((yield* directory.entries).has(`${ns}/doomed`))
        yield* eventually("the Deployment controller made a ReplicaSet", Effect.gen(function*() {
          const sets = yield* cluster.list(ReplicaSet, { namespace: ns, labelSelector: "app.kubernetes.io/instance=doomed" })
          return sets.items.length === 1 || `${sets.items.length} ReplicaSets`
        }))

        const deleting = yield* cluster.delete(EchoServer, { namespace: ns, name: "doomed" })
        // the finalizer holds the parent until finalize has run
        assert.isString(deleting.metadata.deletionTimestamp)
        yield* timed("parent finalized and gone", eventually("the parent is gone", gone(EchoServer, ns, "doomed")))
        assert.isFalse((yield* directory.entries).has(`${ns}/doomed`), "finalize removed the directory entry")
        yield* timed("children garbage-collected", eventually("the controller manager collects the children", Effect.gen(function*() {
          const d = yield* gone(Builtin.Deployment, ns, "doomed")
          return d === true ? yield* gone(Builtin.Service, ns, "doomed") : d
        })))
        // the Deployment's ReplicaSet (made by the Deployment controller, owned by the Deployment) goes too
        yield* eventually("the ReplicaSet is collected", Effect.gen(function*() {
          const left = yield* cluster.list(ReplicaSet, { namespace: ns, labelSelector: "app.kubernetes.io/instance=doomed" })
          return left.items.length === 0 || `${left.items.length} ReplicaSet(s) left`
        }))
        // the other parent is untouched
        assert.strictEqual(yield* converged(ns, "survivor", "stay"), true)
        assert.isTrue((yield* directory.entries).has(`${ns}/survivor`))
      }), TIMEOUT)

    it.effect("an operator stopped while parents change, and a new one started, loses no work", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const directory = yield* Directory
        const ns = yield* createNamespace("restart")
        const names = Array.from({ length: 8 }, (_, i) => `e${i}`)
        const first = yield* startOperator
        for (const name of names) yield* cluster.create(EchoServer, echo(ns, name, { message: `${name}-v1` }))
        yield* timed("8 parents converged", eventually("all converge", allConverged(ns, names.map((n) => [n, `${n}-v1`] as const))))

        // the first operator applies some changes...
        const patchMessage = (name: string, message: string) =>
          cluster.patch(EchoServer, { namespace: ns, name }, { type: "merge", body: { spec: { message } } })
        for (const name of names.slice(0, 3)) yield* patchMessage(name, `${name}-v2`)
        yield* eventually("the first operator applies the first changes", allConverged(ns, names.slice(0, 3).map((n) => [n, `${n}-v2`] as const)))
        // ...and is stopped while the rest arrive, one after another
        const firstOfRest = yield* Deferred.make<void>()
        const changes = yield* Effect.forEach(names.slice(3), (name, i) =>
          patchMessage(name, `${name}-v2`).pipe(
            Effect.andThen(i === 0 ? Deferred.succeed(firstOfRest, undefined) : Effect.void),
            Effect.andThen(Effect.sleep("100 millis"))
          ), { discard: true }).pipe(Effect.forkChild)
        yield* Deferred.await(firstOfRest)
        yield* timed("first operator stopped", first.stop)
        yield* Fiber.join(changes)
        // while no operator runs: a new parent, a deleted one (held by the finalizer), a deleted child
        yield* cluster.create(EchoServer, echo(ns, "late", { message: "late-v1" }))
        yield* cluster.delete(EchoServer, { namespace: ns, name: "e7" })
        yield* cluster.delete(Builtin.Service, { namespace: ns, name: "e0" })
        const held = yield* find(EchoServer, ns, "e7")
        assert.isString(held?.metadata.deletionTimestamp, "no operator runs: the finalizer holds e7")

        yield* timed("second operator synced", startOperator)
        const expected = [...names.slice(0, 7).map((n) => [n, `${n}-v2`] as const), ["late", "late-v1"] as const]
        yield* timed("converged after restart", eventually("everything converges after the restart", Effect.gen(function*() {
          const r = yield* allConverged(ns, expected)
          if (r !== true) return r
          return yield* gone(EchoServer, ns, "e7")
        })))
        assert.isFalse((yield* directory.entries).has(`${ns}/e7`))
        for (const [name] of expected) assert.isTrue((yield* directory.entries).has(`${ns}/${name}`), `${name} registered`)
        // one Deployment and one Service per parent: no duplicates, and e7's go with it
        yield* eventually("e7's children are collected", Effect.gen(function*() {
          const d = yield* gone(Builtin.Deployment, ns, "e7")
          return d === true ? yield* gone(Builtin.Service, ns, "e7") : d
        }))
        const selector = `${Plan.operatorLabel}=echo-operator`
        const deployments = yield* cluster.list(Builtin.Deployment, { namespace: ns, labelSelector: selector })
        const services = yield* cluster.list(Builtin.Service, { namespace: ns, labelSelector: selector })
        const sorted = expected.map(([n]) => n).sort()
        assert.deepStrictEqual(deployments.items.map((o) => o.metadata.name).sort(), sorted)
        assert.deepStrictEqual(services.items.map((o) => o.metadata.name).sort(), sorted)
      }), TIMEOUT)
  })
})
