/**
 * The resource model: what a Kubernetes type is (its descriptor) and what an object of it looks like.
 *
 * Objects cross the port as plain JSON values (`KubeObject`); a type's Schema is applied at the edges
 * (the parent's spec when a reconcile starts, a child's shape when a handler reads it), never in the
 * plumbing, so the engine can carry any type, including ones it has never heard of.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Metadata every object carries. Unknown keys are kept: the engine round-trips objects it does not own.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectMeta {
  readonly name?: string
  readonly generateName?: string
  readonly namespace?: string
  readonly uid?: string
  readonly resourceVersion?: string
  readonly generation?: number
  readonly creationTimestamp?: string
  readonly deletionTimestamp?: string
  readonly deletionGracePeriodSeconds?: number
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  readonly finalizers?: ReadonlyArray<string>
  readonly ownerReferences?: ReadonlyArray<OwnerReference>
  readonly managedFields?: ReadonlyArray<ManagedFieldsEntry>
  readonly [key: string]: unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export interface OwnerReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
  readonly controller?: boolean
  readonly blockOwnerDeletion?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ManagedFieldsEntry {
  readonly manager?: string
  readonly operation?: "Apply" | "Update"
  readonly apiVersion?: string
  readonly time?: string
  readonly fieldsType?: string
  readonly fieldsV1?: unknown
  readonly subresource?: string
}

/**
 * Any Kubernetes object, as JSON.
 *
 * @since 0.1.0
 * @category models
 */
export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: ObjectMeta
  readonly [key: string]: unknown
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const OwnerReferenceSchema: Schema.Codec<OwnerReference> = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: Schema.optionalKey(Schema.Boolean),
  blockOwnerDeletion: Schema.optionalKey(Schema.Boolean)
})

const StringMap = Schema.Record(Schema.String, Schema.String)

/**
 * `ObjectMeta` as a Schema: the fields the engine reads are checked; every other key is kept.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ObjectMetaSchema: Schema.Codec<ObjectMeta> = Schema.StructWithRest(
  Schema.Struct({
    name: Schema.optionalKey(Schema.String),
    generateName: Schema.optionalKey(Schema.String),
    namespace: Schema.optionalKey(Schema.String),
    uid: Schema.optionalKey(Schema.String),
    resourceVersion: Schema.optionalKey(Schema.String),
    generation: Schema.optionalKey(Schema.Number),
    creationTimestamp: Schema.optionalKey(Schema.String),
    deletionTimestamp: Schema.optionalKey(Schema.String),
    labels: Schema.optionalKey(StringMap),
    annotations: Schema.optionalKey(StringMap),
    finalizers: Schema.optionalKey(Schema.Array(Schema.String)),
    ownerReferences: Schema.optionalKey(Schema.Array(OwnerReferenceSchema))
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
) as unknown as Schema.Codec<ObjectMeta>

/**
 * Any object: `apiVersion`, `kind` and `metadata` are checked; the rest is kept as it is.
 *
 * @since 0.1.0
 * @category schemas
 */
export const KubeObjectSchema: Schema.Codec<KubeObject> = Schema.StructWithRest(
  Schema.Struct({ apiVersion: Schema.String, kind: Schema.String, metadata: ObjectMetaSchema }),
  [Schema.Record(Schema.String, Schema.Unknown)]
) as unknown as Schema.Codec<KubeObject>

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Absent, or present with a value of the type (a present `undefined` is refused, as `optionalKey` does). */
const optional = (record: { readonly [key: string]: unknown }, key: string, check: (u: unknown) => boolean): boolean =>
  !(key in record) || check(record[key])

const isString = (u: unknown): u is string => typeof u === "string"
const isStringMap = (u: unknown): boolean => {
  if (!isRecord(u)) return false
  for (const key in u) if (typeof u[key] !== "string") return false
  return true
}
const isArrayOf = (check: (u: unknown) => boolean) => (u: unknown): boolean => {
  if (!Array.isArray(u)) return false
  // An index loop, not `every`, which skips holes (an array the Schema refuses).
  for (let i = 0; i < u.length; i++) if (!check(u[i])) return false
  return true
}
const isOwnerReference = (u: unknown): boolean =>
  isRecord(u) && isString(u["apiVersion"]) && isString(u["kind"]) && isString(u["name"]) && isString(u["uid"]) &&
  optional(u, "controller", (v) => typeof v === "boolean") && optional(u, "blockOwnerDeletion", (v) => typeof v === "boolean")
const isOwnerReferences = isArrayOf(isOwnerReference)
const isStrings = isArrayOf(isString)
const metaStrings = ["name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"] as const

/**
 * Whether a value passes `ObjectMetaSchema`: the same verdict as `Schema.is(ObjectMetaSchema)`, without building
 * a decoded copy. The value itself is then the decoded value (the Schema keeps every key and checks no more).
 *
 * @since 0.1.0
 * @category guards
 */
export const isObjectMeta = (u: unknown): u is ObjectMeta => {
  if (!isRecord(u)) return false
  for (const key of metaStrings) if (!optional(u, key, isString)) return false
  return optional(u, "generation", (v) => typeof v === "number") &&
    optional(u, "labels", isStringMap) &&
    optional(u, "annotations", isStringMap) &&
    optional(u, "finalizers", isStrings) &&
    optional(u, "ownerReferences", isOwnerReferences)
}

/**
 * Whether a value passes `KubeObjectSchema` (see {@link isObjectMeta}). The live cluster checks every object
 * it reads with this and decodes with the Schema only what it refuses, for the Schema's error message: a
 * Schema decode copies the whole object and costs several times the check.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKubeObject = (u: unknown): u is KubeObject =>
  isRecord(u) && isString(u["apiVersion"]) && isString(u["kind"]) && isObjectMeta(u["metadata"])

/**
 * A standard condition (`metav1.Condition`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Condition = Schema.Struct({
  type: Schema.String,
  status: Schema.Literals(["True", "False", "Unknown"]),
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  lastTransitionTime: Schema.optionalKey(Schema.String),
  observedGeneration: Schema.optionalKey(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Condition = typeof Condition.Type

/**
 * What the engine needs to know about a type to address it on the API server.
 * `A` is the TypeScript shape of its objects; it is a promise the descriptor makes, checked
 * only where a Schema is present.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceType<out A extends KubeObject = KubeObject> {
  readonly group: string
  readonly version: string
  readonly kind: string
  /** Lower-case plural used in URLs, e.g. `deployments`. */
  readonly plural: string
  readonly namespaced: boolean
  /** Whether the type has a `/status` subresource (writes to the main resource then ignore status). */
  readonly statusSubresource: boolean
  /** `group/version`, or `version` for the core group. */
  readonly apiVersion: string
  /** Phantom: the object shape. */
  readonly _A?: (_: never) => A
}

/**
 * The object type a descriptor describes.
 *
 * @since 0.1.0
 * @category models
 */
export type ObjectOf<T> = T extends ResourceType<infer A> ? A : never

/**
 * Describes a type by its coordinates.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends KubeObject = KubeObject>(options: {
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced?: boolean
  readonly statusSubresource?: boolean
}): ResourceType<A> => ({
  group: options.group,
  version: options.version,
  kind: options.kind,
  plural: options.plural,
  namespaced: options.namespaced ?? true,
  statusSubresource: options.statusSubresource ?? false,
  apiVersion: options.group === "" ? options.version : `${options.group}/${options.version}`
})

/**
 * A custom resource whose `spec` and `status` are Schemas: the parent type of most operators.
 * The CRD for it is generated from these Schemas (see `@kubefx/k8s` `Manifests`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomResource<Spec, Status, SpecEncoded = Spec, StatusEncoded = Status>
  extends ResourceType<CustomObject<Spec, Status>>
{
  readonly spec: Schema.Codec<Spec, SpecEncoded>
  readonly status: Schema.Codec<Status, StatusEncoded>
  readonly shortNames: ReadonlyArray<string>
  readonly printerColumns: ReadonlyArray<PrinterColumn>
  readonly description: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CustomObject<Spec, Status> extends KubeObject {
  readonly spec: Spec
  readonly status?: Status
}

/**
 * A column `kubectl get` shows for the type.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrinterColumn {
  readonly name: string
  readonly type: "string" | "integer" | "number" | "boolean" | "date"
  readonly jsonPath: string
  readonly description?: string
  readonly priority?: number
}

/**
 * Adds the fields the engine writes to a status Struct (`observedGeneration`, `conditions`) unless it declares
 * them: an API server prunes fields its CRD schema does not know, so they must be part of the schema.
 */
const withEngineStatusFields = <S>(status: S): S => {
  const s = status as unknown as {
    readonly fields?: Record<string, unknown>
    readonly mapFields?: (f: (fields: Record<string, unknown>) => Record<string, unknown>) => unknown
  }
  if (typeof s.mapFields !== "function" || s.fields === undefined) return status
  return s.mapFields((fields) => ({
    ...fields,
    ...("observedGeneration" in fields ? {} : {
      observedGeneration: Schema.optionalKey(Schema.Int.annotate({ description: "The metadata.generation this status describes." }))
    }),
    ...("conditions" in fields ? {} : {
      conditions: Schema.optionalKey(Schema.Array(Condition).annotate({ description: "Standard conditions: Ready, ReconcileError." }))
    })
  })) as S
}

/**
 * Declares a custom resource. Status always goes through the status subresource.
 *
 * When `status` is a `Schema.Struct`, the fields the engine writes (`observedGeneration`, `conditions`) are
 * added to it; a status Schema of another shape must declare them itself or the API server will prune them.
 *
 * @example
 * ```ts
 * const EchoServer = Resource.custom({
 *   group: "example.com", version: "v1alpha1", kind: "EchoServer", plural: "echoservers",
 *   spec: Schema.Struct({ message: Schema.String }),
 *   status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) })
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const custom = <Spec, Status, SpecEncoded, StatusEncoded>(options: {
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced?: boolean
  readonly spec: Schema.Codec<Spec, SpecEncoded>
  readonly status: Schema.Codec<Status, StatusEncoded>
  readonly shortNames?: ReadonlyArray<string>
  readonly printerColumns?: ReadonlyArray<PrinterColumn>
  readonly description?: string
}): CustomResource<Spec, Status, SpecEncoded, StatusEncoded> => ({
  ...make<CustomObject<Spec, Status>>({ ...options, statusSubresource: true }),
  spec: options.spec,
  status: withEngineStatusFields(options.status),
  shortNames: options.shortNames ?? [],
  printerColumns: options.printerColumns ?? [],
  description: options.description
})

/**
 * Whether a value is a `CustomResource` (has spec and status Schemas).
 *
 * @since 0.1.0
 * @category guards
 */
export const isCustom = (type: ResourceType<any>): type is CustomResource<unknown, unknown> =>
  "spec" in type && Schema.isSchema((type as { spec: unknown }).spec)

/**
 * A stable string naming a type, e.g. `apps/v1/Deployment`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const typeKey = (type: ResourceType<any>): string => `${type.apiVersion}/${type.kind}`

/**
 * Whether an object is of a type (by apiVersion and kind).
 *
 * @since 0.1.0
 * @category guards
 */
export const isOf = <A extends KubeObject>(type: ResourceType<A>, obj: KubeObject): obj is A =>
  obj.apiVersion === type.apiVersion && obj.kind === type.kind

/**
 * How an object is addressed: namespace (empty for cluster-scoped types) and name.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectRef {
  readonly namespace: string
  readonly name: string
}

/**
 * @since 0.1.0
 * @category accessors
 */
export const refOf = (obj: KubeObject): ObjectRef => ({
  namespace: obj.metadata.namespace ?? "",
  name: obj.metadata.name ?? ""
})

/**
 * `namespace/name`, or `name` for cluster-scoped objects: the work queue's key for a parent.
 *
 * @since 0.1.0
 * @category accessors
 */
export const keyOf = (ref: ObjectRef): string => (ref.namespace === "" ? ref.name : `${ref.namespace}/${ref.name}`)

/**
 * Inverse of `keyOf`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const refFromKey = (key: string): ObjectRef => {
  const i = key.indexOf("/")
  return i < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) }
}

/**
 * The controller owner reference of an object, if any.
 *
 * @since 0.1.0
 * @category accessors
 */
export const controllerOf = (obj: KubeObject): OwnerReference | undefined =>
  obj.metadata.ownerReferences?.find((o) => o.controller === true)

/**
 * Whether an object is being deleted (has a deletionTimestamp).
 *
 * @since 0.1.0
 * @category guards
 */
export const isDeleting = (obj: KubeObject): boolean => obj.metadata.deletionTimestamp !== undefined
