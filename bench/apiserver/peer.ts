/**
 * The controller-runtime peer (`bench/peers/controller-runtime`): the echo-server operator written as a
 * kubebuilder user writes it, in Go, speaking the same protocol on stdin/stdout as `bench/apiserver-child.ts`
 * (`protocol.ts`). Built with `go build` into `bench/peers/controller-runtime/bin/` (gitignored), again only when
 * its sources changed.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { ChildCommand } from "./childProcess.ts"

const peerDir = fileURLToPath(new URL("../peers/controller-runtime", import.meta.url))
const binary = join(peerDir, "bin", "echo-operator")
const stamp = join(peerDir, "bin", ".sources.sha256")

/** A hash of everything the binary is built from. */
const sourcesHash = () => {
  const hash = createHash("sha256")
  const files = readdirSync(peerDir).filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum").sort()
  for (const f of files) hash.update(f).update(readFileSync(join(peerDir, f)))
  return hash.digest("hex")
}

/**
 * Builds the peer unless the binary there was built from the same sources. Throws with Go's output on failure.
 *
 * @since 0.1.0
 * @category building
 */
export const buildPeer = Effect.sync(() => {
  const hash = sourcesHash()
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8") === hash) return "cached"
  try {
    execFileSync("go", ["build", "-o", binary, "."], {
      cwd: peerDir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GOFLAGS: "-mod=mod -buildvcs=false" }
    })
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string }
    throw new Error(`go build in ${peerDir} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`)
  }
  writeFileSync(stamp, hash)
  return "built"
})

/**
 * The command that starts the peer with `workers` concurrent reconciles and a sync period of `resyncMillis`.
 *
 * @since 0.1.0
 * @category commands
 */
export const peerCommand = (options: { readonly workers: number; readonly resyncMillis: number; readonly kubeconfig: string }): ChildCommand => ({
  file: binary,
  args: ["--kubeconfig", options.kubeconfig, "--max-concurrent-reconciles", String(options.workers), "--sync-period", `${options.resyncMillis}ms`]
})
