/**
 * Figures of any process on this machine, read from `/proc/<pid>`: CPU time (`stat`: utime + stime) and memory
 * (`status`: `VmRSS` now, `VmHWM` the peak). The same reading for every process measured, whatever its
 * language: the API server, etcd, the kubefx operator and the controller-runtime operator.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * utime + stime of a process (all its threads, since it started), in ms.
 *
 * @since 0.1.0
 * @category cpu
 */
export const processCpuMillis = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1000
}

/**
 * A process's resident memory now and its peak since it started, in MiB.
 *
 * @since 0.1.0
 * @category memory
 */
export interface ProcessMemory {
  readonly rssMiB: number
  readonly peakRssMiB: number
}

/**
 * `VmRSS` and `VmHWM` of a process.
 *
 * @since 0.1.0
 * @category memory
 */
export const processMemory = (pid: number): ProcessMemory => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (field: string) => Number(/(\d+)\s*kB/.exec(status.split("\n").find((l) => l.startsWith(`${field}:`)) ?? "")?.[1] ?? NaN)
  return { rssMiB: kib("VmRSS") / 1024, peakRssMiB: kib("VmHWM") / 1024 }
}

/**
 * CPU and memory of a process at one moment.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcSample extends ProcessMemory {
  readonly cpuMs: number
}

/**
 * @since 0.1.0
 * @category sampling
 */
export const procSample = (pid: number): ProcSample => ({ cpuMs: processCpuMillis(pid), ...processMemory(pid) })
