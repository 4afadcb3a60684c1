/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, as `file:line`, and the
 * same time grouped by file.
 *
 *   node bench/cpuprofile.ts bench/profiles/operator-c4-r1.cpuprofile [--top 25]
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const root = fileURLToPath(new URL("../", import.meta.url))

const where = (url: string, line: number): string => {
  if (url === "") return "(native)"
  const path = url.startsWith("file://") ? fileURLToPath(url) : url
  return `${path.startsWith(root) ? path.slice(root.length) : path}:${line + 1}`
}

/**
 * Self time per function and per file, in ms, largest first.
 *
 * @since 0.1.0
 * @category analysis
 */
export const selfTimes = (file: string) => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    self.set(id, (self.get(id) ?? 0) + dt)
    total += dt
  })
  const functions = new Map<string, { name: string; at: string; micros: number }>()
  const files = new Map<string, number>()
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame
    const at = where(frame.url, frame.lineNumber)
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName
    const key = `${name} ${at}`
    const entry = functions.get(key) ?? { name, at, micros: 0 }
    entry.micros += micros
    functions.set(key, entry)
    const fileKey = frame.url === "" ? name : at.slice(0, at.lastIndexOf(":"))
    files.set(fileKey, (files.get(fileKey) ?? 0) + micros)
  }
  return {
    totalMs: total / 1000,
    functions: [...functions.values()].sort((a, b) => b.micros - a.micros).map((f) => ({ ...f, ms: f.micros / 1000 })),
    files: [...files.entries()].sort((a, b) => b[1] - a[1]).map(([file, micros]) => ({ file, ms: micros / 1000 }))
  }
}

/**
 * A printable summary: the top `n` functions by self time and the top `n` files.
 *
 * @since 0.1.0
 * @category analysis
 */
export const topFunctions = (file: string, n: number): string => {
  const { files, functions, totalMs } = selfTimes(file)
  const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1)}%`.padStart(6)
  return [
    `total sampled ${(totalMs / 1000).toFixed(2)} s`,
    ...functions.slice(0, n).map((f) => `${pct(f.ms)} ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.at}`),
    "by file:",
    ...files.slice(0, n).map((f) => `${pct(f.ms)} ${f.ms.toFixed(0).padStart(6)} ms  ${f.file}`)
  ].join("\n")
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2)
  const file = argv.find((a) => !a.startsWith("--"))
  if (file === undefined) throw new Error("usage: node bench/cpuprofile.ts <file.cpuprofile> [--top N]")
  const i = argv.indexOf("--top")
  console.log(topFunctions(file, i === -1 ? 25 : Number(argv[i + 1])))
}
