/**
 * Descriptors for the built-in types operators most often own. Their TypeScript shapes cover the
 * fields handlers commonly read (readiness, replicas); everything else stays reachable as JSON.
 *
 * @since 0.1.0
 */
import type { Condition, KubeObject } from "./Resource.ts"
import { make } from "./Resource.ts"

type Obj<Fields> = KubeObject & Fields

/** @since 0.1.0 @category models */
export type ConfigMap = Obj<{
  readonly data?: Readonly<Record<string, string>>
  readonly binaryData?: Readonly<Record<string, string>>
}>
/** @since 0.1.0 @category models */
export type Secret = Obj<{
  readonly type?: string
  readonly data?: Readonly<Record<string, string>>
  readonly stringData?: Readonly<Record<string, string>>
}>
/** @since 0.1.0 @category models */
export type Service = Obj<{
  readonly spec?: {
    readonly type?: string
    readonly selector?: Readonly<Record<string, string>>
    readonly ports?: ReadonlyArray<{ readonly name?: string; readonly port: number; readonly targetPort?: number | string; readonly protocol?: string }>
    readonly clusterIP?: string
    readonly [key: string]: unknown
  }
}>
/** @since 0.1.0 @category models */
export type WorkloadStatus = {
  readonly replicas?: number
  readonly readyReplicas?: number
  readonly availableReplicas?: number
  readonly updatedReplicas?: number
  readonly observedGeneration?: number
  readonly conditions?: ReadonlyArray<Partial<Condition> & { readonly type: string; readonly status: string }>
  readonly [key: string]: unknown
}
/** @since 0.1.0 @category models */
export type Deployment = Obj<{
  readonly spec?: { readonly replicas?: number; readonly [key: string]: unknown }
  readonly status?: WorkloadStatus
}>
/** @since 0.1.0 @category models */
export type StatefulSet = Deployment
/** @since 0.1.0 @category models */
export type Job = Obj<{
  readonly spec?: { readonly [key: string]: unknown }
  readonly status?: {
    readonly active?: number
    readonly succeeded?: number
    readonly failed?: number
    readonly conditions?: WorkloadStatus["conditions"]
    readonly [key: string]: unknown
  }
}>

/** @since 0.1.0 @category descriptors */
export const Namespace = make({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const ConfigMap = make<ConfigMap>({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps" })
/** @since 0.1.0 @category descriptors */
export const Secret = make<Secret>({ group: "", version: "v1", kind: "Secret", plural: "secrets" })
/** @since 0.1.0 @category descriptors */
export const Service = make<Service>({ group: "", version: "v1", kind: "Service", plural: "services", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const ServiceAccount = make({ group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts" })
/** @since 0.1.0 @category descriptors */
export const Pod = make({ group: "", version: "v1", kind: "Pod", plural: "pods", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const PersistentVolumeClaim = make({ group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const Event = make({ group: "", version: "v1", kind: "Event", plural: "events" })
/** @since 0.1.0 @category descriptors */
export const Deployment = make<Deployment>({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const StatefulSet = make<StatefulSet>({ group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const DaemonSet = make({ group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const Job = make<Job>({ group: "batch", version: "v1", kind: "Job", plural: "jobs", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const CronJob = make({ group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const Ingress = make({ group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const NetworkPolicy = make({ group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies" })
/** @since 0.1.0 @category descriptors */
export const Role = make({ group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles" })
/** @since 0.1.0 @category descriptors */
export const RoleBinding = make({ group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings" })
/** @since 0.1.0 @category descriptors */
export const ClusterRole = make({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false })
/** @since 0.1.0 @category descriptors */
export const ClusterRoleBinding = make({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false })
/** @since 0.1.0 @category descriptors */
export const PodDisruptionBudget = make({ group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", statusSubresource: true })
/** @since 0.1.0 @category descriptors */
export const Lease = make({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases" })
/** @since 0.1.0 @category descriptors */
export const CustomResourceDefinition = make({ group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, statusSubresource: true })

/** Every descriptor above, for discovery-free lookup by kind. @since 0.1.0 @category descriptors */
export const all = [
  Namespace, ConfigMap, Secret, Service, ServiceAccount, Pod, PersistentVolumeClaim, Event, Deployment,
  StatefulSet, DaemonSet, Job, CronJob, Ingress, NetworkPolicy, Role, RoleBinding, ClusterRole,
  ClusterRoleBinding, PodDisruptionBudget, Lease, CustomResourceDefinition
] as const
