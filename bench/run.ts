/**
 * `npm run bench`: the WorkQueue micro-benchmark (in this process), then every convergence case, each in a
 * child process of its own so that its peak memory is its own. Prints the results and rewrites
 * `bench/README.md` with them.
 *
 *   npm run bench                       every case once
 *   npm run bench -- --repeat 3         each convergence case 3 times; the run with the median time is reported
 *   npm run bench -- --sizes 1000       only some sizes (the linearity check needs 1000 and 10000)
 *   npm run bench -- --no-write         print only; leave bench/README.md as it is
 *   npm run bench -- --apiserver        also the real kube-apiserver benchmark (bench/apiserver.ts: envtest binaries
 *                                       needed, several minutes); without it, its README section is kept as it is
 *   npm run bench -- --peers            only kubefx against controller-runtime on kube-apiserver (bench/peers.ts: Go
 *                                       and the envtest binaries needed); rewrites only its README section; takes
 *                                       bench/peers.ts's flags (--parents, --repeat, --idle-ms, --shapes, --source, ...)
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import os from "node:os"
import { fileURLToPath } from "node:url"
import { runApiserverBench } from "./apiserver.ts"
import { parseApiserverArgs } from "./apiserver/options.ts"
import { apiserverSection, apiserverTargets } from "./apiserver/render.ts"
import type { ConvergenceResult, Mode } from "./convergence.ts"
import { flags } from "./harness/args.ts"
import { medianBy } from "./harness/median.ts"
import { readmePath, readSection, writeReadme } from "./harness/readme.ts"
import { dateLine, machineLine, seconds, type Target, targetTable } from "./harness/render.ts"
import { runPeersCommand } from "./peers.ts"
import { type QueueBenchRow, runQueueBench, toMarkdown as queueMarkdown } from "./queue.ts"

/**
 * A convergence case.
 *
 * @since 0.1.0
 * @category models
 */
export interface Case {
  readonly parents: number
  readonly mode: Mode
  readonly concurrency: number
}

/**
 * Every case `npm run bench` runs: both sizes seeded and live with the default 4 workers, and seeded with 16.
 *
 * @since 0.1.0
 * @category constants
 */
export const cases = (sizes: ReadonlyArray<number>): ReadonlyArray<Case> =>
  sizes.flatMap((parents) => [
    { parents, mode: "seeded" as const, concurrency: 4 },
    { parents, mode: "live" as const, concurrency: 4 },
    { parents, mode: "seeded" as const, concurrency: 16 }
  ])

/** Targets. */
const queueTargetMicros = 10
const writesPerParentTarget = 4 // finalizer, Deployment, Service, status: the fewest this operator can do
const linearRatioTarget = 10
const tenThousandTargetMillis = 120_000

const convergenceScript = fileURLToPath(new URL("./convergence.ts", import.meta.url))

/** Runs one case in a child process and parses the `RESULT` line it prints; warnings pass through to stderr. */
const runCase = (c: Case): Promise<ConvergenceResult> =>
  new Promise((resolve, reject) => {
    const args = [
      "--conditions=@kubefx/source",
      "--expose-gc",
      convergenceScript,
      "--parents",
      String(c.parents),
      "--mode",
      c.mode,
      "--concurrency",
      String(c.concurrency),
      "--timeout-ms",
      "300000"
    ]
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
    })
    // The case gives up after 5 minutes by itself; this only catches a process that hangs anyway.
    const killer = setTimeout(() => child.kill("SIGKILL"), 420_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(killer)
      const line = out.split("\n").reverse().find((l) => l.startsWith("RESULT "))
      if (code !== 0 || line === undefined) {
        reject(new Error(`${describe(c)} exited with ${code}; output:\n${out.slice(-2000)}`))
        return
      }
      resolve(JSON.parse(line.slice("RESULT ".length)) as ConvergenceResult)
    })
  })

const describe = (c: Case) => `${c.parents} parents, ${c.mode}, ${c.concurrency} workers`

const fmt = (n: number | null, digits = 1) => (n === null ? "n/a" : n.toFixed(digits))

const convergenceTable = (results: ReadonlyArray<ConvergenceResult>): string =>
  [
    "| parents | mode | workers | converged | time s | CPU s | parents/s | writes (per parent) | reads | reconciles | peak RSS MiB (at start) | peak heap MiB | retained heap MiB (operator) | restart pass s (listing) | restart writes | resync writes (reconciles) |",
    "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map((r) =>
      `| ${r.parents} | ${r.mode} | ${r.concurrency} | ${r.converged ? "yes" : "**no**"} | ${seconds(r.convergeMillis)} | ${seconds(r.cpuMillis)} | ${
        Math.round(r.parents / (r.convergeMillis / 1000))
      } | ${r.writes} (${fmt(r.writes / r.parents, 2)}) | ${r.reads} | ${r.reconciles} | ${fmt(r.peakRssMiB, 0)} (${fmt(r.baselineRssMiB, 0)}) | ${fmt(r.peakHeapMiB, 0)} | ${
        fmt(r.retainedHeapMiB, 0)
      } (${fmt(r.operatorHeapMiB, 0)}) | ${seconds(r.restartMillis)} (${seconds(r.restartSyncMillis)}) | ${r.restartWrites ?? "n/a"} | ${
        r.resyncWrites ?? "n/a"
      } (${r.resyncReconciles}) |`
    )
  ].join("\n")

const targets = (queue: ReadonlyArray<QueueBenchRow>, results: ReadonlyArray<ConvergenceResult>): ReadonlyArray<Target> => {
  const out: Array<Target> = []
  const worstQueue = Math.max(...queue.map((r) => r.microsPerOp))
  out.push({ target: `WorkQueue: ≤ ${queueTargetMicros} µs per add+take+done (every scenario)`, measured: `worst ${worstQueue.toFixed(2)} µs`, ok: worstQueue <= queueTargetMicros })
  for (const r of results) {
    const name = describe(r)
    out.push({ target: `${name}: converges`, measured: r.converged ? seconds(r.convergeMillis) + " s" : "timed out", ok: r.converged })
    const perParent = r.writes / r.parents
    out.push({ target: `${name}: ≤ ${writesPerParentTarget} writes per parent`, measured: perParent.toFixed(2), ok: r.converged && perParent <= writesPerParentTarget })
    out.push({
      target: `${name}: 0 writes on restart and on resync`,
      measured: `${r.restartWrites ?? "n/a"} + ${r.resyncWrites ?? "n/a"}`,
      ok: r.restartWrites === 0 && r.resyncWrites === 0 && r.resyncReconciles >= r.parents
    })
    if (r.parents === 10_000) {
      out.push({ target: `${name}: converges within 2 minutes`, measured: seconds(r.convergeMillis) + " s", ok: r.converged && r.convergeMillis <= tenThousandTargetMillis })
    }
  }
  for (const big of results.filter((r) => r.parents === 10_000)) {
    const small = results.find((r) => r.parents === 1000 && r.mode === big.mode && r.concurrency === big.concurrency)
    if (small === undefined) continue
    const both = big.converged && small.converged
    const cpuRatio = big.cpuMillis / small.cpuMillis
    const wallRatio = big.convergeMillis / small.convergeMillis
    out.push({
      target: `linear: CPU(10,000) / CPU(1,000) ≤ ${linearRatioTarget} (${big.mode}, ${big.concurrency} workers)`,
      measured: cpuRatio.toFixed(2),
      ok: both && cpuRatio <= linearRatioTarget
    })
    out.push({
      target: `linear: time(10,000) / time(1,000) ≤ ${linearRatioTarget} (${big.mode}, ${big.concurrency} workers)`,
      measured: wallRatio.toFixed(2),
      ok: both && wallRatio <= linearRatioTarget
    })
  }
  return out
}

const readme = (options: {
  readonly date: string
  readonly machine: string
  readonly repeat: number
  readonly queue: ReadonlyArray<QueueBenchRow>
  readonly results: ReadonlyArray<ConvergenceResult>
  readonly targets: ReadonlyArray<Target>
  /** The real kube-apiserver section (bench/apiserver.ts), markers included, if there is one. */
  readonly apiserver: string | undefined
  /** The peers section (bench/peers.ts), markers included, if there is one. */
  readonly peers: string | undefined
}) => `# Benchmarks

The latest run of \`npm run bench\` (this file is rewritten by it; history lives in git).

- Date: ${options.date}
- Machine: ${options.machine}
- Rerun: \`npm run bench\` from the repository root (\`npm run bench -- --repeat 3\` for medians, \`-- --no-write\` to leave this file alone, \`-- --apiserver\` to measure the real kube-apiserver section too; without it that section is kept from the last run; \`-- --peers\` to measure only kubefx against controller-runtime, which rewrites only its own section).
- Convergence cases: ${options.repeat === 1 ? "one run each" : `the median of ${options.repeat} runs each (by time)`}.
- Not in this file: \`node --conditions=@kubefx/source bench/client.ts\` prints the CPU of kubefx's client path alone (per write, per watch event, through the Watcher into a Store) beside bare \`node:https\` + \`JSON.parse\` on a loopback stub, in under a minute.

## Targets

${targetTable(options.targets)}

## Convergence: echo-server operator on the in-memory FakeCluster

${convergenceTable(options.results)}

## WorkQueue

${queueMarkdown(options.queue)}

## How to read this

- **Workload.** Each parent is an \`EchoServer\`; the example operator (\`examples/echo-server\`) gives it a finalizer, a
  Deployment (server-side apply) and a Service (create), then writes its status: 4 writes per parent is the minimum.
  The API server is \`FakeCluster\` (in memory, same process, real time, no latency), so the figures are the cost of
  the operator *plus* the fake server, on a shared 2-core machine: compare runs with each other, not with a real
  cluster. The Workloads simulator is not running, so Deployments never become available and every parent
  reports \`ready: false\`, which is a converged state too. Logging is at level Warn.
- **seeded**: every parent exists before the operator starts (a cold start on a full cluster); the time runs from
  the operator's start. **live**: the operator is running and synced, then the parents are created in batches of 100
  while it works; the time runs from the first creation. **workers** is \`maxConcurrency\`.
- **time**: until the operator is idle and every parent has \`status.observedGeneration == metadata.generation\` and
  both children, owned by it (checked against the cluster). **writes / reads**: API requests the operator made
  until then (the benchmark's own creations are not counted).
- **peak RSS / heap**: of the whole child process (operator + fake API server), sampled every 50 ms after a
  \`global.gc()\`; in brackets, the RSS before anything was created (Node, Effect and the code loaded). **retained heap**: after convergence and \`global.gc()\`;
  in brackets, the part freed by stopping the operator (its cache, queue and fibers); the rest is the fake cluster.
- **restart pass**: a second operator started on the converged cluster reconciles every parent once (in brackets:
  the part spent listing); **restart writes** must be 0. **resync writes**: the writes made by that operator's
  periodic resync (period 2 s, or 1 ms per parent if longer), which reconciles every parent again (count in brackets);
  must be 0.
- **CPU**: user + system time of the child process over the same window (all its threads, the garbage collector's
  included). It is the better measure of cost when other work shares the machine: wall time then stretches, CPU
  time much less.
- **linear**: CPU time and wall time for 10,000 parents over those for 1,000, same mode and workers; ≤ 10 means no
  worse than linear. The 1,000 case also pays the JIT's warm-up, which flatters the ratio a little.
- **WorkQueue**: µs per key through \`add\` + \`take\` + \`done\` (see \`bench/queue.ts\` for each scenario).
${options.apiserver === undefined ? "" : `\n${options.apiserver}\n`}${options.peers === undefined ? "" : `\n${options.peers}\n`}`

const main = async () => {
  if (process.argv.includes("--peers")) return runPeersCommand(process.argv.slice(2).filter((a) => a !== "--peers"))
  const args = flags(process.argv.slice(2))
  const repeat = args.int("--repeat", 1)
  const sizes = args.ints("--sizes", [1000, 10000])
  const write = !args.has("--no-write")
  const apiserver = args.has("--apiserver")
  const load = os.loadavg()
  const date = dateLine()

  console.log("WorkQueue micro-benchmark...")
  const queue = await Effect.runPromise(runQueueBench())
  console.log(queueMarkdown(queue))

  const results: Array<ConvergenceResult> = []
  for (const c of cases(sizes)) {
    const runs: Array<ConvergenceResult> = []
    for (let i = 0; i < repeat; i++) {
      console.log(`convergence: ${describe(c)}${repeat > 1 ? ` (run ${i + 1}/${repeat})` : ""}...`)
      const r = await runCase(c)
      console.log(`  ${r.converged ? "converged" : "DID NOT CONVERGE"} in ${seconds(r.convergeMillis)} s, ${r.writes} writes, peak RSS ${fmt(r.peakRssMiB, 0)} MiB, restart/resync writes ${r.restartWrites ?? "n/a"}/${r.resyncWrites ?? "n/a"}`)
      runs.push(r)
    }
    results.push(medianBy(runs, (r) => r.convergeMillis))
  }

  const ts = [...targets(queue, results)]
  let section: string | undefined
  if (apiserver) {
    const report = await Effect.runPromise(runApiserverBench({ ...parseApiserverArgs([]), repeat }))
    section = apiserverSection(report)
    ts.push(...apiserverTargets(report))
  } else {
    // Not measured this time: keep the last real-API-server results.
    section = readSection()
  }
  const text = readme({ date, machine: machineLine(load), repeat, queue, results, targets: ts, apiserver: section, peers: readSection("peers") })
  console.log(`\n${text}`)
  if (write) {
    writeReadme(text)
    console.log(`wrote ${readmePath}`)
  }
  if (ts.some((t) => !t.ok)) process.exitCode = 1
}

await main()
