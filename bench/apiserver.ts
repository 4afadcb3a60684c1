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
 *   node --conditions=@kubefx/source bench/apiserver.ts                  one round; rewrites its section of bench/README.md
 *   node --conditions=@kubefx/source bench/apiserver.ts --repeat 3       medians of 3 rounds
 *     --parents 1000  --concurrency 4,16  --clients 16  --idle-ms 60000 (0: no idle phase)  --resync-ms 25000
 *     --no-classic (skip measurement 2)  --profile (operator children write V8 CPU profiles)  --no-write
 *
 * Needs the envtest binaries (`scripts/envtest-assets.sh`). `npm run bench -- --apiserver` runs it too.
 *
 * @since 0.1.0
 */
import { Builtin, Cluster, type Resource, Watcher } from "@kubefx/core"
import { ClientConfig, KubeCluster, Manifests } from "@kubefx/k8s"
import { Envtest } from "@kubefx/envtest"
import { Deferred, Effect, Layer, Stream } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { createInterface } from "node:readline"
import { fileURLToPath, pathToFileURL } from "node:url"
import { EchoServer } from "../examples/echo-server/src/EchoServer.ts"
import { type Counts, epochNow, type FloorWrites, parentObject, type Snapshot, type Started, writeVerbs } from "./apiserver-child.ts"
import { topFunctions } from "./cpuprofile.ts"

/**
 * What to run.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiserverOptions {
  readonly parents: number
  /** `maxConcurrency` of each kubefx measurement. */
  readonly concurrencies: ReadonlyArray<number>
  /** Parallel clients of the floor. */
  readonly clients: number
  /** Rounds; each figure reported is the round with the median time. */
  readonly repeat: number
  /** Length of the idle phase; 0 skips it. */
  readonly idleMillis: number
  readonly resyncMillis: number
  /** Also measure the floor with measured.md's write set. */
  readonly classic: boolean
  /** Directory for V8 CPU profiles of the operator children, or undefined. */
  readonly profileDir: string | undefined
  /** Per phase. */
  readonly timeoutMillis: number
}

/**
 * CPU time of the control plane over a phase.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerCpu {
  readonly apiserverMs: number
  readonly etcdMs: number
}

/**
 * A floor measurement.
 *
 * @since 0.1.0
 * @category models
 */
export interface FloorResult {
  readonly kind: "floor"
  readonly writes: FloorWrites
  readonly clients: number
  readonly parents: number
  /** From the clients' start until this process saw every parent converged. */
  readonly convergeMillis: number
  /** From the clients' start until their last write returned. */
  readonly clientMillis: number
  readonly writeCount: number
  readonly readCount: number
  readonly cpuMillis: number
  readonly peakRssMiB: number
  readonly baselineRssMiB: number
  readonly server: ServerCpu
}

/**
 * A kubefx measurement.
 *
 * @since 0.1.0
 * @category models
 */
export interface KubefxResult {
  readonly kind: "kubefx"
  readonly concurrency: number
  readonly parents: number
  /** From `Operator.run` until this process saw every parent converged. */
  readonly convergeMillis: number
  /** From `Operator.run` until every watcher had listed. */
  readonly syncMillis: number
  readonly writeCount: number
  readonly readCount: number
  readonly byVerb: Counts
  readonly reconciles: number
  readonly failures: number
  readonly warnings: number
  readonly cpuMillis: number
  /** Peak RSS from the process start until convergence. */
  readonly peakRssMiB: number
  readonly baselineRssMiB: number
  readonly heapMiB: number
  readonly server: ServerCpu
  readonly update: {
    /** From the first spec patch until every Deployment carried the new spec. */
    readonly deploymentsMillis: number | null
    /** ... until every status reported the new generation too. */
    readonly convergedMillis: number | null
    /** How long the 1,000 patches themselves took (16 parallel clients in this process). */
    readonly patchMillis: number
    readonly writeCount: number
    readonly readCount: number
    readonly reconciles: number
    readonly cpuMillis: number
    readonly server: ServerCpu
  }
  readonly idle: {
    readonly millis: number
    readonly writeCount: number
    readonly readCount: number
    readonly watches: number
    readonly reconciles: number
    readonly cpuMillis: number
    readonly server: ServerCpu
  } | null
  /** CPU of the whole run (start to exit, idle included) and the peak RSS over it. */
  readonly totalCpuMillis: number
  readonly totalPeakRssMiB: number
  readonly profile: string | undefined
  /** The floor (operator's writes) measured just before this, on its own fresh etcd: the ratios are to it. */
  readonly pairedFloor: { readonly convergeMillis: number; readonly allCpuMillis: number }
}

/**
 * Everything one run of the benchmark measured.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiserverReport {
  readonly date: string
  readonly machine: string
  readonly serverVersion: string
  readonly options: ApiserverOptions
  readonly floor: FloorResult
  readonly classic: FloorResult | undefined
  readonly kubefx: ReadonlyArray<KubefxResult>
  /** Every pair's times (floor, then kubefx), for the spread. */
  readonly rounds: ReadonlyArray<Readonly<Record<string, number>>>
}

const childScript = fileURLToPath(new URL("./apiserver-child.ts", import.meta.url))
const benchDir = fileURLToPath(new URL(".", import.meta.url))
const namespace = "default"
const labelSelector = "app.kubernetes.io/name=echo-server"

// ---------------------------------------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------------------------------------

const crd = Manifests.crd(EchoServer)

/** A fresh etcd + kube-apiserver with the CRD; 1,000 Services need more than the default /24 of cluster IPs. */
const startEnvtest = Effect.gen(function*() {
  return yield* Envtest.make({ crds: [yield* crd], apiServerArgs: ["--service-cluster-ip-range=10.0.0.0/16"] })
})

const clientLayer = (env: Envtest.Envtest) =>
  KubeCluster.layer.pipe(Layer.provide(ClientConfig.layerFromKubeconfig({ paths: [env.kubeconfigPath], userAgent: "kubefx-bench" })))

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime of a process, in ms, from /proc. */
const processCpuMillis = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1000
}

const serverCpu = (env: Envtest.Envtest): ServerCpu => {
  const of = (name: string) => {
    const proc = env.processes.find((p) => p.name === name)
    return proc === undefined ? 0 : processCpuMillis(proc.pid)
  }
  return { apiserverMs: of("kube-apiserver"), etcdMs: of("etcd") }
}

const cpuDelta = (a: ServerCpu, b: ServerCpu): ServerCpu => ({ apiserverMs: b.apiserverMs - a.apiserverMs, etcdMs: b.etcdMs - a.etcdMs })

// ---------------------------------------------------------------------------------------------------------
// Observer: watches parents and children, knows when every parent is converged
// ---------------------------------------------------------------------------------------------------------

type Condition = "converged" | "deployments"

interface Observer {
  readonly synced: Effect.Effect<void>
  /** The moment `condition` last became true, if it is true now and became so at or after `after`. */
  readonly awaitCondition: (condition: Condition, after: number, timeoutMillis: number) => Effect.Effect<number | undefined>
}

const messageOf = (deployment: Resource.KubeObject): string | undefined => {
  const spec = deployment["spec"] as { template?: { spec?: { containers?: ReadonlyArray<{ args?: ReadonlyArray<string> }> } } } | undefined
  const arg = spec?.template?.spec?.containers?.[0]?.args?.find((a) => a.startsWith("-text="))
  return arg?.slice("-text=".length)
}

const ownerUid = (o: Resource.KubeObject) => o.metadata.ownerReferences?.find((r) => r.controller === true)?.uid

/**
 * Watches EchoServers, Deployments and Services and keeps, per parent, whether it is converged (status of its
 * generation, a Deployment with its spec, a Service, both owned by it) and whether its Deployment is current.
 */
const startObserver = (parents: number) =>
  Effect.gen(function*() {
    const echo = new Map<string, Resource.KubeObject>()
    const deployments = new Map<string, Resource.KubeObject>()
    const services = new Map<string, Resource.KubeObject>()
    const notConverged = new Set<string>()
    const staleDeployment = new Set<string>()
    const holds: Record<Condition, boolean> = { converged: false, deployments: false }
    const since: Record<Condition, number> = { converged: 0, deployments: 0 }

    const evaluate = (name: string) => {
      const p = echo.get(name)
      if (p === undefined) {
        notConverged.delete(name)
        staleDeployment.delete(name)
        return
      }
      const uid = p.metadata.uid
      const d = deployments.get(name)
      const s = services.get(name)
      const message = (p["spec"] as { message?: string } | undefined)?.message
      const current = d !== undefined && ownerUid(d) === uid && messageOf(d) === message
      const observed = (p["status"] as { observedGeneration?: number } | undefined)?.observedGeneration
      const converged = current && s !== undefined && ownerUid(s) === uid && observed === p.metadata.generation
      if (current) staleDeployment.delete(name)
      else staleDeployment.add(name)
      if (converged) notConverged.delete(name)
      else notConverged.add(name)
    }
    const settle = () => {
      const now = epochNow()
      const full = echo.size === parents
      const next: Record<Condition, boolean> = { converged: full && notConverged.size === 0, deployments: full && staleDeployment.size === 0 }
      for (const c of ["converged", "deployments"] as const) {
        if (next[c] && !holds[c]) since[c] = now
        holds[c] = next[c]
      }
    }

    const watchInto = (type: Resource.ResourceType, map: Map<string, Resource.KubeObject>, synced: Deferred.Deferred<void>, selector?: string) =>
      Watcher.watch(type, { namespace, ...(selector === undefined ? {} : { labelSelector: selector }) }).pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            switch (event._tag) {
              case "Restarted": {
                map.clear()
                for (const o of event.objects) map.set(o.metadata.name!, o)
                for (const name of echo.keys()) evaluate(name)
                for (const name of [...notConverged, ...staleDeployment]) if (!echo.has(name)) evaluate(name)
                Deferred.doneUnsafe(synced, Effect.void)
                break
              }
              case "Applied":
                map.set(event.object.metadata.name!, event.object)
                evaluate(event.object.metadata.name!)
                break
              case "Deleted":
                map.delete(event.object.metadata.name!)
                evaluate(event.object.metadata.name!)
                break
            }
            settle()
          })
        ),
        Effect.forkScoped
      )

    const flags = [yield* Deferred.make<void>(), yield* Deferred.make<void>(), yield* Deferred.make<void>()] as const
    yield* watchInto(EchoServer, echo, flags[0])
    yield* watchInto(Builtin.Deployment, deployments, flags[1], labelSelector)
    yield* watchInto(Builtin.Service, services, flags[2], labelSelector)

    return {
      synced: Effect.forEach(flags, Deferred.await, { discard: true }),
      awaitCondition: (condition, after, timeoutMillis) =>
        Effect.gen(function*() {
          const deadline = epochNow() + timeoutMillis
          while (epochNow() < deadline) {
            if (holds[condition] && since[condition] >= after) return since[condition]
            yield* Effect.sleep("5 millis")
          }
          return undefined
        })
    } satisfies Observer
  })

// ---------------------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------------------

interface Child {
  readonly send: (command: string) => void
  /** The next line tagged `tag`, parsed; dies when the child exits first or the time runs out. */
  readonly next: <A>(tag: string, timeoutMillis: number) => Effect.Effect<A>
  readonly exited: Effect.Effect<number | null>
}

const spawnChild = (args: ReadonlyArray<string>, nodeArgs: ReadonlyArray<string> = []) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const child = spawn(process.execPath, ["--conditions=@kubefx/source", ...nodeArgs, childScript, ...args], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      const lines: Array<{ tag: string; value: unknown }> = []
      let stderr = ""
      let exit: number | null | undefined
      let wake: (() => void) | undefined
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const space = line.indexOf(" ")
        if (space === -1) return
        try {
          lines.push({ tag: line.slice(0, space), value: JSON.parse(line.slice(space + 1)) })
        } catch {
          return
        }
        wake?.()
      })
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000)
        process.stderr.write(chunk)
      })
      const exited = new Promise<number | null>((resolve) =>
        child.on("exit", (code) => {
          exit = code
          resolve(code)
          wake?.()
        })
      )
      return {
        send: (command) => void child.stdin!.write(`${command}\n`),
        next: <A>(tag: string, timeoutMillis: number) =>
          Effect.callback<A>((resume) => {
            const check = () => {
              const i = lines.findIndex((l) => l.tag === tag)
              if (i !== -1) {
                wake = undefined
                resume(Effect.succeed(lines.splice(i, 1)[0]!.value as A))
              } else if (exit !== undefined) {
                wake = undefined
                resume(Effect.die(new Error(`child ${args.join(" ")} exited with ${exit} before ${tag}; stderr:\n${stderr}`)))
              }
            }
            wake = check
            check()
          }).pipe(
            Effect.timeoutOrElse({
              duration: timeoutMillis,
              orElse: () => Effect.die(new Error(`child ${args.join(" ")}: no ${tag} within ${timeoutMillis} ms; stderr:\n${stderr}`))
            })
          ),
        exited: Effect.promise(() => exited),
        kill: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        }
      } as Child & { kill: () => void }
    }),
    (child) => Effect.sync(() => (child as Child & { kill: () => void }).kill())
  )

const writesOf = (counts: Counts) => writeVerbs.reduce((n, v) => n + counts[v], 0)
const readsOf = (counts: Counts) => counts.get + counts.list + counts.watch
const minus = (a: Counts, b: Counts): Counts =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - b[k as keyof Counts]])) as Counts

// ---------------------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------------------

/** CPU of the client, the API server and etcd until converged. */
const allCpu = (r: { readonly cpuMillis: number; readonly server: ServerCpu }) => r.cpuMillis + r.server.apiserverMs + r.server.etcdMs

/** kubefx's time over the floor measured just before it. */
const pairedRatio = (k: KubefxResult) => k.convergeMillis / k.pairedFloor.convergeMillis

/** Creates the parents from this process, 16 at a time (not measured). */
const createParents = (parents: number) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* Effect.forEach(Array.from({ length: parents }, (_, i) => i), (i) => cluster.create(EchoServer, parentObject(i)), {
      concurrency: 16,
      discard: true
    })
  })

const measureFloor = (options: ApiserverOptions, writes: FloorWrites) =>
  Effect.gen(function*() {
    const env = yield* startEnvtest
    return yield* Effect.gen(function*() {
      if (writes === "operator") yield* createParents(options.parents)
      const observer = yield* startObserver(options.parents)
      yield* observer.synced
      const server0 = serverCpu(env)
      const child = yield* spawnChild([
        "--role",
        "floor",
        "--writes",
        writes,
        "--clients",
        String(options.clients),
        "--parents",
        String(options.parents),
        "--kubeconfig",
        env.kubeconfigPath
      ])
      const started = yield* child.next<Started>("STARTED", 60_000)
      const done = yield* child.next<Snapshot>("DONE", options.timeoutMillis)
      const convergedAt = yield* observer.awaitCondition("converged", started.at, options.timeoutMillis)
      if (convergedAt === undefined) return yield* Effect.die(new Error(`floor (${writes}) did not converge`))
      const server1 = serverCpu(env)
      yield* child.exited
      return {
        kind: "floor",
        writes,
        clients: options.clients,
        parents: options.parents,
        convergeMillis: convergedAt - started.at,
        clientMillis: done.at - started.at,
        writeCount: writesOf(done.counts),
        readCount: readsOf(done.counts),
        cpuMillis: done.cpuMs,
        peakRssMiB: done.maxRssMiB,
        baselineRssMiB: started.rssMiB,
        server: cpuDelta(server0, server1)
      } satisfies FloorResult
    }).pipe(Effect.provide(clientLayer(env)))
  }).pipe(Effect.scoped)

interface OperatorSnapshot extends Snapshot {
  readonly quietSince: number
}

const measureKubefx = (options: ApiserverOptions, concurrency: number, round: number, floor: FloorResult) =>
  Effect.gen(function*() {
    const env = yield* startEnvtest
    return yield* Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* createParents(options.parents)
      const observer = yield* startObserver(options.parents)
      yield* observer.synced
      const profile = options.profileDir === undefined ? undefined : `operator-c${concurrency}-r${round}.cpuprofile`
      const nodeArgs = profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${profile}`]

      // Phase 1: converge.
      const server0 = serverCpu(env)
      const child = yield* spawnChild([
        "--role",
        "operator",
        "--concurrency",
        String(concurrency),
        "--resync-ms",
        String(options.resyncMillis),
        "--kubeconfig",
        env.kubeconfigPath
      ], nodeArgs)
      const started = yield* child.next<Started>("STARTED", 60_000)
      const synced = yield* child.next<{ at: number }>("SYNCED", options.timeoutMillis)
      const convergedAt = yield* observer.awaitCondition("converged", started.at, options.timeoutMillis)
      if (convergedAt === undefined) return yield* Effect.die(new Error(`kubefx (${concurrency} workers) did not converge`))
      const server1 = serverCpu(env)
      child.send("snapshot")
      const s1 = yield* child.next<OperatorSnapshot>("SNAPSHOT", options.timeoutMillis)

      // Phase 2: every spec changes.
      const updateStart = epochNow()
      yield* Effect.forEach(
        Array.from({ length: options.parents }, (_, i) => i),
        (i) => cluster.patch(EchoServer, { namespace, name: `echo-${i}` }, { type: "merge", body: { spec: { message: `changed ${i}` } } }),
        { concurrency: 16, discard: true }
      )
      const patchedAt = epochNow()
      const deploymentsAt = yield* observer.awaitCondition("deployments", updateStart, options.timeoutMillis)
      const updatedAt = yield* observer.awaitCondition("converged", updateStart, options.timeoutMillis)
      const server2 = serverCpu(env)
      child.send("snapshot")
      const s2 = yield* child.next<OperatorSnapshot>("SNAPSHOT", options.timeoutMillis)

      // Phase 3: idle, through resyncs.
      let idle: KubefxResult["idle"] = null
      if (options.idleMillis > 0) {
        yield* Effect.sleep(options.idleMillis)
        child.send("snapshot")
        const s3 = yield* child.next<OperatorSnapshot>("SNAPSHOT", options.timeoutMillis)
        const server3 = serverCpu(env)
        const d = minus(s3.counts, s2.counts)
        idle = {
          millis: s3.at - s2.at,
          writeCount: writesOf(d),
          readCount: readsOf(d),
          watches: d.watch,
          reconciles: s3.reconciles - s2.reconciles,
          cpuMillis: s3.cpuMs - s2.cpuMs,
          server: cpuDelta(server2, server3)
        }
      }
      child.send("exit")
      const final = yield* child.next<Snapshot>("FINAL", options.timeoutMillis)
      yield* child.exited
      const u = minus(s2.counts, s1.counts)
      return {
        kind: "kubefx",
        concurrency,
        parents: options.parents,
        convergeMillis: convergedAt - started.at,
        syncMillis: synced.at - started.at,
        writeCount: writesOf(s1.counts),
        readCount: readsOf(s1.counts),
        byVerb: s1.counts,
        reconciles: s1.reconciles,
        failures: s1.failures,
        warnings: final.warnings,
        cpuMillis: s1.cpuMs,
        peakRssMiB: s1.maxRssMiB,
        baselineRssMiB: started.rssMiB,
        heapMiB: s1.heapMiB,
        server: cpuDelta(server0, server1),
        update: {
          deploymentsMillis: deploymentsAt === undefined ? null : deploymentsAt - updateStart,
          convergedMillis: updatedAt === undefined ? null : updatedAt - updateStart,
          patchMillis: patchedAt - updateStart,
          writeCount: writesOf(u),
          readCount: readsOf(u),
          reconciles: s2.reconciles - s1.reconciles,
          cpuMillis: s2.cpuMs - s1.cpuMs,
          server: cpuDelta(server1, server2)
        },
        idle,
        totalCpuMillis: final.cpuMs,
        totalPeakRssMiB: final.maxRssMiB,
        profile: profile === undefined ? undefined : `${options.profileDir}/${profile}`,
        pairedFloor: { convergeMillis: floor.convergeMillis, allCpuMillis: allCpu(floor) }
      } satisfies KubefxResult
    }).pipe(Effect.provide(clientLayer(env)))
  }).pipe(Effect.scoped)

const serverVersion = Effect.gen(function*() {
  const env = yield* startEnvtest
  const res = yield* Envtest.request(env, { path: "/version" })
  const body = res.body as { gitVersion?: string; platform?: string }
  return `kube-apiserver ${body.gitVersion ?? "?"}`
}).pipe(Effect.scoped)

const medianBy = <A>(runs: ReadonlyArray<A>, by: (a: A) => number): A => {
  const sorted = [...runs].sort((a, b) => by(a) - by(b))
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? "n/a" : (ms / 1000).toFixed(2))

const machine = () => {
  const load = os.loadavg()
  return `${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? "unknown CPU"}), ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}; load average at start ${
    load.map((x) => x.toFixed(2)).join(" / ")
  }`
}

/**
 * Runs every measurement `repeat` times, alternating, and returns the medians: the floor's by time, kubefx's
 * by its ratio to the floor measured just before it.
 *
 * @since 0.1.0
 * @category benchmarks
 */
export const runApiserverBench = (options: ApiserverOptions) =>
  Effect.gen(function*() {
    const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC"
    const machineText = machine()
    if (options.profileDir !== undefined) mkdirSync(options.profileDir, { recursive: true })
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
            `CPU ${s(r.cpuMillis)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB; update ${s(r.update.deploymentsMillis)} s; idle writes ${r.idle?.writeCount ?? "n/a"} (${
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

// ---------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------

/** kubefx's time target: within this factor of the raw floor. */
const ratioTarget = 1.2
const writesPerParentTarget = 4

/**
 * The targets and whether they were met.
 *
 * @since 0.1.0
 * @category report
 */
export const apiserverTargets = (r: ApiserverReport): ReadonlyArray<{ target: string; measured: string; ok: boolean }> =>
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
 * The markers around the section in `bench/README.md`, so that `bench/run.ts` keeps it when it rewrites the rest.
 *
 * @since 0.1.0
 * @category report
 */
export const sectionStart = "<!-- apiserver:start -->"
/**
 * @since 0.1.0
 * @category report
 */
export const sectionEnd = "<!-- apiserver:end -->"

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
    row("change every spec: all Deployments updated, s", "—", "—", (k) => s(k.update.deploymentsMillis)),
    row("… and every status current, s (patching alone)", "—", "—", (k) => `${s(k.update.convergedMillis)} (${s(k.update.patchMillis)})`),
    row("… operator writes / reads / reconciles", "—", "—", (k) => `${k.update.writeCount} / ${k.update.readCount} / ${k.update.reconciles}`),
    row("… operator CPU, s", "—", "—", (k) => s(k.update.cpuMillis)),
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
    "| target | measured | result |",
    "|---|---:|---|",
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.ok ? "pass" : "**FAIL**"} |`),
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
    "  `ru_maxrss`); logging at level Warn. The RSS at start (Node, Effect, the code) includes ~30 MiB for Node's",
    "  TypeScript stripping, as the benchmark runs the sources; compiled JavaScript starts ~30 MiB lower.",
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

/**
 * Replaces (or appends) the section in a README's text.
 *
 * @since 0.1.0
 * @category report
 */
export const withSection = (readme: string, section: string): string => {
  const start = readme.indexOf(sectionStart)
  const end = readme.indexOf(sectionEnd)
  if (start !== -1 && end > start) return readme.slice(0, start) + section + readme.slice(end + sectionEnd.length)
  return `${readme.trimEnd()}\n\n${section}\n`
}

/**
 * The section currently in a README's text, if any.
 *
 * @since 0.1.0
 * @category report
 */
export const existingSection = (readme: string): string | undefined => {
  const start = readme.indexOf(sectionStart)
  const end = readme.indexOf(sectionEnd)
  return start !== -1 && end > start ? readme.slice(start, end + sectionEnd.length) : undefined
}

/**
 * Options from command-line arguments (see the module comment).
 *
 * @since 0.1.0
 * @category running
 */
export const parseApiserverArgs = (argv: ReadonlyArray<string>): ApiserverOptions => {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i === -1 ? undefined : argv[i + 1]
  }
  const int = (flag: string, fallback: number, min = 1) => {
    const raw = value(flag)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer ≥ ${min}, got ${JSON.stringify(raw)}`)
    return n
  }
  const concurrencies = (value("--concurrency") ?? "4,16").split(",").map(Number)
  if (concurrencies.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--concurrency needs positive integers, e.g. 4,16")
  return {
    parents: int("--parents", 1000),
    concurrencies,
    clients: int("--clients", 16),
    repeat: int("--repeat", 1),
    idleMillis: int("--idle-ms", 60_000, 0),
    resyncMillis: int("--resync-ms", 25_000),
    classic: !argv.includes("--no-classic"),
    profileDir: argv.includes("--profile") ? `${benchDir}profiles` : undefined,
    timeoutMillis: int("--timeout-ms", 300_000)
  }
}

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
    const path = `${benchDir}README.md`
    writeFileSync(path, withSection(readFileSync(path, "utf8"), section))
    console.log(`wrote ${path}`)
  }
  if (apiserverTargets(report).some((t) => !t.ok)) process.exitCode = 1
}
