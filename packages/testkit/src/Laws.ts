/**
 * Laws every operator should obey, checked by property tests against the fake cluster: generate random
 * histories of parents (specs from the parent type's Schema), other writers tampering with children, and API
 * faults; run the operator under `TestClock`; then check the outcome.
 *
 * - idempotence: re-syncing a converged cluster writes nothing;
 * - convergence: the cluster settles to exactly what `sync` returns for every live parent, and a child another
 *   writer deletes comes back; a parent the operator cannot converge (its sync fails) reports it in its
 *   ReconcileError condition and keeps its children untouched; an operator that never settles (a hot loop) fails;
 * - ownership: no child outlives its owner, and a deleted parent goes (its finalizer is removed);
 * - errorSafety: a failing `sync` or `finalize` never deletes children, whatever the handler does while failing,
 *   and a sync whose API requests fail fails too instead of answering with fewer children;
 * - faults: convergence still holds after random API failures, dropped watches and compaction.
 *
 * Handlers run with the `Cluster` in context, so a handler that reads (or, against the contract, writes)
 * through it is checked as it runs.
 *
 * Generation and shrinking use `effect/Arbitrary`: a failure reports the smallest history found and a replay
 * token that reproduces it (`options.replay`), in its message and in `counterexample`.
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
import { Cluster, type Operator } from "@kubefx/core"
import { Arbitrary, Effect, Fiber, Layer, References, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as FakeCluster from "./FakeCluster.ts"
import * as Checks from "./internal/laws/checks.ts"
import * as Histories from "./internal/laws/history.ts"
import * as World from "./internal/laws/world.ts"
import * as TestKit from "./TestKit.ts"

const lawNames = ["convergence", "idempotence", "ownership", "errorSafety", "faults"] as const

/**
 * @since 0.1.0
 * @category models
 */
export type Law = typeof lawNames[number]

/**
 * @since 0.1.0
 * @category models
 */
export const allLaws: ReadonlyArray<Law> = lawNames

/**
 * The shrunk history that breaks a law, as `check` reports it: `initial` specs, the `steps` played after them,
 * how many shrinks found it, and the token that replays it (`LawOptions.replay`).
 *
 * @since 0.1.0
 * @category models
 */
export const Counterexample = Schema.Struct({
  initial: Schema.Array(Schema.Unknown),
  steps: Schema.Array(Schema.Unknown),
  shrinks: Schema.Int,
  replay: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export type Counterexample = typeof Counterexample.Type

/**
 * A law did not hold. The message names the law, what was wrong, the shrunk history and the replay token;
 * `counterexample` holds the same history as data (absent when the check could not run, e.g. a replay that no
 * longer fails).
 *
 * @since 0.1.0
 * @category errors
 */
export class LawViolation extends Schema.TaggedError<LawViolation>()("LawViolation", {
  law: Schema.Literals(lawNames),
  message: Schema.String,
  counterexample: Schema.optionalKey(Counterexample)
}) {}

/**
 * One step of a generated history.
 *
 * @since 0.1.0
 * @category models
 */
export type Step<Spec> = Histories.Step<Spec>

/**
 * A transient API failure, as the faults law injects it.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultStep = Histories.FaultStep

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
  /** Smaller histories tried after a failure, at most. Default 100. */
  readonly maxShrinks?: number
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
export type History<Spec> = Histories.History<Spec>

/** Settles, and fails when the operator did not: busy at the horizon, or stopped by the hot-loop guard. */
const settled = (w: World.World<any, any, any, any>, options?: TestKit.SettleOptions) =>
  Effect.gen(function*() {
    const outcome = yield* Effect.result(TestKit.settle(options))
    if (w.journal.hotLoop !== undefined) return yield* new World.Violation({ message: `the operator did not settle: ${w.journal.hotLoop}` })
    if (outcome._tag === "Failure") return yield* new World.Violation({ message: `the operator did not settle: ${outcome.failure.message}` })
  })

/**
 * errorSafety: converge; check that a sync whose API requests fail fails; then make every sync and finalize
 * fail and play the steps (tampering becomes waiting: another writer's deletions are not the operator's), and
 * check that every child is still the one it was.
 */
const errorSafety = <Spec>(w: World.World<Spec, any, any, any>, steps: ReadonlyArray<Step<Spec>>) =>
  Effect.gen(function*() {
    const kit = yield* TestKit.TestKit
    yield* settled(w)
    yield* Checks.checkFailsWithTheApi(w)
    const before = yield* Checks.snapshotChildren(w)
    const since = kit.requests.length
    w.journal.failAll = true
    for (const s of steps) {
      // Without a finalizer, a deleted parent's children go with it by garbage collection, as they should.
      if (s.op === "delete" && w.operator.finalize === undefined) continue
      yield* World.play(w, s.op === "tamper" ? { op: "advance", seconds: 1 } : s)
    }
    // Every reconcile fails now and backs off: this only lets the retries run for a while; how it ends does not matter.
    yield* TestKit.settle({ horizon: "2 minutes" }).pipe(Effect.ignore)
    yield* Checks.checkSurvived(w, before, since)
  })

/** The steps, then a fault-free settle, then the law's check. */
const afterHistory = <Spec>(w: World.World<Spec, any, any, any>, law: Exclude<Law, "errorSafety">, steps: ReadonlyArray<Step<Spec>>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCluster.FakeCluster
    yield* settled(w)
    for (const s of steps) {
      yield* World.play(w, s)
      yield* Effect.yieldNow
    }
    yield* fake.clearFaults
    yield* settled(w)
    switch (law) {
      case "convergence":
      case "faults":
        return yield* Checks.checkConverged(w)
      case "ownership": {
        yield* Checks.checkOwners(w)
        for (let i = 0; i < w.names.length; i++) yield* World.play(w, { op: "delete", parent: i })
        yield* settled(w)
        return yield* Checks.checkAllGone(w)
      }
      case "idempotence": {
        const kit = yield* TestKit.TestKit
        const before = kit.requests.filter((r) => Cluster.writeVerbs.has(r.verb)).length
        yield* TestClock.adjust(w.operator.resyncPeriod)
        yield* settled(w)
        const made = kit.requests.filter((r) => Cluster.writeVerbs.has(r.verb)).slice(before)
        if (made.length > 0) {
          return yield* new World.Violation({
            message: `a resync of the converged cluster wrote: ${made.map((r) => `${r.verb} ${r.resource} ${r.namespace}/${r.name}`).join(", ")}`
          })
        }
        return
      }
    }
  })

/**
 * Runs one history in a fresh cluster and checks one law.
 */
const runHistory = <Spec, Status, E, R>(
  operator: Operator.Operator<Spec, Status, E, R>,
  options: LawOptions<Spec, R>,
  law: Law,
  history: History<Spec>
): Effect.Effect<void, LawViolation> => {
  const w: World.World<Spec, Status, E, R> = {
    operator,
    names: Array.from({ length: options.parents ?? 3 }, (_, i) => `law-${i}`),
    namespace: options.namespace ?? "default",
    encodeSpec: Schema.encodeSync(operator.parent.spec as Schema.Codec<Spec, unknown>),
    journal: World.makeJournal()
  }
  const run = Effect.gen(function*() {
    const kit = yield* TestKit.TestKit
    const controller = yield* TestKit.run(World.instrument(w, kit, yield* FakeCluster.FakeCluster))
    yield* controller.synced
    for (let i = 0; i < w.names.length; i++) {
      const initial = history.initial[i]
      if (initial !== undefined) yield* World.play(w, { op: "create", parent: i, spec: initial })
    }
    return yield* law === "errorSafety" ? errorSafety(w, history.steps) : afterHistory(w, law, history.steps)
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
    const pump = yield* Effect.forkChild(Effect.forever(Effect.andThen(TestClock.adjust("1 second"), Effect.yieldNow)))
    yield* Scope.close(scope, exit)
    yield* Fiber.interrupt(pump)
    return yield* exit
  })
  // Hundreds of histories with injected failures: warnings would bury the one report that matters.
  return guarded.pipe(
    Effect.mapError((e) => new LawViolation({ law, message: e.message })),
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
      const arb = Histories.historyArbitrary(spec, options.parents ?? 3, operator.children.length * 2, options.maxSteps ?? 10, law === "faults")
      const result = yield* Arbitrary.checkEffect(
        arb,
        (history) => runHistory(operator, options, law, history).pipe(Effect.as(true)),
        {
          runs: options.runs ?? 25,
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          ...(options.replay === undefined ? {} : { replay: options.replay }),
          ...(options.maxShrinks === undefined ? {} : { maxShrinks: options.maxShrinks })
        }
      )
      if (result._tag === "Falsified") {
        const error = result.failure._tag === "ReturnedFalse" ? undefined : result.failure.error
        const detail = error instanceof LawViolation ? error.message : Arbitrary.formatCheckFailure(result)
        const shrunk = result.shrunkInput
        return yield* new LawViolation({
          law,
          message: `law ${law} does not hold: ${detail}\nshrunk history (${result.shrinks} shrinks):\n  ${Histories.describeHistory(shrunk)}\nreplay: ${result.replay}`,
          counterexample: { initial: shrunk.initial, steps: shrunk.steps, shrinks: result.shrinks, replay: result.replay }
        })
      }
      if (result._tag !== "Passed") return yield* new LawViolation({ law, message: `law ${law}: ${Arbitrary.formatCheckFailure(result)}` })
    }
  })
