/**
 * How the kubefx operator child (`bench/apiserver-child.ts`) runs: as compiled JavaScript (the default, as an
 * operator ships: the packages built by `npm run build` into `packages/<name>/dist`, the child and the example it imports
 * compiled by `bench/tsconfig.child.json` into `bench/.build/`, so that `@kubefx/*` resolve to `dist` through the
 * packages' exports), or from the TypeScript sources with Node's type stripping (`--source`: the
 * `@kubefx/source` export condition), which costs ~30 MiB of RSS at start. The compiled child runs with the Node
 * options the generated Deployment sets (`Manifests.defaultNodeOptions`), as a deployed operator does; the source
 * child with Node's defaults.
 *
 * @since 0.1.0
 */
import { Manifests } from "@kubefx/k8s"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { ChildCommand } from "./childProcess.ts"

/**
 * @since 0.1.0
 * @category models
 */
export type ChildMode = "compiled" | "source"

const repository = fileURLToPath(new URL("../..", import.meta.url))
const sourceScript = fileURLToPath(new URL("../apiserver-child.ts", import.meta.url))
const compiledScript = fileURLToPath(new URL("../.build/bench/apiserver-child.js", import.meta.url))
const childTsconfig = fileURLToPath(new URL("../tsconfig.child.json", import.meta.url))
const tsc = fileURLToPath(new URL("../../node_modules/.bin/tsc", import.meta.url))

/**
 * Builds what the compiled child runs: `npm run build` (incremental: `tsc -b`), then the child. Throws with the
 * compiler's output when either fails.
 *
 * @since 0.1.0
 * @category building
 */
export const buildNodeChild = Effect.sync(() => {
  const run = (file: string, args: ReadonlyArray<string>) => {
    try {
      execFileSync(file, args, { cwd: repository, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string }
      throw new Error(`${file} ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`)
    }
  }
  run("npm", ["run", "--silent", "build"])
  run(tsc, ["-p", childTsconfig])
})

/**
 * The command that starts the child in `mode`, `nodeArgs` given to node itself (e.g. `--cpu-prof`).
 *
 * @since 0.1.0
 * @category commands
 */
export const nodeChildCommand = (mode: ChildMode, nodeArgs: ReadonlyArray<string> = []): ChildCommand =>
  mode === "source"
    ? { file: process.execPath, args: ["--conditions=@kubefx/source", ...nodeArgs, sourceScript] }
    : { file: process.execPath, args: [...Manifests.defaultNodeOptions.split(" "), ...nodeArgs, compiledScript] }
