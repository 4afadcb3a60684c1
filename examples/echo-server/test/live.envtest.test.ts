/**
 * `npm start -- --kubeconfig …` against a real kube-apiserver, as the operator's ServiceAccount bound by the
 * generated RBAC: the live mode works end to end, and the RBAC is enough for every call the engine makes
 * (a missing verb shows up as a Forbidden in the operator's log and a parent that never converges).
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Cluster, type ClusterError, Resource } from "@kubefx/core"
import { ClientConfig, KubeCluster, Manifests } from "@kubefx/k8s"
import { EnvtestCluster } from "@kubefx/envtest"
import { type ChildProcess, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Layer, Redacted } from "effect"
import { EchoServer } from "../src/EchoServer.ts"
import { EchoOperator } from "../src/operator.ts"

const example = fileURLToPath(new URL("../", import.meta.url))
const serviceAccount = "system:serviceaccount:default:echo-operator"

const ClusterRole = Resource.make({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false })
const ClusterRoleBinding = Resource.make({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  kind: "ClusterRoleBinding",
  plural: "clusterrolebindings",
  namespaced: false
})
const typesByKind: Record<string, Resource.ResourceType> = { ServiceAccount: Builtin.ServiceAccount, ClusterRole, ClusterRoleBinding }

/** The generated RBAC, applied as the admin (once per envtest; each test may be run alone). */
const installRbac = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  for (const object of yield* Manifests.rbac(EchoOperator)) {
    const type = typesByKind[object.kind]
    if (type === undefined) return yield* Effect.die(new Error(`no type for ${object.kind} in the generated RBAC`))
    yield* cluster.create(type, object).pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
  }
})

/** A kubeconfig that authenticates as the envtest admin and impersonates the operator's ServiceAccount. */
const impersonatingKubeconfig = Effect.gen(function*() {
  const env = yield* EnvtestCluster.EnvtestCluster
  const b64 = (text: string) => Buffer.from(text).toString("base64")
  const path = join(env.dir, "echo-operator.kubeconfig")
  writeFileSync(path, JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "envtest", cluster: { server: env.server, "certificate-authority-data": b64(env.caPem) } }],
    users: [{
      name: "echo-operator",
      user: {
        "client-certificate-data": b64(env.adminCertPem),
        "client-key-data": b64(Redacted.value(env.adminKeyPem)),
        as: serviceAccount
      }
    }],
    contexts: [{ name: "as-echo-operator", context: { cluster: "envtest", user: "echo-operator" } }],
    "current-context": "as-echo-operator"
  }))
  return path
})

interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | string>
}

/** `npm start -- <args>`, as a scoped process (killed if the test ends early). */
const startOperator = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync((): Running => {
      const { KUBECONFIG: _, ...env } = process.env
      const child = spawn(process.execPath, ["--conditions=@kubefx/source", "src/main.ts", ...args], {
        cwd: example,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
      const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)))
      return { child, output: () => output, exited }
    }),
    (running) => Effect.sync(() => void (running.child.exitCode === null && running.child.signalCode === null && running.child.kill("SIGKILL")))
  )

/** Polls `check` until it yields a value; on timeout, fails showing the operator's output. */
const eventually = <A, E, R>(
  what: string,
  running: Running,
  check: Effect.Effect<A | undefined, E, R>,
  timeout: Duration.Input = "60 seconds"
) =>
  Effect.gen(function*() {
    while (true) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.sleep("200 millis")
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.die(new Error(`timed out waiting for ${what}; operator output:\n${running.output()}`))
    })
  )

const stop = (running: Running) =>
  Effect.promise(() => {
    running.child.kill("SIGTERM")
    return running.exited
  })

const echo = (namespace: string, name: string, message: string): Resource.KubeObject => ({
  apiVersion: EchoServer.apiVersion,
  kind: EchoServer.kind,
  metadata: { name, namespace },
  spec: { message, replicas: 1 }
})

const find = <A extends Resource.KubeObject>(type: Resource.ResourceType<A>, namespace: string, name: string) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    return yield* cluster.get(type, { namespace, name })
  }).pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))

const observedGeneration = (o: Resource.KubeObject | undefined) =>
  (o?.["status"] as { observedGeneration?: number } | undefined)?.observedGeneration

const envtest = EnvtestCluster.layer({ crds: [Effect.runSync(Manifests.crd(EchoServer))] })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("echo-operator against kube-apiserver", () => {
  layer(envtest, { timeout: "3 minutes", excludeTestServices: true })("as its ServiceAccount, with the generated RBAC", (it) => {
    it.effect("the impersonated identity is really restricted: it may not read Secrets", () =>
      Effect.gen(function*() {
        yield* installRbac
        const kubeconfig = yield* impersonatingKubeconfig
        const denied = yield* Effect.gen(function*() {
          const asOperator = yield* Cluster.Cluster
          return yield* Effect.flip(asOperator.list(Builtin.Secret, { namespace: "default" }))
        }).pipe(
          Effect.provide(KubeCluster.layer.pipe(Layer.provide(ClientConfig.layerFromKubeconfig({ paths: [kubeconfig], operatorName: "probe" }))))
        )
        assert.strictEqual((denied as ClusterError.ClusterError)._tag, "Forbidden")
        assert.include(denied.message, serviceAccount)
      }), 120_000)

    it.effect("runs until SIGTERM: creates, updates and finalizes with no Forbidden, then exits 0", () =>
      Effect.gen(function*() {
        const env = yield* EnvtestCluster.EnvtestCluster
        const cluster = yield* Cluster.Cluster
        yield* installRbac
        const kubeconfig = yield* impersonatingKubeconfig
        const running = yield* startOperator(["--kubeconfig", kubeconfig])
        yield* eventually("the operator to start watching", running,
          Effect.sync(() => running.output().includes("echo-operator is watching EchoServers in all namespaces") || undefined))
        assert.include(running.output(), `using cluster ${env.server} from ${kubeconfig} (context as-echo-operator)`)

        yield* cluster.create(EchoServer, echo("default", "hello", "Hello, world!"))
        // children created (Deployment by server-side apply, Service by create), finalizer added, status written
        yield* eventually("hello's Deployment and Service", running,
          Effect.map(Effect.all([find(Builtin.Deployment, "default", "hello"), find(Builtin.Service, "default", "hello")]), ([d, s]) =>
            d !== undefined && s !== undefined ? true : undefined))
        const parent = yield* eventually("hello's status for generation 1", running,
          Effect.map(find(EchoServer, "default", "hello"), (p) => (observedGeneration(p) === 1 ? p : undefined)))
        assert.deepStrictEqual(parent.metadata.finalizers, ["kubefx.io/echo-operator"])

        // a spec change reaches the Deployment (apply again) and the status (generation 2)
        yield* cluster.patch(EchoServer, { namespace: "default", name: "hello" }, { type: "merge", body: { spec: { message: "Hello again!" } } })
        yield* eventually("the Deployment to carry the new message", running,
          Effect.map(find(Builtin.Deployment, "default", "hello"), (d) =>
            JSON.stringify(d ?? {}).includes("-text=Hello again!") ? true : undefined))
        yield* eventually("hello's status for generation 2", running,
          Effect.map(find(EchoServer, "default", "hello"), (p) => (observedGeneration(p) === 2 ? true : undefined)))

        // deletion: finalize runs, the finalizer is removed (a patch), the object goes
        yield* cluster.delete(EchoServer, { namespace: "default", name: "hello" })
        yield* eventually("hello to be gone", running,
          Effect.map(find(EchoServer, "default", "hello"), (p) => (p === undefined ? true : undefined)))

        const code = yield* stop(running)
        const output = running.output()
        assert.strictEqual(code, 0, output)
        assert.notMatch(output, /forbidden/i)
        assert.notInclude(output, "BEGIN")
        assert.notInclude(output, Redacted.value(env.adminKeyPem).slice(40, 80))
      }), 150_000)

    it.effect("--namespace: reconciles EchoServers of that namespace only", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        yield* installRbac
        const kubeconfig = yield* impersonatingKubeconfig
        yield* cluster.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } })
        yield* cluster.create(EchoServer, echo("default", "ignored", "not mine"))
        const running = yield* startOperator(["--kubeconfig", kubeconfig, "--namespace", "team-a"])
        yield* eventually("the operator to start watching", running,
          Effect.sync(() => running.output().includes("watching EchoServers in namespace team-a") || undefined))
        yield* cluster.create(EchoServer, echo("team-a", "mine", "hi"))
        yield* eventually("team-a/mine's status", running,
          Effect.map(find(EchoServer, "team-a", "mine"), (p) => (observedGeneration(p) === 1 ? true : undefined)))
        const ignored = yield* find(EchoServer, "default", "ignored")
        assert.isUndefined(ignored?.["status"])
        assert.isUndefined(ignored?.metadata.finalizers)
        assert.isUndefined(yield* find(Builtin.Deployment, "default", "ignored"))
        assert.strictEqual(yield* stop(running), 0, running.output())
      }), 120_000)
  })
})
