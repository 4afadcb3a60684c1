/**
 * The law checker against operators that each break one law: a checker proves nothing unless it fails on broken
 * input. Each test asserts that `Laws.check` reports the intended law for the intended reason, with a shrunk
 * counterexample and its replay token; the controls, of the same shape and run with the same options, obey every
 * law, so a report is the bug's doing and not the checker's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Builtin, Child, Cluster, type Handler, Operator, Resource } from "@kubefx/core"
import { Clock, Data, Effect, Schema } from "effect"
import { Laws } from "../src/index.ts"

const Toy = Resource.custom({
  group: "laws.kubefx.io",
  version: "v1",
  kind: "Toy",
  plural: "toys",
  spec: Schema.Struct({ text: Schema.String, fail: Schema.optionalKey(Schema.Boolean) }),
  status: Schema.Struct({ created: Schema.optionalKey(Schema.Boolean) })
})
type Spec = typeof Toy.spec.Type
type Status = typeof Toy.status.Type
type Request = Handler.SyncRequest<Spec, Status>

const configMapFor = (req: Request, data: Record<string, string> = {}): Builtin.ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: `${req.parent.metadata.name}-toy` },
  data: { text: req.parent.spec.text, ...data }
})

const secretFor = (req: Request): Builtin.Secret => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: `${req.parent.metadata.name}-toy` },
  stringData: { text: req.parent.spec.text }
})

const addressOf = (req: Request) => ({ namespace: req.parent.metadata.namespace ?? "", name: req.parent.metadata.name ?? "" })

const toy = <E, R>(name: string, sync: Handler.Sync<Spec, Status, E, R>, finalize?: Handler.Finalize<Spec, Status, E, R>) =>
  Operator.make({ name, parent: Toy, children: [Child.of(Builtin.ConfigMap)], sync, finalize })

class Refused extends Data.TaggedError("Refused")<{ readonly message: string }> {}

// --- controls ---

/** One ConfigMap per Toy, nothing else. */
const Correct = toy("correct", (req) => Effect.succeed({ status: {}, children: [configMapFor(req)] }))

/**
 * More of the engine in play: two child types with different update policies, a finalize, a sync that reads the
 * API (and fails when it cannot), and a spec that decides to drop a child (`fail`: an empty list is a decision,
 * not an error).
 */
const CorrectToo = Operator.make({
  name: "correct-too",
  parent: Toy,
  children: [Child.of(Builtin.ConfigMap), Child.of(Builtin.Secret, { update: "replace" })],
  sync: (req: Request) =>
    Effect.gen(function*() {
      yield* (yield* Cluster.Cluster).get(Toy, addressOf(req))
      return { status: {}, children: req.parent.spec.fail === true ? [configMapFor(req)] : [configMapFor(req), secretFor(req)] }
    }),
  finalize: () => Effect.succeed({ finalized: true })
})

/** Fails for some specs, and leaves everything alone when it does: what convergence means for a parent it cannot converge. */
const FailsCleanly = toy("fails-cleanly", (req) =>
  req.parent.spec.fail === true
    ? Effect.fail(new Refused({ message: "spec.fail is set" }))
    : Effect.succeed({ status: {}, children: [configMapFor(req)] }))

// --- broken operators ---

/** (a) When it fails (spec.fail), it first deletes the children it sees, through the Cluster. */
const DeletesOnFailure = toy("deletes-on-failure", (req) =>
  Effect.gen(function*() {
    if (req.parent.spec.fail !== true) return { status: {}, children: [configMapFor(req)] }
    const cluster = yield* Cluster.Cluster
    for (const c of req.children.all) {
      yield* Effect.ignore(cluster.delete(Builtin.ConfigMap, { namespace: c.metadata.namespace ?? "", name: c.metadata.name ?? "" }))
    }
    return yield* new Refused({ message: "spec.fail is set" })
  }))

/** (a') Re-reads its parent and takes any API error for "gone": on a transient error it returns no children instead of failing. */
const SwallowsApiErrors = toy("swallows-api-errors", (req) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    return yield* cluster.get(Toy, addressOf(req)).pipe(
      Effect.as({ status: {}, children: [configMapFor(req)] }),
      Effect.catch(() => Effect.succeed({ status: {}, children: [] }))
    )
  }))

/** (b) Stamps the time into its child: every resync writes. */
const StampsTime = toy("stamps-time", (req) =>
  Effect.map(Clock.currentTimeMillis, (now) => ({ status: {}, children: [configMapFor(req, { at: String(now) })] })))

/** (c) Creates its child once, then keeps only the children that exist: one deleted by someone else never comes back. */
const CreatesOnce = toy("creates-once", (req) =>
  Effect.succeed({
    status: { created: true },
    children: [configMapFor(req)].filter((c) =>
      req.parent.status?.created !== true || req.children.get(Builtin.ConfigMap, c.metadata.name!) !== undefined
    )
  }))

/** (d) Its finalize never finishes: deleted parents never go. */
const KeepsFinalizer = toy(
  "keeps-finalizer",
  (req) => Effect.succeed({ status: {}, children: [configMapFor(req)] }),
  () => Effect.succeed({ finalized: false })
)

/** (e) Bumps a counter in its child on every sync and asks to sync again at once. */
const HotLoop = toy("hot-loop", (req) =>
  Effect.sync(() => {
    const seen = req.children.get(Builtin.ConfigMap, `${req.parent.metadata.name}-toy`)
    const n = Number(seen?.data?.["n"] ?? "0") + 1
    return { status: {}, children: [configMapFor(req, { n: String(n) })], requeueAfter: 0 }
  }))

// --- checking the checker ---

/** Few, small, seeded histories: the whole file runs in seconds. */
const small = { runs: 10, parents: 1, maxSteps: 4, seed: 7 } as const

/** The violation `check` reports; a check that passes fails the test. */
const reported = (check: Effect.Effect<void, Laws.LawViolation>) =>
  Effect.flip(check).pipe(Effect.catch(() => Effect.die(new Error("Laws.check passed: the broken operator was not reported"))))

/** The report's first line: the law and what was wrong, before the history. */
const verdict = (v: Laws.LawViolation) => v.message.split("\n")[0]

/** The shrunk counterexample, checked to be small and replayable, in the data and in the message alike. */
const counterexample = (v: Laws.LawViolation) => {
  const c = v.counterexample
  if (c === undefined) return assert.fail(`no counterexample in: ${v.message}`)
  assert.match(v.message, new RegExp(`^law ${v.law} does not hold: `))
  assert.isAbove(c.replay.length, 0)
  assert.include(v.message, `\nreplay: ${c.replay}`)
  assert.include(v.message, `shrunk history (${c.shrinks} shrinks):\n  initial specs: ${JSON.stringify(c.initial)}`)
  assert.strictEqual(c.initial.length, 1)
  assert.strictEqual(c.steps.length, 1, `not shrunk to one step: ${JSON.stringify(c.steps)}`)
  return c.steps[0] as Laws.Step<Spec>
}

describe("Laws: the controls obey every law", () => {
  it.effect("one ConfigMap per parent", () => Laws.check(Correct, small), 60_000)
  it.effect("two child types, a finalize, API reads, a spec that drops a child", () => Laws.check(CorrectToo, small), 60_000)
  it.effect("a sync that fails for some specs and touches nothing then", () => Laws.check(FailsCleanly, { ...small, runs: 30 }), 60_000)
})

describe("Laws: each broken operator is reported by the law it breaks", () => {
  it.effect("(a) a sync that deletes its children when it fails: errorSafety", () =>
    Effect.gen(function*() {
      // Failing needs spec.fail, which only some generated specs have: more histories than the others need.
      const v = yield* reported(Laws.check(DeletesOnFailure, { ...small, runs: 60, laws: ["errorSafety"] }))
      assert.strictEqual(v.law, "errorSafety")
      assert.strictEqual(
        verdict(v),
        "law errorSafety does not hold: v1/ConfigMap default/law-0-toy was deleted or replaced while sync/finalize were failing (the operator's requests: delete v1/ConfigMap default/law-0-toy)"
      )
      const step = counterexample(v)
      assert.isTrue((step.op === "update" || step.op === "create") && step.spec.fail === true, JSON.stringify(step))
    }), 60_000)

  it.effect("(a) ... and convergence sees the failing parent's children written", () =>
    Effect.gen(function*() {
      const v = yield* reported(Laws.check(DeletesOnFailure, { ...small, runs: 60, laws: ["convergence"] }))
      assert.strictEqual(v.law, "convergence")
      assert.strictEqual(
        verdict(v),
        "law convergence does not hold: default/law-0: its sync fails, yet the operator wrote to its children meanwhile: delete v1/ConfigMap default/law-0-toy"
      )
      const step = counterexample(v)
      assert.isTrue((step.op === "update" || step.op === "create") && step.spec.fail === true, JSON.stringify(step))
    }), 60_000)

  it.effect("(a') a sync that answers no children when its API reads fail: errorSafety", () =>
    Effect.gen(function*() {
      const v = yield* reported(Laws.check(SwallowsApiErrors, { ...small, laws: ["errorSafety"] }))
      assert.strictEqual(v.law, "errorSafety")
      assert.strictEqual(
        verdict(v),
        "law errorSafety does not hold: default/law-0: with every API request failing (503), sync succeeded without ConfigMap/law-0-toy, which kubefx would then delete; a sync whose requests fail must fail"
      )
      counterexample(v)
    }), 60_000)

  it.effect("(b) a child stamped with the time: idempotence", () =>
    Effect.gen(function*() {
      const v = yield* reported(Laws.check(StampsTime, { ...small, laws: ["idempotence"] }))
      assert.strictEqual(v.law, "idempotence")
      assert.strictEqual(verdict(v), "law idempotence does not hold: a resync of the converged cluster wrote: apply v1/ConfigMap default/law-0-toy")
      counterexample(v)
    }), 60_000)

  it.effect("(c) a child deleted by another writer is never recreated: convergence", () =>
    Effect.gen(function*() {
      const v = yield* reported(Laws.check(CreatesOnce, { ...small, runs: 20, laws: ["convergence"] }))
      assert.strictEqual(v.law, "convergence")
      assert.strictEqual(
        verdict(v),
        "law convergence does not hold: default/law-0 did not converge: ConfigMap/law-0-toy was deleted by another writer and never recreated (sync returns it while it exists, and drops it once it is gone)"
      )
      assert.deepStrictEqual(counterexample(v), { op: "tamper", parent: 0, child: 0, how: "delete" })
    }), 60_000)

  it.effect("(c) the replay token reproduces the counterexample", () =>
    Effect.gen(function*() {
      const first = yield* reported(Laws.check(CreatesOnce, { ...small, runs: 20, laws: ["convergence"] }))
      const again = yield* reported(Laws.check(CreatesOnce, { ...small, runs: 20, laws: ["convergence"], replay: first.counterexample!.replay }))
      assert.strictEqual(again.message, first.message)
      assert.deepStrictEqual(again.counterexample, first.counterexample)
    }), 60_000)

  it.effect("(d) a finalize that never finishes: ownership", () =>
    Effect.gen(function*() {
      const v = yield* reported(Laws.check(KeepsFinalizer, { ...small, laws: ["ownership"] }))
      assert.strictEqual(v.law, "ownership")
      assert.strictEqual(
        verdict(v),
        "law ownership does not hold: default/law-0 was deleted but is still there: its finalizer kubefx.io/keeps-finalizer was never removed (finalize never answered finalized: true)"
      )
      counterexample(v)
    }), 60_000)

  it.effect("(e) a hot loop is reported, not waited for: convergence", () =>
    Effect.gen(function*() {
      const v = yield* reported(Laws.check(HotLoop, { ...small, laws: ["convergence"] }))
      assert.strictEqual(v.law, "convergence")
      assert.strictEqual(
        verdict(v),
        "law convergence does not hold: the operator did not settle: hot loop: sync ran 200 times for default/law-0 without simulated time passing; its last answer asked to sync again after 0 ms"
      )
      counterexample(v)
    }), 60_000)
})
