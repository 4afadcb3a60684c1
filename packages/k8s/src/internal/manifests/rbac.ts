/**
 * Least-privilege RBAC for an operator: the requests the kubefx engine makes, in the API server's verbs
 * (`Cluster.Verb`), turned into the RBAC rules that authorize them, split by scope and bound to the
 * operator's ServiceAccount.
 *
 * @internal
 */
import type { Child, Cluster, Resource } from "@kubefx/core"
import { Invalid } from "./invalid.ts"
import { checkLabel, checkSubdomain } from "./names.ts"
import { labelsOf, type OperatorDefinition } from "./operator.ts"

/** One RBAC rule. */
export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<Verb>
}

/**
 * A verb of an RBAC rule: the API server's verbs (`Cluster.Verb`) without those that RBAC authorizes as
 * another verb (`apply` is a `patch`) or on the `status` subresource (`updateStatus`, `patchStatus`).
 */
export type Verb = Extract<Cluster.Verb, "get" | "list" | "watch" | "create" | "update" | "patch" | "delete">

/** Every RBAC verb, in the order a rule lists them. */
const VERBS: ReadonlyArray<Verb> = ["get", "list", "watch", "create", "update", "patch", "delete"]

/** The RBAC verb that authorizes each request, and whether on the `status` subresource. */
const AUTHORIZED_BY: { readonly [V in Cluster.Verb]: { readonly verb: Verb; readonly status: boolean } } = {
  get: { verb: "get", status: false },
  list: { verb: "list", status: false },
  watch: { verb: "watch", status: false },
  create: { verb: "create", status: false },
  update: { verb: "update", status: false },
  patch: { verb: "patch", status: false },
  // server-side apply is a PATCH
  apply: { verb: "patch", status: false },
  delete: { verb: "delete", status: false },
  updateStatus: { verb: "update", status: true },
  patchStatus: { verb: "patch", status: true }
}

/** What the engine writes a child with, beyond create and delete, by its update policy. */
const POLICY_VERBS: Record<Child.UpdatePolicy, ReadonlyArray<Cluster.Verb>> = {
  apply: ["apply"],
  replace: ["update"],
  recreate: [],
  onDelete: []
}

export interface RbacOptions {
  /** The namespace the operator runs in: where its ServiceAccount and leader-election Role live. Default `default`. */
  readonly namespace?: string
  /** Default: the operator's name. */
  readonly serviceAccountName?: string
  /**
   * Grant `leases` for leader election, in the operator's namespace. Default false: the engine elects a leader
   * only when run with the `leaderElection` option (`Operator.layer(op, { leaderElection })`); grant it then.
   */
  readonly leaderElection?: boolean
  /**
   * Grant creating `events` (core and `events.k8s.io`). Default false: the kubefx engine reports through
   * status conditions and records no events; grant it when the operator records events itself.
   */
  readonly events?: boolean
}

interface Grant {
  readonly group: string
  readonly resource: string
  readonly namespaced: boolean
  readonly verbs: ReadonlyArray<Verb>
}

/** The grants that authorize `requests` on a type: on the resource, and on its `status` subresource if any. */
const grantsFor = (type: Resource.ResourceType, requests: ReadonlyArray<Cluster.Verb>): ReadonlyArray<Grant> => {
  const on = (status: boolean) => requests.filter((r) => AUTHORIZED_BY[r].status === status).map((r) => AUTHORIZED_BY[r].verb)
  const main: Grant = { group: type.group, resource: type.plural, namespaced: type.namespaced, verbs: on(false) }
  const status = on(true)
  return status.length === 0
    ? [main]
    : [main, { group: type.group, resource: `${type.plural}/status`, namespaced: type.namespaced, verbs: status }]
}

/**
 * The permissions an operator needs, before they are split by scope and merged into rules: exactly the calls
 * the engine makes (see `rbac`).
 */
const grantsOf = (operator: OperatorDefinition, options: RbacOptions | undefined): ReadonlyArray<Grant> => {
  const { parent } = operator
  const finalizer = operator.hasFinalizer === true || operator.finalize !== undefined
  // The engine adds and removes its finalizer with a merge patch of the parent's metadata. Without a status
  // subresource, status is part of the main resource and written with it; with one, status is written with a
  // PUT to /status (updateStatus).
  const parentWrites: ReadonlyArray<Cluster.Verb> = !parent.statusSubresource
    ? ["update", "patch"]
    : finalizer
    ? ["patch", "updateStatus"]
    : ["updateStatus"]
  const grants: Array<Grant> = [...grantsFor(parent, ["get", "list", "watch", ...parentWrites])]
  for (const [i, child] of operator.children.entries()) {
    if (!Object.hasOwn(POLICY_VERBS, child.update)) {
      throw new Invalid(
        `children[${i}].update`,
        `unknown update policy ${JSON.stringify(child.update)} (one of: ${Object.keys(POLICY_VERBS).join(", ")})`
      )
    }
    grants.push(...grantsFor(child.type, ["get", "list", "watch", "create", "delete", ...POLICY_VERBS[child.update]]))
  }
  if (options?.events === true) {
    grants.push({ group: "", resource: "events", namespaced: true, verbs: ["create", "patch"] })
    grants.push({ group: "events.k8s.io", resource: "events", namespaced: true, verbs: ["create", "patch"] })
  }
  return grants
}

/** Rules by apiGroup; resources of one group with the same verbs share a rule. Deterministic order. */
const rulesOf = (grants: ReadonlyArray<Grant>): ReadonlyArray<PolicyRule> => {
  const byGroup = new Map<string, Map<string, Set<Verb>>>()
  for (const g of grants) {
    const resources = byGroup.get(g.group) ?? new Map<string, Set<Verb>>()
    byGroup.set(g.group, resources)
    const verbs = resources.get(g.resource) ?? new Set<Verb>()
    resources.set(g.resource, verbs)
    for (const v of g.verbs) verbs.add(v)
  }
  const rules: Array<PolicyRule> = []
  for (const group of [...byGroup.keys()].sort()) {
    const bySet = new Map<string, Array<string>>()
    const resources = byGroup.get(group)!
    for (const resource of [...resources.keys()].sort()) {
      const verbs = VERBS.filter((v) => resources.get(resource)!.has(v)).join(",")
      bySet.set(verbs, [...(bySet.get(verbs) ?? []), resource])
    }
    for (const [verbs, names] of bySet) {
      rules.push({ apiGroups: [group], resources: names, verbs: verbs.split(",") as Array<Verb> })
    }
  }
  return rules
}

export const buildRbac = (operator: OperatorDefinition, options: RbacOptions | undefined): ReadonlyArray<Resource.KubeObject> => {
  checkSubdomain(operator.name, "name", "operator name")
  const namespace = options?.namespace ?? "default"
  checkLabel(namespace, "namespace", "namespace")
  const account = options?.serviceAccountName ?? operator.name
  checkSubdomain(account, "serviceAccountName", "service account name")
  const namespaces = operator.namespaces ?? "all"
  if (namespaces !== "all") {
    if (namespaces.length === 0) {
      throw new Invalid("namespaces", "the namespace list is empty: list at least one namespace, or use \"all\"")
    }
    namespaces.forEach((ns, i) => checkLabel(ns, `namespaces[${i}]`, "namespace"))
  }
  const labels = labelsOf(operator)
  const subjects = [{ kind: "ServiceAccount", name: account, namespace }]
  const grants = grantsOf(operator, options)
  const out: Array<Resource.KubeObject> = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: account, namespace, labels } }
  ]
  const clusterRole = (rules: ReadonlyArray<PolicyRule>) => {
    out.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: operator.name, labels }, rules },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: operator.name, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: operator.name },
        subjects
      }
    )
  }
  const role = (name: string, ns: string, rules: ReadonlyArray<PolicyRule>) => {
    out.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace: ns, labels }, rules },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name, namespace: ns, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects
      }
    )
  }
  if (namespaces === "all" || !operator.parent.namespaced) {
    // A cluster-scoped parent's children may be in any namespace: the engine watches them cluster-wide.
    clusterRole(rulesOf(grants))
  } else {
    // a Role cannot grant cluster-scoped types: those go to a ClusterRole of their own
    const clusterScoped = grants.filter((g) => !g.namespaced)
    if (clusterScoped.length > 0) clusterRole(rulesOf(clusterScoped))
    const namespaced = rulesOf(grants.filter((g) => g.namespaced))
    for (const ns of new Set(namespaces)) role(operator.name, ns, namespaced)
  }
  if (options?.leaderElection === true) {
    // the lease lives next to the operator, whatever it watches
    role(`${operator.name}-leader-election`, namespace, [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }
    ])
  }
  return out
}
