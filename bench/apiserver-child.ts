/**
 * The measured side of `bench/apiserver.ts`, in a process of its own so that its CPU time and peak RSS are
 * its own: either the echo-server operator (`--role operator`) or the raw API floor (`--role floor`: no
 * operator, parallel clients making the same writes). Both talk to the API server through kubefx's live
 * `Cluster` (`KubeCluster`), the HTTP path the operator uses, wrapped to count every request by verb.
 *
 * This file imports only what an operator binary imports (`@kubefx/core`, `@kubefx/k8s`, the example): the
 * envtest machinery stays in the parent, so the child's memory is the operator's.
 *
 * Protocol: the child prints lines `<TAG> <json>` on stdout (`STARTED`, `SYNCED`, `SNAPSHOT`, `DONE`,
 * `FINAL`); the operator child reads commands from stdin, one per line (`snapshot`, `exit`).
 *
 *   node --conditions=@kubefx/source bench/apiserver-child.ts --role operator --kubeconfig K [--concurrency 4] [--resync-ms 25000]
 *   node --conditions=@kubefx/source bench/apiserver-child.ts --role floor --kubeconfig K [--writes operator|classic] [--clients 16] [--parents 1000]
 *
 * @since 0.1.0
 */
import { Builtin, Cluster, type ClusterError, Logging, Operator, Plan, type Resource, Watcher } from "@kubefx/core"
import { ClientConfig, KubeCluster } from "@kubefx/k8s"
import { Effect, Layer, Logger, Queue, References, Result, Stream } from "effect"
import { createInterface } from "node:readline"
import { pathToFileURL } from "node:url"
import { Directory } from "../examples/echo-server/src/Directory.ts"
import { EchoServer } from "../examples/echo-server/src/EchoServer.ts"
import { deploymentFor, EchoOperator, serviceFor, urlFor } from "../examples/echo-server/src/operator.ts"

/**
 * The port's methods, counted separately.
 *
 * @since 0.1.0
 * @category models
 */
export type Verb = "get" | "list" | "watch" | "create" | "replace" | "apply" | "patch" | "delete" | "replaceStatus" | "patchStatus"

/**
 * Requests made, by verb. A watch counts once per (re)connection; retries inside `KubeCluster` (429, 5xx) are not
 * counted again.
 *
 * @since 0.1.0
 * @category models
 */
export type Counts = Record<Verb, number>

/**
 * The verbs that change the cluster.
 *
 * @since 0.1.0
 * @category constants
 */
export const writeVerbs: ReadonlyArray<Verb> = ["create", "replace", "apply", "patch", "delete", "replaceStatus", "patchStatus"]

/**
 * Figures of the child process at one moment. Times are epoch milliseconds (`performance.timeOrigin +
 * performance.now()`), comparable across the processes of one machine.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly at: number
  /** CPU time (user + system, all threads) since `STARTED`. */
  readonly cpuMs: number
  /** The kernel's high-water mark of the process's RSS (`getrusage` `ru_maxrss`), from its start. */
  readonly maxRssMiB: number
  readonly rssMiB: number
  readonly heapMiB: number
  readonly counts: Counts
  /** Operator only (0 for the floor). */
  readonly reconciles: number
  readonly failures: number
  /** Log lines at level Warn or above so far. */
  readonly warnings: number
}

/**
 * `STARTED`: just before the measured work begins (the operator's `Operator.run`; the floor's first write).
 *
 * @since 0.1.0
 * @category models
 */
export interface Started {
  readonly at: number
  /** RSS at that moment: Node, Effect and the code loaded. */
  readonly rssMiB: number
}

const MiB = 1024 * 1024

/**
 * Now, as epoch milliseconds with sub-millisecond precision.
 *
 * @since 0.1.0
 * @category utils
 */
export const epochNow = (): number => performance.timeOrigin + performance.now()

/**
 * The parent object `i` of the workload (the same in every measurement).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parentObject = (i: number, message = `hello ${i}`): Resource.KubeObject => ({
  apiVersion: EchoServer.apiVersion,
  kind: EchoServer.kind,
  metadata: { name: `echo-${i}`, namespace: "default" },
  spec: { message, replicas: 1 }
})

const emit = (tag: string, value: unknown) => process.stdout.write(`${tag} ${JSON.stringify(value)}\n`)

const zeroCounts = (): Counts => ({
  get: 0,
  list: 0,
  watch: 0,
  create: 0,
  replace: 0,
  apply: 0,
  patch: 0,
  delete: 0,
  replaceStatus: 0,
  patchStatus: 0
})

/** The live `Cluster`, each call counted when it runs. */
const countingCluster = (counts: Counts) =>
  Layer.effect(
    Cluster.Cluster,
    Effect.gen(function*() {
      const inner = yield* Cluster.Cluster
      const tally = <A>(verb: Verb, call: () => Effect.Effect<A, ClusterError.ClusterError>) =>
        Effect.suspend(() => {
          counts[verb]++
          return call()
        })
      return Cluster.Cluster.of({
        get: (type, address) => tally("get", () => inner.get(type, address)),
        list: (type, options) => tally("list", () => inner.list(type, options)),
        watch: (type, options) =>
          Stream.suspend(() => {
            counts.watch++
            return inner.watch(type, options)
          }),
        create: (type, object, options) => tally("create", () => inner.create(type, object, options)),
        replace: (type, object, options) => tally("replace", () => inner.replace(type, object, options)),
        apply: (type, object, options) => tally("apply", () => inner.apply(type, object, options)),
        patch: (type, address, patch, options) => tally("patch", () => inner.patch(type, address, patch, options)),
        delete: (type, address, options) => tally("delete", () => inner.delete(type, address, options)),
        replaceStatus: (type, object, options) => tally("replaceStatus", () => inner.replaceStatus(type, object, options)),
        patchStatus: (type, address, patch, options) => tally("patchStatus", () => inner.patchStatus(type, address, patch, options))
      })
    })
  )

/** ClientConfig from the envtest's kubeconfig (admin, mTLS) and the counted live Cluster on top. */
const clusterLayer = (kubeconfig: string, counts: Counts) =>
  countingCluster(counts).pipe(
    Layer.provide(KubeCluster.layer),
    Layer.provide(ClientConfig.layerFromKubeconfig({ paths: [kubeconfig], operatorName: EchoOperator.name }))
  )

/** Warnings go to stderr (the first few) and are counted; lower levels are not even formatted. */
const loggingLayer = (counter: { warnings: number }) => {
  const human = Logging.human((line) => {
    counter.warnings++
    if (counter.warnings <= 10) process.stderr.write(`${line}\n`)
  })
  return Layer.mergeAll(Logger.layer([human]), Layer.succeed(References.MinimumLogLevel, "Warn"))
}

const snapshot = (
  cpuStart: NodeJS.CpuUsage,
  counts: Counts,
  counter: { warnings: number },
  reconciles = 0,
  failures = 0
): Snapshot => {
  const cpu = process.cpuUsage(cpuStart)
  const memory = process.memoryUsage()
  return {
    at: epochNow(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    rssMiB: memory.rss / MiB,
    heapMiB: memory.heapUsed / MiB,
    counts: { ...counts },
    reconciles,
    failures,
    warnings: counter.warnings
  }
}

/** Lines of stdin as a queue of commands; stdin's end is an `exit`. */
const stdinCommands = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<string>()
  const lines = createInterface({ input: process.stdin })
  lines.on("line", (line) => Queue.offerUnsafe(queue, line.trim()))
  lines.on("close", () => Queue.offerUnsafe(queue, "exit"))
  yield* Effect.addFinalizer(() => Effect.sync(() => lines.close()))
  return queue
})

/** Waits until the controller has been idle for 200 ms in a row (its own writes' watch events have come back). */
const awaitQuiet = (controller: Operator.Controller) =>
  Effect.gen(function*() {
    let idleSince: number | undefined
    while (true) {
      const idle = yield* controller.isIdle
      const now = epochNow()
      if (!idle) idleSince = undefined
      else if (idleSince === undefined) idleSince = now
      else if (now - idleSince >= 200) return idleSince
      yield* Effect.sleep("10 millis")
    }
  })

/**
 * Options of the operator child.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorOptions {
  readonly kubeconfig: string
  readonly concurrency: number
  readonly resyncMillis: number
}

/**
 * The echo-server operator against the server in `kubeconfig`, until told to exit. On `snapshot` it waits until
 * the controller is quiet and prints its figures.
 *
 * @since 0.1.0
 * @category running
 */
export const runOperator = (options: OperatorOptions) => {
  const counts = zeroCounts()
  const counter = { warnings: 0 }
  return Effect.gen(function*() {
    const commands = yield* stdinCommands
    const operator = Operator.make({ ...EchoOperator, maxConcurrency: options.concurrency, resyncPeriod: options.resyncMillis })
    const cpuStart = process.cpuUsage()
    emit("STARTED", { at: epochNow(), rssMiB: process.memoryUsage().rss / MiB } satisfies Started)
    const controller = yield* Operator.run(operator)
    yield* controller.synced
    emit("SYNCED", { at: epochNow() })
    while (true) {
      const command = yield* Queue.take(commands)
      if (command === "exit") break
      if (command === "snapshot") {
        const quietSince = yield* awaitQuiet(controller)
        const stats = yield* controller.stats
        emit("SNAPSHOT", { ...snapshot(cpuStart, counts, counter, stats.reconciles, stats.failures), quietSince })
      }
    }
    return cpuStart
  }).pipe(
    Effect.scoped, // closing it shuts the operator down gracefully
    Effect.map((cpuStart) => emit("FINAL", snapshot(cpuStart, counts, counter))),
    Effect.provide(Layer.mergeAll(clusterLayer(options.kubeconfig, counts), Directory.layerMemory, loggingLayer(counter)))
  )
}

/**
 * What the floor writes per parent. `operator`: exactly the writes kubefx's echo operator makes for a parent that
 * exists (finalizer merge patch, Deployment server-side apply, Service create, status update), with the same
 * bodies. `classic`: measured.md's set (parent create, Deployment create, Service create, status update).
 *
 * @since 0.1.0
 * @category models
 */
export type FloorWrites = "operator" | "classic"

/**
 * Options of the floor child.
 *
 * @since 0.1.0
 * @category models
 */
export interface FloorOptions {
  readonly kubeconfig: string
  readonly writes: FloorWrites
  readonly clients: number
  readonly parents: number
}

const fieldManager = EchoOperator.fieldManager

/** The status the operator writes for a parent whose Deployment is not available yet (no controller-manager runs). */
const statusFor = (parent: Resource.KubeObject) => {
  const ts = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z")
  const generation = parent.metadata.generation ?? 1
  return {
    ready: false,
    availableReplicas: 0,
    url: urlFor(parent as never),
    conditions: [
      { type: "Ready", status: "False", reason: "Progressing", message: "0/1 replicas available", observedGeneration: generation, lastTransitionTime: ts },
      { type: "ReconcileError", status: "False", reason: "Synced", message: "", observedGeneration: generation, lastTransitionTime: ts }
    ],
    observedGeneration: generation
  }
}

/** The operator's Deployment and Service for `parent`, normalized as the engine does (owner reference, label, hash). */
const childrenFor = (parent: Resource.KubeObject) => {
  const desired = Plan.desiredChildren(
    EchoOperator.name,
    { object: parent, type: EchoServer },
    [deploymentFor(parent as never), serviceFor(parent as never)],
    EchoOperator.children
  )
  if (Result.isFailure(desired)) throw new Error(desired.failure.message)
  const [deployment, service] = desired.success
  return { deployment: deployment!.object, service: service!.object }
}

/**
 * The raw API floor: `clients` fibers take parents from a shared counter and make each parent's writes in order.
 *
 * @since 0.1.0
 * @category running
 */
export const runFloor = (options: FloorOptions) => {
  const counts = zeroCounts()
  const counter = { warnings: 0 }
  return Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    // The operator set writes to parents that exist: read them first (not timed, not counted).
    const existing = options.writes === "operator" ? (yield* Watcher.listAll(EchoServer, { namespace: "default" })).items : []
    if (options.writes === "operator" && existing.length !== options.parents) {
      return yield* Effect.die(new Error(`expected ${options.parents} parents, found ${existing.length}`))
    }
    Object.assign(counts, zeroCounts())
    const perParent = (i: number) =>
      Effect.gen(function*() {
        let parent: Resource.KubeObject
        if (options.writes === "operator") {
          const listed = existing[i]!
          parent = yield* cluster.patch(
            EchoServer,
            { namespace: "default", name: listed.metadata.name! },
            { type: "merge", body: { metadata: { finalizers: [EchoOperator.finalizerName], resourceVersion: listed.metadata.resourceVersion } } },
            { fieldManager }
          )
          const { deployment, service } = childrenFor(parent)
          yield* cluster.apply(Builtin.Deployment, deployment, { fieldManager, force: true })
          yield* cluster.create(Builtin.Service, service, { fieldManager })
        } else {
          parent = yield* cluster.create(EchoServer, parentObject(i))
          const { deployment, service } = childrenFor(parent)
          yield* cluster.create(Builtin.Deployment, deployment, { fieldManager })
          yield* cluster.create(Builtin.Service, service, { fieldManager })
        }
        yield* cluster.replaceStatus(EchoServer, { ...parent, status: statusFor(parent) }, { fieldManager })
      })
    let next = 0
    const client = Effect.gen(function*() {
      while (next < options.parents) yield* perParent(next++)
    })
    const cpuStart = process.cpuUsage()
    emit("STARTED", { at: epochNow(), rssMiB: process.memoryUsage().rss / MiB } satisfies Started)
    yield* Effect.forEach(Array.from({ length: options.clients }), () => client, { concurrency: "unbounded", discard: true })
    emit("DONE", snapshot(cpuStart, counts, counter))
  }).pipe(
    Effect.orDie, // the floor makes valid writes to a fresh server: a failure means the benchmark is broken
    Effect.provide(Layer.mergeAll(clusterLayer(options.kubeconfig, counts), loggingLayer(counter)))
  )
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  const value = (flag: string) => {
    const i = argv.indexOf(flag)
    return i === -1 ? undefined : argv[i + 1]
  }
  const int = (flag: string, fallback: number) => {
    const raw = value(flag)
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${JSON.stringify(raw)}`)
    return n
  }
  const kubeconfig = value("--kubeconfig")
  if (kubeconfig === undefined) throw new Error("--kubeconfig is required")
  const role = value("--role")
  const writes = value("--writes") ?? "operator"
  if (writes !== "operator" && writes !== "classic") throw new Error(`--writes is "operator" or "classic", got ${JSON.stringify(writes)}`)
  if (role === "operator") {
    return { role, options: { kubeconfig, concurrency: int("--concurrency", 4), resyncMillis: int("--resync-ms", 25_000) } } as const
  }
  if (role === "floor") {
    return { role, options: { kubeconfig, writes, clients: int("--clients", 16), parents: int("--parents", 1000) } } as const
  }
  throw new Error(`--role is "operator" or "floor", got ${JSON.stringify(role)}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = parseArgs(process.argv.slice(2))
  await Effect.runPromise(args.role === "operator" ? runOperator(args.options) : runFloor(args.options))
  // A --cpu-prof profile is written on exit; nothing may keep the process alive (stdin, sockets).
  process.exit(0)
}
