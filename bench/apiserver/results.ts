/**
 * What the real-API-server benchmark measured, and the figures derived from it that the report compares.
 *
 * @since 0.1.0
 */
import type { ServerCpu } from "./controlPlane.ts"
import type { ApiserverOptions } from "./options.ts"
import type { FloorWrites } from "./protocol.ts"
import type { Counts } from "./requests.ts"

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
 * A kubefx measurement.
 *
 * @since 0.1.0
 * @category models
 */
export interface KubefxResult {
  readonly kind: "kubefx"
  readonly concurrency: number
  readonly parents: number
  /** From `Operator.run` until this process saw every parent converged. */
  readonly convergeMillis: number
  /** From `Operator.run` until every watcher had listed. */
  readonly syncMillis: number
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
  }
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
