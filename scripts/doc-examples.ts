/**
 * Type-checks the TypeScript in the documentation: every ```ts block of the READMEs and docs/, and every
 * `@example` in the packages' doc comments. A document's blocks form one module, in order (a tutorial's later
 * steps use its earlier ones); each `@example` is a module of its own. Names a block uses but does not
 * import are imported from kubefx, effect and vitest (see `autoImports`), so examples stay short; anything
 * else an example needs it declares (`declare const operator: Operator.Operator<...>`).
 *
 * Usage: `node scripts/doc-examples.ts [file ...]` (default: the repository's documents and sources).
 * Exits 1 with each error at its place in the document (`README.md:57:10`), 0 when everything compiles.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const outDir = path.join(root, "node_modules", ".cache", "kubefx-doc-examples")

/** Modules whose exports an example may use without importing them. The first source that has a name wins. */
export const autoImports: ReadonlyArray<{ readonly from: string; readonly names: ReadonlyArray<string> }> = [
  {
    from: "@kubefx/core",
    names: ["Builtin", "Child", "Cluster", "ClusterError", "Conditions", "Controller", "Handler", "Health", "LeaderElection", "Logging", "Operator", "Plan", "Reconciler", "Resource", "Store", "Trigger", "Watcher", "WorkQueue"]
  },
  { from: "@kubefx/testkit", names: ["FakeCluster", "FaultProxy", "FieldSet", "Laws", "Patch", "ServerSideApply", "TestKit", "Workloads"] },
  {
    from: "@kubefx/k8s",
    names: ["Api", "ClientConfig", "ClientConfigError", "Discovery", "ExecCredential", "InCluster", "KubeCluster", "Kubeconfig", "Manifests", "Oidc", "TokenFile"]
  },
  { from: "@kubefx/envtest", names: ["Envtest", "EnvtestCluster"] },
  {
    from: "effect",
    names: ["Cause", "Config", "Console", "Context", "Data", "Deferred", "Duration", "Effect", "Exit", "Fiber", "Layer", "Metric", "Option", "Queue", "Redacted", "Ref", "Result", "Schedule", "Schema", "Scope", "Stream"]
  },
  { from: "effect/http", names: ["HttpRouter", "HttpServer", "HttpServerResponse"] },
  { from: "effect/testing", names: ["TestClock"] },
  { from: "@effect/vitest", names: ["assert", "describe", "expect", "it"] },
  { from: "@effect/platform-node", names: ["NodeHttpServer", "NodeRuntime"] },
  { from: "node:http", names: ["createServer"] }
]

/** One block of TypeScript and where it came from. */
export interface Snippet {
  readonly file: string
  /** The directory relative imports resolve from: the file's own, or a markdown document's `<!-- ts-base: dir -->`. */
  readonly base: string
  /** 1-based line of the block's first code line in `file`. */
  readonly line: number
  readonly code: string
}

/** The ```ts blocks of a markdown document. */
export const fromMarkdown = (file: string, text: string): ReadonlyArray<Snippet> => {
  const out: Array<Snippet> = []
  const lines = text.split("\n")
  const declaredBase = text.match(/<!--\s*ts-base:\s*(\S+)\s*-->/)?.[1]
  const base = declaredBase === undefined ? path.dirname(path.resolve(root, file)) : path.resolve(root, declaredBase)
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```(ts|typescript)\s*$/.test(lines[i]!)) continue
    const indent = lines[i]!.match(/^\s*/)![0].length
    const start = i + 1
    let end = start
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++
    out.push({ file, base, line: start + 1, code: lines.slice(start, end).map((l) => l.slice(Math.min(indent, l.match(/^\s*/)![0].length))).join("\n") })
    i = end
  }
  return out
}

/** The ```ts blocks inside `@example` tags of a source file's doc comments. */
export const fromSource = (file: string, text: string): ReadonlyArray<Snippet> => {
  const out: Array<Snippet> = []
  const lines = text.split("\n")
  let inExample = false
  for (let i = 0; i < lines.length; i++) {
    const doc = lines[i]!.match(/^\s*\*\s?(.*)$/)
    if (doc === null) {
      inExample = false
      continue
    }
    if (/^@example\b/.test(doc[1]!)) inExample = true
    else if (/^@\w/.test(doc[1]!)) inExample = false
    if (!inExample || !/^```(ts|typescript)\s*$/.test(doc[1]!.trim())) continue
    const start = i + 1
    let end = start
    const body: Array<string> = []
    while (end < lines.length) {
      const m = lines[end]!.match(/^\s*\*\s?(.*)$/)
      if (m === null || /^```\s*$/.test(m[1]!.trim())) break
      body.push(m[1]!)
      end++
    }
    out.push({ file, base: path.dirname(path.resolve(root, file)), line: start + 1, code: body.join("\n") })
    i = end
  }
  return out
}

interface Import {
  readonly from: string
  readonly typeOnly: boolean
  readonly star?: string
  readonly default?: string
  readonly names: ReadonlyArray<string>
}

const importPattern = /^import\s+(type\s+)?(?:(\*\s+as\s+\w+)|(\w+)\s*,?\s*)?(\{[^}]*\})?\s*from\s+["']([^"']+)["']\s*;?[ \t]*$/gm

/** Splits a module's text into its import declarations and the rest (line count kept: imports become blank lines). */
export const splitImports = (code: string): { readonly imports: ReadonlyArray<Import>; readonly body: string } => {
  const imports: Array<Import> = []
  const body = code.replace(importPattern, (all, type: string | undefined, star: string | undefined, def: string | undefined, braces: string | undefined, from: string) => {
    imports.push({
      from,
      typeOnly: type !== undefined,
      ...(star === undefined ? {} : { star: star.replace(/^\*\s+as\s+/, "") }),
      ...(def === undefined ? {} : { default: def }),
      names: braces === undefined ? [] : braces.slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s !== "")
    })
    return "\n".repeat(all.split("\n").length - 1)
  })
  return { imports, body }
}

const localName = (specifier: string): string => specifier.replace(/^type\s+/, "").split(/\s+as\s+/).pop()!.trim()

/** Names the body declares itself (top-level or not: enough to avoid importing over them). */
const declared = (body: string): Set<string> => {
  const names = new Set<string>()
  for (const m of body.matchAll(/\b(?:const|let|var|function|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]!)
  return names
}

/** One module from snippets: imports merged and de-duplicated, missing well-known names imported. */
export const assemble = (snippets: ReadonlyArray<Snippet>): { readonly text: string; readonly map: ReadonlyArray<{ file: string; line: number } | undefined> } => {
  const imports: Array<Import> = []
  const bodyLines: Array<{ text: string; source: { file: string; line: number } | undefined }> = []
  for (const s of snippets) {
    const split = splitImports(s.code)
    imports.push(...split.imports.map((i) => (i.from.startsWith(".") ? { ...i, from: path.resolve(s.base, i.from) } : i)))
    split.body.split("\n").forEach((text, i) => bodyLines.push({ text, source: { file: s.file, line: s.line + i } }))
  }
  const body = bodyLines.map((l) => l.text).join("\n")
  const bound = declared(body)
  const lines: Array<string> = []
  const bySource = new Map<string, { values: Set<string>; types: Set<string>; stars: Set<string>; defaults: Set<string> }>()
  const entry = (from: string) => {
    let e = bySource.get(from)
    if (e === undefined) {
      e = { values: new Set(), types: new Set(), stars: new Set(), defaults: new Set() }
      bySource.set(from, e)
    }
    return e
  }
  for (const i of imports) {
    const e = entry(i.from)
    if (i.star !== undefined) {
      e.stars.add(`${i.typeOnly ? "type " : ""}${i.star}`)
      bound.add(i.star)
    }
    if (i.default !== undefined) {
      e.defaults.add(i.default)
      bound.add(i.default)
    }
    for (const n of i.names) {
      const typeOnly = i.typeOnly || n.startsWith("type ")
      const spec = n.replace(/^type\s+/, "")
      ;(typeOnly ? e.types : e.values).add(spec)
      bound.add(localName(n))
    }
  }
  for (const group of autoImports) {
    for (const name of group.names) {
      if (bound.has(name) || !new RegExp(`(?<![\\w$.])${name.replace(/\$/g, "\\$")}\\b`).test(body)) continue
      entry(group.from).values.add(name)
      bound.add(name)
    }
  }
  for (const [from, e] of bySource) {
    for (const star of e.stars) lines.push(`import ${star.startsWith("type ") ? `type * as ${star.slice(5)}` : `* as ${star}`} from ${JSON.stringify(from)}`)
    for (const d of e.defaults) lines.push(`import ${d} from ${JSON.stringify(from)}`)
    const types = [...e.types].filter((t) => !e.values.has(t)).map((t) => `type ${t}`)
    const all = [...e.values, ...types]
    if (all.length > 0) lines.push(`import { ${all.join(", ")} } from ${JSON.stringify(from)}`)
  }
  const map: Array<{ file: string; line: number } | undefined> = lines.map(() => undefined)
  lines.push("export {}")
  map.push(undefined)
  for (const l of bodyLines) {
    lines.push(l.text)
    map.push(l.source)
  }
  return { text: `${lines.join("\n")}\n`, map }
}

/** The repository's documents and sources with examples. */
const defaultFiles = (): ReadonlyArray<string> => {
  const files: Array<string> = ["README.md"]
  const walk = (dir: string, keep: (f: string) => boolean) => {
    if (!fs.existsSync(path.join(root, dir))) return
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && entry.name !== "dist" && entry.name !== "fixtures" && !entry.name.startsWith(".")) walk(rel, keep)
      } else if (keep(rel)) files.push(rel)
    }
  }
  walk("docs", (f) => f.endsWith(".md"))
  walk("bench", (f) => f.endsWith(".md"))
  walk("examples", (f) => f.endsWith(".md"))
  for (const pkg of fs.readdirSync(path.join(root, "packages"))) {
    walk(path.join("packages", pkg), (f) => f.endsWith(".md") && !f.includes(`${path.sep}test${path.sep}`))
    walk(path.join("packages", pkg, "src"), (f) => f.endsWith(".ts"))
  }
  return [...new Set(files)].sort()
}

/** Writes one module per document / example into `dir` with a tsconfig; returns each module's line map. */
export const generate = (files: ReadonlyArray<string>, dir: string) => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const maps = new Map<string, ReadonlyArray<{ file: string; line: number } | undefined>>()
  let n = 0
  for (const file of files) {
    const text = fs.readFileSync(path.resolve(root, file), "utf8")
    const modules = file.endsWith(".md") ? [fromMarkdown(file, text)] : fromSource(file, text).map((s) => [s])
    for (const snippets of modules) {
      if (snippets.length === 0) continue
      const { text: code, map } = assemble(snippets)
      const name = `${String(n++).padStart(3, "0")}-${file.replace(/[^\w.-]+/g, "_")}.ts`
      fs.writeFileSync(path.join(dir, name), code)
      maps.set(name, map)
    }
  }
  const base = path.relative(dir, path.join(root, "tsconfig.base.json"))
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
    extends: base,
    compilerOptions: {
      noEmit: true,
      composite: false,
      declaration: false,
      declarationMap: false,
      noUnusedLocals: false,
      noUnusedParameters: false,
      allowImportingTsExtensions: true,
      rewriteRelativeImportExtensions: false
    },
    include: ["*.ts"]
  }, null, 2))
  return maps
}

/** Runs tsc over the generated modules; returns the errors at their places in the documents. */
export const check = (files: ReadonlyArray<string>, dir = outDir): { readonly modules: number; readonly errors: ReadonlyArray<string> } => {
  const maps = generate(files, dir)
  if (maps.size === 0) return { modules: 0, errors: [] }
  let output = ""
  try {
    execFileSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", dir, "--pretty", "false"], { cwd: root, encoding: "utf8", stdio: "pipe" })
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string }
    output = `${err.stdout ?? ""}${err.stderr ?? ""}`
    if (output.trim() === "") throw e
  }
  const errors: Array<string> = []
  for (const line of output.split("\n")) {
    const m = line.match(/^(.*?)\((\d+),(\d+)\): (error .*)$/)
    if (m === null) {
      if (line.trim() !== "" && errors.length > 0) errors[errors.length - 1] += `\n${line}`
      else if (line.trim() !== "") errors.push(line)
      continue
    }
    const source = maps.get(path.basename(m[1]!))?.[Number(m[2]) - 1]
    errors.push(source === undefined ? `${m[1]}:${m[2]}:${m[3]}: ${m[4]}` : `${source.file}:${source.line}:${m[3]}: ${m[4]}`)
  }
  return { modules: maps.size, errors }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2)
  const files = args.length > 0 ? args : defaultFiles()
  const { errors, modules } = check(files)
  if (errors.length > 0) {
    for (const e of errors) console.error(e)
    console.error(`doc examples: ${errors.length} error(s) in ${modules} module(s)`)
    process.exit(1)
  }
  console.log(`doc examples: ${modules} module(s) type-check`)
}
