/**
 * Text that every benchmark report shares: seconds, the date and machine lines, the table of targets.
 *
 * @since 0.1.0
 */
import os from "node:os"

/**
 * A target of a benchmark and whether this run met it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly target: string
  readonly measured: string
  readonly ok: boolean
}

/**
 * Milliseconds as seconds with 2 decimals; `n/a` for a figure that was not measured.
 *
 * @since 0.1.0
 * @category formatting
 */
export const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? "n/a" : (ms / 1000).toFixed(2))

/**
 * The run's date to the minute, e.g. `2026-01-31 12:34 UTC`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const dateLine = (date: Date = new Date()): string => date.toISOString().slice(0, 16).replace("T", " ") + " UTC"

/**
 * CPUs, memory, OS and Node, and the load average `load` (take it before the run starts: the run raises it).
 *
 * @since 0.1.0
 * @category formatting
 */
export const machineLine = (load: ReadonlyArray<number> = os.loadavg()): string => {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU"
  return `${os.availableParallelism()} CPUs (${cpu}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}; load average at start ${
    load.map((x) => x.toFixed(2)).join(" / ")
  }`
}

/**
 * The markdown table of targets: a failed one reads `**FAIL**`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const targetTable = (targets: ReadonlyArray<Target>): string =>
  [
    "| target | measured | result |",
    "|---|---:|---|",
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.ok ? "pass" : "**FAIL**"} |`)
  ].join("\n")
