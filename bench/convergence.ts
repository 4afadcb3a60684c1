/**
 * Convergence benchmark: the echo-server operator (EchoServer → Deployment + Service) on the in-memory
 * `FakeCluster`, in real time. Measures the wall time until every parent is converged, the API writes it
 * took, the process's peak memory, and the writes made when the converged state is reconciled again (an
 * operator restart and a periodic resync): those must be zero.
 *
 * Run one case in a process of its own, so that its peak RSS is its own (this is what `bench/run.ts` does):
 *
 *   node --conditions=@kubefx/source --expose-gc bench/convergence.ts --parents 1000 [--concurrency 4] [--mode seeded|live]
 *
 * The last line printed to stdout is the `ConvergenceResult` as JSON, prefixed with `RESULT `.
 * Wall time comes from `performance.now()`: this measures the machine, so the live clock is the point.
 *
 * @since 0.1.0
 */
import { Builtin, Cluster, type Controller, Operator, type Resource } from "@kubefx/core"
import { FakeCluster } from "@kubefx/testkit"
import { Effect, Exit, Scope } from "effect"
import { pathToFileURL } from "node:url"
import { Directory } from "../examples/echo-server/src/Directory.ts"
import { EchoServer } from "../examples/echo-server/src/EchoServer.ts"
import { EchoOperator } from "../examples/echo-server/src/operator.ts"
import { flags } from "./harness/args.ts"
import { layerWarnings, type WarningCount } from "./harness/logging.ts"
import { poll } from "./harness/poll.ts"
import { collectGarbage, cpuMillisSince, memorySampler, MiB } from "./harness/sample.ts"
import { parentObject } from "./harness/workload.ts"

/**
 * `"seeded"`: every parent exists before the operator starts (a cold start on a full cluster).
 * `"live"`: the operator is running and synced, then the parents are created in batches while it works.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "seeded" | "live"

/**
 * @since 0.1.0
 * @category models
 */
export interface ConvergenceOptions {
  readonly parents: number
  readonly mode: Mode
  /** The operator's `maxConcurrency`. Default 4 (the operator's default). */
  readonly concurrency?: number
  /** Give up (and report `converged: false`) after this long. Default 10 minutes. */
  readonly timeoutMillis?: number
  /**
   * The periodic resync period of the second operator, which measures resync writes. Default 2 seconds, or 1 ms
   * per parent if that is longer, so that the first resync comes after the restart pass rather than during it.
   */
  readonly resyncMillis?: number
}

/**
 * One measured case.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConvergenceResult {
  readonly parents: number
  readonly mode: Mode
  readonly concurrency: number
  readonly converged: boolean
  /** From the operator's start (seeded) or the first parent created (live) until every parent is converged. */
  readonly convergeMillis: number
  /** CPU time (user + system) of the process over `convergeMillis`: less sensitive than wall time to other load on the machine. */
  readonly cpuMillis: number
  /** API writes (create, update, patch, apply, status, delete) by the operator until converged. */
  readonly writes: number
  /** API reads (get, list, watch) by the operator until converged. */
  readonly reads: number
  readonly reconciles: number
  readonly failures: number
  /** Log lines at level Warn or above while converging (retries, conflicts). */
  readonly warnings: number
  /** Peak RSS of the whole process (operator + fake API server + benchmark), sampled every 50 ms. */
  readonly peakRssMiB: number
  readonly peakHeapMiB: number
  /** After `global.gc()`, before anything was created. */
  readonly baselineRssMiB: number
  readonly baselineHeapMiB: number
  /** Heap in use after convergence and `global.gc()`: what the operator and the fake cluster retain. */
  readonly retainedHeapMiB: number
  /** The part of `retainedHeapMiB` freed by stopping the operator: its cache, queue and fibers. */
  readonly operatorHeapMiB: number
  /** A fresh operator on the converged cluster: time until it has reconciled every parent once. */
  readonly restartMillis: number | null
  /** The part of `restartMillis` spent listing until every watcher is synced. */
  readonly restartSyncMillis: number | null
  /** Writes made by that restart pass. Must be 0. The restart and resync figures are null when the case did not converge. */
  readonly restartWrites: number | null
  /** Writes made by the periodic resync(s) that follow. Must be 0. */
  readonly resyncWrites: number | null
  /** Reconciles run by the periodic resync(s). */
  readonly resyncReconciles: number
  readonly resyncMillis: number
}

/** Every parent reports the status of its current generation and has both children, owned by it. */
const isConverged = (parents: number) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const echo = yield* fake.objects(EchoServer)
    if (echo.length !== parents) return false
    const owners = (children: ReadonlyArray<Resource.KubeObject>) =>
      new Set(children.flatMap((c) => (c.metadata.ownerReferences ?? []).filter((o) => o.controller === true).map((o) => o.uid)))
    const deployments = owners(yield* fake.objects(Builtin.Deployment))
    const services = owners(yield* fake.objects(Builtin.Service))
    return echo.every((p) => {
      const status = (p["status"] ?? {}) as { observedGeneration?: number }
      const uid = p.metadata.uid ?? ""
      return status.observedGeneration === p.metadata.generation && deployments.has(uid) && services.has(uid)
    })
  })

/**
 * Waits until the controller is idle and the cluster is converged. Idleness is polled every 10 ms (cheap);
 * the full check (a copy of every object) runs only when the controller is idle, at most every 250 ms. The
 * time returned is when the idle state that passed the check was first seen.
 */
const awaitConverged = (controller: Controller.Controller, parents: number, deadline: number) => {
  let lastCheck = 0
  return poll(
    Effect.gen(function*() {
      if (!(yield* controller.hasSynced) || !(yield* controller.isIdle)) return undefined
      const idleAt = performance.now()
      if (idleAt - lastCheck < 250) return undefined
      lastCheck = idleAt
      return (yield* isConverged(parents)) ? idleAt : undefined
    }),
    { every: "10 millis", deadline }
  )
}

/** Waits until the controller has run at least `reconciles` reconciles and is idle. */
const awaitReconciles = (controller: Controller.Controller, reconciles: number, deadline: number) =>
  poll(
    Effect.gen(function*() {
      const stats = yield* controller.stats
      return stats.reconciles >= reconciles && (yield* controller.isIdle) ? performance.now() : undefined
    }),
    { every: "10 millis", deadline }
  )

const countRequests = Effect.gen(function*() {
  const fake = yield* FakeCluster.FakeCluster
  const requests = yield* fake.requests
  const writes = requests.filter((r) => Cluster.writeVerbs.has(r.verb)).length
  return { writes, reads: requests.length - writes }
})

/**
 * Runs one case in this process and returns its figures.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runConvergence = (options: ConvergenceOptions): Effect.Effect<ConvergenceResult> => {
  const concurrency = options.concurrency ?? 4
  const timeoutMillis = options.timeoutMillis ?? 600_000
  const resyncMillis = options.resyncMillis ?? Math.max(2000, options.parents)
  const counter: WarningCount = { warnings: 0 }
  const objects = Array.from({ length: options.parents }, (_, i) => parentObject(i))
  const operator = (resyncPeriod: number) =>
    // Never resyncs while converging: a resync would add its own load to what is measured.
    Operator.make({ ...EchoOperator, maxConcurrency: concurrency, resyncPeriod })

  const program = Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    collectGarbage()
    const baseline = process.memoryUsage()
    const sampler = memorySampler()
    const deadline = performance.now() + timeoutMillis

    // Phase 1: converge. The controller handle stays inside `converge`, so that stopping the operator frees it.
    const first = yield* Scope.make()
    const converge = Effect.gen(function*() {
      let start: number
      let cpuStart: NodeJS.CpuUsage
      let controller: Controller.Controller
      if (options.mode === "seeded") {
        yield* fake.seed(EchoServer, objects)
        start = performance.now()
        cpuStart = process.cpuUsage()
        controller = yield* Operator.run(operator(3_600_000)).pipe(Scope.provide(first))
      } else {
        controller = yield* Operator.run(operator(3_600_000)).pipe(Scope.provide(first))
        yield* controller.synced
        start = performance.now()
        cpuStart = process.cpuUsage()
        // Batches of 100, yielding in between so that the operator works while parents keep coming.
        for (let i = 0; i < objects.length; i += 100) {
          yield* fake.seed(EchoServer, objects.slice(i, i + 100))
          yield* Effect.yieldNow
        }
      }
      const convergedAt = yield* awaitConverged(controller, options.parents, deadline)
      const cpuMillis = cpuMillisSince(cpuStart)
      const memory = sampler.stop()
      const requests = yield* countRequests
      const stats = yield* controller.stats
      // Retained memory, without the request log (a test control that grows with every request).
      yield* fake.clearRequests
      collectGarbage()
      const retainedHeap = process.memoryUsage().heapUsed
      return { start, convergedAt, cpuMillis, memory, requests, stats, retainedHeap }
    })
    const { convergedAt, cpuMillis, memory, requests: { reads, writes }, retainedHeap, start, stats } = yield* converge
    const warnings = counter.warnings
    yield* Scope.close(first, Exit.void)
    collectGarbage()
    const operatorHeap = retainedHeap - process.memoryUsage().heapUsed

    // Phase 2: a fresh operator on the converged cluster reconciles every parent (the restart pass), then
    // its periodic resync reconciles every parent again. Neither may write.
    let restartMillis: number | null = null
    let restartSyncMillis: number | null = null
    let restartWrites: number | null = null
    let resyncWrites: number | null = null
    let resyncReconciles = 0
    if (convergedAt !== undefined) {
      yield* fake.clearRequests
      const second = yield* Scope.make()
      const restartStart = performance.now()
      const again = yield* Operator.run(operator(resyncMillis)).pipe(Scope.provide(second))
      yield* again.synced
      restartSyncMillis = performance.now() - restartStart
      const restarted = yield* awaitReconciles(again, options.parents, deadline)
      if (restarted !== undefined) {
        restartMillis = restarted - restartStart
        restartWrites = (yield* countRequests).writes
        yield* fake.clearRequests
        const before = (yield* again.stats).reconciles
        const resynced = yield* awaitReconciles(again, before + options.parents, deadline)
        if (resynced !== undefined) {
          resyncWrites = (yield* countRequests).writes
          resyncReconciles = (yield* again.stats).reconciles - before
        }
      }
      yield* Scope.close(second, Exit.void)
    }

    return {
      parents: options.parents,
      mode: options.mode,
      concurrency,
      converged: convergedAt !== undefined,
      convergeMillis: (convergedAt ?? performance.now()) - start,
      cpuMillis,
      writes,
      reads,
      reconciles: stats.reconciles,
      failures: stats.failures,
      warnings,
      peakRssMiB: memory.rss / MiB,
      peakHeapMiB: memory.heap / MiB,
      baselineRssMiB: baseline.rss / MiB,
      baselineHeapMiB: baseline.heapUsed / MiB,
      retainedHeapMiB: retainedHeap / MiB,
      operatorHeapMiB: operatorHeap / MiB,
      restartMillis,
      restartSyncMillis,
      restartWrites,
      resyncWrites,
      resyncReconciles,
      resyncMillis
    } satisfies ConvergenceResult
  })

  return program.pipe(
    Effect.provide(Directory.layerMemory),
    Effect.provide(FakeCluster.layer({ types: [EchoServer] })),
    Effect.provide(layerWarnings(counter)),
    Effect.orDie // seeding valid objects into a fresh cluster cannot fail; if it does, the benchmark is broken
  )
}

const parseArgs = (argv: ReadonlyArray<string>): ConvergenceOptions => {
  const args = flags(argv)
  const mode = args.value("--mode") ?? "seeded"
  if (mode !== "seeded" && mode !== "live") throw new Error(`--mode is "seeded" or "live", got ${JSON.stringify(mode)}`)
  return {
    parents: args.int("--parents", 1000),
    mode,
    concurrency: args.int("--concurrency", 4),
    timeoutMillis: args.int("--timeout-ms", 600_000),
    ...(args.value("--resync-ms") === undefined ? {} : { resyncMillis: args.int("--resync-ms", 2000) })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await Effect.runPromise(runConvergence(parseArgs(process.argv.slice(2))))
  console.log(`RESULT ${JSON.stringify(result)}`)
}
