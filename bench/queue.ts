/**
 * Micro-benchmark of `WorkQueue`: microseconds per add + take + done cycle.
 *
 * Run alone with `node --conditions=@kubefx/source bench/queue.ts` (from the repository root), or call
 * `runQueueBench` from `bench/run.ts`. Wall time comes from `performance.now()`: this measures the
 * machine, so it is the one place where the live clock is the point.
 *
 * @since 0.1.0
 */
import { Deferred, Effect } from "effect"
import { WorkQueue } from "@kubefx/core"
import { pathToFileURL } from "node:url"

/**
 * One measured scenario.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueBenchRow {
  readonly scenario: string
  /** Distinct keys pushed through the queue. */
  readonly keys: number
  readonly totalMillis: number
  /** Microseconds per key: per add + take + done cycle, or per `addAfter` for the scheduling row. */
  readonly microsPerOp: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface QueueBenchOptions {
  /** Keys per scenario; default 200,000. */
  readonly keys?: number
  /** Worker fibers for the concurrent scenario; default 4. */
  readonly workers?: number
}

const timed = <E, R>(scenario: string, keys: number, body: Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* body
    const totalMillis = performance.now() - start
    return { scenario, keys, totalMillis, microsPerOp: (totalMillis * 1000) / keys } satisfies QueueBenchRow
  })

/** One fiber: add a key, take it, done it; the queue never holds more than one key (steady state). */
const interleaved = (keys: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const queue = yield* WorkQueue.make
    return yield* timed("1 fiber, add+take+done per key", keys.length, Effect.gen(function*() {
      for (const key of keys) {
        yield* queue.add(key)
        yield* queue.done(yield* queue.take)
      }
    }))
  }))

/** One fiber: a backlog of every key (half of them low priority, as after a resync), then drain it. */
const backlog = (keys: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const queue = yield* WorkQueue.make
    return yield* timed("1 fiber, add all (half low) then take+done all", keys.length, Effect.gen(function*() {
      for (let i = 0; i < keys.length; i++) yield* queue.add(keys[i]!, i % 2 === 0 ? {} : { priority: "low" })
      for (let i = 0; i < keys.length; i++) yield* queue.done(yield* queue.take)
    }))
  }))

/** A producer adding every key while `workers` fibers take and done them; ends when all are done. */
const concurrent = (keys: ReadonlyArray<string>, workers: number) =>
  Effect.scoped(Effect.gen(function*() {
    const queue = yield* WorkQueue.make
    return yield* timed(`${workers} workers + 1 producer, add+take+done`, keys.length, Effect.gen(function*() {
      const finished = yield* Deferred.make<void>()
      let processed = 0
      const worker = Effect.gen(function*() {
        while (true) {
          const key = yield* queue.take
          yield* queue.done(key)
          if (++processed === keys.length) yield* Deferred.succeed(finished, undefined)
        }
      })
      for (let i = 0; i < workers; i++) yield* Effect.forkScoped(worker)
      for (const key of keys) yield* queue.add(key)
      yield* Deferred.await(finished)
    }))
  }))

/** Scheduling cost of `addAfter` for distinct keys with spread-out due times (a resync of every parent). */
const scheduling = (keys: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const queue = yield* WorkQueue.make
    return yield* timed("addAfter (schedule only, distinct keys)", keys.length, Effect.gen(function*() {
      for (let i = 0; i < keys.length; i++) yield* queue.addAfter(keys[i]!, 3_600_000 + ((i * 7919) % keys.length))
    }))
  }))

/**
 * Runs every scenario once as warm-up on a tenth of the keys, then measured, and returns the rows
 * (scenarios run one after another).
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runQueueBench = (options: QueueBenchOptions = {}): Effect.Effect<ReadonlyArray<QueueBenchRow>> =>
  Effect.gen(function*() {
    const n = options.keys ?? 200_000
    const workers = options.workers ?? 4
    const keys = Array.from({ length: n }, (_, i) => `namespace-${i % 100}/parent-${i}`)
    const scenarios = (ks: ReadonlyArray<string>) => [
      interleaved(ks),
      backlog(ks),
      concurrent(ks, workers),
      scheduling(ks)
    ]
    yield* Effect.all(scenarios(keys.slice(0, Math.max(1, Math.floor(n / 10)))))
    return yield* Effect.all(scenarios(keys))
  }).pipe(Effect.orDie) // no scenario shuts its queue down before it is drained

/**
 * Formats rows as a markdown table.
 *
 * @since 0.1.0
 * @category formatting
 */
export const toMarkdown = (rows: ReadonlyArray<QueueBenchRow>): string =>
  [
    "| WorkQueue scenario | keys | total ms | µs per op |",
    "|---|---:|---:|---:|",
    ...rows.map((r) => `| ${r.scenario} | ${r.keys} | ${r.totalMillis.toFixed(1)} | ${r.microsPerOp.toFixed(2)} |`)
  ].join("\n")

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await Effect.runPromise(runQueueBench())
  console.log(toMarkdown(rows))
}
