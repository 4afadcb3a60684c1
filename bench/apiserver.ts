/**
 * The echo-server workload on a real kube-apiserver (envtest: etcd + kube-apiserver on loopback), kubefx side by
 * side with the raw API floor in one run, each measurement on a fresh etcd (the workload of
 * `/work/shared/docs/measured.md`: 1,000 EchoServers, each with a Deployment, a Service and a status).
 *
 * Measurements; every round runs, for each `maxConcurrency` (4, then 16), the floor and then kubefx right after
 * it (the ratio is taken within that pair, so that load from elsewhere on the machine hits both alike), then
 * the measured.md floor:
 * - **floor, operator's writes**: no operator; 1,000 EchoServers exist; 16 parallel clients make exactly the
 *   writes kubefx makes per parent (finalizer patch, Deployment apply, Service create, status update: 4,000).
 * - **kubefx**: 1,000 EchoServers exist; the operator starts; time until every parent has the status of its
 *   generation and both children; then every spec changes, time until every Deployment carries the new spec;
 *   then 60 s idle with a 25 s resync, which must write nothing.
 * - **floor, measured.md's writes**: no parent exists; 16 clients create each parent, its Deployment and its
 *   Service and write its status (4,000 writes: the set measured.md's 7.2 s floor made).
 *
 * The floor and the operator run in a child process (`bench/apiserver-child.ts`), which counts its own requests.
 * Convergence is seen by this process through watches of the three types, the same way for every measurement.
 *
 * This file is the orchestration (rounds, pairs, medians) and the command line. The pieces, in `bench/apiserver/`:
 * `options.ts` (flags), `controlPlane.ts` (envtest, server CPU), `observer.ts` (the convergence judge),
 * `childProcess.ts` and `protocol.ts` (the child and its messages), `requests.ts` (counts by verb),
 * `measure.ts` (one measurement each), `results.ts` (what is measured), `render.ts` (the README section).
 *
 *   node --conditions=@kubefx/source bench/apiserver.ts                  one round; rewrites its section of bench/README.md
 *   node --conditions=@kubefx/source bench/apiserver.ts --repeat 3       medians of 3 rounds
 *     --parents 1000  --concurrency 4,16  --clients 16  --idle-ms 60000 (0: no idle phase)  --resync-ms 25000
 *     --no-classic (skip measurement 2)  --profile (operator children write V8 CPU profiles)  --no-write
 *     --source (the children run the TypeScript sources; by default they run compiled JavaScript: `npm run build`
 *     and `bench/tsconfig.child.json`, built first, see `apiserver/nodeChild.ts`)
 *
 * Needs the envtest binaries (`scripts/envtest-assets.sh`). `npm run bench -- --apiserver` runs it too.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { mkdirSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { serverVersion } from "./apiserver/controlPlane.ts"
import { measureFloor, measureKubefx } from "./apiserver/measure.ts"
import { buildNodeChild } from "./apiserver/nodeChild.ts"
import { type ApiserverOptions, parseApiserverArgs } from "./apiserver/options.ts"
import { apiserverSection, apiserverTargets } from "./apiserver/render.ts"
import { type ApiserverReport, type FloorResult, type KubefxResult, pairedRatio } from "./apiserver/results.ts"
import { topFunctions } from "./cpuprofile.ts"
import { medianBy } from "./harness/median.ts"
import { readmePath, writeSection } from "./harness/readme.ts"
import { dateLine, machineLine, seconds as s } from "./harness/render.ts"

/**
 * Runs every measurement `repeat` times, alternating, and returns the medians: the floor's by time, kubefx's
 * by its ratio to the floor measured just before it.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runApiserverBench = (options: ApiserverOptions) =>
  Effect.gen(function*() {
    const date = dateLine()
    const machineText = machineLine()
    if (options.profileDir !== undefined) mkdirSync(options.profileDir, { recursive: true })
    if (options.childMode === "compiled") yield* buildNodeChild
    const version = yield* serverVersion
    const floors: Array<FloorResult> = []
    const classics: Array<FloorResult> = []
    const kubefx = new Map<number, Array<KubefxResult>>(options.concurrencies.map((c) => [c, []]))
    const rounds: Array<Record<string, number>> = []
    for (let round = 1; round <= options.repeat; round++) {
      const tag = options.repeat > 1 ? ` (round ${round}/${options.repeat})` : ""
      for (const c of options.concurrencies) {
        console.log(`apiserver: floor, operator's writes, ${options.clients} clients${tag}...`)
        const floor = yield* measureFloor(options, "operator")
        console.log(`  converged in ${s(floor.convergeMillis)} s (last write ${s(floor.clientMillis)} s), ${floor.writeCount} writes`)
        floors.push(floor)
        console.log(`apiserver: kubefx, ${c} workers${tag}...`)
        const r = yield* measureKubefx(options, c, round, floor)
        console.log(
          `  converged in ${s(r.convergeMillis)} s (${pairedRatio(r).toFixed(2)}× the floor before it), ${r.writeCount} writes, ${r.readCount} reads, ` +
            `CPU ${s(r.cpuMillis)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB; update ${s(r.update?.deploymentsMillis)} s; idle writes ${r.idle?.writeCount ?? "n/a"} (${
              r.idle?.reconciles ?? 0
            } reconciles)${r.profile === undefined ? "" : `; profile ${r.profile}`}`
        )
        kubefx.get(c)!.push(r)
        rounds.push({ floor: floor.convergeMillis, [`kubefx-${c}`]: r.convergeMillis })
      }
      if (options.classic) {
        console.log(`apiserver: floor, measured.md's writes, ${options.clients} clients${tag}...`)
        const classic = yield* measureFloor(options, "classic")
        console.log(`  converged in ${s(classic.convergeMillis)} s (last write ${s(classic.clientMillis)} s), ${classic.writeCount} writes`)
        classics.push(classic)
      }
    }
    return {
      date,
      machine: machineText,
      serverVersion: version,
      options,
      floor: medianBy(floors, (f) => f.convergeMillis),
      classic: classics.length === 0 ? undefined : medianBy(classics, (f) => f.convergeMillis),
      kubefx: options.concurrencies.map((c) => medianBy(kubefx.get(c)!, pairedRatio)),
      rounds
    } satisfies ApiserverReport
  })

/**
 * Prints the top self-time functions of each CPU profile written.
 *
 * @since 0.1.0
 * @category report
 */
export const printProfiles = (r: ApiserverReport) => {
  for (const k of r.kubefx) {
    if (k.profile === undefined) continue
    console.log(`\nCPU profile of the operator, ${k.concurrency} workers (${k.profile}): top self time`)
    console.log(topFunctions(k.profile, 25))
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2)
  const options = parseApiserverArgs(argv)
  const report = await Effect.runPromise(runApiserverBench(options))
  const section = apiserverSection(report)
  console.log(`\n${section}`)
  printProfiles(report)
  if (!argv.includes("--no-write")) {
    writeSection(section)
    console.log(`wrote ${readmePath}`)
  }
  if (apiserverTargets(report).some((t) => !t.ok)) process.exitCode = 1
}
