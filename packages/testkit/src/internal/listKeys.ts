/**
 * The structure a schema-less merge needs: which lists are associative (and by which keys), which
 * are sets, which lists and maps are atomic; and the table for common built-in fields. Documented
 * where it is public, in `ServerSideApply.ts`.
 *
 * @internal
 */

/** How a list (or object) at one place merges; see `ServerSideApply.ListType`. @internal */
export type ListType =
  | {
    readonly type: "map"
    readonly keys: ReadonlyArray<string>
    readonly defaults?: Readonly<Record<string, string | number | boolean>>
    readonly patchMergeKey?: string
  }
  | { readonly type: "set" }
  | { readonly type: "atomic"; readonly patchMergeKey?: string }

/** A table from a field pattern to its `ListType`; see `ServerSideApply.ListKeys`. @internal */
export type ListKeys = { readonly [pattern: string]: ListType }

/** @internal */
export const listMap = (
  keys: ReadonlyArray<string>,
  options?: {
    readonly defaults?: Readonly<Record<string, string | number | boolean>>
    readonly patchMergeKey?: string
  }
): ListType => ({ type: "map", keys, ...options })

/** @internal */
export const listSet: ListType = { type: "set" }

/** @internal */
export const atomic: ListType = { type: "atomic" }

const podSpecKeys = (prefix: string): Record<string, ListType> => {
  const containerLists = ["containers", "initContainers", "ephemeralContainers"]
  const out: Record<string, ListType> = {
    [`${prefix}.volumes`]: listMap(["name"]),
    [`${prefix}.imagePullSecrets`]: listMap(["name"]),
    // LocalObjectReference, LabelSelector and NodeSelector are `structType=atomic`.
    [`${prefix}.imagePullSecrets[]`]: atomic,
    [`${prefix}.topologySpreadConstraints[].labelSelector`]: atomic,
    [`${prefix}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`]: atomic,
    [`${prefix}.hostAliases`]: listMap(["ip"]),
    [`${prefix}.topologySpreadConstraints`]: listMap(["topologyKey", "whenUnsatisfiable"], {
      patchMergeKey: "topologyKey"
    }),
    [`${prefix}.nodeSelector`]: atomic
  }
  for (const list of containerLists) {
    const c = `${prefix}.${list}`
    out[c] = listMap(["name"])
    out[`${c}[].ports`] = listMap(["containerPort", "protocol"], {
      defaults: { protocol: "TCP" },
      patchMergeKey: "containerPort"
    })
    out[`${c}[].env`] = listMap(["name"])
    for (const ref of ["configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef"]) {
      out[`${c}[].env[].valueFrom.${ref}`] = atomic
    }
    out[`${c}[].volumeMounts`] = listMap(["mountPath"])
    out[`${c}[].volumeDevices`] = listMap(["devicePath"])
  }
  return out
}

/** The list types of common built-in fields; see `ServerSideApply.defaultListKeys`. @internal */
export const defaultListKeys: ListKeys = {
  "metadata.ownerReferences": listMap(["uid"]),
  // OwnerReference is `structType=atomic`: an item is owned whole.
  "metadata.ownerReferences[]": atomic,
  "metadata.finalizers": listSet,
  ...podSpecKeys("spec"),
  ...podSpecKeys("spec.template.spec"),
  ...podSpecKeys("spec.jobTemplate.spec.template.spec"),
  // A Service's `spec.ports`; no pod-bearing type has one.
  "spec.ports": listMap(["port", "protocol"], { defaults: { protocol: "TCP" }, patchMergeKey: "port" }),
  // Service selector (`mapType=atomic`) and workload `LabelSelector` (`structType=atomic`).
  "spec.selector": atomic,
  "spec.jobTemplate.spec.selector": atomic,
  "status.conditions": listMap(["type"])
}
