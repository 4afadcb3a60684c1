/**
 * The keyed work queue between the triggers and the reconcile workers of one controller.
 *
 * It holds parent keys (`namespace/name`), never objects: the reconciler reads the latest state from
 * the store, so a key queued ten times needs one reconcile. The guarantees are those of client-go's
 * `util/workqueue` and kube-runtime's scheduler:
 *
 * - a queued key is queued once (`add` deduplicates);
 * - a key handed out by `take` is not handed out again until `done`; adds in between mark it dirty and
 *   it is queued exactly once more at `done`, so events during a reconcile cause one more reconcile;
 * - fresh events (`add`) go before the resync backlog (`add(key, { priority: "low" })`);
 * - `addAfter` keeps the earliest pending due time per key and is driven by Effect's `Clock`, so
 *   `TestClock.adjust` moves it in tests;
 * - `doneAfter` ends processing and holds a key back (a failure's backoff): adds until it is due do not
 *   bring it forward, so a parent whose children keep changing still waits out its backoff. (client-go's
 *   rate-limited requeue is bypassed by any `Add`; kubefx's is not.)
 *
 * All bookkeeping is synchronous (Maps, Sets, a head-index FIFO, a binary heap); only `take` on an
 * empty queue suspends, and one scheduler fiber per queue serves every delayed key.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkQueue } from "@kubefx/core"
 * declare const reconcile: (key: string) => Effect.Effect<void>
 *
 * const worker = (queue: WorkQueue.WorkQueue) =>
 *   Effect.gen(function*() {
 *     const key = yield* queue.take
 *     yield* reconcile(key).pipe(Effect.ensuring(queue.done(key)))
 *   }).pipe(Effect.forever)
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Schema } from "effect"
import type { Scope } from "effect"
import type { SchedulerDispatcher } from "effect/Scheduler"

/**
 * `take` was called on, or was waiting on, a queue that has been shut down. Workers treat it as
 * "stop": the controller is going away.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkQueueShutdown extends Schema.TaggedError<WorkQueueShutdown>()("WorkQueueShutdown", {
  message: Schema.String
}) {}

/**
 * `"high"` for fresh events, `"low"` for the resync backlog. Every high key is handed out before any
 * low one, so a full resync of thousands of parents never delays a reaction to a real change.
 *
 * @since 0.1.0
 * @category models
 */
export type Priority = "high" | "low"

/**
 * @since 0.1.0
 * @category models
 */
export interface AddOptions {
  /** Defaults to `"high"`. */
  readonly priority?: Priority
}

/**
 * A snapshot for tests and metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Keys waiting to be taken (each key counted once). Keys added while processing are not counted. */
  readonly queued: number
  /** Keys taken and not yet `done`. */
  readonly processing: number
  /** Keys with a pending `addAfter`. */
  readonly delayed: number
  /** Milliseconds from the Clock's now until the earliest pending `addAfter` is due (0 if overdue). */
  readonly nextDueInMillis: number | undefined
}

/**
 * One controller's queue of parent keys. Built with {@link make}; an operator owns one per controller.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkQueue {
  /**
   * Queues `key` unless it is already queued. A queued low key added with high priority is promoted.
   * If the key is being processed it is only marked dirty and is queued again at its `done`
   * (with the highest priority it was added with meanwhile). Ignored after `shutdown`.
   */
  readonly add: (key: string, options?: AddOptions) => Effect.Effect<void>
  /**
   * Adds `key` (high priority) once `delay` has elapsed on the Clock. Per key only the earliest pending
   * due time is kept: a later `addAfter` of a key already due sooner changes nothing, an earlier one
   * replaces it. A delay of zero or less adds now; an infinite delay is never due and is ignored.
   *
   * An immediate `add` leaves a pending delayed add in place (as client-go does): the delayed add may
   * have been asked for by something other than the reconcile the `add` triggers (a backoff, a time
   * trigger), and reconciles are idempotent, so one extra run is cheap while a cancelled one could be
   * a missed deadline. If the key is still queued when it falls due, the two deduplicate.
   */
  readonly addAfter: (key: string, delay: Duration.Input) => Effect.Effect<void>
  /**
   * Waits for a key, marks it processing and returns it. High keys first, FIFO within a priority.
   * Fails with {@link WorkQueueShutdown} once the queue is shut down, also for takes already waiting.
   * Pair every successful take with `done`, e.g. `Effect.ensuring(queue.done(key))`.
   */
  readonly take: Effect.Effect<string, WorkQueueShutdown>
  /** Ends processing of `key`; re-queues it once if it was added meanwhile. A no-op for a key not processing. */
  readonly done: (key: string) => Effect.Effect<void>
  /**
   * Ends processing of `key` and holds it back for `delay`: it is queued once when the delay has passed, and
   * adds until then (including those made while it was processing) change nothing. For a failure's backoff.
   * A no-op for a key not processing; a delay of zero or less behaves as `done`.
   */
  readonly doneAfter: (key: string, delay: Duration.Input) => Effect.Effect<void>
  /**
   * Stops the queue: waiting and future takes fail with {@link WorkQueueShutdown}, queued and delayed keys
   * are dropped, later adds are ignored. Keys being processed still count until their `done`, so
   * `isIdle` tells when in-flight reconciles have finished. Idempotent; also runs when the Scope closes.
   */
  readonly shutdown: Effect.Effect<void>
  /** Counts for tests and metrics. */
  readonly stats: Effect.Effect<Stats>
  /** Nothing queued and nothing processing. Pending delayed adds do not count. */
  readonly isIdle: Effect.Effect<boolean>
  /** Whether a key is waiting to be taken (including a dirty key re-queued by `done`). */
  readonly isQueued: (key: string) => Effect.Effect<boolean>
}

/**
 * Creates a queue whose delay scheduler fiber lives in the current Scope. Closing the Scope shuts the
 * queue down. Due times and sleeps use the `Clock` of the fiber that runs `make` (a `TestClock` in tests).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<WorkQueue, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Clock.clockWith(Effect.succeed)
  // Wake-ups of waiting takes go through the dispatcher (as Effect's own Queue does), so an `add`
  // never runs a worker's code inline on the producer's stack.
  const dispatcher = yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher))
  const state = new State(clock, dispatcher)

  const take: Effect.Effect<string, WorkQueueShutdown> = Effect.suspend(() => {
    const key = state.tryTake()
    if (key !== undefined) return Effect.succeed(key)
    if (state.closed) return Effect.fail(shutdownError())
    // Woken takes retry rather than receive a key, so a take interrupted while waking loses nothing.
    return Effect.flatMap(state.awaitAvailable, () => take)
  })

  const shutdown = Effect.sync(() => state.shutdown())
  yield* Effect.forkScoped(state.schedulerLoop)
  yield* Effect.addFinalizer(() => shutdown)

  return {
    add: (key, options) => Effect.sync(() => state.add(key, options?.priority === "low" ? LOW : HIGH)),
    addAfter: (key, delay) => Effect.sync(() => state.addAfter(key, Duration.toMillis(delay))),
    take,
    done: (key) => Effect.sync(() => state.done(key)),
    doneAfter: (key, delay) => Effect.sync(() => state.doneAfter(key, Duration.toMillis(delay))),
    shutdown,
    stats: Effect.sync(() => state.stats()),
    isIdle: Effect.sync(() => state.queued.size === 0 && state.processing.size === 0),
    isQueued: (key) => Effect.sync(() => state.queued.has(key))
  } satisfies WorkQueue
})

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const HIGH = 0
const LOW = 1
type Level = typeof HIGH | typeof LOW

const shutdownError = () =>
  new WorkQueueShutdown({ message: "The work queue has been shut down: no more keys will be handed out." })

/** A FIFO of keys that advances a head index; `Array.shift` is O(n) on large arrays. */
class Fifo {
  private items: Array<string> = []
  private head = 0

  get size(): number {
    return this.items.length - this.head
  }
  push(key: string): void {
    this.items.push(key)
  }
  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined
    const key = this.items[this.head]!
    this.head++
    if (this.head === this.items.length) {
      // Drained: reuse the array from the start, the common steady state.
      this.items.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Keep memory within twice the live entries under a backlog that never fully drains.
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return key
  }
  clear(): void {
    this.items = []
    this.head = 0
  }
}

/** A pending delayed add. A heap entry is live while `delayed.get(key)` is that same entry. */
interface Timer {
  readonly key: string
  readonly due: number
  /** Insertion order, so keys due at the same instant are added in the order they were scheduled. */
  readonly seq: number
}

const before = (a: Timer, b: Timer): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq)

/** A binary min-heap of timers by (due, seq). Superseded entries are skipped lazily when they surface. */
class TimerHeap {
  private readonly items: Array<Timer> = []

  get size(): number {
    return this.items.length
  }
  peek(): Timer | undefined {
    return this.items[0]
  }
  push(timer: Timer): void {
    const items = this.items
    let i = items.length
    items.push(timer)
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = items[parent]!
      if (!before(timer, p)) break
      items[i] = p
      i = parent
    }
    items[i] = timer
  }
  pop(): Timer | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    const n = items.length
    let i = 0
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && before(items[r]!, items[l]!) ? r : l
      const c = items[child]!
      if (!before(c, last)) break
      items[i] = c
      i = child
    }
    items[i] = last
    return top
  }
  clear(): void {
    this.items.length = 0
  }
}

type Resume = (effect: Effect.Effect<void, WorkQueueShutdown>) => void

class State {
  closed = false
  /** Queued keys and their level; each is in exactly one FIFO as a live entry. */
  readonly queued = new Map<string, Level>()
  readonly processing = new Set<string>()
  /** Keys added while processing, with the highest level they were added with. */
  private readonly dirty = new Map<string, Level>()
  private readonly high = new Fifo()
  private readonly low = new Fifo()
  /**
   * Per key, how many entries in `low` are left over from promotions to high. A promotion's leftover
   * always precedes any later live low entry of the same key, so the first ones met are skipped.
   */
  private readonly promoted = new Map<string, number>()

  private readonly delayed = new Map<string, Timer>()
  /** Keys held back by `doneAfter` until their timer fires: adds meanwhile are dropped. */
  private readonly held = new Set<string>()
  private readonly timers = new TimerHeap()
  private seq = 0
  /** The due time the scheduler fiber is sleeping until, if any. */
  private armedAt: number | undefined = undefined
  private kicked = false
  private kickResume: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  private readonly waiters = new Set<Resume>()
  private releaseScheduled = false

  private readonly clock: Clock.Clock
  private readonly dispatcher: SchedulerDispatcher

  constructor(clock: Clock.Clock, dispatcher: SchedulerDispatcher) {
    this.clock = clock
    this.dispatcher = dispatcher
  }

  add(key: string, level: Level): void {
    if (this.closed || this.held.has(key)) return
    if (this.processing.has(key)) {
      const dirty = this.dirty.get(key)
      if (dirty === undefined || level < dirty) this.dirty.set(key, level)
      return
    }
    const queued = this.queued.get(key)
    if (queued === undefined) {
      this.queued.set(key, level)
      if (level === HIGH) this.high.push(key)
      else this.low.push(key)
      this.signal()
    } else if (queued === LOW && level === HIGH) {
      this.queued.set(key, HIGH)
      this.high.push(key)
      this.promoted.set(key, (this.promoted.get(key) ?? 0) + 1)
    }
  }

  tryTake(): string | undefined {
    let key = this.high.shift()
    while (key === undefined && this.low.size > 0) {
      const candidate = this.low.shift()!
      const leftovers = this.promoted.get(candidate)
      if (leftovers === undefined) key = candidate
      else if (leftovers === 1) this.promoted.delete(candidate)
      else this.promoted.set(candidate, leftovers - 1)
    }
    if (key === undefined) return undefined
    this.queued.delete(key)
    this.processing.add(key)
    return key
  }

  done(key: string): void {
    if (!this.processing.delete(key)) return
    const dirty = this.dirty.get(key)
    if (dirty === undefined) return
    this.dirty.delete(key)
    this.add(key, dirty)
  }

  doneAfter(key: string, millis: number): void {
    if (!(millis > 0)) return this.done(key)
    if (!this.processing.delete(key)) return
    this.dirty.delete(key)
    if (this.closed) return
    if (millis === Infinity) return
    // The hold replaces any pending delayed add: the key runs when the hold ends, not before.
    const timer: Timer = { key, due: this.clock.currentTimeMillisUnsafe() + millis, seq: this.seq++ }
    this.held.add(key)
    this.delayed.set(key, timer)
    this.timers.push(timer)
    if (this.armedAt === undefined || timer.due < this.armedAt) this.kick()
  }

  addAfter(key: string, millis: number): void {
    if (this.closed || millis === Infinity || this.held.has(key)) return
    if (!(millis > 0)) return this.add(key, HIGH)
    const due = this.clock.currentTimeMillisUnsafe() + millis
    const pending = this.delayed.get(key)
    if (pending !== undefined && pending.due <= due) return
    const timer: Timer = { key, due, seq: this.seq++ }
    this.delayed.set(key, timer)
    this.timers.push(timer)
    if (this.armedAt === undefined || due < this.armedAt) this.kick()
  }

  stats(): Stats {
    const next = this.nextTimer()
    return {
      queued: this.queued.size,
      processing: this.processing.size,
      delayed: this.delayed.size,
      nextDueInMillis: next === undefined ? undefined : Math.max(0, next.due - this.clock.currentTimeMillisUnsafe())
    }
  }

  shutdown(): void {
    if (this.closed) return
    this.closed = true
    this.queued.clear()
    this.dirty.clear()
    this.high.clear()
    this.low.clear()
    this.promoted.clear()
    this.delayed.clear()
    this.held.clear()
    this.timers.clear()
    const waiters = Array.from(this.waiters)
    this.waiters.clear()
    for (const resume of waiters) resume(Effect.fail(shutdownError()))
    this.kick()
  }

  // --- waiting takes ---------------------------------------------------------

  /** Resumes once a key may be available (or fails once shut down); the caller retries. */
  readonly awaitAvailable: Effect.Effect<void, WorkQueueShutdown> = Effect.callback((resume) => {
    if (this.closed) return resume(Effect.fail(shutdownError()))
    if (this.queued.size > 0) return resume(Effect.void)
    this.waiters.add(resume)
    return Effect.sync(() => {
      this.waiters.delete(resume)
    })
  })

  private signal(): void {
    if (this.waiters.size === 0 || this.releaseScheduled) return
    this.releaseScheduled = true
    this.dispatcher.scheduleTask(this.release, 0)
  }

  private readonly release = (): void => {
    this.releaseScheduled = false
    // A woken take normally takes a key before `resume` returns; if it does not (it yielded first),
    // the next waiter is woken too and one of them goes back to waiting.
    for (const resume of this.waiters) {
      if (this.queued.size === 0) break
      this.waiters.delete(resume)
      resume(Effect.void)
    }
  }

  // --- delayed adds ----------------------------------------------------------

  private nextTimer(): Timer | undefined {
    let top = this.timers.peek()
    while (top !== undefined && this.delayed.get(top.key) !== top) {
      this.timers.pop()
      top = this.timers.peek()
    }
    return top
  }

  /** Adds every timer due at `now`, then returns how long to sleep until the next (undefined: none). */
  private fireAndArm(): number | undefined {
    this.kicked = false
    const now = this.clock.currentTimeMillisUnsafe()
    let next = this.nextTimer()
    while (next !== undefined && next.due <= now) {
      this.timers.pop()
      this.delayed.delete(next.key)
      this.held.delete(next.key)
      this.add(next.key, HIGH)
      next = this.nextTimer()
    }
    this.armedAt = next?.due
    return next === undefined ? undefined : next.due - now
  }

  private kick(): void {
    const resume = this.kickResume
    if (resume === undefined) {
      // The scheduler is between waits; it re-reads the heap before it waits again.
      this.kicked = true
      return
    }
    this.kickResume = undefined
    resume(Effect.void)
  }

  /** Resumes when an `addAfter` moved the earliest due time forward, or on shutdown. */
  private readonly awaitKick: Effect.Effect<void> = Effect.callback((resume) => {
    if (this.kicked) {
      this.kicked = false
      return resume(Effect.void)
    }
    this.kickResume = resume
    return Effect.sync(() => {
      if (this.kickResume === resume) this.kickResume = undefined
    })
  })

  /**
   * The one fiber behind every `addAfter`: sleep on the Clock until the earliest due time, or until an
   * earlier one arrives, add what is due, repeat.
   */
  readonly schedulerLoop: Effect.Effect<void> = Effect.suspend(() => {
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (this.closed) return Effect.void
      const sleepMillis = this.fireAndArm()
      const wait = sleepMillis === undefined
        ? this.awaitKick
        : Effect.raceFirst(Effect.sleep(Duration.millis(sleepMillis)), this.awaitKick)
      return Effect.flatMap(wait, () => loop)
    })
    return loop
  })
}
