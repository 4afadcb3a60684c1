/**
 * The packages work as a user gets them: packed into tarballs (each builds on `prepack`), installed into a
 * project outside this repository with registry dependencies only.
 * - `@kubefx/testkit` brings `@kubefx/core` and nothing of the live client (no `@kubefx/k8s`,
 *   `@kubernetes/client-node`, `@effect/platform-node` or `js-yaml`), and an operator runs on its FakeCluster.
 * - `@kubefx/envtest` finds its binaries through the script it ships and starts a real control plane
 *   (skipped with KUBEFX_ENVTEST=0, like every envtest test).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))
const work = fs.mkdtempSync(path.join(os.tmpdir(), "kubefx-install-"))
const tarballs = path.join(work, "tarballs")
const envtestOn = process.env["KUBEFX_ENVTEST"] !== "0"

const run = (command: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<string>((resolve, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout)
      else reject(new Error(`${command} ${args.join(" ")} failed in ${cwd}: ${error.message}\n${stdout}\n${stderr}`))
    })
  })

/** A fresh project outside the repository with the given tarballs and registry packages installed. */
const project = async (name: string, packages: ReadonlyArray<string>, registry: ReadonlyArray<string>) => {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }))
  const files = packages.map((p) => {
    const file = fs.readdirSync(tarballs).find((f) => f.startsWith(`kubefx-${p}-`) && f.endsWith(".tgz"))
    if (file === undefined) throw new Error(`no tarball for @kubefx/${p} in ${tarballs}`)
    return path.join(tarballs, file)
  })
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...files, ...registry], dir)
  return dir
}

const exists = (dir: string, module: string) => fs.existsSync(path.join(dir, "node_modules", module))

beforeAll(async () => {
  fs.mkdirSync(tarballs)
  await run("npm", [
    "pack",
    "--workspace", "packages/core",
    "--workspace", "packages/testkit",
    "--workspace", "packages/k8s",
    "--workspace", "packages/envtest",
    "--pack-destination", tarballs,
    "--loglevel=error"
  ], root)
}, 300_000)

afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

describe("installed from tarballs", () => {
  it("every tarball carries its README and compiled code", async () => {
    for (const pkg of ["core", "testkit", "k8s", "envtest"]) {
      const file = fs.readdirSync(tarballs).find((f) => f.startsWith(`kubefx-${pkg}-`))!
      const listing = await run("tar", ["-tzf", path.join(tarballs, file)], work)
      expect(listing).toContain("package/README.md")
      expect(listing).toContain("package/dist/index.js")
      expect(listing).toContain("package/dist/index.d.ts")
    }
  })

  it("@kubefx/testkit pulls no k8s client, and an operator converges on its FakeCluster", async () => {
    const dir = await project("uses-testkit", ["core", "testkit"], ["effect@4.1.0"])
    for (const absent of ["@kubefx/k8s", "@kubefx/envtest", "@kubernetes/client-node", "@effect/platform-node", "js-yaml"]) {
      expect(exists(dir, absent), `${absent} is installed`).toBe(false)
    }
    fs.writeFileSync(path.join(dir, "main.js"), `
import { Builtin, Child, Cluster, Operator, Resource } from "@kubefx/core"
import { FakeCluster } from "@kubefx/testkit"
import { Effect, Schema } from "effect"

const Greeting = Resource.custom({
  group: "t.example.com", version: "v1", kind: "Greeting", plural: "greetings",
  spec: Schema.Struct({ name: Schema.String }), status: Schema.Struct({})
})
const operator = Operator.make({
  name: "greeter", parent: Greeting, children: [Child.of(Builtin.ConfigMap)],
  sync: (req) => Effect.succeed({ status: {}, children: [{ apiVersion: "v1", kind: "ConfigMap",
    metadata: { name: req.parent.metadata.name + "-greeting" }, data: { text: "Hello, " + req.parent.spec.name } }] })
})
const program = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  const controller = yield* Operator.run(operator)
  yield* controller.synced
  yield* cluster.create(Greeting, { apiVersion: Greeting.apiVersion, kind: Greeting.kind, metadata: { name: "w", namespace: "default" }, spec: { name: "World" } })
  for (let i = 0; i < 500; i++) {
    const found = yield* cluster.get(Builtin.ConfigMap, { namespace: "default", name: "w-greeting" }).pipe(Effect.option)
    if (found._tag === "Some") return found.value.data
    yield* Effect.sleep("10 millis")
  }
  return "not converged"
})
console.log(JSON.stringify(await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(FakeCluster.layer({ types: [Greeting] }))))))
`)
    const out = await run(process.execPath, ["main.js"], dir)
    expect(JSON.parse(out.trim().split("\n").pop()!)).toEqual({ text: "Hello, World" })
  }, 300_000)

  it.runIf(envtestOn)("@kubefx/envtest finds its binaries with the script it ships and starts a control plane", async () => {
    const dir = await project("uses-envtest", ["core", "k8s", "envtest"], ["effect@4.1.0", "@effect/platform-node@4.1.0"])
    const env = { ...process.env }
    delete env["KUBEBUILDER_ASSETS"]
    const assets = await run(path.join(dir, "node_modules", ".bin", "kubefx-envtest-assets"), ["--no-build"], dir, env)
    expect(fs.existsSync(path.join(assets.trim().split("\n").pop()!, "kube-apiserver"))).toBe(true)
    fs.writeFileSync(path.join(dir, "main.js"), `
import { Cluster, Builtin } from "@kubefx/core"
import { Envtest, EnvtestCluster } from "@kubefx/envtest"
import { Effect } from "effect"

const program = Effect.gen(function*() {
  const env = yield* EnvtestCluster.EnvtestCluster
  const version = yield* Envtest.request(env, { method: "GET", path: "/version" })
  const cluster = yield* Cluster.Cluster
  const namespaces = yield* cluster.list(Builtin.Namespace)
  return { gitVersion: version.body.gitVersion, namespaces: namespaces.items.map((n) => n.metadata.name).sort(), dir: env.dir }
})
console.log(JSON.stringify(await Effect.runPromise(program.pipe(Effect.provide(EnvtestCluster.layer({}))))))
`)
    const out = JSON.parse((await run(process.execPath, ["main.js"], dir, env)).trim().split("\n").pop()!)
    expect(out.gitVersion).toMatch(/^v1\.\d+\.\d+/)
    expect(out.namespaces).toContain("default")
    // The control plane was stopped and its directory (CA, admin key) removed when the layer was released.
    expect(fs.existsSync(out.dir)).toBe(false)
  }, 300_000)
})
