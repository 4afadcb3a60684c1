/**
 * Laws every operator should obey, checked by property tests against the fake cluster: generate random
 * histories of parents (specs from the parent type's Schema), other writers tampering with children, and API
 * faults; run the operator under `TestClock`; then check the outcome.
 *
 * - idempotence: re-syncing a converged cluster writes nothing;
 * - convergence: the cluster settles to exactly what `sync` returns for every live parent;
 * - ownership: no child outlives its owner;
 * - errorSafety: a failing `sync` or `finalize` never deletes children;
 * - faults: convergence still holds after random API failures, dropped watches and compaction.
 *
 * Generation and shrinking use `effect/Arbitrary`: a failure reports the smallest history found and a replay
 * token that reproduces it (`options.replay`).
 *
 * @example
 * ```ts
 * declare const EchoOperator: Operator.Operator<{ readonly message: string }, {}, never, Directory>
 * declare class Directory extends Context.Service<Directory, {}>()("Directory") {
 *   static readonly layerMemory: Layer.Layer<Directory>
 * }
 *
 * it.effect("obeys the operator laws", () => Laws.check(EchoOperator, { provide: Directory.layerMemory }))
 * ```
 * @since 0.1.0
 */
import { Cluster, Conditions, Handler, Operator, Plan, Resource } from "@kubefx/core"
import { Arbitrary, Effect, Exit, Fiber, Layer, Option, References, Result, Schema, Scope } from "effect"
import { TestClock as TestKitClock } from "effect/testing"
import * as FakeCluster from "./FakeCluster.ts"
import * as TestKit from "./TestKit.ts"

/**
 * @since 0.1.0
 * @category models
 */
export type Law = "idempotence" | "convergence" | "ownership" | "errorSafety" | "faults"

/**
 * @since 0.1.0
 * @category models
 */
export const allLaws: ReadonlyArray<Law> = ["convergence", "idempotence", "ownership", "errorSafety", "faults"]

/**
 * A law did not hold. The message names the law, what was wrong, the shrunk history and the replay token.
 *
 * @since 0.1.0
 * @category errors
 */
export class LawViolation extends Schema.TaggedError<LawViolation>()("LawViolation", {
  law: Schema.String,
  message: Schema.String
}) {}

/**
 * One step of a generated history.
 *
 * @since 0.1.0
 * @category models
 */
export type Step<Spec> =
  | { readonly op: "create"; readonly parent: number; readonly spec: Spec }
  | { readonly op: "update"; readonly parent: number; readonly spec: Spec }
  | { readonly op: "delete"; readonly parent: number }
  | { readonly op: "tamper"; readonly parent: number; readonly child: number; readonly how: "delete" | "strip" }
  | { readonly op: "advance"; readonly seconds: number }
  /** Let the operator catch up before the next step (without it, steps race the operator). */
  | { readonly op: "settle" }
  | { readonly op: "fault"; readonly fault: FaultStep }

/**
 * A transient API failure, as the faults law injects it.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultStep =
  | { readonly kind: "error"; readonly verb: "create" | "apply" | "update" | "patch" | "delete" | "updateStatus" | "get" | "list"; readonly error: "conflict" | "tooManyRequests" | "internalError" | "unavailable" | "timeout"; readonly times: number }
  | { readonly kind: "dropWatches" }
  | { readonly kind: "compact" }
  | { readonly kind: "restart" }

/**
 * @since 0.1.0
 * @category models
 */
export interface LawOptions<Spec, R> {
  /** Layer providing what the handler needs; built afresh for every generated history. */
  readonly provide?: Layer.Layer<R>
  /** Histories per law. Default 25. */
  readonly runs?: number
  readonly seed?: string | number
  readonly replay?: Arbitrary.Replay
  /** Steps per history, at most. Default 10. */
  readonly maxSteps?: number
  /** Distinct parents a history touches. Default 3. */
  readonly parents?: number
  /** Default: `allLaws`. */
  readonly laws?: ReadonlyArray<Law>
  /** Spec generator. Default: derived from the parent type's spec Schema. */
  readonly spec?: Arbitrary.Arbitrary<Spec>
  readonly namespace?: string
}

/**
 * A generated history: every parent is created with its initial spec and the operator settles; then the steps
 * play. Starting from a converged state makes every tamper, update and fault hit something real.
 *
 * @since 0.1.0
 * @category models
 */
export interface History<Spec> {
  readonly initial: ReadonlyArray<Spec>
  readonly steps: ReadonlyArray<Step<Spec>>
}

const historyArbitrary = <Spec>(
  spec: Arbitrary.Arbitrary<Spec>,
  parents: number,
  children: number,
  maxSteps: number,
  withFaults: boolean
): Arbitrary.Arbitrary<History<Spec>> =>
  Arbitrary.map(
    Arbitrary.all({
      initial: Arbitrary.array(spec, { minLength: parents, maxLength: parents }),
      steps: stepsArbitrary(spec, parents, children, maxSteps, withFaults)
    }),
    ({ initial, steps }) => ({ initial, steps })
  )

const stepsArbitrary = <Spec>(
  spec: Arbitrary.Arbitrary<Spec>,
  parents: number,
  children: number,
  maxSteps: number,
  withFaults: boolean
): Arbitrary.Arbitrary<Array<Step<Spec>>> => {
  const parent = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: parents - 1 })))
  const child = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Math.max(0, children - 1) })))
  const kind = Arbitrary.schema(
    Schema.Literals(
      withFaults
        ? ["create", "create", "update", "delete", "tamper", "tamper", "advance", "settle", "settle", "fault", "fault"]
        : ["create", "create", "update", "delete", "tamper", "tamper", "advance", "settle", "settle"]
    )
  )
  const fault: Arbitrary.Arbitrary<FaultStep> = Arbitrary.flatMap(
    Arbitrary.schema(Schema.Literals(["error", "error", "error", "dropWatches", "compact", "restart"])),
    (k): Arbitrary.Arbitrary<FaultStep> =>
      k === "error"
        ? Arbitrary.map(
          Arbitrary.all({
            verb: Arbitrary.schema(Schema.Literals(["create", "apply", "update", "patch", "delete", "updateStatus", "get", "list"])),
            error: Arbitrary.schema(Schema.Literals(["conflict", "tooManyRequests", "internalError", "unavailable", "timeout"])),
            times: Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3 })))
          }),
          (e) => ({ kind: "error" as const, ...e })
        )
        : Arbitrary.Constant({ kind: k } as FaultStep)
  )
  const step: Arbitrary.Arbitrary<Step<Spec>> = Arbitrary.flatMap(kind, (k): Arbitrary.Arbitrary<Step<Spec>> => {
    switch (k) {
      case "create":
      case "update":
        return Arbitrary.map(Arbitrary.all({ parent, spec }), ({ parent, spec }) => ({ op: k, parent, spec }))
      case "delete":
        return Arbitrary.map(parent, (p) => ({ op: "delete" as const, parent: p }))
      case "tamper":
        return Arbitrary.map(
          Arbitrary.all({ parent, child, how: Arbitrary.schema(Schema.Literals(["delete", "strip"])) }),
          ({ parent, child, how }) => ({ op: "tamper" as const, parent, child, how })
        )
      case "settle":
        return Arbitrary.Constant({ op: "settle" as const })
      case "advance":
        return Arbitrary.map(
          Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 30 }))),
          (seconds) => ({ op: "advance" as const, seconds })
        )
      default:
        return Arbitrary.map(fault, (f) => ({ op: "fault" as const, fault: f }))
    }
  })
  return Arbitrary.array(step, { minLength: 1, maxLength: maxSteps })
}

const violation = (law: Law, message: string) => new LawViolation({ law, message })

const faultError = (e: Extract<FaultStep, { kind: "error" }>["error"]): FakeCluster.FaultError =>
  e === "conflict"
    ? FakeCluster.errors.conflict()
    : e === "tooManyRequests"
    ? FakeCluster.errors.tooManyRequests(1)
    : e === "internalError"
    ? FakeCluster.errors.internalError()
    : e === "unavailable"
    ? FakeCluster.errors.unavailable()
    : FakeCluster.errors.timeout("5 seconds")

/** Everything a law needs to run one history. */
interface World<Spec, Status, E, R> {
  readonly operator: Operator.Operator<Spec, Status, E, R>
  readonly names: ReadonlyArray<string>
  readonly namespace: string
  readonly encodeSpec: (spec: Spec) => unknown
}

const parentObject = <Spec>(w: World<Spec, any, any, any>, i: number, spec: Spec): Resource.KubeObject => ({
  apiVersion: w.operator.parent.apiVersion,
  kind: w.operator.parent.kind,
  metadata: { name: w.names[i]!, ...(w.operator.parent.namespaced ? { namespace: w.namespace } : {}) },
  spec: w.encodeSpec(spec)
})

const address = (w: World<any, any, any, any>, i: number) => ({
  ...(w.operator.parent.namespaced ? { namespace: w.namespace } : {}),
  name: w.names[i]!
})

/**
 * Runs one of the test's own requests. They meet the injected faults too (a timeout hangs on the TestClock), so
 * the clock moves while one is pending, or the history would wait for itself. `None` when it failed.
 */
const pumped = <A, E>(e: Effect.Effect<A, E>): Effect.Effect<Option.Option<A>> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.option(e))
    for (let i = 0; i < 120 && fiber.pollUnsafe() === undefined; i++) {
      for (let j = 0; j < 8; j++) yield* Effect.yieldNow
      if (fiber.pollUnsafe() === undefined) yield* TestKitClock.adjust("1 second")
    }
    const exit = fiber.pollUnsafe()
    if (exit === undefined) {
      yield* Fiber.interrupt(fiber)
      return Option.none()
    }
    return Exit.isSuccess(exit) ? exit.value : Option.none()
  })

/** Plays one step as a user (parents) or another writer (children). Failures of the step itself are ignored: a step may be invalid now. */
const play = <Spec>(w: World<Spec, any, any, any>, step: Step<Spec>) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    const fake = yield* FakeCluster.FakeCluster
    const ignore = <A, E>(e: Effect.Effect<A, E>) => Effect.asVoid(pumped(e))
    switch (step.op) {
      case "create":
        return yield* ignore(fake.seed(w.operator.parent, [parentObject(w, step.parent, step.spec)]))
      case "update":
        return yield* ignore(
          cluster.patch(w.operator.parent, address(w, step.parent), { type: "merge", body: { spec: w.encodeSpec(step.spec) } }).pipe(
            Effect.catchTag("Invalid", () =>
              // A merge patch cannot remove keys it does not name: replace the spec wholesale instead.
              Effect.flatMap(cluster.get(w.operator.parent, address(w, step.parent)), (current) =>
                cluster.replace(w.operator.parent, { ...current, spec: w.encodeSpec(step.spec) })))
          )
        )
      case "delete":
        return yield* ignore(cluster.delete(w.operator.parent, address(w, step.parent)))
      case "tamper": {
        const parent = yield* pumped(cluster.get(w.operator.parent, address(w, step.parent)))
        if (parent._tag === "None") return
        const owned: Array<{ type: Resource.ResourceType; object: Resource.KubeObject }> = []
        for (const c of w.operator.children) {
          for (const o of yield* fake.objects(c.type)) {
            if (Resource.controllerOf(o)?.uid === parent.value.metadata.uid) owned.push({ type: c.type, object: o })
          }
        }
        const target = owned[step.child % Math.max(1, owned.length)]
        if (target === undefined) return
        const at = { namespace: target.object.metadata.namespace ?? "", name: target.object.metadata.name ?? "" }
        if (step.how === "delete") return yield* ignore(cluster.delete(target.type, at))
        // Another writer replaces everything but identity and metadata: every declared field must come back.
        const stripped: Resource.KubeObject = { apiVersion: target.object.apiVersion, kind: target.object.kind, metadata: target.object.metadata }
        return yield* ignore(cluster.replace(target.type, stripped, { fieldManager: "tamperer" }))
      }
      case "advance":
        return yield* TestKitClock.adjust(`${step.seconds} seconds`)
      case "settle":
        return yield* Effect.ignore(TestKit.settle({ horizon: "1 minute" }))
      case "fault": {
        const f = step.fault
        switch (f.kind) {
          case "error":
            return yield* fake.failNext({ verb: f.verb, times: f.times, error: faultError(f.error) })
          case "dropWatches":
            return yield* fake.dropWatches({ error: true })
          case "compact":
            return yield* fake.compact
          case "restart":
            return yield* fake.restart
        }
      }
    }
  })

/** For every live parent: the plan from what `sync` returns now to what the cluster holds is empty, and status is current. */
const checkConverged = <Spec, Status, E, R>(w: World<Spec, Status, E, R>, law: Law) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const op = w.operator
    const parents = yield* fake.objects(op.parent)
    const childObjects: Array<{ type: Resource.ResourceType; object: Resource.KubeObject }> = []
    for (const c of op.children) for (const o of yield* fake.objects(c.type)) childObjects.push({ type: c.type, object: o })
    const decode = Schema.decodeUnknownExit(op.parent.spec)
    for (const parent of parents) {
      const name = Resource.keyOf(Resource.refOf(parent))
      if (parent.metadata.deletionTimestamp !== undefined) continue
      const spec = decode(parent["spec"])
      if (Exit.isFailure(spec)) continue
      const uid = parent.metadata.uid ?? ""
      const mine = childObjects.filter((c) => Resource.controllerOf(c.object)?.uid === uid)
      const request: Handler.SyncRequest<Spec, Status> = {
        parent: { ...parent, spec: spec.value } as Resource.CustomObject<Spec, Status>,
        children: Handler.makeChildren(mine.map((c) => c.object), parent.metadata.namespace ?? "")
      }
      const response = yield* Effect.exit(op.sync(request))
      if (Exit.isFailure(response)) continue
      const desired = Plan.desiredChildren(op.name, { object: parent, type: op.parent }, response.value.children, op.children)
      if (Result.isFailure(desired)) continue
      // Checked without the engine's own diff, so a bug there cannot hide here.
      const missing: Array<string> = []
      for (const d of desired.success) {
        const found = mine.find((m) =>
          m.object.kind === d.object.kind && m.object.apiVersion === d.object.apiVersion &&
          m.object.metadata.name === d.object.metadata.name && (m.object.metadata.namespace ?? "") === (d.object.metadata.namespace ?? "")
        )
        if (found === undefined) {
          const squatter = childObjects.some((c) => c.object.kind === d.object.kind && c.object.metadata.name === d.object.metadata.name && (c.object.metadata.namespace ?? "") === (d.object.metadata.namespace ?? ""))
          if (!squatter) missing.push(`${d.object.kind}/${d.object.metadata.name} is missing`)
        } else if (d.update !== "onDelete" && !covers(d.object, found.object)) {
          missing.push(`${d.object.kind}/${d.object.metadata.name} differs from what sync returns`)
        }
      }
      for (const m of mine) {
        if (!desired.success.some((d) => d.object.kind === m.object.kind && d.object.metadata.name === m.object.metadata.name)) {
          missing.push(`${m.object.kind}/${m.object.metadata.name} is owned but no longer desired`)
        }
      }
      if (missing.length > 0) return yield* violation(law, `${name} did not converge: ${missing.join("; ")}`)
      const plan = { blocked: [] as ReadonlyArray<unknown> }
      const status = (parent["status"] ?? {}) as { observedGeneration?: number }
      if (plan.blocked.length === 0 && status.observedGeneration !== parent.metadata.generation) {
        return yield* violation(law, `${name}: status.observedGeneration is ${status.observedGeneration}, generation ${parent.metadata.generation}`)
      }
      const error = Conditions.get(Conditions.fromStatus(parent["status"]), Conditions.ReconcileError)
      if (plan.blocked.length === 0 && error?.status === "True") {
        return yield* violation(law, `${name} converged but reports ReconcileError: ${error.message}`)
      }
    }
  })

const checkOwnership = (w: World<any, any, any, any>, law: Law) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const uids = new Set((yield* fake.objects(w.operator.parent)).map((p) => p.metadata.uid))
    for (const c of w.operator.children) {
      for (const o of yield* fake.objects(c.type)) {
        const owner = Resource.controllerOf(o)
        if (owner?.kind === w.operator.parent.kind && !uids.has(owner.uid)) {
          return yield* violation(law, `${o.kind} ${o.metadata.namespace}/${o.metadata.name} outlived its owner ${owner.name} (${owner.uid})`)
        }
      }
    }
  })

/** Every value in `desired` is in `observed` (extra keys in `observed` are server defaults or others' fields). */
const covers = (desired: unknown, observed: unknown): boolean => {
  if (Array.isArray(desired)) {
    return Array.isArray(observed) && desired.length === observed.length && desired.every((d, i) => covers(d, observed[i]))
  }
  if (desired !== null && typeof desired === "object") {
    return observed !== null && typeof observed === "object" && !Array.isArray(observed) &&
      Object.entries(desired).every(([k, v]) => v === undefined || covers(v, (observed as Record<string, unknown>)[k]))
  }
  return desired === observed
}

const describeHistory = (h: History<unknown>) =>
  [`initial specs: ${JSON.stringify(h.initial)}`, ...h.steps.map((s) => JSON.stringify(s))].join("\n  ")

/**
 * Runs one history in a fresh cluster and checks one law.
 */
const runHistory = <Spec, Status, E, R>(
  operator: Operator.Operator<Spec, Status, E, R>,
  options: LawOptions<Spec, R>,
  law: Law,
  history: History<Spec>
): Effect.Effect<void, LawViolation> => {
  const steps = history.steps
  const names = Array.from({ length: options.parents ?? 3 }, (_, i) => `law-${i}`)
  const w: World<Spec, Status, E, R> = {
    operator,
    names,
    namespace: options.namespace ?? "default",
    encodeSpec: Schema.encodeSync(operator.parent.spec as Schema.Codec<Spec, unknown>)
  }
  const failing = new Set<string>()
  const run = Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    const subject = law === "errorSafety"
      ? Operator.make({
        ...operator,
        sync: (req) => failing.has(req.parent.metadata.name ?? "") ? Effect.die(new Error("sync fails (law errorSafety)")) : operator.sync(req),
        finalize: operator.finalize === undefined ? undefined : (req) =>
          failing.has(req.parent.metadata.name ?? "") ? Effect.die(new Error("finalize fails (law errorSafety)")) : operator.finalize!(req)
      })
      : operator
    const controller = yield* TestKit.run(subject)
    yield* controller.synced
    for (let i = 0; i < names.length; i++) {
      const initial = history.initial[i]
      if (initial !== undefined) yield* play(w, { op: "create", parent: i, spec: initial })
    }
    if (law === "errorSafety") {
      // Converge the starting state first; then every parent's sync and finalize fail while the history plays.
      yield* TestKit.settle().pipe(Effect.mapError((e) => violation(law, e.message)))
      const before = new Map<string, string>()
      for (const c of operator.children) for (const o of yield* fake.objects(c.type)) before.set(`${Resource.typeKey(c.type)}|${o.metadata.namespace}/${o.metadata.name}`, o.metadata.uid ?? "")
      for (const n of names) failing.add(n)
      for (const s of steps) if (s.op !== "delete" || operator.finalize !== undefined) yield* play(w, s.op === "tamper" ? { op: "advance", seconds: 1 } : s)
      yield* TestKit.settle({ horizon: "2 minutes" }).pipe(Effect.ignore)
      for (const c of operator.children) {
        const now = new Map((yield* fake.objects(c.type)).map((o) => [`${Resource.typeKey(c.type)}|${o.metadata.namespace}/${o.metadata.name}`, o.metadata.uid ?? ""]))
        for (const [k, uid] of before) {
          if (k.startsWith(`${Resource.typeKey(c.type)}|`) && now.get(k) !== uid) {
            return yield* violation(law, `${k} was deleted or replaced while sync/finalize were failing`)
          }
        }
      }
      return
    }
    yield* TestKit.settle().pipe(Effect.mapError((e) => violation(law, e.message)))
    for (const s of steps) {
      yield* play(w, s)
      yield* Effect.yieldNow
    }
    yield* fake.clearFaults
    yield* TestKit.settle().pipe(Effect.mapError((e) => violation(law, e.message)))
    switch (law) {
      case "convergence":
      case "faults":
        return yield* checkConverged(w, law)
      case "ownership": {
        yield* checkOwnership(w, law)
        for (let i = 0; i < names.length; i++) yield* play(w, { op: "delete", parent: i })
        yield* TestKit.settle().pipe(Effect.mapError((e) => violation(law, e.message)))
        for (const c of operator.children) {
          const left = (yield* fake.objects(c.type)).filter((o) => Resource.controllerOf(o)?.kind === operator.parent.kind)
          if (left.length > 0) return yield* violation(law, `${left.length} ${c.type.kind}(s) left after every parent was deleted`)
        }
        return
      }
      case "idempotence": {
        const kit = yield* TestKit.TestKit
        const before = kit.requests.filter((r) => Cluster.writeVerbs.has(r.verb)).length
        yield* TestKitClock.adjust(operator.resyncPeriod)
        yield* TestKit.settle().pipe(Effect.mapError((e) => violation(law, e.message)))
        const made = kit.requests.filter((r) => Cluster.writeVerbs.has(r.verb)).slice(before)
        if (made.length > 0) {
          return yield* violation(law, `a resync of the converged cluster wrote: ${made.map((r) => `${r.verb} ${r.resource} ${r.namespace}/${r.name}`).join(", ")}`)
        }
        return
      }
    }
  })
  const env = Layer.mergeAll(
    FakeCluster.layer({ types: [operator.parent] }),
    TestKit.TestKit.layer,
    (options.provide ?? Layer.empty) as Layer.Layer<R>
  )
  // The operator stops when the history's scope closes, waiting for in-flight reconciles up to its shutdown
  // timeout, on the TestClock: keep the clock moving meanwhile, or a history that ends with a call in flight
  // (a violation found mid-way, an injected timeout) would wait for ever.
  const guarded = Effect.gen(function*() {
    const scope = yield* Scope.make()
    const exit = yield* Effect.exit(run.pipe(Scope.provide(scope)))
    const pump = yield* Effect.forkChild(Effect.forever(Effect.andThen(TestKitClock.adjust("1 second"), Effect.yieldNow)))
    yield* Scope.close(scope, exit)
    yield* Fiber.interrupt(pump)
    return yield* exit
  })
  // Hundreds of histories with injected failures: warnings would bury the one report that matters.
  return guarded.pipe(
    Effect.provide(env),
    Effect.provideService(References.MinimumLogLevel, "Error")
  ) as Effect.Effect<void, LawViolation>
}

/**
 * Checks laws for an operator: for each law, `runs` random histories, each in a fresh fake cluster under the
 * current `TestClock`. Fails with the first `LawViolation`, after shrinking the history.
 *
 * @since 0.1.0
 * @category checking
 */
export const check = <Spec, Status, E, R>(
  operator: Operator.Operator<Spec, Status, E, R>,
  options: LawOptions<Spec, R> = {}
): Effect.Effect<void, LawViolation> =>
  Effect.gen(function*() {
    const spec = options.spec ?? (Arbitrary.schema(operator.parent.spec as Schema.Codec<Spec, unknown>) as Arbitrary.Arbitrary<Spec>)
    for (const law of options.laws ?? allLaws) {
      const arb = historyArbitrary(spec, options.parents ?? 3, operator.children.length * 2, options.maxSteps ?? 10, law === "faults")
      const result = yield* Arbitrary.checkEffect(
        arb,
        (history) => runHistory(operator, options, law, history).pipe(Effect.as(true)),
        {
          runs: options.runs ?? 25,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          ...(options.replay === undefined ? {} : { replay: options.replay })
        }
      )
      if (result._tag === "Falsified") {
        const error = result.failure._tag === "ReturnedFalse" ? undefined : result.failure.error
        const detail = error instanceof LawViolation ? error.message : Arbitrary.formatCheckFailure(result)
        return yield* violation(
          law,
          `law ${law} does not hold: ${detail}\nshrunk history (${result.shrinks} shrinks):\n  ${describeHistory(result.shrunkInput)}\nreplay: ${result.replay}`
        )
      }
      if (result._tag !== "Passed") return yield* violation(law, `law ${law}: ${Arbitrary.formatCheckFailure(result)}`)
    }
  })
