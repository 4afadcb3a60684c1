/**
 * One measurement each: the floor (no operator, parallel clients making the writes) and an operator (kubefx or
 * its controller-runtime peer, through three phases: converge, change every spec, idle). Each runs on a fresh
 * control plane, in a child process, and is judged by the harness's observer. Every phase is bracketed by reads
 * of the API server's request counters (`serverCounters.ts`) and of the child's `/proc` figures (`procfs.ts`).
 *
 * @since 0.1.0
 */
import { Cluster } from "@kubefx/core"
import type { Envtest } from "@kubefx/envtest"
import { Effect, Layer, type Scope } from "effect"
import { EchoServer } from "../../examples/echo-server/src/EchoServer.ts"
import { EchoOperator } from "../../examples/echo-server/src/operator.ts"
import { epochNow } from "../harness/sample.ts"
import { namespace, parentObject } from "../harness/workload.ts"
import { type ChildCommand, spawnChild } from "./childProcess.ts"
import { clientLayer, type CrdShape, cpuDelta, serverCpu, startEnvtest } from "./controlPlane.ts"
import { type ChildMode, nodeChildCommand } from "./nodeChild.ts"
import { type Observer, startObserver } from "./observer.ts"
import type { ApiserverOptions } from "./options.ts"
import { peerCommand } from "./peer.ts"
import { procSample } from "./procfs.ts"
import type { FloorWrites } from "./protocol.ts"
import { layerCountingByResource, minus, minusByResource, type ResourceCounts, readsOf, sumOf, writesOf } from "./requests.ts"
import { allCpu, type Contender, type FloorResult, type OperatorResult, type PhaseRequests } from "./results.ts"
import { readServerCounters, type ServerCounters, workloadResources } from "./serverCounters.ts"

/** Creates the parents from this process, 16 at a time (not measured). */
const createParents = (parents: number) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* Effect.forEach(Array.from({ length: parents }, (_, i) => i), (i) => cluster.create(EchoServer, parentObject(i)), {
      concurrency: 16,
      discard: true
    })
  })

/** What a measurement body gets: the control plane, the observer, and the harness's own requests so far. */
interface Bench {
  readonly env: Envtest.Envtest
  readonly observer: Observer
  /** The harness's requests by resource since the server started (live: read it when needed). */
  readonly harness: ResourceCounts
}

/**
 * A fresh control plane (with the CRD of `shape`) for `body`: the parents created first when `seeded`, and the
 * observer synced, before anything is measured. The harness's requests are counted by resource.
 */
const onFreshServer = <A, E>(
  options: ApiserverOptions,
  setup: { readonly seeded: boolean; readonly shape: CrdShape; readonly finalizer: string | undefined },
  body: (bench: Bench) => Effect.Effect<A, E, Cluster.Cluster | Scope.Scope>
) =>
  Effect.gen(function*() {
    const env = yield* startEnvtest(setup.shape)
    const harness: ResourceCounts = {}
    return yield* Effect.gen(function*() {
      if (setup.seeded) yield* createParents(options.parents)
      const observer = yield* startObserver(options.parents, { finalizer: setup.finalizer })
      yield* observer.synced
      return yield* body({ env, observer, harness })
    }).pipe(Effect.provide(layerCountingByResourceOver(clientLayer(env), harness)))
  }).pipe(Effect.scoped)

const layerCountingByResourceOver = (layer: ReturnType<typeof clientLayer>, harness: ResourceCounts) =>
  layerCountingByResource(harness).pipe(Layer.provide(layer))

/**
 * The floor with the write set `writes` (`operator`: on parents that exist; `classic`: creating them).
 *
 * @since 0.1.0
 * @category measurements
 */
export const measureFloor = (options: ApiserverOptions, writes: FloorWrites) =>
  onFreshServer(
    options,
    { seeded: writes === "operator", shape: "conditions", finalizer: writes === "operator" ? EchoOperator.finalizerName : undefined },
    ({ env, observer }) =>
      Effect.gen(function*() {
        const server0 = serverCpu(env)
        const child = yield* spawnChild(nodeChildCommand(options.childMode), [
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
        const started = yield* child.next("STARTED", 60_000)
        const done = yield* child.next("DONE", options.timeoutMillis)
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
      })
  )

/** Phase 2 of an operator measurement: the harness changes every parent's spec, 16 at a time. */
const changeEverySpec = (parents: number) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* Effect.forEach(
      Array.from({ length: parents }, (_, i) => i),
      (i) => cluster.patch(EchoServer, { namespace, name: `echo-${i}` }, { type: "merge", body: { spec: { message: `changed ${i}` } } }),
      { concurrency: 16, discard: true }
    )
  })

/**
 * What one operator measurement runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorRun {
  readonly contender: Contender
  readonly concurrency: number
  readonly round: number
  readonly shape: CrdShape
  /** Run phase 2 (change every spec). */
  readonly update: boolean
  /** The floor measured just before, which the ratios are to, if any. */
  readonly floor: FloorResult | undefined
}

/** The harness's and the server's counters at one moment. */
interface Counters {
  readonly server: ServerCounters
  readonly harness: ResourceCounts
}

const countersNow = (bench: Bench) =>
  Effect.map(readServerCounters(bench.env), (server): Counters => ({ server, harness: structuredClone(bench.harness) }))

/** The requests of a phase, from the counters read before (`a`) and after (`b`) it. */
const phaseRequests = (a: Counters, b: Counters): PhaseRequests => {
  const server = minusByResource(b.server.byResource, a.server.byResource)
  const harnessByResource = minusByResource(b.harness, a.harness)
  const operatorByResource = Object.fromEntries(
    workloadResources.map((r) => [r, minus(sumOf(server, [r]), sumOf(harnessByResource, [r]))])
  )
  return {
    operator: sumOf(operatorByResource),
    operatorByResource,
    harness: sumOf(harnessByResource, workloadResources),
    other: sumOf(Object.fromEntries(Object.entries(server).filter(([r]) => !workloadResources.includes(r))))
  }
}

const operatorCommand = (options: ApiserverOptions, run: OperatorRun, kubeconfig: string, nodeArgs: ReadonlyArray<string>): ChildCommand =>
  run.contender === "controller-runtime"
    ? peerCommand({ workers: run.concurrency, resyncMillis: options.resyncMillis, kubeconfig })
    : (() => {
      const node = nodeChildCommand(options.childMode, nodeArgs)
      return {
        file: node.file,
        args: [...node.args, "--role", "operator", "--concurrency", String(run.concurrency), "--resync-ms", String(options.resyncMillis), "--deployment-update", options.deploymentUpdate, "--kubeconfig", kubeconfig]
      }
    })()

/**
 * An operator measurement: `run.contender` with `run.concurrency` workers on a fresh server with the CRD of
 * `run.shape`, through converge, change every spec (if `run.update`) and idle.
 *
 * @since 0.1.0
 * @category measurements
 */
export const measureOperator = (options: ApiserverOptions, run: OperatorRun) =>
  onFreshServer(options, { seeded: true, shape: run.shape, finalizer: EchoOperator.finalizerName }, (bench) =>
    Effect.gen(function*() {
      const { env, observer } = bench
      const profile = options.profileDir === undefined || run.contender !== "kubefx"
        ? undefined
        : `operator-c${run.concurrency}-r${run.round}.cpuprofile`
      const nodeArgs = profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${profile}`]

      // Phase 1: converge.
      const server0 = serverCpu(env)
      const counters0 = yield* countersNow(bench)
      const child = yield* spawnChild(operatorCommand(options, run, env.kubeconfigPath, nodeArgs), [])
      const started = yield* child.next("STARTED", 60_000)
      const proc0 = procSample(child.pid)
      const synced = yield* child.next("SYNCED", options.timeoutMillis)
      const convergedAt = yield* observer.awaitCondition("converged", started.at, options.timeoutMillis)
      if (convergedAt === undefined) return yield* Effect.die(new Error(`${run.contender} (${run.concurrency} workers) did not converge`))
      const server1 = serverCpu(env)
      child.send("snapshot")
      const s1 = yield* child.next("SNAPSHOT", options.timeoutMillis)
      const proc1 = procSample(child.pid)
      const counters1 = yield* countersNow(bench)

      // Phase 2: every spec changes.
      let update: OperatorResult["update"] = null
      let s2 = s1
      let proc2 = proc1
      let counters2 = counters1
      let server2 = server1
      if (run.update) {
        const updateStart = epochNow()
        yield* changeEverySpec(options.parents)
        const patchedAt = epochNow()
        const deploymentsAt = yield* observer.awaitCondition("deployments", updateStart, options.timeoutMillis)
        const updatedAt = yield* observer.awaitCondition("converged", updateStart, options.timeoutMillis)
        server2 = serverCpu(env)
        child.send("snapshot")
        s2 = yield* child.next("SNAPSHOT", options.timeoutMillis)
        proc2 = procSample(child.pid)
        counters2 = yield* countersNow(bench)
        const u = minus(s2.counts, s1.counts)
        update = {
          deploymentsMillis: deploymentsAt === undefined ? null : deploymentsAt - updateStart,
          convergedMillis: updatedAt === undefined ? null : updatedAt - updateStart,
          patchMillis: patchedAt - updateStart,
          writeCount: writesOf(u),
          readCount: readsOf(u),
          reconciles: s2.reconciles - s1.reconciles,
          cpuMillis: s2.cpuMs - s1.cpuMs,
          server: cpuDelta(server1, server2)
        }
      }

      // Phase 3: idle, through resyncs.
      let idle: OperatorResult["idle"] = null
      let proc3 = proc2
      let counters3 = counters2
      if (options.idleMillis > 0) {
        yield* Effect.sleep(options.idleMillis)
        child.send("snapshot")
        const s3 = yield* child.next("SNAPSHOT", options.timeoutMillis)
        proc3 = procSample(child.pid)
        counters3 = yield* countersNow(bench)
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
      const final = yield* child.next("FINAL", options.timeoutMillis)
      yield* child.exited
      return {
        kind: "operator",
        contender: run.contender,
        mode: run.contender === "kubefx" ? options.childMode : "compiled",
        shape: run.shape,
        concurrency: run.concurrency,
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
        proc: {
          startRssMiB: proc0.rssMiB,
          convergedRssMiB: proc1.rssMiB,
          convergedPeakRssMiB: proc1.peakRssMiB,
          peakRssMiB: proc3.peakRssMiB,
          convergeCpuMs: proc1.cpuMs - proc0.cpuMs,
          updateCpuMs: run.update ? proc2.cpuMs - proc1.cpuMs : null,
          idleCpuMs: idle === null ? null : proc3.cpuMs - proc2.cpuMs,
          totalCpuMs: proc3.cpuMs - proc0.cpuMs
        },
        requests: {
          converge: phaseRequests(counters0, counters1),
          update: run.update ? phaseRequests(counters1, counters2) : null,
          idle: idle === null ? null : phaseRequests(counters2, counters3)
        },
        update,
        idle,
        totalCpuMillis: final.cpuMs,
        totalPeakRssMiB: final.maxRssMiB,
        profile: profile === undefined ? undefined : `${options.profileDir}/${profile}`,
        pairedFloor: run.floor === undefined
          ? { convergeMillis: NaN, allCpuMillis: NaN }
          : { convergeMillis: run.floor.convergeMillis, allCpuMillis: allCpu(run.floor) }
      } satisfies OperatorResult
    }))

/**
 * kubefx with `concurrency` workers, in round `round`; `floor` is the floor measured just before it, which its
 * ratios are to (`bench/apiserver.ts`).
 *
 * @since 0.1.0
 * @category measurements
 */
export const measureKubefx = (options: ApiserverOptions, concurrency: number, round: number, floor: FloorResult) =>
  measureOperator(options, { contender: "kubefx", concurrency, round, shape: options.shapes[0] ?? "conditions", update: true, floor })

/**
 * The RSS of the kubefx child once loaded (at `STARTED`), compiled and from the sources: what type stripping
 * costs. Each child is stopped right after.
 *
 * @since 0.1.0
 * @category measurements
 */
export const measureStartRss = (options: ApiserverOptions) =>
  Effect.gen(function*() {
    const env = yield* startEnvtest("conditions")
    const rssOf = (mode: ChildMode) =>
      Effect.scoped(Effect.gen(function*() {
        const node = nodeChildCommand(mode)
        const child = yield* spawnChild(node, ["--role", "operator", "--concurrency", "4", "--resync-ms", String(options.resyncMillis), "--kubeconfig", env.kubeconfigPath])
        yield* child.next("STARTED", 60_000)
        return procSample(child.pid).rssMiB
      }))
    return { compiledMiB: yield* rssOf("compiled"), sourceMiB: yield* rssOf("source") }
  }).pipe(Effect.scoped)
