/**
 * One measurement each: the floor (no operator, parallel clients making the writes) and kubefx (the operator,
 * through three phases: converge, change every spec, idle). Each runs on a fresh control plane, in a child
 * process that counts its own requests, and is judged by the harness's observer.
 *
 * @since 0.1.0
 */
import { Cluster } from "@kubefx/core"
import type { Envtest } from "@kubefx/envtest"
import { Effect, type Scope } from "effect"
import { EchoServer } from "../../examples/echo-server/src/EchoServer.ts"
import { epochNow } from "../harness/sample.ts"
import { namespace, parentObject } from "../harness/workload.ts"
import { spawnChild } from "./childProcess.ts"
import { clientLayer, cpuDelta, serverCpu, startEnvtest } from "./controlPlane.ts"
import { type Observer, startObserver } from "./observer.ts"
import type { ApiserverOptions } from "./options.ts"
import type { FloorWrites } from "./protocol.ts"
import { minus, readsOf, writesOf } from "./requests.ts"
import { allCpu, type FloorResult, type KubefxResult } from "./results.ts"

/** Creates the parents from this process, 16 at a time (not measured). */
const createParents = (parents: number) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    yield* Effect.forEach(Array.from({ length: parents }, (_, i) => i), (i) => cluster.create(EchoServer, parentObject(i)), {
      concurrency: 16,
      discard: true
    })
  })

/**
 * A fresh control plane for `body`: the parents created first when `seeded`, and the observer synced, before
 * anything is measured.
 */
const onFreshServer = <A, E>(
  options: ApiserverOptions,
  seeded: boolean,
  body: (env: Envtest.Envtest, observer: Observer) => Effect.Effect<A, E, Cluster.Cluster | Scope.Scope>
) =>
  Effect.gen(function*() {
    const env = yield* startEnvtest
    return yield* Effect.gen(function*() {
      if (seeded) yield* createParents(options.parents)
      const observer = yield* startObserver(options.parents)
      yield* observer.synced
      return yield* body(env, observer)
    }).pipe(Effect.provide(clientLayer(env)))
  }).pipe(Effect.scoped)

/**
 * The floor with the write set `writes` (`operator`: on parents that exist; `classic`: creating them).
 *
 * @since 0.1.0
 * @category measurements
 */
export const measureFloor = (options: ApiserverOptions, writes: FloorWrites) =>
  onFreshServer(options, writes === "operator", (env, observer) =>
    Effect.gen(function*() {
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
    }))

/** Phase 2 of a kubefx measurement: the harness changes every parent's spec, 16 at a time. */
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
 * kubefx with `concurrency` workers, in round `round`; `floor` is the floor measured just before it, which its
 * ratios are to.
 *
 * @since 0.1.0
 * @category measurements
 */
export const measureKubefx = (options: ApiserverOptions, concurrency: number, round: number, floor: FloorResult) =>
  onFreshServer(options, true, (env, observer) =>
    Effect.gen(function*() {
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
      const started = yield* child.next("STARTED", 60_000)
      const synced = yield* child.next("SYNCED", options.timeoutMillis)
      const convergedAt = yield* observer.awaitCondition("converged", started.at, options.timeoutMillis)
      if (convergedAt === undefined) return yield* Effect.die(new Error(`kubefx (${concurrency} workers) did not converge`))
      const server1 = serverCpu(env)
      child.send("snapshot")
      const s1 = yield* child.next("SNAPSHOT", options.timeoutMillis)

      // Phase 2: every spec changes.
      const updateStart = epochNow()
      yield* changeEverySpec(options.parents)
      const patchedAt = epochNow()
      const deploymentsAt = yield* observer.awaitCondition("deployments", updateStart, options.timeoutMillis)
      const updatedAt = yield* observer.awaitCondition("converged", updateStart, options.timeoutMillis)
      const server2 = serverCpu(env)
      child.send("snapshot")
      const s2 = yield* child.next("SNAPSHOT", options.timeoutMillis)

      // Phase 3: idle, through resyncs.
      let idle: KubefxResult["idle"] = null
      if (options.idleMillis > 0) {
        yield* Effect.sleep(options.idleMillis)
        child.send("snapshot")
        const s3 = yield* child.next("SNAPSHOT", options.timeoutMillis)
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
    }))
