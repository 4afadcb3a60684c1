/**
 * What one run of `bench/peers.ts` measured, the per-figure medians the table shows, and the file each run is
 * kept in (`bench/results/peers-<parents>.json`), so that the section can show the 1,000 and the 10,000 run side
 * by side although they are separate invocations.
 *
 * @since 0.1.0
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { CrdShape } from "../apiserver/controlPlane.ts"
import type { ApiserverOptions } from "../apiserver/options.ts"
import type { Contender, FloorResult, OperatorResult } from "../apiserver/results.ts"

/**
 * One run: every round's floor and operator measurements, in the order they ran.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeersReport {
  readonly date: string
  readonly machine: string
  readonly serverVersion: string
  readonly options: ApiserverOptions
  readonly floors: ReadonlyArray<FloorResult>
  readonly operators: ReadonlyArray<OperatorResult>
  /** The kubefx child's RSS at start, compiled and with type stripping, measured once. */
  readonly startRss: { readonly compiledMiB: number; readonly sourceMiB: number } | undefined
  /** What ran, in order (e.g. `floor`, `controller-runtime/conditions`). */
  readonly order: ReadonlyArray<string>
}

/**
 * The median of some figures (the middle one; of an even count, the mean of the two middle ones); NaN of none.
 *
 * @since 0.1.0
 * @category statistics
 */
export const median = (xs: ReadonlyArray<number | null>): number => {
  const sorted = xs.filter((x): x is number => x !== null && !Number.isNaN(x)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The median of `figure` over the measurements of `contender` on `shape`.
 *
 * @since 0.1.0
 * @category statistics
 */
export const medianOf = (r: PeersReport, contender: Contender, shape: CrdShape, figure: (o: OperatorResult) => number | null): number =>
  median(r.operators.filter((o) => o.contender === contender && o.shape === shape).map(figure))

/**
 * Objects in an operator's cache once converged: every parent, its Deployment and its Service.
 *
 * @since 0.1.0
 * @category figures
 */
export const cachedObjects = (parents: number): number => parents * 3

/**
 * KiB of RSS per cached object: (RSS once converged − RSS at start) / objects cached.
 *
 * @since 0.1.0
 * @category figures
 */
export const kibPerObject = (o: OperatorResult): number => ((o.proc.convergedRssMiB - o.proc.startRssMiB) * 1024) / cachedObjects(o.parents)

/**
 * The Deployment update policy a run gave the kubefx example (runs kept before the option existed: `apply`).
 *
 * @since 0.1.0
 * @category models
 */
export const variantOf = (r: PeersReport): "apply" | "replace" => r.options.deploymentUpdate ?? "apply"

/**
 * Whether two runs are of the same size and variant (a new one replaces the kept one).
 *
 * @since 0.1.0
 * @category models
 */
export const sameKind = (a: PeersReport, b: PeersReport): boolean => a.options.parents === b.options.parents && variantOf(a) === variantOf(b)

const resultsDir = fileURLToPath(new URL("../results", import.meta.url))

/**
 * Keeps a run in `bench/results/peers-<parents>.json`, or `peers-<parents>-replace.json` for a run with
 * `--deployment-update replace` (replacing the last run of that size and variant).
 *
 * @since 0.1.0
 * @category files
 */
export const saveReport = (r: PeersReport): string => {
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `peers-${r.options.parents}${variantOf(r) === "replace" ? "-replace" : ""}.json`)
  writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`)
  return file
}

/**
 * Every kept run, by size, smallest first.
 *
 * @since 0.1.0
 * @category files
 */
export const loadReports = (): ReadonlyArray<PeersReport> => {
  if (!existsSync(resultsDir)) return []
  return readdirSync(resultsDir)
    .filter((f) => /^peers-\d+(-replace)?\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), "utf8")) as PeersReport)
    .sort((a, b) => a.options.parents - b.options.parents)
}
