/**
 * The Deployment that runs an operator: one replica, `Recreate`, a locked-down pod under the operator's
 * ServiceAccount.
 *
 * @internal
 */
import type { Resource } from "@kubefx/core"
import { Invalid } from "./invalid.ts"
import { checkLabel, checkSubdomain } from "./names.ts"
import { labelsOf, type OperatorDefinition } from "./operator.ts"

export interface DeploymentOptions {
  readonly image: string
  /** Default `default`; must match the RBAC's `namespace`. */
  readonly namespace?: string
  /** Default: the operator's name, as in `rbac`. */
  readonly serviceAccountName?: string
  readonly imagePullPolicy?: "Always" | "IfNotPresent" | "Never"
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string>>
    readonly limits?: Readonly<Record<string, string>>
  }
  /**
   * The default resources with this memory limit instead of 512Mi (the memory request is 256Mi, or the limit if
   * that is less). Not with `resources`.
   */
  readonly memoryLimit?: string
}

export type Resources = NonNullable<DeploymentOptions["resources"]>

/**
 * What the operator's container asks for unless told otherwise: a memory limit (as kubebuilder's scaffold sets
 * one), which also bounds V8's heap below it (see {@link nodeOptionsFor}), and no CPU limit (throttling a
 * reconcile loop only delays it).
 */
export const defaultResources: Resources = { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } }

/** V8's old space gets this share of the container's memory limit; the rest is code, young space and buffers. */
const heapShare = 0.75

const binarySuffixes: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 }
const decimalSuffixes: Readonly<Record<string, number>> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 }

/** A memory quantity (`512Mi`, `1G`, `536870912`, `5e8`) in bytes; undefined when it is not one. */
const memoryBytes = (quantity: string): number | undefined => {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?$/.exec(quantity.trim())
  if (m === null) return undefined
  const value = Number(m[1]) * (m[2] !== undefined ? Number(`1${m[2]}`) : binarySuffixes[m[3] ?? ""] ?? decimalSuffixes[m[3] ?? ""]!)
  return Number.isFinite(value) && value > 0 ? value : undefined
}

/**
 * The `NODE_OPTIONS` for a container with these resources. V8's young generation grows to 3 × 16 MiB under load
 * and keeps its pages: 4 MiB semispaces cut an operator's peak RSS by ~75 MiB at 1,000 parents for a few % of
 * CPU. With a memory limit, the old space is bounded at 75% of it: V8 scales its heap growth to that bound, so the
 * heap grows in small steps instead of up to several times the live data (measured in bench/README.md), and a
 * heap that outgrows the container fails with V8's heap-out-of-memory report rather than a silent OOM kill.
 */
export const nodeOptionsFor = (resources: Resources | undefined): string => {
  const limit = resources?.limits?.["memory"]
  if (limit === undefined) return "--max-semi-space-size=4"
  const bytes = memoryBytes(limit)
  if (bytes === undefined) throw new Invalid("resources.limits.memory", `${JSON.stringify(limit)} is not a memory quantity (e.g. 512Mi)`)
  const heapMiB = Math.floor((bytes * heapShare) / 2 ** 20)
  if (heapMiB < 64) throw new Invalid("resources.limits.memory", `${limit} leaves V8 a heap of ${heapMiB} MiB; a Node operator needs at least 86Mi`)
  return `--max-semi-space-size=4 --max-old-space-size=${heapMiB}`
}

/** The Node options of the Deployment generated with the default resources. */
export const defaultNodeOptions = nodeOptionsFor(defaultResources)

/** The container's resources: `resources` as given, else the defaults with `memoryLimit` if there is one. */
const resourcesOf = (options: DeploymentOptions): Resources => {
  if (options.memoryLimit === undefined) return options.resources ?? defaultResources
  if (options.resources !== undefined) throw new Invalid("memoryLimit", "give resources or a memory limit, not both")
  const limit = options.memoryLimit
  const bytes = memoryBytes(limit)
  if (bytes === undefined) throw new Invalid("memoryLimit", `${JSON.stringify(limit)} is not a memory quantity (e.g. 1Gi)`)
  const request = defaultResources.requests!["memory"]!
  return {
    requests: { ...defaultResources.requests, memory: bytes < memoryBytes(request)! ? limit : request },
    limits: { ...defaultResources.limits, memory: limit }
  }
}

export const buildDeployment = (operator: OperatorDefinition, options: DeploymentOptions): Resource.KubeObject => {
  checkSubdomain(operator.name, "name", "operator name")
  if (options.image.trim() === "") throw new Invalid("image", "the image is empty")
  const namespace = options.namespace ?? "default"
  checkLabel(namespace, "namespace", "namespace")
  const labels = labelsOf(operator)
  const resources = resourcesOf(options)
  const nodeOptions = nodeOptionsFor(resources)
  const container = {
    name: "operator",
    image: options.image,
    ...(options.imagePullPolicy !== undefined ? { imagePullPolicy: options.imagePullPolicy } : {}),
    ...(options.args !== undefined ? { args: options.args } : {}),
    env: [
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      // An env entry named NODE_OPTIONS in `options.env` replaces this one.
      ...((options.env ?? []).some((e) => e.name === "NODE_OPTIONS") ? [] : [{ name: "NODE_OPTIONS", value: nodeOptions }]),
      ...(options.env ?? [])
    ],
    resources,
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } }
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: operator.name, namespace, labels },
    spec: {
      replicas: 1,
      // never two copies writing at once, even during a rollout
      strategy: { type: "Recreate" },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: options.serviceAccountName ?? operator.name,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
          containers: [container]
        }
      }
    }
  }
}
