/**
 * The line protocol between `bench/apiserver.ts` (the parent) and `bench/apiserver-child.ts` (the measured
 * process). The child prints lines `<TAG> <json>` on stdout (`Messages`); the operator child reads commands
 * from stdin, one per line (`Command`). Times are epoch milliseconds (`epochNow`), comparable across the two.
 *
 * The child loads this file: it imports types and globals only.
 *
 * @since 0.1.0
 */
import { epochNow, MiB, type ProcessFigures } from "../harness/sample.ts"
import type { Counts } from "./requests.ts"

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

/**
 * Figures of the child process at one moment; CPU time since `STARTED`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot extends ProcessFigures {
  readonly counts: Counts
  /** Operator only (0 for the floor). */
  readonly reconciles: number
  readonly failures: number
  /** Log lines at level Warn or above so far. */
  readonly warnings: number
}

/**
 * The operator's answer to `snapshot`, taken once the controller had been idle for 200 ms (since `quietSince`).
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorSnapshot extends Snapshot {
  readonly quietSince: number
}

/**
 * Every line the child prints, by tag.
 *
 * @since 0.1.0
 * @category models
 */
export interface Messages {
  readonly STARTED: Started
  /** The operator: every watcher has listed. */
  readonly SYNCED: { readonly at: number }
  readonly SNAPSHOT: OperatorSnapshot
  /** The floor: its last write has returned. */
  readonly DONE: Snapshot
  /** The operator: shut down, figures of the whole run. */
  readonly FINAL: Snapshot
}

/**
 * @since 0.1.0
 * @category models
 */
export type Tag = keyof Messages

/**
 * What the parent tells the operator child: print a `SNAPSHOT`, or shut down (then `FINAL`). The end of stdin
 * is an `exit`.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = "snapshot" | "exit"

/**
 * Child side: prints one message.
 *
 * @since 0.1.0
 * @category child
 */
export const emit = <T extends Tag>(tag: T, value: Messages[T]): void => void process.stdout.write(`${tag} ${JSON.stringify(value)}\n`)

/**
 * Child side: the `STARTED` figures now.
 *
 * @since 0.1.0
 * @category child
 */
export const started = (): Started => ({ at: epochNow(), rssMiB: process.memoryUsage().rss / MiB })

/**
 * Parent side: a line of the child's stdout, or undefined if it is not a message (no tag, or no JSON).
 *
 * @since 0.1.0
 * @category parent
 */
export const parseLine = (line: string): { readonly tag: string; readonly value: unknown } | undefined => {
  const space = line.indexOf(" ")
  if (space === -1) return undefined
  try {
    return { tag: line.slice(0, space), value: JSON.parse(line.slice(space + 1)) }
  } catch {
    return undefined
  }
}
