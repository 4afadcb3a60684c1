/**
 * The long run of the operator laws: seeded random histories of the echo-server operator on the FakeCluster,
 * with random fault schedules (API errors, timeouts, dropped watches, compaction) for the `faults` law and
 * child tampering for the others, in batches, with the process heap measured after each batch.
 *
 * `npm run soak -- [--histories 1000] [--batch 50] [--seed 1] [--laws faults,convergence,...]`
 * Prints one line per batch and a summary; exits 1 if any law was violated (the message carries the shrunk
 * history and a replay token) or if the heap kept growing.
 *
 * `npm run soak -- --apiserver [--rounds 200] [--seed 1]` runs the shorter soak on a real kube-apiserver
 * instead (see soak-apiserver.ts).
 */
import { Laws } from "@kubefx/testkit"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Directory } from "../examples/echo-server/src/Directory.ts"
import { EchoOperator } from "../examples/echo-server/src/operator.ts"

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const positive = (name: string, fallback: number): number => {
  const raw = flag(name)
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer, got ${JSON.stringify(raw)}`)
  return n
}

const histories = positive("histories", 1000)
const batch = positive("batch", 50)
const seed = positive("seed", 1)
const laws = (flag("laws")?.split(",") ?? [...Laws.allLaws]) as ReadonlyArray<Laws.Law>
for (const law of laws) if (!Laws.allLaws.includes(law)) throw new Error(`unknown law ${law}; known: ${Laws.allLaws.join(", ")}`)

const heapMiB = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const main = async () => {
  const started = performance.now()
  const heaps: Array<number> = [heapMiB()]
  const violations: Array<string> = []
  let run = 0
  let round = 0
  while (run < histories) {
    // Each law gets its own seeds; a round gives every law `batch` histories.
    for (const law of laws) {
      if (run >= histories) break
      const runs = Math.min(batch, histories - run)
      const roundSeed = seed * 1_000_003 + round * laws.length + laws.indexOf(law)
      const exit = await Effect.runPromiseExit(
        Laws.check(EchoOperator, { provide: Directory.layerMemory, laws: [law], runs, seed: roundSeed }).pipe(Effect.provide(Layer.mergeAll(TestClock.layer())))
      )
      run += runs
      if (exit._tag === "Failure") violations.push(`seed ${roundSeed} (${law}): ${String(exit.cause)}`)
      heaps.push(heapMiB())
      console.log(`${String(run).padStart(6)} histories  ${law.padEnd(12)} seed ${roundSeed}  ${exit._tag === "Success" ? "ok" : "VIOLATION"}  heap ${heaps.at(-1)!.toFixed(1)} MiB`)
    }
    round++
  }
  // Growth: the heap over the last third of the run against the first third (after warm-up).
  const third = Math.max(1, Math.floor(heaps.length / 3))
  const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
  const early = mean(heaps.slice(1, 1 + third))
  const late = mean(heaps.slice(-third))
  const growth = late - early
  console.log([
    "",
    `soak: ${run} histories (laws ${laws.join(", ")}; seeds from ${seed}) in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    `violations: ${violations.length}`,
    `heap after gc: start ${heaps[0]!.toFixed(1)} MiB, max ${Math.max(...heaps).toFixed(1)} MiB, end ${heaps.at(-1)!.toFixed(1)} MiB; ` +
    `first third ${early.toFixed(1)} MiB → last third ${late.toFixed(1)} MiB (${growth >= 0 ? "+" : ""}${growth.toFixed(1)} MiB)`
  ].join("\n"))
  for (const v of violations) console.log(`\n${v}`)
  // More than 20 MiB of steady growth over the run is a leak, not noise (a batch retains a few MiB at most).
  if (violations.length > 0 || growth > 20) process.exit(1)
}

const mainApiserver = async () => {
  const { soakApiserver } = await import("./soak-apiserver.ts")
  const report = await Effect.runPromise(soakApiserver({ rounds: positive("rounds", 200), seed }))
  const { counts, rss } = report
  console.log([
    `apiserver soak: ${report.rounds} rounds in ${report.seconds.toFixed(0)} s (seed ${seed}): ` +
    `${counts["create"]} creates, ${counts["update"]} edits, ${counts["delete"]} deletes; faults: ${counts["reset"]} resets, ${counts["delay"]} latency spells, ${counts["pause"]} pauses`,
    `${report.live} live parents converged ${report.convergedAfterHeal.toFixed(1)} s after the faults healed; ${report.reconciles} reconciles (${report.failures} failed and retried)`,
    `violations: ${report.violations.length}${report.violations.length === 0 ? "" : `\n  ${report.violations.join("\n  ")}`}`,
    `process RSS: start ${rss.start.toFixed(0)} MiB, max ${rss.max.toFixed(0)} MiB, end ${rss.end.toFixed(0)} MiB`
  ].join("\n"))
  if (report.violations.length > 0) process.exit(1)
}

await (process.argv.includes("--apiserver") ? mainApiserver() : main())
