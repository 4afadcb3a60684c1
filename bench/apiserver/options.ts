/**
 * What `bench/apiserver.ts` runs, from its command line (see its module comment for the flags).
 *
 * @since 0.1.0
 */
import { fileURLToPath } from "node:url"
import { flags } from "../harness/args.ts"

/**
 * What to run.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiserverOptions {
  readonly parents: number
  /** `maxConcurrency` of each kubefx measurement. */
  readonly concurrencies: ReadonlyArray<number>
  /** Parallel clients of the floor. */
  readonly clients: number
  /** Rounds; each figure reported is the round with the median time. */
  readonly repeat: number
  /** Length of the idle phase; 0 skips it. */
  readonly idleMillis: number
  readonly resyncMillis: number
  /** Also measure the floor with measured.md's write set. */
  readonly classic: boolean
  /** Directory for V8 CPU profiles of the operator children, or undefined. */
  readonly profileDir: string | undefined
  /** Per phase. */
  readonly timeoutMillis: number
}

const profileDir = fileURLToPath(new URL("../profiles", import.meta.url))

/**
 * Options from command-line arguments; `[]` gives the defaults (what `npm run bench -- --apiserver` runs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseApiserverArgs = (argv: ReadonlyArray<string>): ApiserverOptions => {
  const args = flags(argv)
  return {
    parents: args.int("--parents", 1000),
    concurrencies: args.ints("--concurrency", [4, 16]),
    clients: args.int("--clients", 16),
    repeat: args.int("--repeat", 1),
    idleMillis: args.int("--idle-ms", 60_000, 0),
    resyncMillis: args.int("--resync-ms", 25_000),
    classic: !args.has("--no-classic"),
    profileDir: args.has("--profile") ? profileDir : undefined,
    timeoutMillis: args.int("--timeout-ms", 300_000)
  }
}
