/**
 * What the real-API-server benchmark measured, and the figures derived from it that the report compares.
 *
 * @since 0.1.0
 */
import type { CrdShape, ServerCpu } from "./controlPlane.ts"
import type { ChildMode } from "./nodeChild.ts"
import type { ApiserverOptions } from "./options.ts"
import type { FloorWrites } from "./protocol.ts"
import type { Counts, ResourceCounts } from "./requests.ts"

/**
 * Which operator a measurement ran: kubefx's echo-server example, or its controller-runtime peer.
 *
 * @since 0.1.0
 * @category models
 */
export type Contender = "kubefx" | "controller-runtime"

/**
 * The requests of one phase by the API server's own counters (`serverCounters.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PhaseRequests {
  /** The operator's requests on the workload's resources: the server's count minus the harness's own. */
  readonly operator: Counts
  readonly operatorByResource: ResourceCounts
  /** The harness's own requests on those resources in the phase (counted in this process), taken out above. */
  readonly harness: Counts
  /**
   * Requests on every other resource and path in the phase, by anyone (the API server's own loopback clients
   * included, e.g. its lease renewals): discovery by an operator would show here.
   */
  readonly other: Counts
}

/**
 * The operator process by `/proc/<pid>` (`procfs.ts`), the same reading for every contender. CPU from `STARTED`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcFigures {
  /** RSS when the child said `STARTED` (runtime and code loaded, nothing listed yet). */
  readonly startRssMiB: number
  /** RSS once converged and quiet; the cache holds every parent and both its children. */
  readonly convergedRssMiB: number
  /** `VmHWM` once converged. */
  readonly convergedPeakRssMiB: number
  /** `VmHWM` at the end (after the idle phase). */
  readonly peakRssMiB: number
  readonly convergeCpuMs: number
  readonly updateCpuMs: number | null
  readonly idleCpuMs: number | null
  /** From `STARTED` to the end of the last phase. */
  readonly totalCpuMs: number
}

/**
 * A floor measurement.
 *
 * @since 0.1.0
 * @category models
 */
export interface FloorResult {
  readonly kind: "floor"
  readonly writes: FloorWrites
  readonly clients: number
  readonly parents: number
  /** From the clients' start until this process saw every parent converged. */
  readonly convergeMillis: number
  /** From the clients' start until their last write returned. */
  readonly clientMillis: number
  readonly writeCount: number
  readonly readCount: number
  readonly cpuMillis: number
  readonly peakRssMiB: number
  readonly baselineRssMiB: number
  readonly server: ServerCpu
}

/**
 * An operator measurement (kubefx or its controller-runtime peer).
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorResult {
  readonly kind: "operator"
  readonly contender: Contender
  /** How the kubefx child ran (the peer is always compiled). */
  readonly mode: ChildMode
  readonly shape: CrdShape
  readonly concurrency: number
  readonly parents: number
  /** From `Operator.run` (the peer: the manager's start) until this process saw every parent converged. */
  readonly convergeMillis: number
  /** From `Operator.run` until every watcher had listed. */
  readonly syncMillis: number
  /** The operator's own counts from here to `byVerb` (the peer counts at its HTTP transport). */
  readonly writeCount: number
  readonly readCount: number
  readonly byVerb: Counts
  readonly reconciles: number
  readonly failures: number
  readonly warnings: number
  readonly cpuMillis: number
  /** Peak RSS from the process start until convergence. */
  readonly peakRssMiB: number
  readonly baselineRssMiB: number
  readonly heapMiB: number
  readonly server: ServerCpu
  readonly proc: ProcFigures
  readonly requests: { readonly converge: PhaseRequests; readonly update: PhaseRequests | null; readonly idle: PhaseRequests | null }
  /** Null when the measurement skipped the phase. */
  readonly update: {
    /** From the first spec patch until every Deployment carried the new spec. */
    readonly deploymentsMillis: number | null
    /** ... until every status reported the new generation too. */
    readonly convergedMillis: number | null
    /** How long the 1,000 patches themselves took (16 parallel clients in this process). */
    readonly patchMillis: number
    readonly writeCount: number
    readonly readCount: number
    readonly reconciles: number
    readonly cpuMillis: number
    readonly server: ServerCpu
  } | null
  readonly idle: {
    readonly millis: number
    readonly writeCount: number
    readonly readCount: number
    readonly watches: number
    readonly reconciles: number
    readonly cpuMillis: number
    readonly server: ServerCpu
  } | null
  /** CPU of the whole run (start to exit, idle included) and the peak RSS over it. */
  readonly totalCpuMillis: number
  readonly totalPeakRssMiB: number
  readonly profile: string | undefined
  /** The floor (operator's writes) measured just before this, on its own fresh etcd: the ratios are to it. */
  readonly pairedFloor: { readonly convergeMillis: number; readonly allCpuMillis: number }
}

/**
 * A kubefx measurement (of `bench/apiserver.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export type KubefxResult = OperatorResult

/**
 * Everything one run of the benchmark measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiserverReport {
  readonly date: string
  readonly machine: string
  readonly serverVersion: string
  readonly options: ApiserverOptions
  readonly floor: FloorResult
  readonly classic: FloorResult | undefined
  readonly kubefx: ReadonlyArray<KubefxResult>
  /** Every pair's times (floor, then kubefx), for the spread. */
  readonly rounds: ReadonlyArray<Readonly<Record<string, number>>>
}

/**
 * CPU of the client, the API server and etcd until converged.
 *
 * @since 0.1.0
 * @category figures
 */
export const allCpu = (r: { readonly cpuMillis: number; readonly server: ServerCpu }): number => r.cpuMillis + r.server.apiserverMs + r.server.etcdMs

/**
 * kubefx's time over the floor measured just before it: the figure its target is about.
 *
 * @since 0.1.0
 * @category figures
 */
export const pairedRatio = (k: KubefxResult): number => k.convergeMillis / k.pairedFloor.convergeMillis
