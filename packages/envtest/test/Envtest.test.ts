import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Scope } from "effect"
import { Envtest } from "../src/index.ts"
import * as Ports from "../src/internal/ports.ts"

// These tests need the binaries (scripts/envtest-assets.sh builds them once). Without them the
// tests fail; set KUBEFX_ENVTEST=0 to switch the file off explicitly.

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
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } }, required: ["size"] },
            status: { type: "object", properties: { ready: { type: "boolean" } } }
          }
        }
      }
    }]
  }
}

const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    execFile(command, args, { env }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout: String(stdout), stderr: String(stderr) }))
    })
  })

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * What an envtest under `baseDir` left: entries in `baseDir`, and live processes started by this test
 * worker (other test files may run envtests at the same time; their processes have another parent).
 */
const leftovers = (baseDir: string) =>
  Effect.gen(function*() {
    const ps = yield* run("ps", ["-eo", "pid=,ppid=,stat="])
    const procs = ps.stdout.split("\n").map((line) => line.trim().split(/\s+/))
      .filter(([pid, ppid, stat]) => ppid === String(process.pid) && pid !== undefined && !stat?.startsWith("Z"))
      .map(([pid]) => pid!)
      // ps itself is a child of this worker while it runs
      .filter((pid) => isAlive(Number(pid)))
    return { dirs: fs.readdirSync(baseDir), procs }
  })

/** A scratch directory for one test, removed afterwards. */
const scratch = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kubefx-envtest-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const field = (value: unknown, ...keys: Array<string>): unknown =>
  keys.reduce<unknown>((v, key) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined), value)

describe("Envtest ports", () => {
  it.effect("a start that finds its port taken is tried again, up to three times in all", () =>
    Effect.gen(function*() {
      const tries: Array<number> = []
      const clash = (attempt: number) =>
        Effect.suspend(() => {
          tries.push(attempt)
          return attempt < 2 ? Effect.fail("taken" as const) : Effect.succeed(`started on try ${attempt + 1}`)
        })
      assert.strictEqual(yield* Ports.retrying(clash, (e) => e === "taken"), "started on try 3")
      assert.deepStrictEqual(tries, [0, 1, 2])
      tries.length = 0
      assert.strictEqual(yield* Effect.flip(Ports.retrying(clash, (e) => e === "taken", 2)), "taken")
      assert.deepStrictEqual(tries, [0, 1])
      tries.length = 0
      assert.strictEqual(yield* Effect.flip(Ports.retrying(clash, () => false)), "taken")
      assert.deepStrictEqual(tries, [0], "other failures are not retried")
    }))
})

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("Envtest", () => {
  it.live("serves a real API server: kubectl, CRDs, RBAC; closing the scope leaves nothing", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const baseDir = yield* scratch
      const env = yield* Envtest.make({ crds: [widgetCrd], baseDir }).pipe(Scope.provide(scope))
      assert.match(env.server, /^https:\/\/127\.0\.0\.1:\d+$/)
      assert.isTrue(fs.existsSync(env.dir))
      assert.deepStrictEqual(env.processes.map((p) => p.name), ["etcd", "kube-apiserver"])
      for (const p of env.processes) assert.isTrue(isAlive(p.pid), `${p.name} runs`)

      // kubectl reads the kubeconfig: the admin context lists namespaces
      const kubectl = yield* run("kubectl", ["--kubeconfig", env.kubeconfigPath, "get", "namespaces", "-o", "name"])
      assert.strictEqual(kubectl.code, 0, kubectl.stderr)
      assert.include(kubectl.stdout, "namespace/default")
      assert.include(kubectl.stdout, "namespace/kube-system")

      // the CRD is installed and served: create an object, read it back, and see its schema enforced
      const created = yield* Envtest.request(env, {
        method: "POST",
        path: "/apis/test.kubefx.io/v1/namespaces/default/widgets",
        body: { apiVersion: "test.kubefx.io/v1", kind: "Widget", metadata: { name: "w1" }, spec: { size: 3 } }
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const read = yield* Envtest.request(env, { path: "/apis/test.kubefx.io/v1/namespaces/default/widgets/w1" })
      assert.strictEqual(read.status, 200)
      assert.strictEqual(field(read.body, "spec", "size"), 3)
      const invalid = yield* Envtest.request(env, {
        method: "POST",
        path: "/apis/test.kubefx.io/v1/namespaces/default/widgets",
        body: { apiVersion: "test.kubefx.io/v1", kind: "Widget", metadata: { name: "w2" }, spec: { size: 0 } }
      })
      assert.strictEqual(invalid.status, 422)
      const status = yield* Envtest.request(env, {
        method: "PATCH",
        path: "/apis/test.kubefx.io/v1/namespaces/default/widgets/w1/status",
        contentType: "application/merge-patch+json",
        body: { status: { ready: true } }
      })
      assert.strictEqual(status.status, 200)
      assert.strictEqual(field(status.body, "status", "ready"), true)

      // RBAC: the restricted user is authenticated (403, not 401) and denied; anonymous too
      const denied = yield* Envtest.request(env, { path: "/api/v1/namespaces", as: "restricted" })
      assert.strictEqual(denied.status, 403)
      assert.include(String(field(denied.body, "message")), `User "${Envtest.restrictedUser}"`)
      const anonymous = yield* Envtest.request(env, { path: "/api/v1/namespaces", as: "anonymous" })
      assert.strictEqual(anonymous.status, 403)
      const kubectlDenied = yield* run("kubectl", [
        "--kubeconfig", env.kubeconfigPath, "--context", "envtest-restricted", "get", "namespaces"
      ])
      assert.notStrictEqual(kubectlDenied.code, 0)
      assert.include(kubectlDenied.stderr, "Forbidden")
      // the token works as a bearer token and is not printed by the Redacted wrapper
      assert.notInclude(String(env.restrictedUserToken), Redacted.value(env.restrictedUserToken))

      yield* Scope.close(scope, Exit.void)
      for (const p of env.processes) assert.isFalse(isAlive(p.pid), `${p.name} (pid ${p.pid}) stopped`)
      assert.isFalse(fs.existsSync(env.dir), "temp dir removed")
      assert.deepStrictEqual(yield* leftovers(baseDir), { dirs: [], procs: [] })
    }).pipe(Effect.scoped), 240_000)

  it.live("with controllerManager: namespaces are deleted and owned objects collected", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.make({ controllerManager: true })
      assert.deepStrictEqual(env.processes.map((p) => p.name), ["etcd", "kube-apiserver", "kube-controller-manager"])
      const ns = yield* Envtest.request(env, {
        method: "POST",
        path: "/api/v1/namespaces",
        body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "gc" } }
      })
      assert.strictEqual(ns.status, 201)
      const owner = yield* Envtest.request(env, {
        method: "POST",
        path: "/api/v1/namespaces/gc/configmaps",
        body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owner" } }
      })
      assert.strictEqual(owner.status, 201)
      const uid = String(field(owner.body, "metadata", "uid"))
      const child = yield* Envtest.request(env, {
        method: "POST",
        path: "/api/v1/namespaces/gc/configmaps",
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "child", ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid }] }
        }
      })
      assert.strictEqual(child.status, 201)
      const deleted = yield* Envtest.request(env, { method: "DELETE", path: "/api/v1/namespaces/gc/configmaps/owner" })
      assert.strictEqual(deleted.status, 200)

      const poll = (what: string, check: Effect.Effect<boolean, Envtest.EnvtestError>) =>
        Effect.suspend(function loop(): Effect.Effect<void, Envtest.EnvtestError | Error> {
          return check.pipe(Effect.flatMap((ok) => ok ? Effect.void : Effect.sleep("250 millis").pipe(Effect.andThen(loop))))
        }).pipe(Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Effect.fail(new Error(`timed out: ${what}`)) }))
      // garbage collector: the child goes once its owner is gone
      yield* poll("child collected", Envtest.request(env, { path: "/api/v1/namespaces/gc/configmaps/child" }).pipe(
        Effect.map((r) => r.status === 404)
      ))
      // namespace controller: a deleted namespace is emptied and removed
      const nsDelete = yield* Envtest.request(env, { method: "DELETE", path: "/api/v1/namespaces/gc" })
      assert.strictEqual(nsDelete.status, 200)
      yield* poll("namespace removed", Envtest.request(env, { path: "/api/v1/namespaces/gc" }).pipe(
        Effect.map((r) => r.status === 404)
      ))
    }).pipe(Effect.scoped), 240_000)

  it.live("a CRD the server refuses fails with InvalidCrd and leaves nothing behind", () =>
    Effect.gen(function*() {
      const baseDir = yield* scratch
      const badName = { ...widgetCrd, metadata: { name: "gadgets.test.kubefx.io" } }
      const error = yield* Envtest.make({ crds: [badName], baseDir }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(error._tag, "EnvtestError")
      assert.strictEqual(error.reason, "InvalidCrd")
      assert.include(error.message, "gadgets.test.kubefx.io")
      assert.include(error.message, "422")
      assert.deepStrictEqual(yield* leftovers(baseDir), { dirs: [], procs: [] })

      const notACrd = yield* Envtest.make({ crds: [{ kind: "ConfigMap" }], baseDir }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(notACrd.reason, "InvalidCrd")
      assert.include(notACrd.message, "not a CustomResourceDefinition manifest")
      assert.deepStrictEqual(yield* leftovers(baseDir), { dirs: [], procs: [] })
    }).pipe(Effect.scoped), 240_000)

  it.live("a server that exits or is slow fails with its log tail and leaves nothing behind", () =>
    Effect.gen(function*() {
      const baseDir = yield* scratch
      const crashed = yield* Envtest.make({ baseDir, apiServerArgs: ["--no-such-flag"] }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(crashed.reason, "ProcessFailed")
      assert.match(crashed.message, /kube-apiserver exited \(code \d+\) while waiting for kube-apiserver \/readyz/)
      assert.include(crashed.message, "unknown flag: --no-such-flag")
      assert.deepStrictEqual(yield* leftovers(baseDir), { dirs: [], procs: [] })

      const slow = yield* Envtest.make({ baseDir, startTimeout: "1 millis" }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(slow.reason, "NotReady")
      assert.include(slow.message, "etcd not ready within")
      assert.include(slow.message, "etcd.log")
      assert.deepStrictEqual(yield* leftovers(baseDir), { dirs: [], procs: [] })
    }).pipe(Effect.scoped), 240_000)

  it.live("interrupting a start stops what was started", () =>
    Effect.gen(function*() {
      const baseDir = yield* scratch
      const fiber = yield* Effect.forkChild(Envtest.make({ baseDir }).pipe(Effect.scoped))
      // long enough for etcd and usually kube-apiserver to be running, too short for /readyz
      yield* Effect.sleep("1500 millis")
      const started = yield* leftovers(baseDir)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* leftovers(baseDir), { dirs: [], procs: [] })
      // a guard against a vacuous pass: something had been started before the interrupt
      assert.strictEqual(started.dirs.length, 1)
      assert.isAbove(started.procs.length, 0)
    }).pipe(Effect.scoped), 240_000)

  it.live("missing binaries fail with a hint; the lookup script honours KUBEBUILDER_ASSETS", () =>
    Effect.gen(function*() {
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), "kubefx-noassets-"))
      yield* Effect.gen(function*() {
        const error = yield* Envtest.make({ assetsDir: empty }).pipe(Effect.scoped, Effect.flip)
        assert.strictEqual(error.reason, "BinariesNotFound")
        assert.include(error.message, "scripts/envtest-assets.sh")
        assert.include(error.message, "KUBEBUILDER_ASSETS")

        const script = fileURLToPath(new URL("../scripts/envtest-assets.sh", import.meta.url))
        const missing = yield* run("bash", [script, "--no-build"], {
          ...process.env,
          KUBEBUILDER_ASSETS: empty,
          KUBEFX_ENVTEST_CACHE: empty
        })
        assert.strictEqual(missing.code, 3)
        assert.include(missing.stderr, "no envtest binaries")

        for (const name of ["etcd", "kube-apiserver", "kube-controller-manager"]) {
          fs.writeFileSync(path.join(empty, name), "#!/bin/sh\n", { mode: 0o755 })
        }
        const found = yield* run("bash", [script, "--no-build"], { ...process.env, KUBEBUILDER_ASSETS: empty })
        assert.strictEqual(found.code, 0, found.stderr)
        assert.strictEqual(found.stdout.trim().split("\n").pop(), empty)
      }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(empty, { recursive: true, force: true }))))
      // The script's Go toolchain checks take ~35 s on a quiet 2-core machine, and over 60 s when it is busy.
    }), 180_000)

  it.live("etcd's failure on a taken port is recognised as a port clash", () =>
    Effect.gen(function*() {
      const assets = process.env["KUBEBUILDER_ASSETS"] ?? path.join(os.homedir(), ".cache/kubefx/envtest/v1.37.2")
      const baseDir = yield* scratch
      const holder = yield* Effect.acquireRelease(
        Effect.callback<net.Server>((resume) => {
          const server = net.createServer()
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const port = (holder.address() as net.AddressInfo).port
      const url = `http://127.0.0.1:${port}`
      const result = yield* run(path.join(assets, "etcd"), [
        `--data-dir=${path.join(baseDir, "data")}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`
      ])
      assert.notStrictEqual(result.code, 0)
      assert.isTrue(Ports.isPortClash(result.stderr), result.stderr.slice(-500))
    }).pipe(Effect.scoped), 60_000)

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(`a test worker that gets ${signal} leaves no etcd, no kube-apiserver and no key behind`, () =>
      Effect.gen(function*() {
        const baseDir = yield* scratch
        const script = fileURLToPath(new URL("./fixtures/holdEnvtest.ts", import.meta.url))
        const child = spawn(process.execPath, ["--conditions=@kubefx/source", script, baseDir], {
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stderr = ""
        child.stderr.on("data", (chunk) => (stderr += chunk))
        const started = yield* Effect.callback<{ readonly dir: string; readonly pids: ReadonlyArray<number> }, Error>(
          (resume) => {
            let out = ""
            child.stdout.on("data", (chunk) => {
              out += chunk
              const line = out.split("\n").find((l) => l.startsWith("{"))
              if (line !== undefined) resume(Effect.succeed(JSON.parse(line)))
            })
            child.once("exit", (code) => resume(Effect.fail(new Error(`holder exited (${code}): ${stderr.slice(-2000)}`))))
            return Effect.sync(() => child.kill("SIGKILL"))
          }
        )
        assert.isTrue(fs.existsSync(started.dir))
        assert.isTrue(fs.existsSync(path.join(started.dir, "kubeconfig")))
        assert.strictEqual(started.pids.filter(isAlive).length, 2)
        const exit = yield* Effect.callback<{ readonly code: number | null; readonly signal: string | null }>((resume) => {
          child.once("exit", (code, sig) => resume(Effect.succeed({ code, signal: sig })))
          child.kill(signal)
        })
        // the signal still ends the process as it would have (no listener of its own)
        assert.deepStrictEqual(exit, { code: null, signal })
        // SIGKILLed before the holder exited; gone once init has reaped them (a zombie counts as gone)
        const running = (pid: number) =>
          run("ps", ["-o", "stat=", "-p", String(pid)]).pipe(Effect.map((r) => r.stdout.trim() !== "" && !r.stdout.trim().startsWith("Z")))
        const deadline = Date.now() + 10_000
        let alive = started.pids
        while (alive.length > 0 && Date.now() < deadline) {
          alive = yield* Effect.filter(alive, running)
          if (alive.length > 0) yield* Effect.sleep("100 millis")
        }
        assert.deepStrictEqual(alive, [])
        assert.isFalse(fs.existsSync(started.dir), "the directory with the CA and admin keys is removed")
        assert.deepStrictEqual(fs.readdirSync(baseDir), [])
      }).pipe(Effect.scoped), 240_000)
  }
})
