/**
 * The peers section of `bench/README.md`: kubefx against controller-runtime on kube-apiserver, the table of
 * medians, the cost curve from the smallest run kept to the largest, and how to read them.
 *
 * @since 0.1.0
 */
import { Manifests } from "@kubefx/k8s"
import type { CrdShape } from "../apiserver/controlPlane.ts"
import type { Counts } from "../apiserver/requests.ts"
import type { Contender, OperatorResult, PhaseRequests } from "../apiserver/results.ts"
import { markers } from "../harness/readme.ts"
import { seconds as s } from "../harness/render.ts"
import { cachedObjects, kibPerObject, median, medianOf, type PeersReport, variantOf } from "./report.ts"

const readVerbs = new Set(["get", "list", "watch"])
const reads = (c: Counts) => c.get + c.list + c.watch
const writes = (c: Counts) => Object.entries(c).reduce((n, [v, k]) => (readVerbs.has(v) ? n : n + k), 0)
const byVerb = (c: Counts) =>
  Object.entries(c).filter(([v, k]) => !readVerbs.has(v) && k !== 0).map(([v, k]) => `${v} ${k}`).join(", ") || "none"

const n0 = (x: number) => (Number.isNaN(x) ? "n/a" : Math.round(x).toLocaleString("en-US"))
const f1 = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(1))
const sec = (ms: number) => (Number.isNaN(ms) ? "n/a" : s(ms))
const ratio = (k: number, c: number) => (Number.isNaN(k) || Number.isNaN(c) || c === 0 ? "—" : `${(k / c).toFixed(2)}×`)

/** The measurement of `contender` on `shape` whose figure is the median (for text figures such as "by verb"). */
const medianRun = (r: PeersReport, contender: Contender, shape: CrdShape, figure: (o: OperatorResult) => number) => {
  const runs = r.operators.filter((o) => o.contender === contender && o.shape === shape).sort((a, b) => figure(a) - figure(b))
  return runs[Math.floor((runs.length - 1) / 2)]
}

const phase = (o: OperatorResult, p: "converge" | "update" | "idle"): PhaseRequests | null => o.requests[p]

/** The main table: one column per contender, kubefx over controller-runtime last. */
const mainTable = (r: PeersReport): string => {
  const cr = "controller-runtime" as const
  const kf = "kubefx" as const
  const m = (contender: Contender, figure: (o: OperatorResult) => number | null, shape: CrdShape = "conditions") => medianOf(r, contender, shape, figure)
  const floor = median(r.floors.map((f) => f.convergeMillis))
  const row = (label: string, floorText: string, fig: (o: OperatorResult) => number | null, fmt: (x: number) => string, shape: CrdShape = "conditions") => {
    const c = m(cr, fig, shape)
    const k = m(kf, fig, shape)
    return `| ${label} | ${floorText} | ${fmt(c)} | ${fmt(k)} | ${ratio(k, c)} |`
  }
  const textRow = (label: string, floorText: string, text: (contender: Contender) => string) => `| ${label} | ${floorText} | ${text(cr)} | ${text(kf)} | |`
  const pr = (o: OperatorResult, p: "converge" | "update" | "idle", f: (c: Counts) => number) => {
    const x = phase(o, p)
    return x === null ? null : f(x.operator)
  }
  const hasShape = (shape: CrdShape) => r.operators.some((o) => o.shape === shape)
  const parents = r.options.parents.toLocaleString("en-US")
  const idle = `${s(r.options.idleMillis)} s idle (resync ${s(r.options.resyncMillis)} s)`
  const lines = [
    `| ${parents} parents, ${r.options.concurrencies[0] ?? 4} workers | floor | controller-runtime | kubefx | kubefx / c-r |`,
    "|---|---:|---:|---:|---:|",
    row(`converge ${parents} EchoServers (finalizer, Deployment, Service, status), s`, sec(floor), (o) => o.convergeMillis, sec),
    row("… of which listing until synced, s", "—", (o) => o.syncMillis, sec),
    row("spec-change wave: every Deployment carries the new `spec.message`, s", "—", (o) => o.update?.deploymentsMillis ?? null, sec),
    row("… and every status current, s", "—", (o) => o.update?.convergedMillis ?? null, sec),
    row("operator peak RSS, whole run, MiB", "—", (o) => o.proc.peakRssMiB, n0),
    row("operator RSS at start, MiB", "—", (o) => o.proc.startRssMiB, n0),
    row("operator RSS once converged, MiB", "—", (o) => o.proc.convergedRssMiB, n0),
    row(`KiB per cached object ((converged − start) / ${cachedObjects(r.options.parents).toLocaleString("en-US")})`, "—", kibPerObject, f1),
    row("operator CPU, whole run (converge + wave + idle), s", "—", (o) => o.proc.totalCpuMs, sec),
    textRow("… converge / wave / idle, s", "—", (c) =>
      `${sec(m(c, (o) => o.proc.convergeCpuMs))} / ${sec(m(c, (o) => o.proc.updateCpuMs))} / ${sec(m(c, (o) => o.proc.idleCpuMs))}`),
    row("reads during converge (GET + LIST + WATCH; API server's count)", n0(median(r.floors.map((f) => f.readCount))), (o) => pr(o, "converge", reads), n0),
    textRow("… get / list / watch", "—", (c) => `${n0(m(c, (o) => pr(o, "converge", (x) => x.get)))} / ${n0(m(c, (o) => pr(o, "converge", (x) => x.list)))} / ${n0(m(c, (o) => pr(o, "converge", (x) => x.watch)))}`),
    row("writes during converge (API server's count)", n0(median(r.floors.map((f) => f.writeCount))), (o) => pr(o, "converge", writes), n0),
    textRow("… by verb (median run)", r.floors.length === 0 ? "—" : "patch, apply, create, updateStatus: 1 per parent each", (c) => {
      const o = medianRun(r, c, "conditions", (x) => pr(x, "converge", writes) ?? 0)
      return o === undefined ? "n/a" : byVerb(o.requests.converge.operator)
    }),
    textRow("… the operator's own count: reads / writes", "—", (c) => `${n0(m(c, (o) => o.readCount))} / ${n0(m(c, (o) => o.writeCount))}`),
    row("reconciles during converge", "—", (o) => o.reconciles, n0),
    row("wave: writes (API server's count)", "—", (o) => pr(o, "update", writes), n0),
    textRow("… reads / reconciles", "—", (c) => `${n0(m(c, (o) => pr(o, "update", reads)))} / ${n0(m(c, (o) => o.update?.reconciles ?? null))}`),
    row(`writes in ${idle}, CRD with \`status.conditions\``, "—", (o) => pr(o, "idle", writes), n0),
    textRow("… reads / reconciles", "—", (c) => `${n0(m(c, (o) => pr(o, "idle", reads)))} / ${n0(m(c, (o) => o.idle?.reconciles ?? null))}`),
    ...(hasShape("no-conditions")
      ? [
        row(`writes in ${idle}, CRD without \`status.conditions\` (pruned)`, "—", (o) => pr(o, "idle", writes), n0, "no-conditions"),
        textRow("… by verb (median run) / reconciles", "—", (c) => {
          const o = medianRun(r, c, "no-conditions", (x) => pr(x, "idle", writes) ?? 0)
          return o === undefined || o.requests.idle === null ? "n/a" : `${byVerb(o.requests.idle.operator)} / ${n0(o.idle?.reconciles ?? NaN)}`
        }),
        row("converge on the CRD without `status.conditions`, s", "—", (o) => o.convergeMillis, sec, "no-conditions"),
        textRow("… writes / reconciles", "—", (c) =>
          `${n0(m(c, (o) => pr(o, "converge", writes), "no-conditions"))} / ${n0(m(c, (o) => o.reconciles, "no-conditions"))}`)
      ]
      : []),
    row("kube-apiserver + etcd CPU during converge, s", sec(median(r.floors.map((f) => f.server.apiserverMs + f.server.etcdMs))), (o) => o.server.apiserverMs + o.server.etcdMs, sec),
    row("reconcile errors during converge (operator's count)", "—", (o) => o.failures, n0)
  ]
  return lines.join("\n")
}

/** The cost curve: the smallest and the largest run kept, per contender. */
const scaleTable = (small: PeersReport, large: PeersReport): string => {
  const a = small.options.parents
  const b = large.options.parents
  const label = (n: number) => n.toLocaleString("en-US")
  const cols = (["controller-runtime", "kubefx"] as const).flatMap((c) => [`${c}, ${label(a)}`, `${c}, ${label(b)}`, `${c}, ${label(b)} / ${label(a)}`])
  const row = (name: string, fig: (o: OperatorResult) => number | null, fmt: (x: number) => string) => {
    const cells = (["controller-runtime", "kubefx"] as const).flatMap((c) => {
      const x = medianOf(small, c, "conditions", fig)
      const y = medianOf(large, c, "conditions", fig)
      return [fmt(x), fmt(y), ratio(y, x)]
    })
    const kc = ratio(medianOf(large, "kubefx", "conditions", fig), medianOf(large, "controller-runtime", "conditions", fig))
    return `| ${name} | ${cells.join(" | ")} | ${kc} |`
  }
  const floorA = median(small.floors.map((f) => f.convergeMillis))
  const floorB = median(large.floors.map((f) => f.convergeMillis))
  return [
    `| | ${cols.join(" | ")} | kubefx / c-r at ${label(b)} |`,
    `|---|${cols.map(() => "---:").join("|")}|---:|`,
    row("converge, s", (o) => o.convergeMillis, sec),
    `| … the floor measured in the same run, s | ${sec(floorA)} | ${sec(floorB)} | ${ratio(floorB, floorA)} | ${sec(floorA)} | ${sec(floorB)} | ${ratio(floorB, floorA)} | |`,
    row("operator CPU during converge, s", (o) => o.proc.convergeCpuMs, sec),
    row("spec-change wave, s", (o) => o.update?.deploymentsMillis ?? null, sec),
    row("RSS at start, MiB", (o) => o.proc.startRssMiB, n0),
    row("RSS once converged, MiB", (o) => o.proc.convergedRssMiB, n0),
    row("peak RSS, whole run, MiB", (o) => o.proc.peakRssMiB, n0),
    row("KiB per cached object", kibPerObject, f1),
    row("writes during converge (server's count)", (o) => (o.requests.converge === null ? null : writes(o.requests.converge.operator)), n0),
    row("reads during converge (server's count)", (o) => (o.requests.converge === null ? null : reads(o.requests.converge.operator)), n0),
    row(`writes in ${s(large.options.idleMillis)} s idle`, (o) => (o.requests.idle === null ? null : writes(o.requests.idle.operator)), n0)
  ].join("\n")
}

/** The command that reruns a kept run with its options. */
const rerun = (r: PeersReport) => {
  const o = r.options
  return [
    "npm run bench -- --peers",
    o.parents === 1000 ? "" : ` --parents ${o.parents}`,
    o.repeat === 3 ? "" : ` --repeat ${o.repeat}`,
    o.shapes.length === 2 ? "" : ` --shapes ${o.shapes.join(",")}`,
    o.wave === false ? " --no-wave" : "",
    o.floor === false ? " --no-floor" : "",
    o.deploymentUpdate === "replace" ? " --deployment-update replace" : "",
    o.idleMillis === 60_000 ? "" : ` --idle-ms ${o.idleMillis}`,
    o.childMode === "source" ? " --source" : ""
  ].join("")
}

const rounds = (r: PeersReport) => (r.options.repeat === 1 ? "1 repetition" : `${r.options.repeat} interleaved repetitions, medians`)

/**
 * The README section for the runs kept (`loadReports`), markers included: the main table for the 1,000 run (or
 * the smallest kept), the cost curve to the largest.
 *
 * @since 0.1.0
 * @category report
 */
export const peersSection = (kept: ReadonlyArray<PeersReport>): string => {
  const { start, end } = markers("peers")
  const reports = kept.filter((r) => variantOf(r) === "apply")
  const sameVerbs = kept.find((r) => variantOf(r) === "replace")
  const main = reports.find((r) => r.options.parents === 1000) ?? reports[0]
  if (main === undefined) return `${start}\n## kubefx against controller-runtime\n\nNot measured yet: \`npm run bench -- --peers\`.\n${end}`
  const largest = reports[reports.length - 1]!
  const scale = largest.options.parents > main.options.parents ? largest : undefined
  const startRss = main.startRss
  const lines = [
    start,
    "## kubefx against controller-runtime on kube-apiserver",
    "",
    `The latest run of \`npm run bench -- --peers\` (\`bench/peers.ts\`): the raw API floor, a controller-runtime operator and kubefx on the echo-server workload, interleaved on one kube-apiserver, each measurement on a fresh etcd; ratios from the same run.`,
    "",
    `- Date: ${main.date}`,
    `- Machine: ${main.machine}`,
    `- Server: ${main.serverVersion} and etcd from envtest (\`scripts/envtest-assets.sh\`), on loopback, mTLS as an admin.`,
    `- Contenders: controller-runtime v0.25.3 (client-go v0.37.2, Go 1.26), \`bench/peers/controller-runtime/\`; kubefx's \`examples/echo-server\` operator, ${main.operators.find((o) => o.contender === "kubefx")?.mode === "source" ? "from the TypeScript sources (type stripping)" : "compiled JavaScript (`packages/*/dist` + `bench/.build/`)"}, Node ${process.version}. Both: 4 workers, resync ${s(main.options.resyncMillis)} s, logging at error/warn level only.`,
    `- Run order: ${main.order.join(" → ")}.`,
    `- Rerun: \`${rerun(main)}\` from the repository root (${main.options.parents.toLocaleString("en-US")} parents, 3 repetitions); the 10,000 run: \`npm run bench -- --peers --parents 10000 --repeat 1 --shapes conditions\`. Flags: \`--parents N\`, \`--repeat K\`, \`--idle-ms\`, \`--resync-ms\`, \`--shapes conditions,no-conditions\`, \`--no-wave\`, \`--no-floor\`, \`--deployment-update replace\` (the example's Deployment created and PUT, as controller-runtime does, instead of server-side applied), \`--source\` (kubefx from the sources), \`--no-write\`. Each run is kept in \`bench/results/peers-<parents>[-replace].json\`.`,
    "",
    `### ${main.options.parents.toLocaleString("en-US")} EchoServers (${rounds(main)})`,
    "",
    mainTable(main),
    "",
    ...(startRss === undefined
      ? []
      : [`kubefx child's RSS at start, measured once: ${startRss.compiledMiB.toFixed(0)} MiB compiled (with the generated Deployment's \`NODE_OPTIONS\`, \`${Manifests.defaultNodeOptions}\`, as every compiled kubefx figure here), ${startRss.sourceMiB.toFixed(0)} MiB from the sources with Node's type stripping and default V8 settings (\`--source\`).`, ""]),
    ...(scale === undefined
      ? [`### Scale`, "", `Not measured in a kept run yet: \`npm run bench -- --peers --parents 10000 --repeat 1 --shapes conditions\`.`]
      : [
        `### Scale: ${main.options.parents.toLocaleString("en-US")} → ${scale.options.parents.toLocaleString("en-US")} EchoServers (CRD with conditions; ${scale.options.parents.toLocaleString("en-US")}: ${rounds(scale)}, ${scale.date})`,
        "",
        `The ${scale.options.parents.toLocaleString("en-US")} run: \`${rerun(scale)}\`${scale.options.wave === false ? " (no spec-change wave)" : ""}${scale.options.idleMillis === 0 ? " (no idle phase)" : ""}; run order ${scale.order.join(" → ")}; load average at its start: ${scale.machine.split("load average at start ")[1] ?? "?"}.`,
        "",
        scaleTable(main, scale)
      ]),
    ...(sameVerbs === undefined
      ? []
      : [
        "",
        `### The same write verbs as controller-runtime (${sameVerbs.options.parents.toLocaleString("en-US")} EchoServers; ${rounds(sameVerbs)}, ${sameVerbs.date})`,
        "",
        "The example server-side applies its Deployment; controller-runtime's `CreateOrUpdate` creates it and then PUTs it,",
        "which costs kube-apiserver less per request. Here the kubefx example's Deployment has the `replace` policy",
        "(create, then PUT), so both operators make the same requests except the finalizer (kubefx: merge patch). One",
        "difference stays: controller-runtime speaks protobuf to the API server for built-in types (its default for",
        "Deployments and Services), kubefx speaks JSON.",
        `\`${rerun(sameVerbs)}\`; run order ${sameVerbs.order.join(" → ")}.`,
        "",
        mainTable(sameVerbs)
      ]),
    "",
    "How to read this:",
    "",
    "- **Workload.** The parents exist before the operator starts (the harness creates them, 16 at a time, before",
    "  anything is counted). Converged means, as the harness sees it through its own watches: every parent has the",
    "  example's finalizer, `status.observedGeneration == metadata.generation`, a Deployment carrying its",
    "  `spec.message` and a Service, both controlled by it. Time runs from the operator's start (kubefx:",
    "  `Operator.run`; controller-runtime: `mgr.Start`), after its runtime and code have loaded. No",
    "  kube-controller-manager runs, so Deployments never become available and every status says not ready.",
    "- **Floor**: no operator; 16 parallel clients make exactly kubefx's 4 writes per parent (finalizer merge patch,",
    "  Deployment apply, Service create, status update), the least any operator of this workload can write.",
    "- **controller-runtime peer** (`bench/peers/controller-runtime/`): written as a kubebuilder user writes it: typed",
    "  `EchoServer` with hand-written deep copies, `For` + `Owns(Deployment)` + `Owns(Service)`, no predicates,",
    "  `MaxConcurrentReconciles: 4`, `SyncPeriod` 30 s, the default cache (every object of the three types, whole,",
    "  managed fields included). Reconcile: Get from the cache; finalizer added with `Update`; Deployment and Service",
    "  through `controllerutil.CreateOrUpdate` (the mutate functions set the fields the example sets and leave server",
    "  defaults alone, so an unchanged child compares equal and is not written; one that replaced the whole pod",
    "  template would write on every reconcile); `Status().Update` only when the status changed",
    "  (`equality.Semantic.DeepEqual`), with a `Ready` condition from `meta.SetStatusCondition`.",
    "- **Requests** are the API server's own counters: `apiserver_request_total` from kube-apiserver's `/metrics`,",
    "  by verb and resource, read before and after each phase, for the workload's resources (echoservers with",
    "  their status, deployments, services). The server counts a request when it completes, a watch when it closes,",
    "  so watches started in a phase are those completed plus the change in `apiserver_longrunning_requests`.",
    "  The harness's own requests in the phase (its watches' reconnects, the wave's patches of every parent) are",
    "  counted in the harness process by a counting layer on its client, by verb and resource, and subtracted.",
    "  Requests on other resources (the API server's own loopback clients: leases, the `kubernetes` Service; an",
    "  operator's discovery) are left out. The operators' own counts (kubefx at its `Cluster` port, the peer at its",
    "  HTTP transport) are shown once, as a cross-check.",
    "- **CPU and RSS** of each operator process from `/proc/<pid>`, the same for both: CPU (`utime + stime`) from",
    "  its `STARTED` line to the end of the idle phase; RSS at `STARTED`, once converged, and the peak (`VmHWM`).",
    "  **KiB per cached object**: (RSS once converged − RSS at start) / (3 × parents): each operator caches every",
    "  parent, Deployment and Service.",
    "- **Memory settings.** Each operator runs as it is deployed: controller-runtime with the Go runtime's defaults,",
    "  kubefx with the `NODE_OPTIONS` its generated Deployment sets for the default 512Mi memory limit (young",
    "  generation of 4 MiB semispaces, old space bounded at 75% of the limit), as a deployed operator runs.",
    "- **Spec-change wave**: the harness patches every parent's `spec.message` (16 at a time, timed from the first",
    "  patch); the time runs until every Deployment carries the new text.",
    "- **Idle**: nothing changes for the idle phase; each operator's resync reconciles every parent again each",
    "  period. On the CRD whose status schema lacks `conditions`, the server prunes the conditions both operators",
    "  write, so what an operator reads back never equals what it wants: a status write on every reconcile shows",
    "  here. That measurement skips the wave.",
    "- **Medians** are per figure across the repetitions (a figure and its neighbour may come from different",
    "  repetitions); the \"by verb\" cells are of the repetition with the median count. The machine has 2 cores and",
    "  the API server uses more than one of them while converging: wall times move from run to run, CPU less.",
    end
  ]
  return lines.join("\n")
}
