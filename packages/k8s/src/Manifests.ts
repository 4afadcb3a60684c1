/**
 * Kubernetes manifests generated from kubefx definitions: the CustomResourceDefinition of a custom resource
 * (its schema derived from the type's `spec` and `status` Schemas), least-privilege RBAC and a Deployment for
 * an operator, and multi-document YAML for `kubectl apply -f`.
 *
 * Pure data in, data out: nothing here talks to a cluster. The `kubefx manifests` CLI is a thin shell over it.
 *
 * @since 0.1.0
 */
import type { Child, Resource } from "@kubefx/core"
import { Effect, Schema } from "effect"
import * as Crd from "./internal/manifests/crd.ts"
import * as Deployment from "./internal/manifests/deployment.ts"
import { Invalid } from "./internal/manifests/invalid.ts"
import type * as Node from "./internal/manifests/jsonSchemaProps.ts"
import type * as Operator from "./internal/manifests/operator.ts"
import * as Rbac from "./internal/manifests/rbac.ts"
import { structural } from "./internal/manifests/structuralSchema.ts"
import * as Yaml from "./internal/manifests/yaml.ts"

// ---------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------

/**
 * A definition cannot be turned into a manifest: a Schema construct a CRD schema cannot express (a union of
 * object shapes, a tuple, a recursive type, ...), an invalid name, an empty namespace list.
 * `path` locates the offending schema node, e.g. `spec.items[*].mode` (`*` stands for any index or key).
 *
 * @since 0.1.0
 * @category errors
 */
export class ManifestError extends Schema.TaggedError<ManifestError>()("ManifestError", {
  message: Schema.String,
  /** What was being generated, e.g. `CustomResourceDefinition widgets.example.com`. */
  subject: Schema.String,
  /** Where in the definition, e.g. `spec.replicas` or `names.plural`; empty when the whole definition is at fault. */
  path: Schema.String
}) {}

/** Runs a pure builder; the `Invalid` it throws becomes a `ManifestError` about `subject`. */
const attempt = <A>(subject: string, build: () => A): Effect.Effect<A, ManifestError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(build())
    } catch (e) {
      if (e instanceof Invalid) {
        const where = e.path === "" ? "" : `${e.path}: `
        return Effect.fail(
          new ManifestError({ message: `Cannot generate ${subject}: ${where}${e.reason}`, subject, path: e.path })
        )
      }
      throw e
    }
  })

// ---------------------------------------------------------------------------------------------------------
// structural schema
// ---------------------------------------------------------------------------------------------------------

/**
 * A node of a Kubernetes structural schema (`JSONSchemaProps` of `apiextensions.k8s.io/v1`), restricted to
 * what `structuralSchema` emits: every node has a `type` (or is an explicit "any value" /
 * int-or-string node), objects have either `properties` or `additionalProperties`, and there is no
 * `$ref`, `anyOf` or `oneOf`. A residual `allOf` carries only value checks (a second `pattern`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export type JSONSchemaProps = Node.JSONSchemaProps

/**
 * The Kubernetes structural schema of a Schema's encoded (JSON) form, as used in a CRD's `openAPIV3Schema`.
 *
 * Derived from `Schema.toJsonSchemaDocument` (draft-04 form), then made structural:
 * - Struct → `properties` + `required`, without `additionalProperties` (the API server prunes unknown keys);
 *   `Schema.Record(Schema.String, X)` → `additionalProperties: X`; a record of `Unknown` and `Schema.Unknown`
 *   itself → `x-kubernetes-preserve-unknown-fields: true`.
 * - `NullOr(X)`, `optional(X)` (`anyOf [X, null]`) → X with `nullable: true`.
 * - `Schema.Number`'s `"NaN" | "Infinity" | "-Infinity"` string branch is removed: the CRD accepts finite numbers
 *   only (what JSON can carry); prefer `Schema.Finite` so the Schema says the same.
 * - literal unions → `enum`; `integer | string` → `x-kubernetes-int-or-string`; `UniqueArray` of scalars →
 *   `x-kubernetes-list-type: set`; `NonEmptyArray(X)` → array of X with `minItems: 1`.
 * - descriptions, titles, `default`s and the first of `examples` are carried over; `$ref`s are inlined.
 * - `allOf` checks are folded in, keeping the tightest bounds.
 *
 * Fails with a `ManifestError` naming the path for what a structural schema cannot say: unions of different
 * types or object shapes, tuples, recursive schemas, Structs with a typed index signature, `Schema.Never`.
 *
 * Gotcha: the API server never accepts null for a field with an `enum`, even a nullable one.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const schema = yield* Manifests.structuralSchema(Schema.Struct({ replicas: Schema.optionalKey(Schema.Int) }))
 *   console.log(schema.properties)
 * })
 * ```
 * @since 0.1.0
 * @category schemas
 */
export const structuralSchema = (
  schema: Schema.Top,
  options?: { /** Prefix of error paths, e.g. `spec`. */ readonly path?: string }
): Effect.Effect<JSONSchemaProps, ManifestError> =>
  attempt("structural schema", () => structural(schema, options?.path ?? ""))

// ---------------------------------------------------------------------------------------------------------
// CustomResourceDefinition
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type CustomResourceColumnDefinition = Crd.CustomResourceColumnDefinition

/**
 * @since 0.1.0
 * @category models
 */
export type CustomResourceDefinitionNames = Crd.CustomResourceDefinitionNames

/**
 * @since 0.1.0
 * @category models
 */
export type CustomResourceDefinitionVersion = Crd.CustomResourceDefinitionVersion

/**
 * An `apiextensions.k8s.io/v1` CustomResourceDefinition, as `crd` generates it.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomResourceDefinition = Crd.CustomResourceDefinition

/**
 * @since 0.1.0
 * @category models
 */
export type CrdOptions = Crd.CrdOptions

/**
 * The CustomResourceDefinition of a custom resource: one served and stored version, the status subresource,
 * the type's printer columns (plus `Age`), its short names, and an `openAPIV3Schema` built from its `spec`
 * and `status` Schemas (see `structuralSchema`). `spec` is required, as `CustomObject` says.
 *
 * @example
 * ```ts
 * declare const EchoServer: Resource.CustomResource<{ readonly message: string }, {}, any, any>
 *
 * const program = Effect.gen(function*() {
 *   const crd = yield* Manifests.crd(EchoServer)
 *   console.log(Manifests.toYaml([crd]))
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const crd = <S, St, SE, StE>(
  type: Resource.CustomResource<S, St, SE, StE>,
  options?: CrdOptions
): Effect.Effect<CustomResourceDefinition, ManifestError> =>
  attempt(`CustomResourceDefinition ${Crd.crdName(type)}`, () => Crd.buildCrd(type, options))

// ---------------------------------------------------------------------------------------------------------
// RBAC
// ---------------------------------------------------------------------------------------------------------

/**
 * How the engine writes a child: `apply` (server-side apply, a patch), `replace` (update), `recreate`
 * (delete and create), `onDelete` (create once; changes wait until the child is deleted).
 *
 * @since 0.1.0
 * @category models
 */
export type UpdatePolicy = Child.UpdatePolicy

/**
 * What RBAC and Deployment generation need to know about an operator: a structural subset of core's
 * operator definition, so a full definition can be passed as it is.
 *
 * @since 0.1.0
 * @category models
 */
export type OperatorDefinition = Operator.OperatorDefinition

/**
 * One RBAC rule.
 *
 * @since 0.1.0
 * @category models
 */
export type PolicyRule = Rbac.PolicyRule

/**
 * @since 0.1.0
 * @category models
 */
export type Verb = Rbac.Verb

/**
 * @since 0.1.0
 * @category models
 */
export type RbacOptions = Rbac.RbacOptions

/**
 * Least-privilege RBAC for an operator: a ServiceAccount, and the rules it needs bound to it. The verbs are the
 * calls the kubefx engine makes, no more:
 *
 * - parent: get/list/watch; `patch` when the operator has a finalizer (the engine merge-patches
 *   `metadata.finalizers`); `<plural>/status`: `update` (the engine PUTs status). A parent type without a status
 *   subresource gets update/patch on the main resource instead.
 * - each child type: get/list/watch (the watch, and the check that no unowned object sits where a child is to be
 *   created), create and delete (children no longer desired), plus `patch` for `apply` (server-side apply; when
 *   an apply creates the object the API server also checks `create`), `update` for `replace`; `recreate`
 *   (delete, then create) and `onDelete` (create only) need nothing more.
 * - with `events: true`: `events` (core and `events.k8s.io`) create/patch.
 * - with `leaderElection: true`: `coordination.k8s.io` `leases` get/create/update, in a Role
 *   `<name>-leader-election` in the operator's own namespace (not cluster-wide).
 *
 * Rules are grouped by apiGroup, and resources with the same verbs share a rule. With `namespaces: "all"` (the
 * default) the rules go into a ClusterRole + ClusterRoleBinding; with a namespace list, into a Role +
 * RoleBinding in each namespace, and cluster-scoped types (if any) into a ClusterRole of their own. A
 * cluster-scoped parent puts everything into the ClusterRole: its children are watched in all namespaces.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rbac = (
  operator: OperatorDefinition,
  options?: RbacOptions
): Effect.Effect<ReadonlyArray<Resource.KubeObject>, ManifestError> =>
  attempt(`RBAC for operator ${operator.name}`, () => Rbac.buildRbac(operator, options))

// ---------------------------------------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type DeploymentOptions = Deployment.DeploymentOptions

/**
 * The container resources the generated Deployment asks for unless `resources` is given: requests of 100m CPU and
 * 256Mi, a limit of 512Mi memory and none on CPU.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultResources: Deployment.Resources = Deployment.defaultResources

/**
 * The `NODE_OPTIONS` the generated Deployment sets for its container's resources (unless `env` names
 * NODE_OPTIONS): a smaller V8 young generation, and with a memory limit an old space bounded at 75% of it, so
 * that V8 grows the heap in small steps and a heap too large for the container fails with V8's report instead
 * of an OOM kill. A limit that is no memory quantity, or leaves V8 under 64 MiB of heap, is a `ManifestError`.
 *
 * @example
 * ```ts
 * import { Manifests } from "@kubefx/k8s"
 *
 * // "--max-semi-space-size=4 --max-old-space-size=768"
 * const options = Manifests.nodeOptions({ limits: { memory: "1Gi" } })
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const nodeOptions = (resources: Deployment.Resources | undefined): Effect.Effect<string, ManifestError> =>
  attempt("NODE_OPTIONS", () => Deployment.nodeOptionsFor(resources))

/**
 * The `NODE_OPTIONS` of a Deployment generated with {@link defaultResources}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultNodeOptions: string = Deployment.defaultNodeOptions

/**
 * A single-replica Deployment running the operator under its ServiceAccount (one replica, `Recreate`
 * strategy: one writer at a time). The pod runs as uid 65532 with a read-only root filesystem and no
 * capabilities; `POD_NAMESPACE` is set from the downward API. Without `resources` the container gets
 * {@link defaultResources} (with `memoryLimit` as its memory limit, if given), and `NODE_OPTIONS` is
 * {@link nodeOptions} of its resources unless `env` names
 * NODE_OPTIONS. A memory limit that is no quantity, or leaves V8 under 64 MiB of heap, is a `ManifestError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const deployment = (
  operator: OperatorDefinition,
  options: DeploymentOptions
): Effect.Effect<Resource.KubeObject, ManifestError> =>
  attempt(`Deployment for operator ${operator.name}`, () => Deployment.buildDeployment(operator, options))

// ---------------------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------------------

/**
 * Objects as one multi-document YAML stream (`---` before each), for `kubectl apply -f`.
 * Values are first taken as `JSON.stringify` would (`undefined` keys dropped, `toJSON` applied).
 * Strings that YAML 1.1 or 1.2 would read as another type are quoted; no anchors or aliases are emitted.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toYaml = (objects: ReadonlyArray<object>): string => Yaml.render(objects)
