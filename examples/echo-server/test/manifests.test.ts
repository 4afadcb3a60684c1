/**
 * The committed deploy manifests are what the kubefx CLI generates from the operator's definitions today.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Manifests } from "@kubefx/k8s"
import { Effect } from "effect"
import { EchoServer } from "../src/EchoServer.ts"
import { EchoOperator } from "../src/operator.ts"

const example = fileURLToPath(new URL("../", import.meta.url))
const files = ["crd.yaml", "rbac.yaml", "deployment.yaml"] as const

/** Runs a command in the example's directory with this Node first on PATH (the scripts run `node`). */
const run = (command: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env["PATH"] ?? ""}` }
    execFile(command, [...args], { cwd: example, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    })
  })

const committed = (file: string) => Effect.promise(() => readFile(join(example, "deploy", file), "utf8"))

const verbsOf = (rules: ReadonlyArray<Manifests.PolicyRule>, group: string, resource: string) =>
  rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs)

describe("deploy manifests", { timeout: 60_000 }, () => {
  it("the committed files are the ones `npm run manifests` generates (else run it and commit)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "echo-manifests-"))
    try {
      const generated = await run("sh", ["scripts/manifests.sh", dir])
      expect(generated.stderr).toBe("")
      expect(generated.code).toBe(0)
      for (const file of files) {
        const fresh = await readFile(join(dir, file), "utf8")
        expect(await Effect.runPromise(committed(file)), `deploy/${file} is stale: run \`npm run manifests\` in examples/echo-server`).toBe(fresh)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  // The files as data: each equals the YAML of what Manifests builds for the example's definitions.
  it.effect("the CRD's status schema has the fields the engine writes: observedGeneration and conditions", () =>
    Effect.gen(function*() {
      const crd = yield* Manifests.crd(EchoServer)
      expect(yield* committed("crd.yaml")).toBe(Manifests.toYaml([crd]))
      const version = crd.spec.versions[0]!
      const status = version.schema.openAPIV3Schema.properties?.["status"]
      expect(status?.properties?.["observedGeneration"]?.type).toBe("integer")
      expect(status?.properties?.["conditions"]?.type).toBe("array")
      expect(status?.properties?.["conditions"]?.items?.required).toStrictEqual(["type", "status"])
      expect(version.subresources).toStrictEqual({ status: {} })
    }))

  it.effect("RBAC grants what the engine calls for this operator, and nothing for Secrets, events or leases", () =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac(EchoOperator)
      expect(yield* committed("rbac.yaml")).toBe(Manifests.toYaml(objects))
      expect(objects.map((o) => o.kind)).toStrictEqual(["ServiceAccount", "ClusterRole", "ClusterRoleBinding"])
      const rules = objects[1]!["rules"] as ReadonlyArray<Manifests.PolicyRule>
      // parent: watched, finalizer merge-patched (EchoOperator has finalize), status PUT
      expect(verbsOf(rules, "example.kubefx.io", "echoservers")).toStrictEqual(["get", "list", "watch", "patch"])
      expect(verbsOf(rules, "example.kubefx.io", "echoservers/status")).toStrictEqual(["update"])
      // Deployment (apply): server-side apply, which also needs create when it creates
      expect(verbsOf(rules, "apps", "deployments")).toStrictEqual(["get", "list", "watch", "create", "patch", "delete"])
      // Service (replace): PUT
      expect(verbsOf(rules, "", "services")).toStrictEqual(["get", "list", "watch", "create", "update", "delete"])
      expect(rules.flatMap((r) => r.resources).sort()).toStrictEqual(["deployments", "echoservers", "echoservers/status", "services"])
    }))

  it.effect("the Deployment runs the placeholder image in-cluster under the operator's ServiceAccount", () =>
    Effect.gen(function*() {
      const deployment = yield* Manifests.deployment(EchoOperator, { image: "example.com/echo-operator:latest", args: ["--in-cluster"] })
      expect(yield* committed("deployment.yaml")).toBe(Manifests.toYaml([deployment]))
      const pod = (deployment["spec"] as { template: { spec: any } }).template.spec
      expect(pod.serviceAccountName).toBe("echo-operator")
      expect(pod.containers[0].args).toStrictEqual(["--in-cluster"])
    }))

  it("importing the definitions starts nothing: the process exits at once, silently", async () => {
    const imported = await run(process.execPath, [
      "--conditions=@kubefx/source",
      "--input-type=module",
      "--eval",
      `const m = await import("./src/operator.ts"); await import("./src/EchoServer.ts"); console.log(m.EchoOperator.name)`
    ])
    expect(imported.stderr).toBe("")
    expect(imported.stdout).toBe("echo-operator\n")
    expect(imported.code).toBe(0)
  })
})
