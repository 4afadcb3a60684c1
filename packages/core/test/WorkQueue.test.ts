import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Clock, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { WorkQueue } from "@kubefx/core"

/** Lets forked fibers and scheduled wake-ups run. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 5; i++) yield* Effect.yieldNow
})

const takeAll = (queue: WorkQueue.WorkQueue, n: number) =>
  Effect.gen(function*() {
    const keys: Array<string> = []
    for (let i = 0; i < n; i++) keys.push(yield* queue.take)
    return keys
  })

/** Asserts `take` would block: a forked take does not complete, and interrupting it loses nothing. */
const assertTakeBlocks = (queue: WorkQueue.WorkQueue) =>
  Effect.gen(function*() {
    const before = yield* queue.stats
    const fiber = yield* Effect.forkChild(queue.take)
    yield* settle
    assert.isUndefined(fiber.pollUnsafe(), "take returned although nothing was queued")
    yield* Fiber.interrupt(fiber)
    assert.deepStrictEqual(yield* queue.stats, before)
  })

describe("WorkQueue", () => {
  it.effect("isQueued tells whether a key waits to be taken, including a dirty key re-queued by done", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make
      assert.isFalse(yield* queue.isQueued("a"))
      yield* queue.add("a")
      assert.isTrue(yield* queue.isQueued("a"))
      yield* queue.take
      assert.isFalse(yield* queue.isQueued("a"))
      yield* queue.add("a")
      assert.isFalse(yield* queue.isQueued("a"))
      yield* queue.done("a")
      assert.isTrue(yield* queue.isQueued("a"))
    }))

  describe("add and take", () => {
    it.effect("hands keys out in FIFO order and deduplicates queued keys", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        for (const key of ["ns/a", "ns/b", "ns/a", "ns/c", "ns/b"]) yield* queue.add(key)
        assert.strictEqual((yield* queue.stats).queued, 3)
        assert.deepStrictEqual(yield* takeAll(queue, 3), ["ns/a", "ns/b", "ns/c"])
        const stats = yield* queue.stats
        assert.strictEqual(stats.queued, 0)
        assert.strictEqual(stats.processing, 3)
        yield* assertTakeBlocks(queue)
      }))

    it.effect("take waits for an add", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        const fiber = yield* Effect.forkChild(queue.take)
        yield* settle
        assert.isUndefined(fiber.pollUnsafe())
        yield* queue.add("ns/a")
        assert.strictEqual(yield* Fiber.join(fiber), "ns/a")
        assert.strictEqual((yield* queue.stats).processing, 1)
      }))

    it.effect("several waiting takes each get a different key", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        const fibers = [yield* Effect.forkChild(queue.take), yield* Effect.forkChild(queue.take)]
        const third = yield* Effect.forkChild(queue.take)
        yield* settle
        yield* queue.add("ns/a")
        yield* queue.add("ns/b")
        const got = [yield* Fiber.join(fibers[0]!), yield* Fiber.join(fibers[1]!)]
        assert.deepStrictEqual(got.sort(), ["ns/a", "ns/b"])
        yield* settle
        assert.isUndefined(third.pollUnsafe(), "a third take got a key that was handed out already")
        yield* queue.add("ns/c")
        assert.strictEqual(yield* Fiber.join(third), "ns/c")
      }))

    it.effect("an interrupted waiting take does not swallow the next key", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        const fiber = yield* Effect.forkChild(queue.take)
        yield* settle
        yield* Fiber.interrupt(fiber)
        yield* queue.add("ns/a")
        yield* settle
        assert.strictEqual(yield* queue.take, "ns/a")
      }))

    it.effect("a processing key is not handed out again until done, then exactly once more", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("ns/a")
        assert.strictEqual(yield* queue.take, "ns/a")
        // Three events during the reconcile.
        yield* queue.add("ns/a")
        yield* queue.add("ns/a", { priority: "low" })
        yield* queue.add("ns/a")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 1, delayed: 0, nextDueInMillis: undefined })
        yield* queue.add("ns/b")
        assert.strictEqual(yield* queue.take, "ns/b")
        yield* assertTakeBlocks(queue)
        yield* queue.done("ns/a")
        assert.strictEqual((yield* queue.stats).queued, 1)
        assert.strictEqual(yield* queue.take, "ns/a")
        yield* queue.done("ns/a")
        yield* queue.done("ns/b")
        assert.isTrue(yield* queue.isIdle)
        yield* assertTakeBlocks(queue)
      }))

    it.effect("done of a key that is not processing changes nothing", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("ns/a")
        yield* queue.done("ns/a")
        yield* queue.done("ns/zzz")
        assert.deepStrictEqual(yield* queue.stats, { queued: 1, processing: 0, delayed: 0, nextDueInMillis: undefined })
        assert.strictEqual(yield* queue.take, "ns/a")
      }))
  })

  describe("priority", () => {
    it.effect("high keys are taken before low ones, FIFO within each", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("low1", { priority: "low" })
        yield* queue.add("high1")
        yield* queue.add("low2", { priority: "low" })
        yield* queue.add("high2", { priority: "high" })
        assert.deepStrictEqual(yield* takeAll(queue, 4), ["high1", "high2", "low1", "low2"])
      }))

    it.effect("a queued low key added high is promoted, and its old place is skipped later", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("x", { priority: "low" })
        yield* queue.add("z", { priority: "low" })
        yield* queue.add("y")
        yield* queue.add("z")
        yield* queue.add("z", { priority: "low" }) // already high: no demotion
        assert.strictEqual((yield* queue.stats).queued, 3)
        assert.deepStrictEqual(yield* takeAll(queue, 3), ["y", "z", "x"])
        yield* queue.done("z")
        // z is queued low again behind w; its leftover low entry from before must not jump the line.
        yield* queue.add("w", { priority: "low" })
        yield* queue.add("z", { priority: "low" })
        assert.deepStrictEqual(yield* takeAll(queue, 2), ["w", "z"])
        yield* assertTakeBlocks(queue)
      }))

    it.effect("a key re-queued at done keeps the highest priority it was added with", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("a")
        assert.strictEqual(yield* queue.take, "a")
        yield* queue.add("a", { priority: "low" })
        yield* queue.add("a")
        yield* queue.add("w", { priority: "low" })
        yield* queue.done("a")
        assert.deepStrictEqual(yield* takeAll(queue, 2), ["a", "w"])

        yield* queue.add("b", { priority: "low" })
        assert.strictEqual(yield* queue.take, "b")
        yield* queue.add("b", { priority: "low" })
        yield* queue.add("v", { priority: "low" })
        yield* queue.done("b")
        assert.deepStrictEqual(yield* takeAll(queue, 2), ["v", "b"])
      }))
  })

  describe("addAfter", () => {
    it.effect("adds the key when the Clock reaches the due time", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.addAfter("ns/a", "10 seconds")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 0, delayed: 1, nextDueInMillis: 10_000 })
        assert.isTrue(yield* queue.isIdle, "delayed keys do not make the queue busy")
        yield* TestClock.adjust("9 seconds")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 0, delayed: 1, nextDueInMillis: 1_000 })
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* queue.stats, { queued: 1, processing: 0, delayed: 0, nextDueInMillis: undefined })
        assert.isFalse(yield* queue.isIdle)
        assert.strictEqual(yield* queue.take, "ns/a")
      }))

    it.effect("keeps only the earliest pending due time per key", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.addAfter("a", "10 seconds")
        yield* queue.addAfter("a", "5 seconds")
        yield* queue.addAfter("a", "20 seconds")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 0, delayed: 1, nextDueInMillis: 5_000 })
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* queue.take, "a")
        yield* queue.done("a")
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 0, delayed: 0, nextDueInMillis: undefined })
      }))

    it.effect("an earlier due time wakes the scheduler sooner than the one it sleeps for", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.addAfter("late", "1 hour")
        yield* settle
        yield* queue.addAfter("soon", "1 second")
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* queue.stats, { queued: 1, processing: 0, delayed: 1, nextDueInMillis: 3_599_000 })
        assert.strictEqual(yield* queue.take, "soon")
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* queue.take, "late")
      }))

    it.effect("keys due at the same time are added in the order they were scheduled", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.addAfter("c", "2 seconds")
        yield* queue.addAfter("a", "3 seconds")
        yield* queue.addAfter("b", "3 seconds")
        yield* TestClock.adjust("1 second")
        yield* queue.addAfter("d", "2 seconds")
        yield* TestClock.adjust("10 seconds")
        assert.deepStrictEqual(yield* takeAll(queue, 4), ["c", "a", "b", "d"])
      }))

    it.effect("an immediate add leaves the pending delayed add in place", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.addAfter("a", "5 seconds")
        yield* queue.add("a")
        assert.deepStrictEqual(yield* queue.stats, { queued: 1, processing: 0, delayed: 1, nextDueInMillis: 5_000 })
        assert.strictEqual(yield* queue.take, "a")
        yield* queue.done("a")
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* queue.take, "a", "the delayed add still fired")
        yield* queue.done("a")

        // Still queued when due: the two deduplicate.
        yield* queue.add("b")
        yield* queue.addAfter("b", "1 second")
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* queue.stats, { queued: 1, processing: 0, delayed: 0, nextDueInMillis: undefined })
      }))

    it.effect("a due key that is processing becomes dirty and runs once more after done", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("a")
        assert.strictEqual(yield* queue.take, "a")
        yield* queue.addAfter("a", "1 second")
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 1, delayed: 0, nextDueInMillis: undefined })
        yield* queue.done("a")
        assert.strictEqual(yield* queue.take, "a")
      }))

    it.effect("a zero or negative delay adds now; an infinite one is never due", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.addAfter("zero", 0)
        yield* queue.addAfter("negative", "-5 seconds")
        yield* queue.addAfter("never", "Infinity")
        assert.deepStrictEqual(yield* queue.stats, { queued: 2, processing: 0, delayed: 0, nextDueInMillis: undefined })
        assert.deepStrictEqual(yield* takeAll(queue, 2), ["zero", "negative"])
      }))

    it.effect("a take waiting on an empty queue is woken by a delayed add", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        const fiber = yield* Effect.forkChild(queue.take)
        yield* queue.addAfter("a", "1 minute")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* Fiber.join(fiber), "a")
      }))

    it.effect("10,000 delayed keys are served by the one scheduler fiber", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        const n = 10_000
        // Out of order due times, with a later re-schedule of every key that must be ignored.
        for (let i = 0; i < n; i++) yield* queue.addAfter(`ns/p${i}`, 1_000 + ((i * 7919) % n))
        for (let i = 0; i < n; i++) yield* queue.addAfter(`ns/p${i}`, 60_000)
        const stats = yield* queue.stats
        assert.strictEqual(stats.delayed, n)
        assert.strictEqual(stats.nextDueInMillis, 1_000)
        yield* TestClock.adjust(1_000 + n / 2 - 1)
        assert.strictEqual((yield* queue.stats).queued, n / 2)
        yield* TestClock.adjust("1 hour")
        assert.deepStrictEqual(yield* queue.stats, { queued: n, processing: 0, delayed: 0, nextDueInMillis: undefined })
        // Handed out in due order.
        const keys = yield* takeAll(queue, n)
        const dues = keys.map((key) => (Number(key.slice(4)) * 7919) % n)
        assert.deepStrictEqual(dues, dues.slice().sort((a, b) => a - b))
      }))
  })

  describe("shutdown", () => {
    it.effect("fails waiting and future takes, ignores adds, drops queued and delayed keys", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.add("a")
        assert.strictEqual(yield* queue.take, "a")
        yield* queue.add("a")
        yield* queue.add("b")
        yield* queue.addAfter("c", "1 second")
        const waiting = yield* Effect.forkChild(Effect.andThen(queue.take, queue.take))
        yield* settle
        yield* queue.shutdown
        const exit = yield* Fiber.await(waiting)
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(Fiber.join(waiting))
        assert.instanceOf(error, WorkQueue.WorkQueueShutdown)
        assert.strictEqual(error._tag, "WorkQueueShutdown")
        assert.match(error.message, /shut down/)

        const later = yield* Effect.flip(queue.take)
        assert.strictEqual(later._tag, "WorkQueueShutdown")
        yield* queue.add("d")
        yield* queue.addAfter("e", 0)
        yield* queue.addAfter("f", "1 second")
        // The waiting fiber took "b" before it waited; "a" and "b" are still in flight.
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 2, delayed: 0, nextDueInMillis: undefined })
        yield* queue.done("a")
        assert.isFalse(yield* queue.isIdle, "an in-flight key still counts")
        yield* queue.done("b")
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 0, delayed: 0, nextDueInMillis: undefined })
        assert.isTrue(yield* queue.isIdle)
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* queue.stats).queued, 0)
        yield* queue.shutdown
      }))

    it.effect("closing the Scope shuts the queue down", () =>
      Effect.gen(function*() {
        const queue = yield* Effect.scoped(WorkQueue.make)
        const error = yield* Effect.flip(queue.take)
        assert.strictEqual(error._tag, "WorkQueueShutdown")
      }))

    it.effect("errors can be matched with catchTag", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        yield* queue.shutdown
        const result = yield* queue.take.pipe(Effect.catchTag("WorkQueueShutdown", () => Effect.succeed("stopped")))
        assert.strictEqual(result, "stopped")
      }))
  })

  describe("properties", () => {
    const keys = ["a", "b", "c", "d"] as const
    const Key = Schema.Literals(keys)
    const Small = (maximum: number) => Schema.Int.check(Schema.isBetween({ minimum: 0, maximum }))
    const Op = Schema.Union([
      Schema.TaggedStruct("Add", { key: Key, low: Schema.Boolean }),
      Schema.TaggedStruct("AddAfter", { key: Key, delay: Small(6) }),
      Schema.TaggedStruct("Take", {}),
      Schema.TaggedStruct("Done", { pick: Small(3) }),
      Schema.TaggedStruct("Adjust", { millis: Small(4) })
    ])
    type Op = typeof Op.Type
    const Ops = Arbitrary.array(Arbitrary.schema(Op), { minLength: 1, maxLength: 80 })

    /** The reference model: plain arrays, obviously right, slow. */
    class Model {
      now: number
      high: Array<string> = []
      low: Array<string> = []
      processing = new Set<string>()
      dirty = new Map<string, "high" | "low">()
      delayed = new Map<string, { due: number; seq: number }>()
      seq = 0
      constructor(now: number) {
        this.now = now
      }
      add(key: string, priority: "high" | "low") {
        if (this.processing.has(key)) {
          if (this.dirty.get(key) !== "high") this.dirty.set(key, priority)
        } else if (this.high.includes(key)) {
          return
        } else if (this.low.includes(key)) {
          if (priority === "high") {
            this.low.splice(this.low.indexOf(key), 1)
            this.high.push(key)
          }
        } else {
          ;(priority === "high" ? this.high : this.low).push(key)
        }
      }
      take(): string | undefined {
        const key = this.high.shift() ?? this.low.shift()
        if (key !== undefined) this.processing.add(key)
        return key
      }
      done(key: string) {
        if (!this.processing.delete(key)) return
        const dirty = this.dirty.get(key)
        this.dirty.delete(key)
        if (dirty !== undefined) this.add(key, dirty)
      }
      addAfter(key: string, delay: number) {
        if (delay <= 0) return this.add(key, "high")
        const due = this.now + delay
        const pending = this.delayed.get(key)
        if (pending === undefined || due < pending.due) this.delayed.set(key, { due, seq: this.seq++ })
      }
      adjust(millis: number) {
        this.now += millis
        const due = [...this.delayed].filter(([, t]) => t.due <= this.now)
          .sort(([, x], [, y]) => x.due - y.due || x.seq - y.seq)
        for (const [key] of due) {
          this.delayed.delete(key)
          this.add(key, "high")
        }
      }
      stats(): WorkQueue.Stats {
        const dues = [...this.delayed.values()].map((t) => t.due)
        return {
          queued: this.high.length + this.low.length,
          processing: this.processing.size,
          delayed: this.delayed.size,
          nextDueInMillis: dues.length === 0 ? undefined : Math.max(0, Math.min(...dues) - this.now)
        }
      }
    }

    /**
     * Runs `ops` against a queue and the model side by side, checking after every step that they agree
     * (which pins FIFO and priority order, dedup, dirty re-queueing and delayed adds), plus invariants
     * that do not rely on the model: no key is handed out while processing, queued never exceeds the
     * number of distinct keys, and after draining every added key was taken after its last add.
     */
    const runAgainstModel = (ops: ReadonlyArray<Op>) =>
      Effect.scoped(Effect.gen(function*() {
        const queue = yield* WorkQueue.make
        const model = new Model(yield* Clock.currentTimeMillis)
        const inFlight = new Set<string>()
        const lastAdd = new Map<string, number>()
        const lastTake = new Map<string, number>()
        let step = 0

        const take = Effect.gen(function*() {
          const expected = model.take()
          if (expected === undefined) return yield* assertTakeBlocks(queue)
          const key = yield* queue.take
          assert.strictEqual(key, expected, `step ${step}: take order`)
          assert.isFalse(inFlight.has(key), `step ${step}: ${key} handed out while processing`)
          inFlight.add(key)
          lastTake.set(key, step)
        })
        const done = (key: string) =>
          Effect.gen(function*() {
            model.done(key)
            inFlight.delete(key)
            yield* queue.done(key)
          })

        for (const op of ops) {
          step++
          switch (op._tag) {
            case "Add":
              model.add(op.key, op.low ? "low" : "high")
              lastAdd.set(op.key, step)
              yield* queue.add(op.key, op.low ? { priority: "low" } : {})
              break
            case "AddAfter":
              model.addAfter(op.key, op.delay)
              lastAdd.set(op.key, step)
              yield* queue.addAfter(op.key, op.delay)
              break
            case "Take":
              yield* take
              break
            case "Done": {
              const processing = [...model.processing].sort()
              yield* done(processing.length === 0 ? keys[op.pick]! : processing[op.pick % processing.length]!)
              break
            }
            case "Adjust":
              model.adjust(op.millis)
              yield* TestClock.adjust(op.millis)
              break
          }
          const stats = yield* queue.stats
          assert.deepStrictEqual(stats, model.stats(), `step ${step}: stats after ${JSON.stringify(op)}`)
          assert.isAtMost(stats.queued, keys.length)
          assert.strictEqual(yield* queue.isIdle, stats.queued === 0 && stats.processing === 0)
        }

        // Drain: let every delayed add fall due, then finish and take until nothing is left.
        step++
        model.adjust(10)
        yield* TestClock.adjust(10)
        while (model.processing.size > 0 || model.stats().queued > 0) {
          for (const key of model.processing) yield* done(key)
          step++
          while (model.stats().queued > 0) yield* take
        }
        assert.isTrue(yield* queue.isIdle)
        assert.deepStrictEqual(yield* queue.stats, { queued: 0, processing: 0, delayed: 0, nextDueInMillis: undefined })
        for (const [key, added] of lastAdd) {
          assert.isAbove(lastTake.get(key) ?? -1, added, `${key} was lost: added at step ${added}, never taken after`)
        }
      }))

    it.effect.prop("agrees with the reference model on random operation sequences", [Ops], ([ops]) =>
      runAgainstModel(ops), { arbitrary: { runs: 300, size: 80 } })

    it.effect.prop(
      "any number of adds during processing cause exactly one more take",
      [Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 }))), Schema.Boolean],
      ([adds, low]) =>
        Effect.scoped(Effect.gen(function*() {
          const queue = yield* WorkQueue.make
          yield* queue.add("k")
          assert.strictEqual(yield* queue.take, "k")
          for (let i = 0; i < adds; i++) yield* queue.add("k", { priority: low && i % 2 === 0 ? "low" : "high" })
          yield* queue.done("k")
          assert.strictEqual(yield* queue.take, "k")
          yield* queue.done("k")
          assert.isTrue(yield* queue.isIdle)
          yield* assertTakeBlocks(queue)
        }))
    )

    const Script = Arbitrary.array(
      Arbitrary.schema(Schema.Struct({
        key: Key,
        low: Schema.Boolean,
        delay: Small(3),
        pause: Small(3),
        work: Small(4)
      })),
      { minLength: 1, maxLength: 60 }
    )

    it.effect.prop(
      "concurrent workers never process one key at the same time and lose no key",
      [Script, Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })))],
      ([script, workers]) =>
        Effect.scoped(Effect.gen(function*() {
          const queue = yield* WorkQueue.make
          const inFlight = new Set<string>()
          const violations: Array<string> = []
          const lastAdd = new Map<string, number>()
          const lastTake = new Map<string, number>()
          let tick = 0
          let w = 0
          const workDurations = script.map((s) => s.work)

          const worker = Effect.gen(function*() {
            while (true) {
              const key = yield* queue.take
              lastTake.set(key, ++tick)
              if (inFlight.has(key)) violations.push(`${key} taken while in flight`)
              inFlight.add(key)
              const pauses = workDurations[w++ % workDurations.length]!
              for (let i = 0; i < pauses; i++) yield* Effect.yieldNow
              inFlight.delete(key)
              yield* queue.done(key)
            }
          })
          const fibers: Array<Fiber.Fiber<never, WorkQueue.WorkQueueShutdown>> = []
          for (let i = 0; i < workers; i++) fibers.push(yield* Effect.forkChild(worker))

          for (const { delay, key, low, pause } of script) {
            lastAdd.set(key, ++tick)
            if (delay > 0 && low) yield* queue.addAfter(key, delay)
            else yield* queue.add(key, low ? { priority: "low" } : {})
            for (let i = 0; i < pause; i++) yield* Effect.yieldNow
          }
          yield* TestClock.adjust(10)
          let spins = 0
          while (!(yield* queue.isIdle) || (yield* queue.stats).delayed > 0) {
            assert.isBelow(++spins, 10_000, "workers did not drain the queue")
            yield* Effect.yieldNow
          }
          yield* queue.shutdown
          for (const fiber of fibers) {
            const exit = yield* Fiber.await(fiber)
            assert.isTrue(Exit.isFailure(exit))
          }
          assert.deepStrictEqual(violations, [])
          for (const [key, added] of lastAdd) {
            assert.isAbove(lastTake.get(key) ?? -1, added, `${key} was lost`)
          }
        })),
      { arbitrary: { runs: 150, size: 60 } }
    )
  })
})

describe("WorkQueue.doneAfter", () => {
  it.effect("holds a key back for its delay: adds during processing and after do not bring it forward", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make
      yield* queue.add("a")
      assert.strictEqual(yield* queue.take, "a")
      yield* queue.add("a") // dirty while processing
      yield* queue.doneAfter("a", "30 seconds")
      yield* queue.add("a")
      yield* queue.addAfter("a", "1 second")
      assert.isFalse(yield* queue.isQueued("a"))
      assert.strictEqual((yield* queue.stats).nextDueInMillis, 30_000)
      yield* TestClock.adjust("29 seconds")
      yield* settle
      yield* assertTakeBlocks(queue)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(yield* queue.take, "a")
      // Once released it behaves as any key again.
      yield* queue.done("a")
      yield* queue.add("a")
      assert.isTrue(yield* queue.isQueued("a"))
    }))

  it.effect("a delay of zero is done; a key not processing is left alone", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make
      yield* queue.add("a")
      yield* queue.take
      yield* queue.add("a")
      yield* queue.doneAfter("a", 0)
      assert.isTrue(yield* queue.isQueued("a"))
      yield* queue.doneAfter("b", "1 minute")
      yield* queue.add("b")
      assert.isTrue(yield* queue.isQueued("b"))
    }))
})

describe("WorkQueue priorities at scale", () => {
  it.effect("a fresh edit behind a resync backlog of 10,000 keys is taken first", () =>
    Effect.gen(function*() {
      const queue = yield* WorkQueue.make
      for (let i = 0; i < 10_000; i++) yield* queue.add(`ns/p${i}`, { priority: "low" })
      yield* queue.add("ns/p9999") // the user edits the last parent of the backlog
      yield* queue.add("ns/fresh")
      assert.strictEqual(yield* queue.take, "ns/p9999")
      assert.strictEqual(yield* queue.take, "ns/fresh")
      assert.strictEqual(yield* queue.take, "ns/p0")
      assert.strictEqual((yield* queue.stats).queued, 9_998)
    }))
})
