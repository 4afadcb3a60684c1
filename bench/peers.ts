/**
 * kubefx against controller-runtime on the echo-server workload, on one real kube-apiserver (envtest): the raw
 * API floor, the controller-runtime peer (`bench/peers/controller-runtime`, Go, written as a kubebuilder user
 * writes it) and kubefx's example operator, interleaved, each measurement on a fresh etcd. Both operators run
 * compiled (kubefx: the packages' `dist` and the child compiled into `bench/.build/`; `--source` runs the
 * TypeScript sources instead), with 4 workers and a 30 s resync.
 *
 * Every round runs the floor (operator's writes, 16 clients), then each operator on the CRD with
 * `status.conditions` (converge, change every spec, idle), then each operator on the CRD without it (converge,
 * idle: the server prunes the conditions they write). The operators' order alternates from round to round.
 * Requests per phase come from the API server's counters (`apiserver/serverCounters.ts`), less the harness's own;
 * CPU and memory of each operator from `/proc/<pid>` (`apiserver/procfs.ts`). The table shows per-figure medians.
 *
 * Each run is kept in `bench/results/peers-<parents>.json`; the README section (`peers/render.ts`) shows the
 * main table for the smallest size kept and the cost curve to the largest.
 *
 *   npm run bench -- --peers                           1,000 parents, 3 rounds; rewrites its section of bench/README.md
 *   npm run bench -- --peers --parents 10000 --repeat 1 --shapes conditions
 *     --repeat 3  --parents 1000  --idle-ms 60000  --resync-ms 30000  --concurrency 4  --clients 16
 *     --shapes conditions,no-conditions  --no-wave  --no-floor  --source (kubefx from the sources)  --no-write
 *   npm run bench -- --peers --render                  no measurement: rewrites the section from the runs kept
 *
 * Needs Go (the peer is built with `go build`, again only when its sources change) and the envtest binaries.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { pathToFileURL } from "node:url"
import { serverVersion } from "./apiserver/controlPlane.ts"
import { measureFloor, measureOperator, measureStartRss } from "./apiserver/measure.ts"
import { buildNodeChild } from "./apiserver/nodeChild.ts"
import { type ApiserverOptions, parseApiserverArgs } from "./apiserver/options.ts"
import { buildPeer } from "./apiserver/peer.ts"
import type { Contender, FloorResult, OperatorResult } from "./apiserver/results.ts"
import { readmePath, writeSection } from "./harness/readme.ts"
import { dateLine, machineLine, seconds as s } from "./harness/render.ts"
import { peersSection } from "./peers/render.ts"
import { loadReports, type PeersReport, sameKind, saveReport } from "./peers/report.ts"

/**
 * The options of a peers run from its command line: `bench/apiserver.ts`'s flags, with 4 workers, a 30 s
 * resync and 3 rounds by default.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parsePeersArgs = (argv: ReadonlyArray<string>): ApiserverOptions => {
  const options = parseApiserverArgs(argv, { concurrencies: [4], resyncMillis: 30_000 })
  return { ...options, repeat: argv.includes("--repeat") ? options.repeat : 3, classic: false }
}

const describe = (o: OperatorResult) =>
  `converged in ${s(o.convergeMillis)} s, CPU ${s(o.proc.convergeCpuMs)} s, RSS ${o.proc.startRssMiB.toFixed(0)} → ${o.proc.convergedRssMiB.toFixed(0)} MiB; ` +
  `server: ${o.requests.converge.operator.get + o.requests.converge.operator.list + o.requests.converge.operator.watch} reads, ` +
  `${Object.entries(o.requests.converge.operator).filter(([v]) => !["get", "list", "watch"].includes(v)).reduce((n, [, c]) => n + c, 0)} writes; ` +
  `${o.reconciles} reconciles` +
  (o.update === null ? "" : `; wave ${s(o.update.deploymentsMillis)} s`) +
  (o.requests.idle === null ? "" : `; idle writes ${o.requests.idle.operator.update + o.requests.idle.operator.updateStatus + o.requests.idle.operator.patch + o.requests.idle.operator.patchStatus + o.requests.idle.operator.apply + o.requests.idle.operator.create + o.requests.idle.operator.delete}`) +
  `; total CPU ${s(o.proc.totalCpuMs)} s, peak RSS ${o.proc.peakRssMiB.toFixed(0)} MiB`

/**
 * Every round, in order; returns what ran.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runPeersBench = (options: ApiserverOptions) =>
  Effect.gen(function*() {
    const date = dateLine()
    const machine = machineLine()
    if (options.childMode === "compiled") {
      console.log("peers: npm run build, and the kubefx child into bench/.build/ ...")
      yield* buildNodeChild
    }
    console.log(`peers: controller-runtime peer: ${yield* buildPeer}`)
    const version = yield* serverVersion
    console.log("peers: kubefx child's RSS at start, compiled and from the sources ...")
    const startRss = yield* measureStartRss(options)
    console.log(`  compiled ${startRss.compiledMiB.toFixed(0)} MiB, type stripping ${startRss.sourceMiB.toFixed(0)} MiB`)
    const floors: Array<FloorResult> = []
    const operators: Array<OperatorResult> = []
    const order: Array<string> = []
    const concurrency = options.concurrencies[0] ?? 4
    for (let round = 1; round <= options.repeat; round++) {
      const tag = options.repeat > 1 ? ` (round ${round}/${options.repeat})` : ""
      let floor: FloorResult | undefined
      if (options.floor) {
        console.log(`peers: floor, operator's writes, ${options.clients} clients${tag} ...`)
        floor = yield* measureFloor(options, "operator")
        console.log(`  converged in ${s(floor.convergeMillis)} s, ${floor.writeCount} writes`)
        floors.push(floor)
        order.push("floor")
      }
      const contenders: ReadonlyArray<Contender> = round % 2 === 1 ? ["controller-runtime", "kubefx"] : ["kubefx", "controller-runtime"]
      for (const shape of options.shapes) {
        for (const contender of contenders) {
          console.log(`peers: ${contender}, ${concurrency} workers, CRD ${shape}${tag} ...`)
          const r = yield* measureOperator(options, { contender, concurrency, round, shape, update: options.wave && shape === "conditions", floor })
          console.log(`  ${describe(r)}`)
          operators.push(r)
          order.push(`${contender}/${shape}`)
        }
      }
    }
    return { date, machine, serverVersion: version, options, floors, operators, startRss, order } satisfies PeersReport
  })

/**
 * `npm run bench -- --peers [flags]`: runs, keeps the run, prints the section and writes it into the README
 * (unless `--no-write`).
 *
 * @since 0.1.0
 * @category commands
 */
export const runPeersCommand = async (argv: ReadonlyArray<string>): Promise<void> => {
  if (argv.includes("--render")) {
    // No measurement: the section again from the runs kept (after a change to the rendering).
    writeSection(peersSection(loadReports()), "peers")
    console.log(`wrote ${readmePath}`)
    return
  }
  const options = parsePeersArgs(argv)
  const report = await Effect.runPromise(runPeersBench(options))
  const write = !argv.includes("--no-write")
  if (write) console.log(`kept ${saveReport(report)}`)
  const kept = write ? loadReports() : [...loadReports().filter((r) => !sameKind(r, report)), report]
  const section = peersSection(kept)
  console.log(`\n${section}`)
  if (write) {
    writeSection(section, "peers")
    console.log(`wrote ${readmePath}`)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runPeersCommand(process.argv.slice(2))
}
