/**
 * Figures of this process: clocks, CPU time, memory. Only globals (`process`, `performance`): the operator child
 * of the real-API-server benchmark loads this, and must load nothing an operator would not.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category constants
 */
export const MiB = 1024 * 1024

/**
 * Now, as epoch milliseconds with sub-millisecond precision: comparable across the processes of one machine,
 * unlike `performance.now()`.
 *
 * @since 0.1.0
 * @category clocks
 */
export const epochNow = (): number => performance.timeOrigin + performance.now()

/**
 * CPU time (user + system, all threads, the garbage collector's included) of this process since `start`
 * (a `process.cpuUsage()`), in ms.
 *
 * @since 0.1.0
 * @category cpu
 */
export const cpuMillisSince = (start: NodeJS.CpuUsage): number => {
  const cpu = process.cpuUsage(start)
  return (cpu.user + cpu.system) / 1000
}

/**
 * Two full collections, so that the heap measured next holds only what is still referenced.
 *
 * Gotcha: needs `node --expose-gc`; throws without it rather than report figures that include garbage.
 *
 * @since 0.1.0
 * @category memory
 */
export const collectGarbage = (): void => {
  if (globalThis.gc === undefined) throw new Error("run node with --expose-gc: memory figures need global.gc()")
  globalThis.gc()
  globalThis.gc()
}

/**
 * Peak `process.memoryUsage()` (RSS and heap in use, bytes) over a window, sampled every 50 ms by a timer
 * outside the Effect runtime, so that a busy runtime cannot skip samples. `stop` ends the window.
 *
 * @since 0.1.0
 * @category memory
 */
export const memorySampler = (): { readonly stop: () => { readonly rss: number; readonly heap: number } } => {
  let rss = 0
  let heap = 0
  const sample = () => {
    const m = process.memoryUsage()
    if (m.rss > rss) rss = m.rss
    if (m.heapUsed > heap) heap = m.heapUsed
  }
  sample()
  const timer = setInterval(sample, 50)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return { rss, heap }
    }
  }
}

/**
 * CPU and memory of this process at one moment.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessFigures {
  /** Epoch milliseconds (`epochNow`). */
  readonly at: number
  /** CPU time since the `cpuStart` given. */
  readonly cpuMs: number
  /** The kernel's high-water mark of the process's RSS (`getrusage` `ru_maxrss`), from its start. */
  readonly maxRssMiB: number
  readonly rssMiB: number
  readonly heapMiB: number
}

/**
 * The figures now, CPU time counted from `cpuStart`.
 *
 * @since 0.1.0
 * @category sampling
 */
export const processFigures = (cpuStart: NodeJS.CpuUsage): ProcessFigures => {
  const cpuMs = cpuMillisSince(cpuStart)
  const memory = process.memoryUsage()
  return {
    at: epochNow(),
    cpuMs,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    rssMiB: memory.rss / MiB,
    heapMiB: memory.heapUsed / MiB
  }
}
