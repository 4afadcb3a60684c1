/**
 * The measured side of `bench/apiserver.ts`, in a process of its own so that its CPU time and peak RSS are
 * its own: either the echo-server operator (`--role operator`) or the raw API floor (`--role floor`: no
 * operator, parallel clients making the same writes). Both talk to the API server through kubefx's live
 * `Cluster` (`KubeCluster`), the HTTP path the operator uses, wrapped to count every request by verb
 * (`apiserver/requests.ts`).
 *
 * This file imports only what an operator binary imports (`@kubefx/core`, `@kubefx/k8s`, the example) and the
 * bench modules that need nothing else: the envtest machinery stays in the parent, so the child's memory is
 * the operator's.
 *
 * Protocol (`apiserver/protocol.ts`): the child prints lines `<TAG> <json>` on stdout (`STARTED`, `SYNCED`,
 * `SNAPSHOT`, `DONE`, `FINAL`); the operator child reads commands from stdin, one per line (`snapshot`, `exit`).
 *
 *   node --conditions=@kubefx/source bench/apiserver-child.ts --role operator --kubeconfig K [--concurrency 4] [--resync-ms 25000]
 *   node --conditions=@kubefx/source bench/apiserver-child.ts --role floor --kubeconfig K [--writes operator|classic] [--clients 16] [--parents 1000]
 *
 * @since 0.1.0
 */
import { Builtin, Child, Cluster, type Controller, Operator, Plan, type Resource, Watcher } from "@kubefx/core"
import { ClientConfig, KubeCluster } from "@kubefx/k8s"
import { Effect, Layer, Queue, Result } from "effect"
import { createInterface } from "node:readline"
import { pathToFileURL } from "node:url"
import { Directory } from "../examples/echo-server/src/Directory.ts"
import { EchoServer } from "../examples/echo-server/src/EchoServer.ts"
import { deploymentFor, EchoOperator, serviceFor, urlFor } from "../examples/echo-server/src/operator.ts"
import { emit, type FloorWrites, type Snapshot, started } from "./apiserver/protocol.ts"
import { type Counts, layerCounting, zeroCounts } from "./apiserver/requests.ts"
import { flags } from "./harness/args.ts"
import { layerWarnings, type WarningCount } from "./harness/logging.ts"
import { poll } from "./harness/poll.ts"
import { epochNow, processFigures } from "./harness/sample.ts"
import { namespace, parentObject } from "./harness/workload.ts"

/** ClientConfig from the envtest's kubeconfig (admin, mTLS) and the counted live Cluster on top. */
const clusterLayer = (kubeconfig: string, counts: Counts) =>
  layerCounting(counts).pipe(
    Layer.provide(KubeCluster.layer),
    Layer.provide(ClientConfig.layerFromKubeconfig({ paths: [kubeconfig], operatorName: EchoOperator.name }))
  )

const snapshot = (cpuStart: NodeJS.CpuUsage, counts: Counts, counter: WarningCount, reconciles = 0, failures = 0): Snapshot => ({
  ...processFigures(cpuStart),
  counts: { ...counts },
  reconciles,
  failures,
  warnings: counter.warnings
})

/** Lines of stdin as a queue of commands; stdin's end is an `exit`. */
const stdinCommands = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<string>()
  const lines = createInterface({ input: process.stdin })
  lines.on("line", (line) => Queue.offerUnsafe(queue, line.trim()))
  lines.on("close", () => Queue.offerUnsafe(queue, "exit"))
  yield* Effect.addFinalizer(() => Effect.sync(() => lines.close()))
  return queue
})

/**
 * Waits until the controller has been idle for 200 ms in a row (its own writes' watch events have come back);
 * returns when that quiet began.
 */
const awaitQuiet = (controller: Controller.Controller) => {
  let idleSince: number | undefined
  return poll(
    Effect.map(controller.isIdle, (idle) => {
      const now = epochNow()
      if (!idle) idleSince = undefined
      else if (idleSince === undefined) idleSince = now
      else if (now - idleSince >= 200) return idleSince
      return undefined
    }),
    { every: "10 millis" }
  )
}

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
  /** The Deployment's update policy: the example's `apply`, or `replace`. */
  readonly deploymentUpdate: "apply" | "replace"
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
  const counter: WarningCount = { warnings: 0 }
  return Effect.gen(function*() {
    const commands = yield* stdinCommands
    const operator = Operator.make({
      ...EchoOperator,
      children: [Child.of(Builtin.Deployment, { update: options.deploymentUpdate }), ...EchoOperator.children.filter((c) => c.type !== Builtin.Deployment)],
      maxConcurrency: options.concurrency,
      resyncPeriod: options.resyncMillis
    })
    const cpuStart = process.cpuUsage()
    emit("STARTED", started())
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
    Effect.provide(Layer.mergeAll(clusterLayer(options.kubeconfig, counts), Directory.layerMemory, layerWarnings(counter)))
  )
}

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
  const counter: WarningCount = { warnings: 0 }
  return Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    // The operator set writes to parents that exist: read them first (not timed, not counted).
    const existing = options.writes === "operator" ? (yield* Watcher.listAll(EchoServer, { namespace })).items : []
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
            { namespace, name: listed.metadata.name! },
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
    emit("STARTED", started())
    yield* Effect.forEach(Array.from({ length: options.clients }), () => client, { concurrency: "unbounded", discard: true })
    emit("DONE", snapshot(cpuStart, counts, counter))
  }).pipe(
    Effect.orDie, // the floor makes valid writes to a fresh server: a failure means the benchmark is broken
    Effect.provide(Layer.mergeAll(clusterLayer(options.kubeconfig, counts), layerWarnings(counter)))
  )
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  const args = flags(argv)
  const kubeconfig = args.value("--kubeconfig")
  if (kubeconfig === undefined) throw new Error("--kubeconfig is required")
  const role = args.value("--role")
  const writes = args.value("--writes") ?? "operator"
  if (writes !== "operator" && writes !== "classic") throw new Error(`--writes is "operator" or "classic", got ${JSON.stringify(writes)}`)
  if (role === "operator") {
    const deploymentUpdate = args.value("--deployment-update") ?? "apply"
    if (deploymentUpdate !== "apply" && deploymentUpdate !== "replace") throw new Error(`--deployment-update is "apply" or "replace", got ${JSON.stringify(deploymentUpdate)}`)
    return { role, options: { kubeconfig, concurrency: args.int("--concurrency", 4), resyncMillis: args.int("--resync-ms", 25_000), deploymentUpdate } } as const
  }
  if (role === "floor") {
    return { role, options: { kubeconfig, writes, clients: args.int("--clients", 16), parents: args.int("--parents", 1000) } } as const
  }
  throw new Error(`--role is "operator" or "floor", got ${JSON.stringify(role)}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = parseArgs(process.argv.slice(2))
  await Effect.runPromise(args.role === "operator" ? runOperator(args.options) : runFloor(args.options))
  // A --cpu-prof profile is written on exit; nothing may keep the process alive (stdin, sockets).
  process.exit(0)
}
