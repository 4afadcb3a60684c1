/**
 * Differential test: the same writes against a real kube-apiserver (Envtest) and against the pure
 * `ServerSideApply` functions, step by step. Each step starts from the object the real server
 * returned, so server-side defaulting does not make the two drift; what is compared is what the
 * functions decide: managedFields (manager, operation, subresource, fieldsV1; times excluded),
 * conflicts (message and causes), and the object where no defaulting is involved (ConfigMaps).
 *
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Resource } from "@kubefx/core"
import { Effect, Result } from "effect"
import { Patch, ServerSideApply } from "@kubefx/testkit"
import { Envtest } from "../src/index.ts"

type Obj = Resource.KubeObject
const TIME = "2024-05-01T10:00:00Z"

type Step =
  | { readonly kind: "apply"; readonly manager: string; readonly force?: boolean; readonly body: Obj; readonly subresource?: string }
  | { readonly kind: "put"; readonly manager: string; readonly edit: (live: Obj) => Obj; readonly subresource?: undefined }
  | {
    readonly kind: "patch"
    readonly manager: string
    readonly contentType: string
    readonly body: unknown
    readonly subresource?: string
  }

const ownership = (obj: unknown): Record<string, unknown> => {
  const mf = ((obj as Obj | undefined)?.metadata?.managedFields ?? []) as ReadonlyArray<Resource.ManagedFieldsEntry>
  return Object.fromEntries(mf.map((e) => [`${e.manager}/${e.operation}/${e.subresource ?? ""}`, e.fieldsV1]))
}

const ourPatch = (live: Obj | undefined, step: Extract<Step, { kind: "patch" }>, listKeys?: ServerSideApply.ListKeys) => {
  switch (step.contentType) {
    case "application/merge-patch+json":
      return Result.succeed(Patch.mergePatch(live, step.body))
    case "application/json-patch+json":
      return Patch.jsonPatch(live, step.body as never)
    default:
      return Patch.strategicMergePatch(live, step.body, listKeys)
  }
}

const visible = (obj: Obj) => ({ labels: obj.metadata.labels, annotations: obj.metadata.annotations, data: obj["data"] })

const run = (
  env: Envtest.Envtest,
  collection: string,
  name: string,
  initial: Obj | undefined,
  steps: ReadonlyArray<Step>,
  options: {
    readonly statusSubresource: boolean
    readonly compareObject: boolean
    readonly listKeys?: ServerSideApply.ListKeys
    /** The part of a patched object to compare with ours (no server defaulting in it). */
    readonly project?: (obj: Obj) => unknown
  }
) =>
  Effect.gen(function*() {
    const problems: Array<string> = []
    const type = { statusSubresource: options.statusSubresource } as Resource.ResourceType
    let live = initial
    for (const [i, step] of steps.entries()) {
      const suffix = step.subresource === undefined ? "" : `/${step.subresource}`
      const path = `${collection}/${name}${suffix}?fieldManager=${step.manager}` +
        (step.kind === "apply" && step.force === true ? "&force=true" : "")
      const res = step.kind === "put"
        ? yield* Envtest.request(env, { method: "PUT", path, body: step.edit(live!) })
        : yield* Envtest.request(env, {
          method: "PATCH",
          path,
          contentType: step.kind === "apply" ? "application/apply-patch+yaml" : step.contentType,
          body: step.body
        })
      const label = `step ${i} (${step.kind} by ${step.manager}${suffix})`
      const resetFields = ServerSideApply.resetFieldsFor(type, step.subresource)
      if (step.kind === "apply") {
        const mine = ServerSideApply.apply(live, step.body, {
          manager: step.manager,
          force: step.force ?? false,
          time: TIME,
          resetFields,
          ...(step.subresource === undefined ? {} : { subresource: step.subresource }),
          ...(options.listKeys === undefined ? {} : { listKeys: options.listKeys })
        })
        if (res.status >= 300) {
          const real = res.body as { message?: string; details?: { causes?: unknown } }
          if (Result.isSuccess(mine)) {
            problems.push(`${label}: the server refused (${res.status}: ${real.message}), we accepted`)
          } else if (mine.failure._tag === "ApplyInvalid") {
            if (mine.failure.status !== res.status || mine.failure.message !== real.message) {
              problems.push(`${label}: invalid\n  server: ${res.status} ${real.message}\n  ours:   ${mine.failure.status} ${mine.failure.message}`)
            }
          } else if (res.status !== 409) {
            problems.push(`${label}: server ${res.status} ${real.message}; we ${mine.failure._tag} ${mine.failure.message}`)
          } else {
            if (mine.failure.message !== real.message) {
              problems.push(`${label}: message\n  server: ${real.message}\n  ours:   ${mine.failure.message}`)
            }
            // The server lists causes in Go map order (random); compare them as a set.
            const causes = (u: unknown) => (Array.isArray(u) ? u.map((c) => JSON.stringify(canonical(c))).sort() : u)
            if (!sameJson(causes(mine.failure.causes), causes(real.details?.causes))) {
              problems.push(`${label}: causes\n  server: ${JSON.stringify(real.details?.causes)}\n  ours:   ${JSON.stringify(mine.failure.causes)}`)
            }
          }
          continue
        }
        if (Result.isFailure(mine)) {
          problems.push(`${label}: the server accepted, we failed: ${mine.failure.message}`)
        } else {
          const [server, ours] = [ownership(res.body), ownership(mine.success)]
          if (!sameJson(server, ours)) {
            problems.push(`${label}: managedFields\n  server: ${JSON.stringify(server)}\n  ours:   ${JSON.stringify(ours)}`)
          }
          if (options.compareObject && !sameJson(visible(res.body as Obj), visible(mine.success))) {
            problems.push(`${label}: object\n  server: ${JSON.stringify(visible(res.body as Obj))}\n  ours:   ${JSON.stringify(visible(mine.success))}`)
          }
        }
      } else {
        // Our patch functions on the same live object, where the result involves no defaulting.
        const patchedByUs = step.kind === "patch" ? ourPatch(live, step, options.listKeys) : undefined
        if (res.status >= 300) {
          if (patchedByUs !== undefined && Result.isSuccess(patchedByUs)) {
            problems.push(`${label}: the server refused the patch (${res.status}), we applied it`)
          }
          // A patch that does not apply is 422 Invalid (what FakeCluster answers for a PatchError).
          if (res.status !== 422) problems.push(`${label}: the server answered ${res.status} to a bad patch`)
          continue
        }
        if (patchedByUs !== undefined && options.project !== undefined) {
          if (Result.isFailure(patchedByUs)) {
            problems.push(`${label}: the server applied the patch, we failed: ${patchedByUs.failure.message}`)
          } else if (!sameJson(options.project(patchedByUs.success as Obj), options.project(res.body as Obj))) {
            problems.push(`${label}: patched object\n  server: ${JSON.stringify(options.project(res.body as Obj))}\n  ours:   ${JSON.stringify(options.project(patchedByUs.success as Obj))}`)
          }
        }
        // What the store would hand to recordUpdate: the patched object, still carrying the live
        // managedFields, or the object PUT with the managedFields it was sent with.
        const after = res.body as Obj
        const sent = step.kind === "put" ? step.edit(live!).metadata.managedFields : live?.metadata.managedFields
        const patched = { ...after, metadata: { ...after.metadata, managedFields: sent } } as Obj
        const ours = ServerSideApply.recordUpdate(live, patched, {
          manager: step.manager,
          time: TIME,
          operation: "Update",
          resetFields,
          ...(step.subresource === undefined ? {} : { subresource: step.subresource }),
          ...(options.listKeys === undefined ? {} : { listKeys: options.listKeys })
        })
        if (!sameJson(ownership(after), ownership(ours))) {
          problems.push(`${label}: managedFields\n  server: ${JSON.stringify(ownership(after))}\n  ours:   ${JSON.stringify(ownership(ours))}`)
        }
      }
      live = res.body as Obj
    }
    return problems
  })

const canonical = (u: unknown): unknown =>
  Array.isArray(u)
    ? u.map(canonical)
    : typeof u === "object" && u !== null
    ? Object.fromEntries(Object.keys(u).sort().map((k) => [k, canonical((u as Record<string, unknown>)[k])]))
    : u

const sameJson = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))

const configMap = (data: Record<string, string | null>, labels?: Record<string, string>): Obj => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "cm", namespace: "default", ...(labels === undefined ? {} : { labels }) },
  data
})

const deployment = (spec: Record<string, unknown>, labels?: Record<string, string>): Obj => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default", ...(labels === undefined ? {} : { labels }) },
  spec
})

// A custom resource as kubefx generates them: a status subresource, lists atomic unless marked.
const echoCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "echoes.test.kubefx.io" },
  spec: {
    group: "test.kubefx.io",
    scope: "Namespaced",
    names: { plural: "echoes", singular: "echo", kind: "Echo", listKind: "EchoList" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      subresources: { status: {} },
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: {
              type: "object",
              properties: {
                message: { type: "string" },
                replicas: { type: "integer" },
                tags: { type: "array", items: { type: "string" } },
                routes: {
                  type: "array",
                  "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["host"],
                  items: {
                    type: "object",
                    required: ["host"],
                    properties: { host: { type: "string" }, path: { type: "string" } }
                  }
                },
                options: { type: "object", properties: { a: { type: "string" }, b: { type: "string" } } }
              }
            },
            status: {
              type: "object",
              properties: {
                ready: { type: "boolean" },
                observedGeneration: { type: "integer" },
                conditions: {
                  type: "array",
                  "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["type"],
                  items: {
                    type: "object",
                    required: ["type", "status"],
                    properties: { type: { type: "string" }, status: { type: "string" }, reason: { type: "string" } }
                  }
                }
              }
            }
          }
        }
      }
    }]
  }
}

const echoKeys: ServerSideApply.ListKeys = {
  "metadata.ownerReferences": ServerSideApply.listMap(["uid"]),
  "metadata.ownerReferences[]": ServerSideApply.atomic,
  "metadata.finalizers": ServerSideApply.listSet,
  "spec.routes": ServerSideApply.listMap(["host"]),
  "status.conditions": ServerSideApply.listMap(["type"])
}

const echo = (spec: Record<string, unknown>, status?: Record<string, unknown>): Obj => ({
  apiVersion: "test.kubefx.io/v1",
  kind: "Echo",
  metadata: { name: "e1", namespace: "default" },
  spec,
  ...(status === undefined ? {} : { status })
})

const selector = { matchLabels: { app: "web" } }
const template = (containers: ReadonlyArray<Record<string, unknown>>) => ({
  metadata: { labels: { app: "web" } },
  spec: { containers }
})
const web = { name: "web", image: "web:1", ports: [{ containerPort: 80 }], env: [{ name: "A", value: "1" }] }

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("ServerSideApply against kube-apiserver", () => {
  it.live("decides managedFields, conflicts and pruning as the real server does", () =>
    Effect.scoped(Effect.gen(function*() {
      const env = yield* Envtest.make({ crds: [echoCrd] })
      const cmSteps: ReadonlyArray<Step> = [
        { kind: "apply", manager: "alpha", body: configMap({ a: "1", b: "2" }, { app: "web", tier: "fe" }) },
        { kind: "apply", manager: "beta", body: configMap({ b: "2", c: "3" }) },
        { kind: "patch", manager: "editor", contentType: "application/merge-patch+json", body: { data: { a: "x" } } },
        { kind: "patch", manager: "editor", contentType: "application/merge-patch+json", body: { data: { z: "z" } } },
        { kind: "apply", manager: "alpha", body: configMap({ a: "1", b: "2" }, { app: "web", tier: "fe" }) },
        { kind: "apply", manager: "beta", body: configMap({ a: "y", b: "3" }) },
        { kind: "apply", manager: "alpha", force: true, body: configMap({ a: "1", b: "2" }, { app: "web", tier: "fe" }) },
        { kind: "apply", manager: "alpha", body: configMap({ b: "2" }, { app: "web" }) },
        { kind: "apply", manager: "beta", body: configMap({ c: "4" }) },
        {
          kind: "patch",
          manager: "remover",
          contentType: "application/json-patch+json",
          body: [{ op: "remove", path: "/data/c" }, { op: "add", path: "/metadata/labels/extra", value: "1" }]
        },
        { kind: "apply", manager: "beta", body: configMap({ b: null }) },
        { kind: "apply", manager: "gamma", body: configMap({}, { extra: "1" }) },
        {
          kind: "patch",
          manager: "replacer",
          contentType: "application/strategic-merge-patch+json",
          body: { metadata: { labels: { extra: null, more: "m" } }, data: { d: "4" } }
        },
        {
          kind: "put",
          manager: "putter",
          edit: (o) => ({ ...o, data: { ...(o["data"] as object), z: "zz", p: "p" }, metadata: { ...o.metadata, annotations: { n: "1" } } })
        },
        {
          kind: "put",
          manager: "resetter",
          edit: (o) => ({ ...o, metadata: { ...o.metadata, managedFields: [{}] as never }, data: { ...(o["data"] as object), r: "r" } })
        },
        { kind: "apply", manager: "alpha", body: configMap({ b: "3" }, { app: "web" }) },
        {
          kind: "patch",
          manager: "tester",
          contentType: "application/json-patch+json",
          body: [{ op: "test", path: "/data/b", value: "nope" }, { op: "add", path: "/data/t", value: "t" }]
        },
        {
          kind: "patch",
          manager: "mover",
          contentType: "application/json-patch+json",
          body: [
            { op: "move", from: "/data/z", path: "/data/moved" },
            { op: "copy", from: "/metadata/labels", path: "/metadata/annotations" },
            { op: "add", path: "/metadata/annotations/x~1y", value: "slash" }
          ]
        },
        { kind: "patch", manager: "strategic", contentType: "application/strategic-merge-patch+json", body: { metadata: { annotations: { $patch: "replace", only: "1" } } } },
        { kind: "patch", manager: "strategic", contentType: "application/strategic-merge-patch+json", body: { metadata: { annotations: { $patch: "delete" } } } },
        { kind: "patch", manager: "missing", contentType: "application/json-patch+json", body: [{ op: "remove", path: "/data/nope" }] },
        { kind: "patch", manager: "missing", contentType: "application/json-patch+json", body: [{ op: "add", path: "/nope/x", value: "1" }] }
      ]
      const deploySteps: ReadonlyArray<Step> = [
        {
          kind: "apply",
          manager: "op",
          body: deployment({ replicas: 1, selector, template: template([web]) }, { app: "web" })
        },
        { kind: "patch", manager: "hpa", contentType: "application/merge-patch+json", body: { spec: { replicas: 3 } } },
        {
          kind: "apply",
          manager: "op",
          body: deployment({ replicas: 1, selector, template: template([web]) }, { app: "web" })
        },
        {
          kind: "apply",
          manager: "sidecar",
          body: deployment({ template: template([{ name: "side", image: "side:1" }]) })
        },
        {
          kind: "apply",
          manager: "op",
          body: deployment({ selector, template: template([{ name: "web", image: "web:1", ports: [{ containerPort: 80 }] }]) }, {
            app: "web"
          })
        },
        {
          kind: "patch",
          manager: "kubectl-edit",
          contentType: "application/strategic-merge-patch+json",
          body: { spec: { template: { spec: { containers: [{ name: "web", image: "web:debug", args: ["-v"] }] } } } }
        },
        {
          kind: "apply",
          manager: "op",
          body: deployment({ selector, template: template([{ name: "web", image: "web:1", ports: [{ containerPort: 80 }] }]) }, {
            app: "web"
          })
        },
        {
          kind: "apply",
          manager: "op",
          force: true,
          body: deployment({ selector, template: template([{ name: "web", image: "web:1", ports: [{ containerPort: 80 }] }]) }, {
            app: "web"
          })
        },
        {
          kind: "patch",
          manager: "ctrl",
          subresource: "status",
          contentType: "application/merge-patch+json",
          body: { status: { observedGeneration: 1, replicas: 0 } }
        },
        {
          kind: "apply",
          manager: "ctrl",
          subresource: "status",
          body: { ...deployment({}), status: { conditions: [{ type: "Available", status: "False" }] } }
        },
        {
          kind: "apply",
          manager: "op",
          body: {
            ...deployment({ selector, template: template([{ name: "web", image: "web:1", ports: [{ containerPort: 80 }] }]) }, {
              app: "web"
            }),
            status: { replicas: 5 }
          }
        }
      ]
      const svc = (ports: ReadonlyArray<Record<string, unknown>>, extra: Record<string, unknown> = {}): Obj => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "svc", namespace: "default", ...extra },
        spec: { ports, selector: { app: "web" } }
      })
      const owner = (uid: string) => ({ apiVersion: "v1", kind: "ConfigMap", name: `o-${uid}`, uid })
      const svcSteps: ReadonlyArray<Step> = [
        { kind: "apply", manager: "a", body: svc([{ port: 80, targetPort: 8080 }], { finalizers: ["a.io/f"], ownerReferences: [owner("1")] }) },
        { kind: "apply", manager: "b", body: svc([{ port: 80, protocol: "TCP", name: "http" }, { port: 53, protocol: "UDP", name: "dns" }], { finalizers: ["b.io/f"], ownerReferences: [owner("2")] }) },
        { kind: "apply", manager: "a", body: svc([{ port: 80, targetPort: 9090, name: "http" }]) },
        { kind: "apply", manager: "b", body: { ...svc([]), spec: { ports: [{ port: 53, protocol: "UDP", name: "dns" }], selector: { app: "other" } } } },
        { kind: "apply", manager: "b", force: true, body: { ...svc([]), spec: { ports: [{ port: 53, protocol: "UDP", name: "dns" }], selector: { app: "other" } } } },
        { kind: "apply", manager: "c", body: svc([{ port: 1 }, { port: 1 }]) },
        { kind: "apply", manager: "c", body: { ...svc([{ port: 2 }]), metadata: { name: "svc", namespace: "default", managedFields: [] } } },
        { kind: "patch", manager: "d", contentType: "application/strategic-merge-patch+json", body: { metadata: { finalizers: ["d.io/f"] }, spec: { ports: [{ port: 80, targetPort: 7070 }] } } },
        { kind: "patch", manager: "e", contentType: "application/strategic-merge-patch+json", body: { metadata: { "$deleteFromPrimitiveList/finalizers": ["a.io/f"] } } }
      ]
      const echoSteps: ReadonlyArray<Step> = [
        { kind: "patch", manager: "editor", contentType: "application/merge-patch+json", body: { spec: { options: { a: "1" }, tags: ["x"] } } },
        { kind: "apply", manager: "op", body: echo({ message: "hi", replicas: 1, tags: ["y"], routes: [{ host: "a", path: "/" }] }, { ready: true }) },
        { kind: "apply", manager: "op", body: echo({ message: "hi", replicas: 1, tags: ["x"], routes: [{ host: "a", path: "/" }] }, { ready: true }) },
        { kind: "apply", manager: "other", body: echo({ routes: [{ host: "b" }], options: { b: "2" } }) },
        { kind: "apply", manager: "op", subresource: "status", body: echo({ message: "ignored" }, { ready: true, conditions: [{ type: "Ready", status: "True" }] }) },
        { kind: "patch", manager: "ctl", subresource: "status", contentType: "application/merge-patch+json", body: { status: { observedGeneration: 2 } } },
        { kind: "apply", manager: "other", subresource: "status", body: echo({}, { conditions: [{ type: "Synced", status: "True" }] }) },
        { kind: "apply", manager: "op", subresource: "status", body: echo({}, { ready: false, conditions: [{ type: "Ready", status: "False", reason: "Down" }] }) },
        { kind: "apply", manager: "op", body: echo({ message: "bye", tags: ["x"], routes: [{ host: "a" }] }) },
        { kind: "patch", manager: "editor", contentType: "application/json-patch+json", body: [{ op: "replace", path: "/spec/message", value: "edited" }] },
        { kind: "patch", manager: "smp", contentType: "application/merge-patch+json", body: { spec: { routes: [{ host: "c" }], options: { a: null } } } }
      ]
      const echoCreated = yield* Envtest.request(env, {
        method: "POST",
        path: "/apis/test.kubefx.io/v1/namespaces/default/echoes?fieldManager=creator",
        body: echo({ message: "first", options: {} }, { ready: false })
      })
      assert.strictEqual(echoCreated.status, 201, JSON.stringify(echoCreated.body))
      const echoCreatedMine = ServerSideApply.recordUpdate(undefined, echoCreated.body as Obj, {
        manager: "creator",
        time: TIME,
        listKeys: echoKeys,
        resetFields: [["status"]]
      })
      const created = yield* Envtest.request(env, {
        method: "POST",
        path: "/api/v1/namespaces/default/configmaps?fieldManager=creator",
        body: configMap({ seed: "0" })
      })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const createdMine = ServerSideApply.recordUpdate(undefined, created.body as Obj, { manager: "creator", time: TIME })
      const problems = [
        ...(sameJson(ownership(created.body), ownership(createdMine))
          ? []
          : [`create: managedFields\n  server: ${JSON.stringify(ownership(created.body))}\n  ours:   ${JSON.stringify(ownership(createdMine))}`]),
        ...(sameJson(ownership(echoCreated.body), ownership(echoCreatedMine))
          ? []
          : [`create echo: managedFields\n  server: ${JSON.stringify(ownership(echoCreated.body))}\n  ours:   ${JSON.stringify(ownership(echoCreatedMine))}`]),
        ...(yield* run(env, "/apis/test.kubefx.io/v1/namespaces/default/echoes", "e1", echoCreated.body as Obj, echoSteps, {
          statusSubresource: true,
          compareObject: false,
          listKeys: echoKeys,
          project: (o) => ({ spec: o["spec"], status: o["status"], labels: o.metadata.labels })
        })),
        ...(yield* run(env, "/api/v1/namespaces/default/configmaps", "cm", created.body as Obj, cmSteps, {
          statusSubresource: false,
          compareObject: true,
          project: visible
        })),
        ...(yield* run(env, "/api/v1/namespaces/default/services", "svc", undefined, svcSteps, {
          statusSubresource: true,
          compareObject: false
        })),
        ...(yield* run(env, "/apis/apps/v1/namespaces/default/deployments", "web", undefined, deploySteps, {
          statusSubresource: true,
          compareObject: false
        }))
      ]
      assert.deepStrictEqual(problems, [])
    })), 180_000)
})
