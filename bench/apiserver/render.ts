/**
 * The real kube-apiserver section of `bench/README.md`: the table of figures, the targets, and how to read them.
 *
 * @since 0.1.0
 */
import { seconds as s, type Target, targetTable } from "../harness/render.ts"
import { sectionEnd, sectionStart } from "../harness/readme.ts"
import { allCpu, type ApiserverReport, type KubefxResult, pairedRatio } from "./results.ts"

/** kubefx's time target: within this factor of the raw floor. */
const ratioTarget = 1.2
const writesPerParentTarget = 4

/**
 * The targets and whether they were met.
 *
 * @since 0.1.0
 * @category report
 */
export const apiserverTargets = (r: ApiserverReport): ReadonlyArray<Target> =>
  r.kubefx.flatMap((k) => {
    const name = `real API server, kubefx ${k.concurrency} workers`
    const ratio = pairedRatio(k)
    const perParent = k.writeCount / k.parents
    return [
      { target: `${name}: converges within ${ratioTarget}× the floor measured just before it (operator's writes, ${r.floor.clients} clients)`, measured: `${ratio.toFixed(2)}×`, ok: ratio <= ratioTarget },
      { target: `${name}: ≤ ${writesPerParentTarget} writes per parent`, measured: perParent.toFixed(2), ok: perParent <= writesPerParentTarget },
      ...(k.idle === null ? [] : [{
        target: `${name}: 0 writes in ${s(k.idle.millis)} s idle with resyncs`,
        measured: `${k.idle.writeCount} (${k.idle.reconciles} reconciles)`,
        ok: k.idle.writeCount === 0 && k.idle.reconciles >= k.parents
      }])
    ]
  })

/**
 * The README section for a report, markers included.
 *
 * @since 0.1.0
 * @category report
 */
export const apiserverSection = (r: ApiserverReport): string => {
  const f = r.floor
  const c = r.classic
  const cols = [
    `floor: operator's writes, ${f.clients} clients`,
    ...(c === undefined ? [] : [`floor: measured.md's writes, ${c.clients} clients`]),
    ...r.kubefx.map((k) => `kubefx, ${k.concurrency} workers`)
  ]
  const row = (label: string, floor: string, classic: string, each: (k: KubefxResult) => string) =>
    `| ${label} | ${floor} | ${c === undefined ? "" : `${classic} | `}${r.kubefx.map(each).join(" | ")} |`
  const ratio = (k: KubefxResult) => `**${pairedRatio(k).toFixed(2)}×** (floor ${s(k.pairedFloor.convergeMillis)} s)`
  const mib = (n: number) => n.toFixed(0)
  const idleOn = r.kubefx.some((k) => k.idle !== null)
  const targets = apiserverTargets(r)
  const spread = r.rounds.length > 1
    ? `\n- Every pair's convergence times, s (floor → kubefx = ratio): ${
      r.rounds.map((t) =>
        Object.entries(t).filter(([k]) => k !== "floor").map(([k, v]) => `${s(t["floor"])} → ${k} ${s(v)} = ${(v / (t["floor"] ?? NaN)).toFixed(2)}×`).join("")
      ).join("; ")
    }.`
    : ""
  const lines = [
    sectionStart,
    "## Real kube-apiserver: kubefx against the raw API floor",
    "",
    `The latest run of \`bench/apiserver.ts\` (${
      r.options.repeat === 1 ? "one round" : `${r.options.repeat} rounds: the floor columns show the median run by time, the kubefx columns the run with the median ratio`
    }). Every measurement ran on a fresh etcd, in one run; each kubefx measurement right after a floor measurement, and its ratio is to that floor.`,
    "",
    `- Date: ${r.date}`,
    `- Machine: ${r.machine}`,
    `- Server: ${r.serverVersion} and etcd from envtest (\`scripts/envtest-assets.sh\`), on loopback, mTLS as an admin.`,
    `- Rerun: \`npm run bench -- --apiserver\` (with the FakeCluster cases), or only this: \`node --conditions=@kubefx/source bench/apiserver.ts\` from the repository root (\`--repeat 3\` for medians, \`--profile\` for CPU profiles of the operator, \`--idle-ms 0\` to skip the idle phase, \`--no-write\` to leave this file alone).`,
    `- Workload: ${r.options.parents.toLocaleString("en-US")} EchoServers; operator resync period ${s(r.options.resyncMillis)} s${idleOn ? `, idle phase ${s(r.options.idleMillis)} s` : ""}.${spread}`,
    "",
    `| | ${cols.join(" | ")} |`,
    `|---|${cols.map(() => "---:").join("|")}|`,
    row(`${r.options.parents.toLocaleString("en-US")} parents converged, s`, s(f.convergeMillis), c === undefined ? "" : s(c.convergeMillis), (k) => s(k.convergeMillis)),
    row("ratio to the floor (operator's writes) measured just before", "1.00×", c === undefined ? "" : `${(c.convergeMillis / f.convergeMillis).toFixed(2)}× (median floor)`, ratio),
    row("of which: listing until synced, s", "—", "—", (k) => s(k.syncMillis)),
    row("writes (per parent)", `${f.writeCount} (${(f.writeCount / f.parents).toFixed(2)})`, c === undefined ? "" : `${c.writeCount} (${(c.writeCount / c.parents).toFixed(2)})`, (k) => `${k.writeCount} (${(k.writeCount / k.parents).toFixed(2)})`),
    row("reads (get + list + watch)", `${f.readCount}`, c === undefined ? "" : `${c.readCount}`, (k) => `${k.readCount} (${k.byVerb.get} + ${k.byVerb.list} + ${k.byVerb.watch})`),
    row("reconciles", "—", "—", (k) => `${k.reconciles}`),
    row("client CPU until converged, s", s(f.cpuMillis), c === undefined ? "" : s(c.cpuMillis), (k) => s(k.cpuMillis)),
    row("client peak RSS until converged, MiB (at start)", `${mib(f.peakRssMiB)} (${mib(f.baselineRssMiB)})`, c === undefined ? "" : `${mib(c.peakRssMiB)} (${mib(c.baselineRssMiB)})`, (k) => `${mib(k.peakRssMiB)} (${mib(k.baselineRssMiB)})`),
    row("client heap in use at convergence, MiB", "—", "—", (k) => mib(k.heapMiB)),
    row("kube-apiserver CPU until converged, s", s(f.server.apiserverMs), c === undefined ? "" : s(c.server.apiserverMs), (k) => s(k.server.apiserverMs)),
    row("etcd CPU until converged, s", s(f.server.etcdMs), c === undefined ? "" : s(c.server.etcdMs), (k) => s(k.server.etcdMs)),
    row("all CPU until converged (client + apiserver + etcd), s", s(allCpu(f)), c === undefined ? "" : s(allCpu(c)), (k) => `${s(allCpu(k))} (${(allCpu(k) / k.pairedFloor.allCpuMillis).toFixed(2)}× the floor's)`),
    row("change every spec: all Deployments updated, s", "—", "—", (k) => s(k.update?.deploymentsMillis)),
    row("… and every status current, s (patching alone)", "—", "—", (k) => `${s(k.update?.convergedMillis)} (${s(k.update?.patchMillis)})`),
    row("… operator writes / reads / reconciles", "—", "—", (k) => (k.update === null ? "n/a" : `${k.update.writeCount} / ${k.update.readCount} / ${k.update.reconciles}`)),
    row("… operator CPU, s", "—", "—", (k) => s(k.update?.cpuMillis)),
    ...(idleOn
      ? [
        row("idle: writes (reconciles by resync)", "—", "—", (k) => (k.idle === null ? "n/a" : `**${k.idle.writeCount}** (${k.idle.reconciles})`)),
        row("idle: reads (watch reconnects), operator CPU s", "—", "—", (k) => (k.idle === null ? "n/a" : `${k.idle.readCount} (${k.idle.watches}), ${s(k.idle.cpuMillis)}`)),
        row("idle: kube-apiserver / etcd CPU, s", "—", "—", (k) => (k.idle === null ? "n/a" : `${s(k.idle.server.apiserverMs)} / ${s(k.idle.server.etcdMs)}`))
      ]
      : []),
    row("operator CPU, whole run, s", "—", "—", (k) => s(k.totalCpuMillis)),
    row("operator peak RSS, whole run, MiB", "—", "—", (k) => mib(k.totalPeakRssMiB)),
    row("warnings logged", "—", "—", (k) => `${k.warnings}`),
    "",
    targetTable(targets),
    "",
    "How to read this:",
    "",
    "- **Writes counted.** kubefx writes 4 times per parent that already exists: the finalizer (merge patch; the example has",
    "  `finalize`), the Deployment (server-side apply), the Service (create) and the status (update); it also reads once",
    "  (a GET of the Deployment before its first apply, so that an unowned object of that name is never taken over).",
    "  The **operator's-writes floor** makes exactly those 4 writes per existing parent, with the same bodies and",
    "  content types, one parent after another in each of its clients: it is the reference for the ratio. The",
    "  **measured.md floor** makes that document's 4 writes (parent create, Deployment create, Service create,",
    "  status), to compare this machine and server with the 7.2 s measured there. Parents that exist before a",
    "  measurement are created by the harness and not counted.",
    "- **Reads and reconciles.** The operator's reads are its list and watch of each type and, per parent, the GET",
    "  before the Deployment's first apply; the floor makes none of them. Reconciles above one per parent are re-runs",
    "  queued when the watch event of the operator's own write arrives before the write's response; they write nothing.",
    "- **Time.** From the moment the measured process starts working (the operator: `Operator.run`, so its list and",
    "  watch start-up count; the floor: its first write, after an untimed list) until the harness, which watches the",
    "  three types in its own process in every measurement alike, has seen every parent with",
    "  `status.observedGeneration == metadata.generation`, a Deployment carrying its spec and a Service, both owned",
    "  by it. Process start-up (Node, module loading) is not included.",
    "- **Client CPU / RSS**: of the child process that ran the floor or the operator (`process.cpuUsage`, the kernel's",
    `  \`ru_maxrss\`); logging at level Warn. The children ran ${r.options.childMode === "source" ? "the TypeScript sources (`--source`): the RSS at start (Node, Effect, the code) includes ~30 MiB for Node's type stripping" : "compiled JavaScript (`packages/*/dist`, `bench/.build/`); `--source` runs the sources, ~30 MiB more RSS at start for Node's type stripping"}.`,
    "  **kube-apiserver / etcd CPU**: from `/proc/<pid>/stat` over the same window.",
    "- **All CPU.** The machine has 2 cores and the API server alone uses more than one of them while converging, so",
    "  the workload is CPU-bound and shares the cores with whatever else runs: wall times move from run to run (up to 2× here), sums",
    "  of CPU less. The sum is the steadier measure of what the operator costs over the floor.",
    "- **Change every spec**: the harness patches every parent's `spec.message` (16 at a time, timed from the first",
    "  patch, so the patching overlaps the operator's work); the time runs until every Deployment has the new text.",
    "- **Idle**: nothing changes; the operator's resync reconciles every parent again every period; writes must be 0.",
    "  No kube-controller-manager runs, so Deployments never become available and every status says `ready: false`.",
    sectionEnd
  ]
  return lines.join("\n")
}
