/**
 * Command-line flags of the benchmark scripts: `--name value` pairs and bare switches. A bad value throws
 * before anything is measured.
 *
 * @since 0.1.0
 */

/**
 * The flags of one command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  /** The word after `name`, if `name` is there. */
  readonly value: (name: string) => string | undefined
  /** The value of `name` as an integer ≥ `min` (default 1); `fallback` when the flag is absent. */
  readonly int: (name: string, fallback: number, min?: number) => number
  /** A comma-separated list of positive integers; `fallback` when the flag is absent. */
  readonly ints: (name: string, fallback: ReadonlyArray<number>) => ReadonlyArray<number>
  /** Whether the switch `name` is there. */
  readonly has: (name: string) => boolean
}

/**
 * Reads flags from `argv` (without the node and script paths).
 *
 * @example
 * const args = flags(["--parents", "100", "--no-write"])
 * args.int("--parents", 1000) // 100
 * args.has("--no-write") // true
 *
 * @since 0.1.0
 * @category constructors
 */
export const flags = (argv: ReadonlyArray<string>): Flags => {
  const value = (name: string) => {
    const i = argv.indexOf(name)
    return i === -1 ? undefined : argv[i + 1]
  }
  return {
    value,
    int: (name, fallback, min = 1) => {
      const raw = value(name)
      if (raw === undefined) return fallback
      const n = Number(raw)
      if (!Number.isInteger(n) || n < min) {
        throw new Error(`${name} needs ${min === 1 ? "a positive integer" : `an integer ≥ ${min}`}, got ${JSON.stringify(raw)}`)
      }
      return n
    },
    ints: (name, fallback) => {
      const raw = value(name)
      if (raw === undefined) return fallback
      const ns = raw.split(",").map(Number)
      if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} needs positive integers, e.g. ${fallback.join(",")}`)
      return ns
    },
    has: (name) => argv.includes(name)
  }
}
