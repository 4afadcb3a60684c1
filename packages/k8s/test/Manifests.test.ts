import { describe, expect, it } from "@effect/vitest"
import { Builtin, Resource } from "@kubefx/core"
import { Effect, Schema } from "effect"
import { execFile } from "node:child_process"
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { loadAll, YAML11_SCHEMA } from "js-yaml"
import * as Manifests from "../src/Manifests.ts"

// ---------------------------------------------------------------------------------------------------------
// A small structural-schema validator (the subset Manifests emits), to check that a CRD accepts every value
// its Schema encodes and rejects what the Schema rejects.
// ---------------------------------------------------------------------------------------------------------
const validate = (s: Manifests.JSONSchemaProps, v: unknown, path = "$"): Array<string> => {
  if (v === null) return s.nullable === true ? [] : [`${path}: null`]
  if (s["x-kubernetes-int-or-string"] === true) {
    return typeof v === "string" || Number.isInteger(v) ? [] : [`${path}: not int-or-string`]
  }
  if (s.type === undefined) return s["x-kubernetes-preserve-unknown-fields"] === true ? [] : [`${path}: untyped node`]
  const errors: Array<string> = []
  if (s.enum !== undefined && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    errors.push(`${path}: ${JSON.stringify(v)} not in enum`)
  }
  switch (s.type) {
    case "object": {
      if (typeof v !== "object" || Array.isArray(v)) return [`${path}: not an object`]
      const o = v as Record<string, unknown>
      for (const r of s.required ?? []) if (!(r in o)) errors.push(`${path}.${r}: required`)
      for (const [k, x] of Object.entries(o)) {
        const p = s.properties?.[k] ?? s.additionalProperties
        if (p !== undefined) errors.push(...validate(p, x, `${path}.${k}`))
        else if (s["x-kubernetes-preserve-unknown-fields"] !== true) errors.push(`${path}.${k}: unknown field`)
      }
      return errors
    }
    case "array": {
      if (!Array.isArray(v)) return [`${path}: not an array`]
      if (s.minItems !== undefined && v.length < s.minItems) errors.push(`${path}: too few items`)
      if (s.maxItems !== undefined && v.length > s.maxItems) errors.push(`${path}: too many items`)
      if (s["x-kubernetes-list-type"] === "set" && new Set(v).size !== v.length) errors.push(`${path}: duplicates`)
      v.forEach((x, i) => errors.push(...validate(s.items!, x, `${path}[${i}]`)))
      return errors
    }
    case "string":
      if (typeof v !== "string") return [`${path}: not a string`]
      if (s.minLength !== undefined && [...v].length < s.minLength) errors.push(`${path}: too short`)
      if (s.maxLength !== undefined && [...v].length > s.maxLength) errors.push(`${path}: too long`)
      if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(v)) errors.push(`${path}: pattern`)
      return errors
    case "integer":
    case "number": {
      if (typeof v !== "number" || !Number.isFinite(v)) return [`${path}: not a number`]
      if (s.type === "integer" && !Number.isInteger(v)) return [`${path}: not an integer`]
      if (s.minimum !== undefined && (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum)) errors.push(`${path}: < min`)
      if (s.maximum !== undefined && (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum)) errors.push(`${path}: > max`)
      return errors
    }
    case "boolean":
      return typeof v === "boolean" ? errors : [`${path}: not a boolean`]
  }
}

const json = (u: unknown): unknown => JSON.parse(JSON.stringify(u))

// ---------------------------------------------------------------------------------------------------------
// the custom resource under test
// ---------------------------------------------------------------------------------------------------------
const Container = Schema.Struct({
  name: Schema.String.annotate({ description: "container name" }),
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
})

const WidgetSpec = Schema.Struct({
  image: Schema.String.annotate({ description: "container image" }),
  replicas: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 })).annotate({ default: 1 })),
  mode: Schema.Literals(["fast", "safe"]),
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  containers: Schema.Array(Container),
  ratio: Schema.Finite,
  note: Schema.optional(Schema.String),
  limits: Schema.Struct({ cpu: Schema.String, memory: Schema.optionalKey(Schema.String) }).annotate({
    description: "resource limits"
  })
})

const WidgetStatus = Schema.Struct({
  ready: Schema.optionalKey(Schema.Boolean),
  conditions: Schema.optionalKey(Schema.Array(Resource.Condition))
})

const Widget = Resource.custom({
  group: "example.com",
  version: "v1alpha1",
  kind: "Widget",
  plural: "widgets",
  spec: WidgetSpec,
  status: WidgetStatus,
  shortNames: ["wd"],
  description: "A widget.",
  printerColumns: [{ name: "Mode", type: "string", jsonPath: ".spec.mode", description: "how fast" }]
})

const expectedSpec: Manifests.JSONSchemaProps = {
  type: "object",
  properties: {
    image: { type: "string", description: "container image" },
    replicas: { type: "integer", default: 1, minimum: 0, maximum: 10 },
    mode: { type: "string", enum: ["fast", "safe"] },
    labels: { type: "object", additionalProperties: { type: "string" } },
    containers: {
      type: "array",
      items: {
        type: "object",
        properties: {
          name: { type: "string", description: "container name" },
          port: { type: "integer", minimum: 1, maximum: 65535 }
        },
        required: ["name", "port"]
      }
    },
    ratio: { type: "number" },
    note: { type: "string", nullable: true },
    limits: {
      type: "object",
      description: "resource limits",
      properties: { cpu: { type: "string" }, memory: { type: "string" } },
      required: ["cpu"]
    }
  },
  required: ["image", "mode", "containers", "ratio", "limits"]
}

const expectedStatus: Manifests.JSONSchemaProps = {
  type: "object",
  properties: {
    ready: { type: "boolean" },
    conditions: {
      type: "array",
      items: {
        type: "object",
        properties: {
          type: { type: "string" },
          status: { type: "string", enum: ["True", "False", "Unknown"] },
          reason: { type: "string" },
          message: { type: "string" },
          lastTransitionTime: { type: "string" },
          // Schema.Number: the NaN/Infinity string branch is gone
          observedGeneration: { type: "number" }
        },
        required: ["type", "status"]
      }
    },
    // added by Resource.custom: the engine writes it, and the API server prunes fields its schema lacks
    observedGeneration: {
      type: "integer",
      description: "The metadata.generation this status describes.",
      minimum: -9007199254740991,
      maximum: 9007199254740991
    }
  }
}

const structural = (schema: Schema.Top) => Manifests.structuralSchema(schema)
const failure = (schema: Schema.Top) => Effect.flip(Manifests.structuralSchema(schema, { path: "spec" }))

describe("Manifests.crd", () => {
  it.effect("generates the exact CustomResourceDefinition", () =>
    Effect.gen(function*() {
      const crd = yield* Manifests.crd(Widget)
      expect(crd).toStrictEqual({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "widgets.example.com" },
        spec: {
          group: "example.com",
          names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList", shortNames: ["wd"] },
          scope: "Namespaced",
          versions: [{
            name: "v1alpha1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                description: "A widget.",
                properties: {
                  apiVersion: {
                    type: "string",
                    description: "APIVersion defines the versioned schema of this representation of an object."
                  },
                  kind: {
                    type: "string",
                    description: "Kind is a string value representing the REST resource this object represents."
                  },
                  metadata: { type: "object" },
                  spec: expectedSpec,
                  status: expectedStatus
                },
                required: ["spec"]
              }
            },
            subresources: { status: {} },
            additionalPrinterColumns: [
              { name: "Mode", type: "string", jsonPath: ".spec.mode", description: "how fast" },
              { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
            ]
          }]
        }
      })
    }))

  it.effect("is cluster-scoped for a cluster-scoped type, takes options, and keeps a user-defined Age column", () =>
    Effect.gen(function*() {
      const Cluster = Resource.custom({
        group: "infra.example.com",
        version: "v1",
        kind: "Pool",
        plural: "pools",
        namespaced: false,
        spec: Schema.Struct({ size: Schema.Int }),
        status: Schema.Struct({}),
        printerColumns: [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", priority: 1 }]
      })
      const crd = yield* Manifests.crd(Cluster, {
        singular: "pool",
        categories: ["all"],
        labels: { team: "infra" },
        annotations: { note: "x" }
      })
      expect(crd.spec.scope).toBe("Cluster")
      expect(crd.metadata).toStrictEqual({ name: "pools.infra.example.com", labels: { team: "infra" }, annotations: { note: "x" } })
      expect(crd.spec.names).toStrictEqual({ plural: "pools", singular: "pool", kind: "Pool", listKind: "PoolList", categories: ["all"] })
      expect(crd.spec.versions[0]?.additionalPrinterColumns).toStrictEqual([
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", priority: 1 }
      ])
      // Resource.custom adds the fields the engine writes to an empty status Struct
      const status = crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.status
      expect(Object.keys(status?.properties ?? {})).toStrictEqual(["observedGeneration", "conditions"])
      expect(status?.properties?.["conditions"]?.items?.required).toStrictEqual(["type", "status"])
      // Schema.Struct({}) on its own accepts any non-null value: kept as it is
      expect(yield* structural(Schema.Struct({}))).toStrictEqual({ "x-kubernetes-preserve-unknown-fields": true })
    }))

  it.effect.prop(
    "the CRD schema accepts every value the spec Schema encodes",
    { spec: WidgetSpec },
    ({ spec }) =>
      Effect.gen(function*() {
        const schema = yield* structural(WidgetSpec)
        expect(validate(schema, json(Schema.encodeSync(WidgetSpec)(spec)))).toStrictEqual([])
      }),
    { arbitrary: { runs: 100 } }
  )

  it.effect("the CRD schema rejects what the spec Schema rejects (the validator above is not vacuous)", () =>
    Effect.gen(function*() {
      const schema = yield* structural(WidgetSpec)
      const good = { image: "a", mode: "fast", containers: [{ name: "c", port: 80 }], ratio: 0.5, limits: { cpu: "1" } }
      expect(validate(schema, good)).toStrictEqual([])
      expect(validate(schema, { ...good, mode: "slow" })).toStrictEqual([`$.mode: "slow" not in enum`])
      expect(validate(schema, { ...good, replicas: 11 })).toStrictEqual(["$.replicas: > max"])
      expect(validate(schema, { ...good, containers: [{ name: "c", port: 1.5 }] })).toStrictEqual(["$.containers[0].port: not an integer"])
      expect(validate(schema, { ...good, note: null })).toStrictEqual([])
      expect(validate(schema, { ...good, labels: { a: 1 } })).toStrictEqual(["$.labels.a: not a string"])
      const { image: _, ...noImage } = good
      expect(validate(schema, noImage)).toStrictEqual(["$.image: required"])
    }))
})

describe("Manifests.structuralSchema", () => {
  it.effect("drops Schema.Number's NaN/Infinity branch, also when nullable", () =>
    Effect.gen(function*() {
      expect(yield* structural(Schema.Number)).toStrictEqual({ type: "number" })
      expect(yield* structural(Schema.NullOr(Schema.Number))).toStrictEqual({ type: "number", nullable: true })
    }))

  it.effect("inlines schemas with an identifier and keeps the outer annotations", () =>
    Effect.gen(function*() {
      const Ref = Schema.Struct({ name: Schema.String }).annotate({ identifier: "Ref" })
      expect(yield* structural(Schema.Struct({ a: Ref, b: Schema.optional(Ref).annotate({ description: "maybe" }) })))
        .toStrictEqual({
          type: "object",
          properties: {
            a: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
            b: { type: "object", description: "maybe", nullable: true, properties: { name: { type: "string" } }, required: ["name"] }
          },
          required: ["a"]
        })
    }))

  it.effect("maps enums, IntOrString, sets, non-empty arrays, free-form values and examples", () =>
    Effect.gen(function*() {
      expect(yield* structural(Schema.Enum({ A: "a", B: "b" }))).toStrictEqual({ type: "string", enum: ["a", "b"] })
      expect(yield* structural(Schema.Union([Schema.Literal(1), Schema.Literal(2.5)]))).toStrictEqual({ type: "number", enum: [1, 2.5] })
      expect(yield* structural(Schema.NullOr(Schema.Literals(["x", "y"])))).toStrictEqual({
        type: "string",
        nullable: true,
        enum: ["x", "y"]
      })
      expect(yield* structural(Schema.Union([Schema.Int, Schema.String]))).toStrictEqual({ "x-kubernetes-int-or-string": true })
      expect(yield* structural(Schema.UniqueArray(Schema.String))).toStrictEqual({
        type: "array",
        items: { type: "string" },
        "x-kubernetes-list-type": "set"
      })
      expect(yield* structural(Schema.NonEmptyArray(Schema.String))).toStrictEqual({ type: "array", minItems: 1, items: { type: "string" } })
      expect(yield* structural(Schema.Unknown)).toStrictEqual({ "x-kubernetes-preserve-unknown-fields": true })
      expect(yield* structural(Schema.Array(Schema.Unknown))).toStrictEqual({
        type: "array",
        items: { "x-kubernetes-preserve-unknown-fields": true }
      })
      expect(yield* structural(Schema.Record(Schema.String, Schema.Unknown))).toStrictEqual({
        type: "object",
        "x-kubernetes-preserve-unknown-fields": true
      })
      expect(
        yield* structural(Schema.StructWithRest(Schema.Struct({ a: Schema.String }), [Schema.Record(Schema.String, Schema.Unknown)]))
      ).toStrictEqual({
        type: "object",
        properties: { a: { type: "string" } },
        required: ["a"],
        "x-kubernetes-preserve-unknown-fields": true
      })
      expect(yield* structural(Schema.String.annotate({ title: "T", examples: ["x", "y"] }))).toStrictEqual({
        type: "string",
        title: "T",
        example: "x"
      })
      expect(yield* structural(Schema.Record(Schema.String, Schema.Struct({ n: Schema.Finite })))).toStrictEqual({
        type: "object",
        additionalProperties: { type: "object", properties: { n: { type: "number" } }, required: ["n"] }
      })
    }))

  it.effect("folds allOf checks into the tightest bounds and keeps a second pattern as a value-only allOf", () =>
    Effect.gen(function*() {
      expect(yield* structural(Schema.Int.check(Schema.isInt32()))).toStrictEqual({
        type: "integer",
        minimum: -2147483648,
        maximum: 2147483647
      })
      expect(yield* structural(Schema.Finite.check(Schema.isGreaterThan(0)))).toStrictEqual({
        type: "number",
        minimum: 0,
        exclusiveMinimum: true
      })
      const twoPatterns = yield* structural(Schema.String.check(Schema.isPattern(/^a/u), Schema.isPattern(/b$/u)))
      expect(twoPatterns).toStrictEqual({ type: "string", pattern: "^a", allOf: [{ pattern: "b$" }] })
    }))

  it.effect("fails with a ManifestError naming the path for what a structural schema cannot express", () =>
    Effect.gen(function*() {
      const objects = yield* failure(Schema.Struct({
        items: Schema.Array(Schema.Struct({ pick: Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Finite })]) }))
      }))
      expect(objects._tag).toBe("ManifestError")
      expect(objects.path).toBe("spec.items[*].pick")
      expect(objects.message).toContain("spec.items[*].pick: a union of different object shapes")
      expect(objects.message).toContain("use one Struct with optional fields")

      const tuple = yield* failure(Schema.Struct({ pair: Schema.Tuple([Schema.String, Schema.Finite]) }))
      expect(tuple.path).toBe("spec.pair")
      expect(tuple.message).toContain("a tuple")

      const mixed = yield* failure(Schema.Struct({ v: Schema.Union([Schema.String, Schema.Finite]) }))
      expect(mixed.path).toBe("spec.v")
      expect(mixed.message).toContain("a union of string | number")

      const mixedLiterals = yield* failure(Schema.Struct({ v: Schema.Literals(["a", 1]) }))
      expect(mixedLiterals.path).toBe("spec.v")

      const checkedIntOrString = yield* failure(Schema.Union([Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 })), Schema.String]))
      expect(checkedIntOrString.message).toContain("only a plain integer | string")

      interface Tree {
        readonly name: string
        readonly kids: ReadonlyArray<Tree>
      }
      const Tree: Schema.Codec<Tree> = Schema.Struct({
        name: Schema.String,
        kids: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree))
      })
      const recursive = yield* failure(Tree)
      expect(recursive.path).toBe("spec.kids[*]")
      expect(recursive.message).toContain("a recursive schema")

      const indexed = yield* failure(Schema.StructWithRest(Schema.Struct({ a: Schema.String }), [Schema.Record(Schema.String, Schema.String)]))
      expect(indexed.message).toContain("properties or additionalProperties on an object, not both")

      expect((yield* failure(Schema.Struct({ n: Schema.Never }))).path).toBe("spec.n")
      expect((yield* failure(Schema.Struct({ n: Schema.Null }))).message).toContain("only accepts null")
      expect((yield* failure(Schema.UniqueArray(Schema.Struct({ a: Schema.String })))).message).toContain("lists of scalars")
      expect((yield* failure(Schema.Struct({ o: Schema.Option(Schema.String) }))).path).toBe("spec.o")
    }))

  it.effect("validates names and printer columns", () =>
    Effect.gen(function*() {
      const base = { version: "v1", kind: "Thing", plural: "things", spec: Schema.Struct({}), status: Schema.Struct({}) }
      const noDot = yield* Effect.flip(Manifests.crd(Resource.custom({ ...base, group: "example" })))
      expect(noDot.path).toBe("group")
      expect(noDot.message).toContain("at least one dot")
      const upper = yield* Effect.flip(Manifests.crd(Resource.custom({ ...base, group: "example.com", plural: "Things" })))
      expect(upper.path).toBe("plural")
      const column = yield* Effect.flip(Manifests.crd(Resource.custom({
        ...base,
        group: "example.com",
        printerColumns: [{ name: "Size", type: "integer", jsonPath: "spec.size" }]
      })))
      expect(column.path).toBe("printerColumns[0]")
      expect(column.message).toContain(`must start with "."`)
      const twice = yield* Effect.flip(Manifests.crd(Resource.custom({
        ...base,
        group: "example.com",
        printerColumns: [{ name: "A", type: "string", jsonPath: ".a" }, { name: "A", type: "string", jsonPath: ".b" }]
      })))
      expect(twice.path).toBe("printerColumns[1]")
      const spec = yield* Effect.flip(Manifests.crd(Resource.custom({ ...base, group: "example.com", spec: Schema.Struct({ t: Schema.Tuple([Schema.String, Schema.Int]) }) })))
      expect(spec.subject).toBe("CustomResourceDefinition things.example.com")
      expect(spec.path).toBe("spec.t")
    }))
})

// ---------------------------------------------------------------------------------------------------------
// RBAC
// ---------------------------------------------------------------------------------------------------------
const StatefulSet = Resource.make({ group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets" })
const Secret = Resource.make({ group: "", version: "v1", kind: "Secret", plural: "secrets" })
const ClusterThing = Resource.make({ group: "infra.example.com", version: "v1", kind: "Thing", plural: "things", namespaced: false })

const rulesOf = (objects: ReadonlyArray<Resource.KubeObject>, kind: string, namespace?: string) =>
  objects.find((o) => o.kind === kind && o.metadata.namespace === namespace)?.rules

const EVENTS = [
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] }
]
const PARENT = [
  { apiGroups: ["example.com"], resources: ["widgets"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["example.com"], resources: ["widgets/status"], verbs: ["update"] }
]

describe("Manifests.rbac", () => {
  it.effect.each([
    ["apply", ["get", "list", "watch", "create", "patch", "delete"]],
    ["replace", ["get", "list", "watch", "create", "update", "delete"]],
    ["recreate", ["get", "list", "watch", "create", "delete"]],
    ["onDelete", ["get", "list", "watch", "create", "delete"]]
  ] as const)("grants a %s child exactly the verbs its policy needs", ([update, verbs]) =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac({ name: "widget-operator", parent: Widget, children: [{ type: Builtin.ConfigMap, update }] })
      expect(rulesOf(objects, "ClusterRole")).toStrictEqual([{ apiGroups: [""], resources: ["configmaps"], verbs }, ...PARENT])
    }))

  it.effect("writes the whole RBAC for all namespaces: ServiceAccount, ClusterRole(+Binding), leader-election Role(+Binding)", () =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac(
        { name: "widget-operator", parent: Widget, children: [{ type: Builtin.Deployment, update: "apply" }], namespaces: "all" },
        { namespace: "ops", leaderElection: true, events: true }
      )
      const labels = { "app.kubernetes.io/name": "widget-operator" }
      const subjects = [{ kind: "ServiceAccount", name: "widget-operator", namespace: "ops" }]
      expect(objects).toStrictEqual([
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "widget-operator", namespace: "ops", labels } },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name: "widget-operator", labels },
          rules: [
            EVENTS[0],
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
            EVENTS[1],
            ...PARENT
          ]
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: "widget-operator", labels },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "widget-operator" },
          subjects
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "widget-operator-leader-election", namespace: "ops", labels },
          rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }]
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: "widget-operator-leader-election", namespace: "ops", labels },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "widget-operator-leader-election" },
          subjects
        }
      ])
    }))

  it.effect("merges resources of one group with the same verbs, and unions verbs of a type listed twice", () =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac({
        name: "op",
        parent: Widget,
        children: [
          { type: Builtin.Deployment, update: "apply" },
          { type: StatefulSet, update: "apply" },
          { type: Builtin.ConfigMap, update: "replace" },
          { type: Secret, update: "replace" },
          { type: Builtin.Service, update: "recreate" },
          { type: Builtin.Service, update: "apply" }
        ]
      }, { leaderElection: false })
      expect(objects.map((o) => o.kind)).toStrictEqual(["ServiceAccount", "ClusterRole", "ClusterRoleBinding"])
      expect(rulesOf(objects, "ClusterRole")).toStrictEqual([
        { apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["get", "list", "watch", "create", "update", "delete"] },
        { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
        { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
        ...PARENT
      ])
    }))

  it.effect("lets the parent be patched only when the operator writes finalizers (hasFinalizer or finalize)", () =>
    Effect.gen(function*() {
      const parentRule = (objects: ReadonlyArray<Resource.KubeObject>) =>
        (rulesOf(objects, "ClusterRole") as ReadonlyArray<Manifests.PolicyRule>).find((r) => r.resources.includes("widgets"))
      const withFinalizer = yield* Manifests.rbac({ name: "op", parent: Widget, children: [], hasFinalizer: true })
      expect(parentRule(withFinalizer)?.verbs).toStrictEqual(["get", "list", "watch", "patch"])
      const withFinalize = yield* Manifests.rbac({ name: "op", parent: Widget, children: [], finalize: () => undefined })
      expect(parentRule(withFinalize)?.verbs).toStrictEqual(["get", "list", "watch", "patch"])
      const without = yield* Manifests.rbac({ name: "op", parent: Widget, children: [], hasFinalizer: false })
      expect(parentRule(without)?.verbs).toStrictEqual(["get", "list", "watch"])
      // no status subresource: status is written through the main resource
      const plain = yield* Manifests.rbac({ name: "op", parent: Builtin.ConfigMap, children: [] })
      expect(rulesOf(plain, "ClusterRole")).toStrictEqual([
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "update", "patch"] }
      ])
    }))

  it.effect("writes a Role and RoleBinding per namespace, and a ClusterRole only for cluster-scoped types", () =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac({
        name: "op",
        parent: Widget,
        children: [{ type: Builtin.ConfigMap, update: "apply" }, { type: ClusterThing, update: "replace" }],
        namespaces: ["team-a", "team-b", "team-a"]
      })
      expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toStrictEqual([
        "ServiceAccount/default/op",
        "ClusterRole//op",
        "ClusterRoleBinding//op",
        "Role/team-a/op",
        "RoleBinding/team-a/op",
        "Role/team-b/op",
        "RoleBinding/team-b/op"
      ])
      expect(rulesOf(objects, "ClusterRole")).toStrictEqual([
        { apiGroups: ["infra.example.com"], resources: ["things"], verbs: ["get", "list", "watch", "create", "update", "delete"] }
      ])
      const namespaced = [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
        ...PARENT
      ]
      expect(rulesOf(objects, "Role", "team-a")).toStrictEqual(namespaced)
      expect(rulesOf(objects, "Role", "team-b")).toStrictEqual(namespaced)
      const binding = objects.find((o) => o.kind === "RoleBinding" && o.metadata.namespace === "team-b")
      expect(binding?.roleRef).toStrictEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "op" })
      expect(binding?.subjects).toStrictEqual([{ kind: "ServiceAccount", name: "op", namespace: "default" }])
    }))

  it.effect("a cluster-scoped parent puts every rule into the ClusterRole: its children are watched in all namespaces", () =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac({
        name: "op",
        parent: ClusterThing,
        children: [{ type: Builtin.ConfigMap, update: "replace" }],
        namespaces: ["team-a"]
      })
      expect(objects.map((o) => o.kind)).toStrictEqual(["ServiceAccount", "ClusterRole", "ClusterRoleBinding"])
      expect(rulesOf(objects, "ClusterRole")).toStrictEqual([
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "update", "delete"] },
        { apiGroups: ["infra.example.com"], resources: ["things"], verbs: ["get", "list", "watch", "update", "patch"] }
      ])
    }))

  it.effect("grants events and leases only when asked: the engine records no events and elects no leader", () =>
    Effect.gen(function*() {
      const plain = yield* Manifests.rbac({ name: "op", parent: Widget, children: [] })
      expect(plain.map((o) => o.kind)).toStrictEqual(["ServiceAccount", "ClusterRole", "ClusterRoleBinding"])
      expect(JSON.stringify(plain)).not.toMatch(/events|leases/)
      const both = yield* Manifests.rbac({ name: "op", parent: Widget, children: [], namespaces: ["a"] }, { leaderElection: true, events: true })
      expect(rulesOf(both, "Role", "a")).toStrictEqual([EVENTS[0], EVENTS[1], ...PARENT])
      expect(rulesOf(both, "Role", "default")).toStrictEqual([
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }
      ])
    }))

  it.effect("has no ClusterRole at all when every type is namespaced and namespaces are listed", () =>
    Effect.gen(function*() {
      const objects = yield* Manifests.rbac(
        { name: "op", parent: Widget, children: [], namespaces: ["a"] },
        { serviceAccountName: "runner", leaderElection: false }
      )
      expect(objects.map((o) => o.kind)).toStrictEqual(["ServiceAccount", "Role", "RoleBinding"])
      expect(objects[0]?.metadata.name).toBe("runner")
    }))

  it.effect("rejects an empty namespace list, invalid names and unknown update policies", () =>
    Effect.gen(function*() {
      const empty = yield* Effect.flip(Manifests.rbac({ name: "op", parent: Widget, children: [], namespaces: [] }))
      expect(empty._tag).toBe("ManifestError")
      expect(empty.path).toBe("namespaces")
      expect(empty.message).toContain("the namespace list is empty")
      const badName = yield* Effect.flip(Manifests.rbac({ name: "My Operator", parent: Widget, children: [] }))
      expect(badName.path).toBe("name")
      const badNs = yield* Effect.flip(Manifests.rbac({ name: "op", parent: Widget, children: [], namespaces: ["Team_A"] }))
      expect(badNs.path).toBe("namespaces[0]")
      const badPolicy = yield* Effect.flip(Manifests.rbac({
        name: "op",
        parent: Widget,
        children: [{ type: Builtin.ConfigMap, update: "merge" as Manifests.UpdatePolicy }]
      }))
      expect(badPolicy.path).toBe("children[0].update")
      expect(badPolicy.message).toContain(`unknown update policy "merge" (one of: apply, replace, recreate, onDelete)`)
    }))
})

describe("Manifests.deployment", () => {
  it.effect("runs one replica of the operator under its ServiceAccount", () =>
    Effect.gen(function*() {
      const d = yield* Manifests.deployment(
        { name: "op", parent: Widget, children: [] },
        { image: "registry.example.com/op:1.0", namespace: "ops", env: [{ name: "LOG_LEVEL", value: "Debug" }] }
      )
      const labels = { "app.kubernetes.io/name": "op" }
      expect(d).toStrictEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "op", namespace: "ops", labels },
        spec: {
          replicas: 1,
          strategy: { type: "Recreate" },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: "op",
              securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
              containers: [{
                name: "operator",
                image: "registry.example.com/op:1.0",
                env: [
                  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "NODE_OPTIONS", value: "--max-semi-space-size=4 --max-old-space-size=384" },
                  { name: "LOG_LEVEL", value: "Debug" }
                ],
                resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } }
              }]
            }
          }
        }
      })
      // The user's NODE_OPTIONS replaces the default one.
      const own = yield* Manifests.deployment({ name: "op", parent: Widget, children: [] }, { image: "x", env: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=256" }] })
      const ownEnv = ((own["spec"] as any).template.spec.containers[0].env as ReadonlyArray<{ name: string; value?: string }>).filter((e) => e.name === "NODE_OPTIONS")
      expect(ownEnv).toEqual([{ name: "NODE_OPTIONS", value: "--max-old-space-size=256" }])
      const empty = yield* Effect.flip(Manifests.deployment({ name: "op", parent: Widget, children: [] }, { image: " " }))
      expect(empty.path).toBe("image")
    }))

  const containerOf = (d: Resource.KubeObject) => (d["spec"] as any).template.spec.containers[0] as {
    readonly env: ReadonlyArray<{ readonly name: string; readonly value?: string }>
    readonly resources?: unknown
  }
  const nodeOptionsOf = (d: Resource.KubeObject) => containerOf(d).env.find((e) => e.name === "NODE_OPTIONS")?.value

  it.effect("bounds V8's old space at 75% of the container's memory limit, in any quantity form", () =>
    Effect.gen(function*() {
      const op = { name: "op", parent: Widget, children: [] }
      const cases: ReadonlyArray<readonly [string, number]> = [["1Gi", 768], ["512Mi", 384], ["1G", 715], ["1e9", 715], ["2097152Ki", 1536], ["0.5Gi", 384], ["600000000", 429]]
      for (const [memory, heap] of cases) {
        const d = yield* Manifests.deployment(op, { image: "x", resources: { limits: { memory } } })
        expect(nodeOptionsOf(d), memory).toBe(`--max-semi-space-size=4 --max-old-space-size=${heap}`)
        expect(containerOf(d).resources).toStrictEqual({ limits: { memory } })
        expect(yield* Manifests.nodeOptions({ limits: { memory } })).toBe(`--max-semi-space-size=4 --max-old-space-size=${heap}`)
      }
      // Resources without a memory limit: no heap bound (V8 sizes it from the machine).
      const unbounded = yield* Manifests.deployment(op, { image: "x", resources: { requests: { memory: "1Gi" } } })
      expect(nodeOptionsOf(unbounded)).toBe("--max-semi-space-size=4")
      expect(Manifests.defaultNodeOptions).toBe(yield* Manifests.nodeOptions(Manifests.defaultResources))
    }))

  it.effect("memoryLimit: the default resources with another limit, the request no more than the limit", () =>
    Effect.gen(function*() {
      const op = { name: "op", parent: Widget, children: [] }
      const big = yield* Manifests.deployment(op, { image: "x", memoryLimit: "1Gi" })
      expect(containerOf(big).resources).toStrictEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } })
      expect(nodeOptionsOf(big)).toBe("--max-semi-space-size=4 --max-old-space-size=768")
      const small = yield* Manifests.deployment(op, { image: "x", memoryLimit: "128Mi" })
      expect(containerOf(small).resources).toStrictEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "128Mi" } })
      expect(nodeOptionsOf(small)).toBe("--max-semi-space-size=4 --max-old-space-size=96")
      const both = yield* Effect.flip(Manifests.deployment(op, { image: "x", memoryLimit: "1Gi", resources: { limits: { memory: "1Gi" } } }))
      expect(both.path).toBe("memoryLimit")
      expect(both.message).toContain("give resources or a memory limit, not both")
      const bad = yield* Effect.flip(Manifests.deployment(op, { image: "x", memoryLimit: "1GB" }))
      expect(bad.path).toBe("memoryLimit")
      expect((yield* Effect.flip(Manifests.deployment(op, { image: "x", memoryLimit: "64Mi" }))).path).toBe("resources.limits.memory")
    }))

  it.effect("refuses a memory limit that is no quantity or leaves V8 too little heap", () =>
    Effect.gen(function*() {
      const op = { name: "op", parent: Widget, children: [] }
      for (const memory of ["lots", "512MB", "-1Gi", "0", "1.5.2Mi", ""]) {
        const e = yield* Effect.flip(Manifests.deployment(op, { image: "x", resources: { limits: { memory } } }))
        expect(e.path, memory).toBe("resources.limits.memory")
        expect(e.message).toContain("is not a memory quantity")
      }
      const small = yield* Effect.flip(Manifests.deployment(op, { image: "x", resources: { limits: { memory: "64Mi" } } }))
      expect(small.message).toContain("64Mi leaves V8 a heap of 48 MiB; a Node operator needs at least 86Mi")
      expect(yield* Manifests.nodeOptions({ limits: { memory: "86Mi" } })).toBe("--max-semi-space-size=4 --max-old-space-size=64")
      expect((yield* Effect.flip(Manifests.nodeOptions({ limits: { memory: "85Mi" } }))).path).toBe("resources.limits.memory")
    }))
})

// ---------------------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------------------
describe("Manifests.toYaml", () => {
  const tricky = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "x", labels: { yes: "on", "": "empty key" } },
    data: {
      bools: ["yes", "no", "on", "off", "y", "N", "True", "FALSE"],
      nulls: ["null", "Null", "~", ""],
      numbers: ["0755", "0o17", "0x1F", "1_000", "1e3", "1.5", ".5", "-1", "+1", ".inf", "-.Inf", ".NaN", "12:30", "2024-01-01"],
      syntax: ["- x", "a: b", "#c", "x #y", "@a", "`a", "'q'", "\"dq\"", "[a]", "{a}", "*a", "&a", "!a", "%a", "|", ">", "?", "<<", "="],
      spaces: [" lead", "trail ", "tab\there", "multi\nline\n", "multi\nline", "é ü", "\u2028"],
      plain: ["nginx:1.25", "example.com/v1", "a-b_c"]
    },
    numbers: [0, -1, 1.5, 1e21, 9007199254740991],
    flags: [true, false],
    nothing: null,
    empty: {},
    list: [],
    dropped: undefined
  }

  it("round-trips through YAML 1.2 and YAML 1.1 readers, quoting what they would misread", () => {
    const text = Manifests.toYaml([tricky, { apiVersion: "v1", kind: "Namespace", metadata: { name: "n" } }])
    const expected = [json(tricky), { apiVersion: "v1", kind: "Namespace", metadata: { name: "n" } }]
    expect(loadAll(text)).toStrictEqual(expected)
    expect(loadAll(text, { schema: YAML11_SCHEMA })).toStrictEqual(expected)
    expect(text.startsWith("---\napiVersion: v1\n")).toBe(true)
    expect(text.split(/^---$/m)).toHaveLength(3)
    expect(text).toContain("'yes': 'on'")
    for (const s of ["0755", "0o17", "1e3", "1_000", "12:30", "2024-01-01", "y", "N"]) expect(text).toContain(`- '${s}'`)
    expect(text).toContain("- nginx:1.25\n")
    expect(text).not.toContain("dropped")
    expect(text).not.toMatch(/[&*]ref/)
  })

  it("writes shared sub-objects in full (no anchors) and nothing for no objects", () => {
    const shared = { a: 1 }
    const text = Manifests.toYaml([{ p: shared, q: shared }])
    expect(text).toBe("---\np:\n  a: 1\nq:\n  a: 1\n")
    expect(Manifests.toYaml([])).toBe("")
  })

  it.effect("round-trips a generated CRD", () =>
    Effect.gen(function*() {
      const crd = yield* Manifests.crd(Widget)
      expect(loadAll(Manifests.toYaml([crd]), { schema: YAML11_SCHEMA })).toStrictEqual([json(crd)])
    }))
})

// ---------------------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------------------
const root = fileURLToPath(new URL("../../../", import.meta.url))
const node = join(root, "node_modules/.bin/node")
const cli = join(root, "packages/k8s/src/bin/kubefx.ts")
const fixture = "packages/k8s/test/fixtures/manifests-module.ts"

const run = (...args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(node, ["--conditions=@kubefx/source", cli, ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    })
  })

describe("kubefx manifests (CLI)", { timeout: 60_000 }, () => {
  it("prints the CRD and the RBAC of a module's exports as YAML", async () => {
    const { code, stdout, stderr } = await run("manifests", fixture)
    expect(stderr).toBe("")
    expect(code).toBe(0)
    const docs = loadAll(stdout) as ReadonlyArray<Resource.KubeObject>
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ""}/${d.metadata.name}`)).toStrictEqual([
      "CustomResourceDefinition//widgets.example.com",
      "ServiceAccount/default/widget-operator",
      "Role/team-a/widget-operator",
      "RoleBinding/team-a/widget-operator"
    ])
    const crd = docs[0] as unknown as Manifests.CustomResourceDefinition
    expect(crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec).toStrictEqual({
      type: "object",
      properties: {
        image: { type: "string", description: "container image" },
        replicas: { type: "integer", minimum: 0, maximum: 10 }
      },
      required: ["image"]
    })
  })

  it("writes files with --out, and a Deployment with --image in --namespace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubefx-manifests-"))
    try {
      const { code, stdout } = await run("manifests", fixture, "--out", dir, "--image", "op:1", "--namespace", "ops")
      expect(code).toBe(0)
      expect((await readdir(dir)).sort()).toStrictEqual([
        "widget-operator.deployment.yaml",
        "widget-operator.rbac.yaml",
        "widgets.example.com.crd.yaml"
      ])
      expect(stdout.trim().split("\n").sort()).toStrictEqual((await readdir(dir)).map((f) => join(dir, f)).sort())
      const [deployment] = loadAll(await readFile(join(dir, "widget-operator.deployment.yaml"), "utf8")) as Array<Resource.KubeObject>
      expect(deployment?.metadata).toStrictEqual({ name: "widget-operator", namespace: "ops", labels: { "app.kubernetes.io/name": "widget-operator" } })
      const rbac = loadAll(await readFile(join(dir, "widget-operator.rbac.yaml"), "utf8")) as Array<Resource.KubeObject>
      expect(rbac[0]?.metadata.namespace).toBe("ops")
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("selects exports with --export", async () => {
    const { code, stdout } = await run("manifests", fixture, "--export", "Widget")
    expect(code).toBe(0)
    expect((loadAll(stdout) as Array<Resource.KubeObject>).map((d) => d.kind)).toStrictEqual(["CustomResourceDefinition"])
  })

  it("fails with a clear message and exit code 1 on bad input", async () => {
    const missing = await run("manifests", "packages/k8s/test/fixtures/no-such-module.ts")
    expect(missing.code).toBe(1)
    expect(missing.stdout).toBe("")
    expect(missing.stderr).toBe(`kubefx: module not found: ${join(root, "packages/k8s/test/fixtures/no-such-module.ts")}\n`)

    const nothing = await run("manifests", "packages/k8s/test/fixtures/empty-module.ts")
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toContain("exports no custom resource (Resource.custom) and no operator definition")
    expect(nothing.stderr).toContain("it exports: answer")

    const unknown = await run("manifests", fixture, "--export", "Nope")
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("has no export named Nope (it exports: Widget, notADefinition, widgetOperator)")

    const notOne = await run("manifests", fixture, "--export", "notADefinition")
    expect(notOne.code).toBe(1)
    expect(notOne.stderr).toContain("export notADefinition of")

    const badOption = await run("manifests", fixture, "--bogus")
    expect(badOption.code).toBe(1)
    expect(badOption.stderr).toContain("Unknown option '--bogus'")
    expect(badOption.stderr).toContain("Usage: kubefx manifests <module>")

    const noCommand = await run()
    expect(noCommand.code).toBe(1)
    expect(noCommand.stderr).toContain("no command given")
  })

  it("keeps one kind with --only; --arg, --leader-election and --events shape the Deployment and RBAC", async () => {
    const crds = await run("manifests", fixture, "--only", "crd")
    expect(crds.code).toBe(0)
    expect((loadAll(crds.stdout) as Array<Resource.KubeObject>).map((d) => d.kind)).toStrictEqual(["CustomResourceDefinition"])

    const deployment = await run("manifests", fixture, "--only", "deployment", "--image", "op:1", "--arg=--in-cluster", "--arg=-v")
    expect(deployment.code).toBe(0)
    const docs = loadAll(deployment.stdout) as Array<Resource.KubeObject>
    expect(docs.map((d) => d.kind)).toStrictEqual(["Deployment"])
    const spec = docs[0]!["spec"] as { template: { spec: { containers: Array<{ args?: Array<string> }> } } }
    expect(spec.template.spec.containers[0]?.args).toStrictEqual(["--in-cluster", "-v"])

    const rbac = await run("manifests", fixture, "--only", "rbac", "--leader-election", "--events")
    expect(rbac.code).toBe(0)
    const kinds = (loadAll(rbac.stdout) as Array<Resource.KubeObject>).map((d) => `${d.kind}/${d.metadata.name}`)
    expect(kinds).toContain("Role/widget-operator-leader-election")
    expect(rbac.stdout).toContain("events.k8s.io")

    const badKind = await run("manifests", fixture, "--only", "crds")
    expect(badKind.code).toBe(1)
    expect(badKind.stderr).toContain(`--only "crds": one of crd, rbac, deployment`)
    const noImage = await run("manifests", fixture, "--only", "deployment")
    expect(noImage.stderr).toContain("--only deployment needs --image")
    const argWithoutImage = await run("manifests", fixture, "--arg=-v")
    expect(argWithoutImage.stderr).toContain("--arg applies to the Deployment")

    const bigger = await run("manifests", fixture, "--only", "deployment", "--image", "op:1", "--memory", "2Gi")
    expect(bigger.code).toBe(0)
    const container = ((loadAll(bigger.stdout) as Array<Resource.KubeObject>)[0]!["spec"] as any).template.spec.containers[0]
    expect(container.resources).toStrictEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "2Gi" } })
    expect(container.env).toContainEqual({ name: "NODE_OPTIONS", value: "--max-semi-space-size=4 --max-old-space-size=1536" })
    const badMemory = await run("manifests", fixture, "--only", "deployment", "--image", "op:1", "--memory", "lots")
    expect(badMemory.code).toBe(1)
    expect(badMemory.stderr).toContain(`memoryLimit: "lots" is not a memory quantity`)
    const memoryWithoutImage = await run("manifests", fixture, "--memory", "1Gi")
    expect(memoryWithoutImage.stderr).toContain("--memory applies to the Deployment")
    const nothing = await run("manifests", fixture, "--export", "Widget", "--only", "rbac")
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toContain("nothing to generate: --only rbac but")
  })

  it("prints help", async () => {
    const { code, stdout } = await run("--help")
    expect(code).toBe(0)
    expect(stdout).toContain("Usage: kubefx manifests <module> [options]")
  })
})
