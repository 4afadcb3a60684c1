/**
 * What the fake knows about each type: the per-type rules the real API server's registry strategies
 * encode (generation tracking, create-on-update, unconditional update, name validation).
 *
 * @internal
 */
import { ClusterError, Resource } from "@kubefx/core"

/** How `metadata.generation` is maintained. @internal */
export type GenerationRule =
  /** No generation (ConfigMap, Secret, Service, RBAC, ...). */
  | "none"
  /** Bumped when `spec` changes (most workload and networking types). */
  | "spec"
  /** Bumped when `spec` or annotations change (apps/v1 Deployment, for its rollback annotation). */
  | "specAndAnnotations"
  /** Bumped when anything outside `metadata` changes (custom resources; `status` too without the subresource). */
  | "nonMetadata"

/** Which name validation the type's strategy applies. @internal */
export type NameRule = "subdomain" | "label" | "label1035" | "pathSegment"

/** @internal */
export interface TypeInfo {
  readonly type: Resource.ResourceType<any>
  readonly key: string
  /** Objects of every version of one group/plural share storage, as in etcd. */
  readonly storage: string
  /** `configmaps`, `deployments.apps`: how errors name the resource. */
  readonly qualifiedResource: string
  /** `ConfigMap`, `Deployment.apps`: how `Invalid` names the kind. */
  readonly qualifiedKind: string
  readonly custom: Resource.CustomResource<unknown, unknown> | undefined
  /** A custom type (CRD-backed), with or without Schemas. */
  readonly isCustom: boolean
  readonly allowCreateOnUpdate: boolean
  readonly allowUnconditionalUpdate: boolean
  readonly generation: GenerationRule
  readonly nameRule: NameRule
  /**
   * An immediate delete answers with the deleted object (`ReturnDeletedObject`); for other types the
   * server answers with a success `Status` naming only the object (kind, name, uid).
   */
  readonly returnDeletedObject: boolean
}

const builtinGroups = new Set(["", "apps", "batch", "policy", "autoscaling"])

const isBuiltinGroup = (group: string) => builtinGroups.has(group) || group.endsWith(".k8s.io")

// As of kube-apiserver 1.37 (the envtest pin): Pods track generation since PodObservedGenerationTracking.
const generationRules: Record<string, GenerationRule> = {
  "/Pod": "spec",
  "apps/Deployment": "specAndAnnotations",
  "apps/StatefulSet": "spec",
  "apps/DaemonSet": "spec",
  "apps/ReplicaSet": "spec",
  "batch/Job": "spec",
  "batch/CronJob": "spec",
  "networking.k8s.io/Ingress": "spec",
  "networking.k8s.io/NetworkPolicy": "spec",
  "policy/PodDisruptionBudget": "spec",
  "apiextensions.k8s.io/CustomResourceDefinition": "spec",
  "autoscaling/HorizontalPodAutoscaler": "spec"
}

const createOnUpdate = new Set([
  "/Event",
  "events.k8s.io/Event",
  "coordination.k8s.io/Lease",
  "rbac.authorization.k8s.io/Role",
  "rbac.authorization.k8s.io/RoleBinding",
  "rbac.authorization.k8s.io/ClusterRole",
  "rbac.authorization.k8s.io/ClusterRoleBinding",
  "/Endpoints",
  "/LimitRange"
])

// The registries with ReturnDeletedObject set (kube-apiserver 1.37); custom resources have it unset.
const returnsDeletedObject = new Set([
  "/Namespace",
  "/Pod",
  "/Service",
  "/ServiceAccount",
  "/PersistentVolume",
  "/PersistentVolumeClaim",
  "/PodTemplate",
  "/ResourceQuota",
  "storage.k8s.io/StorageClass",
  "storage.k8s.io/CSIDriver",
  "storage.k8s.io/CSINode",
  "storage.k8s.io/VolumeAttachment",
  "storage.k8s.io/VolumeAttributesClass",
  "resource.k8s.io/DeviceClass",
  "resource.k8s.io/DeviceTaintRule",
  "resource.k8s.io/ResourceClaim",
  "resource.k8s.io/ResourceClaimTemplate",
  "resource.k8s.io/ResourceSlice"
])

const nameRules: Record<string, NameRule> = {
  "/Namespace": "label",
  // Services take RFC 1123 labels since RelaxedServiceNameValidation (on in 1.37).
  "/Service": "label",
  "rbac.authorization.k8s.io/Role": "pathSegment",
  "rbac.authorization.k8s.io/RoleBinding": "pathSegment",
  "rbac.authorization.k8s.io/ClusterRole": "pathSegment",
  "rbac.authorization.k8s.io/ClusterRoleBinding": "pathSegment"
}

/**
 * Derives the rules for a type. Types in a Kubernetes group (`""`, `apps`, `*.k8s.io`, ...) follow
 * the built-in strategies; any other group is served as a custom resource, as a CRD would be.
 *
 * @internal
 */
export const infoOf = (type: Resource.ResourceType<any>): TypeInfo => {
  const gk = `${type.group}/${type.kind}`
  const custom = Resource.isCustom(type) ? type : undefined
  const isCustom = custom !== undefined || !isBuiltinGroup(type.group)
  return {
    type,
    key: Resource.typeKey(type),
    storage: `${type.group}/${type.plural}`,
    qualifiedResource: type.group === "" ? type.plural : `${type.plural}.${type.group}`,
    qualifiedKind: type.group === "" ? type.kind : `${type.kind}.${type.group}`,
    custom,
    isCustom,
    allowCreateOnUpdate: !isCustom && createOnUpdate.has(gk),
    allowUnconditionalUpdate: !isCustom && gk !== "apiextensions.k8s.io/CustomResourceDefinition",
    generation: isCustom ? "nonMetadata" : generationRules[gk] ?? "none",
    nameRule: isCustom ? "subdomain" : nameRules[gk] ?? "subdomain",
    returnDeletedObject: !isCustom && returnsDeletedObject.has(gk)
  }
}

/** `ErrorList.ToAggregate`: the message lists each distinct error once. */
const aggregate = (kind: string, name: string, causes: ReadonlyArray<FieldError>): string => {
  const distinct = [...new Set(causes.map((c) => `${c.field}: ${c.message}`))]
  return `${kind} "${name}" is invalid: ${distinct.length === 1 ? distinct[0] : `[${distinct.join(", ")}]`}`
}

/** Builds the typed errors with the real server's messages. @internal */
export const errors = {
  notFound: (info: TypeInfo, namespace: string, name: string) =>
    new ClusterError.NotFound({
      message: `${info.qualifiedResource} "${name}" not found`,
      resource: info.key,
      ...(namespace === "" ? {} : { namespace }),
      name
    }),
  alreadyExists: (info: TypeInfo, namespace: string, name: string, deleting: boolean) =>
    new ClusterError.AlreadyExists({
      message: `${deleting ? "object is being deleted: " : ""}${info.qualifiedResource} "${name}" already exists`,
      resource: info.key,
      ...(namespace === "" ? {} : { namespace }),
      name
    }),
  conflict: (
    info: TypeInfo,
    namespace: string,
    name: string,
    detail: string,
    /** Delete preconditions name the kind (`ConfigMap`), everything else the resource (`configmaps`). */
    by: "resource" | "kind" = "resource"
  ) =>
    new ClusterError.Conflict({
      message: `Operation cannot be fulfilled on ${by === "kind" ? info.qualifiedKind : info.qualifiedResource} "${name}": ${detail}`,
      resource: info.key,
      ...(namespace === "" ? {} : { namespace }),
      name,
      causes: []
    }),
  invalid: (info: TypeInfo, namespace: string, name: string, causes: ReadonlyArray<FieldError>, kind = info.qualifiedKind) =>
    new ClusterError.Invalid({
      message: aggregate(kind, name, causes),
      status: 422,
      resource: info.key,
      ...(namespace === "" ? {} : { namespace }),
      ...(name === "" ? {} : { name }),
      causes: causes.map((c) => ({ field: c.field, reason: c.reason, message: c.message }))
    }),
  badRequest: (info: TypeInfo | undefined, message: string, target: { namespace?: string; name?: string } = {}) =>
    new ClusterError.Invalid({
      message,
      status: 400,
      ...(info === undefined ? {} : { resource: info.key }),
      ...(target.namespace ? { namespace: target.namespace } : {}),
      ...(target.name ? { name: target.name } : {}),
      causes: []
    }),
  gone: (info: TypeInfo | undefined, message: string) =>
    new ClusterError.Gone({ message, ...(info === undefined ? {} : { resource: info.key }) }),
  /** An empty `reason` is left out, as the server does for errors it has no reason for. */
  server: (info: TypeInfo | undefined, status: number, reason: string, message: string) =>
    new ClusterError.ServerError({
      message,
      status,
      ...(reason === "" ? {} : { reason }),
      ...(info === undefined ? {} : { resource: info.key })
    })
}

/** One `field.Error`: `reason` is its type (`FieldValueInvalid`, ...), `message` its body. @internal */
export interface FieldError {
  readonly field: string
  readonly reason:
    | "FieldValueInvalid"
    | "FieldValueRequired"
    | "FieldValueForbidden"
    | "FieldValueNotSupported"
    | "FieldValueTooLong"
    | "FieldValueTooMany"
    | "FieldValueTypeInvalid"
    | "FieldValueDuplicate"
  readonly message: string
}

const quote = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? "null")

/** @internal */
export const fieldInvalid = (field: string, value: unknown, detail: string): FieldError => ({
  field,
  reason: "FieldValueInvalid",
  message: `Invalid value: ${quote(value)}: ${detail}`
})

/** @internal */
export const fieldRequired = (field: string, detail?: string): FieldError => ({
  field,
  reason: "FieldValueRequired",
  message: detail === undefined ? "Required value" : `Required value: ${detail}`
})

/** @internal */
export const fieldForbidden = (field: string, detail: string): FieldError => ({
  field,
  reason: "FieldValueForbidden",
  message: `Forbidden: ${detail}`
})
