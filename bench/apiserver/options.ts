/**
 * What `bench/apiserver.ts` and `bench/peers.ts` run, from their command lines (see their module comments for the
 * flags).
 *
 * @since 0.1.0
 */
import { fileURLToPath } from "node:url"
import { flags } from "../harness/args.ts"
import type { CrdShape } from "./controlPlane.ts"
import type { ChildMode } from "./nodeChild.ts"

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
  /** How the kubefx child runs: compiled JavaScript, or the sources (`--source`). */
  readonly childMode: ChildMode
  /** Run the spec-change wave (phase 2) of each operator measurement on the CRD with conditions (`--no-wave`: skip it). */
  readonly wave: boolean
  /** The CRD shapes to measure the operators on (`bench/peers.ts`; `bench/apiserver.ts` uses the first). */
  readonly shapes: ReadonlyArray<CrdShape>
  /** Measure the floor in each round of `bench/peers.ts` (`--no-floor`: skip it, e.g. at 10,000 parents). */
  readonly floor: boolean
  /**
   * The kubefx example's update policy for its Deployment (`--deployment-update replace`): `apply` as the example
   * ships (server-side apply), or `replace` (create, then PUT), the verbs controller-runtime's `CreateOrUpdate` uses.
   */
  readonly deploymentUpdate: "apply" | "replace"
}

/**
 * The defaults that differ between the two benchmarks.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiserverDefaults {
  readonly concurrencies: ReadonlyArray<number>
  readonly resyncMillis: number
}

const parseShapes = (raw: string | undefined): ReadonlyArray<CrdShape> => {
  if (raw === undefined) return ["conditions", "no-conditions"]
  const shapes = raw.split(",")
  for (const shape of shapes) {
    if (shape !== "conditions" && shape !== "no-conditions") throw new Error(`--shapes takes conditions and/or no-conditions, got ${JSON.stringify(shape)}`)
  }
  return shapes as ReadonlyArray<CrdShape>
}

const parseDeploymentUpdate = (raw: string | undefined): "apply" | "replace" => {
  if (raw === undefined) return "apply"
  if (raw === "apply" || raw === "replace") return raw
  throw new Error(`--deployment-update takes apply or replace, got ${JSON.stringify(raw)}`)
}

const profileDir = fileURLToPath(new URL("../profiles", import.meta.url))

/**
 * Options from command-line arguments; `[]` gives the defaults (what `npm run bench -- --apiserver` runs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseApiserverArgs = (
  argv: ReadonlyArray<string>,
  defaults: ApiserverDefaults = { concurrencies: [4, 16], resyncMillis: 25_000 }
): ApiserverOptions => {
  const args = flags(argv)
  const parents = args.int("--parents", 1000)
  return {
    parents,
    concurrencies: args.ints("--concurrency", defaults.concurrencies),
    clients: args.int("--clients", 16),
    repeat: args.int("--repeat", 1),
    idleMillis: args.int("--idle-ms", 60_000, 0),
    resyncMillis: args.int("--resync-ms", defaults.resyncMillis),
    classic: !args.has("--no-classic"),
    profileDir: args.has("--profile") ? profileDir : undefined,
    timeoutMillis: args.int("--timeout-ms", Math.max(300_000, parents * 90)),
    childMode: args.has("--source") ? "source" : "compiled",
    shapes: parseShapes(args.value("--shapes")),
    wave: !args.has("--no-wave"),
    floor: !args.has("--no-floor"),
    deploymentUpdate: parseDeploymentUpdate(args.value("--deployment-update"))
  }
}
