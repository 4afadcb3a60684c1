/**
 * The front door stays a map: the root README's API tables name every module each package exports, and
 * every package has a README of its own.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))
const read = (file: string) => fs.readFileSync(`${root}/${file}`, "utf8")
const packages = fs.readdirSync(`${root}/packages`).sort()

/** The modules a package's index exports (`export * as Name from ...`). */
export const exportedModules = (index: string): ReadonlyArray<string> =>
  Array.from(index.matchAll(/^export \* as (\w+) from/gm), (m) => m[1]!)

/** The README section of one package: from its `**\`@kubefx/<name>\`**` heading to the next one. */
export const section = (readme: string, pkg: string): string => {
  const start = readme.indexOf(`**\`@kubefx/${pkg}\`**`)
  if (start < 0) return ""
  const next = readme.indexOf("**`@kubefx/", start + 1)
  return readme.slice(start, next < 0 ? readme.indexOf("\n## ", start) : next)
}

export const missing = (readme: string, pkg: string, modules: ReadonlyArray<string>): ReadonlyArray<string> => {
  const text = section(readme, pkg)
  return modules.filter((m) => !new RegExp(`^\\|[^|\\n]*\`${m}\``, "m").test(text))
}

describe("README", () => {
  it.each(packages)("lists every module @kubefx/%s exports", (pkg) => {
    const modules = exportedModules(read(`packages/${pkg}/src/index.ts`))
    expect(modules.length).toBeGreaterThan(0)
    expect(missing(read("README.md"), pkg, modules)).toEqual([])
  })

  it.each(packages)("packages/%s has a README", (pkg) => {
    expect(fs.existsSync(`${root}/packages/${pkg}/README.md`)).toBe(true)
  })

  it("the check sees a module missing from a table", () => {
    const readme = "**`@kubefx/core`** — x\n\n| module | what |\n|---|---|\n| `Resource`, `Builtin` | … |\n\n**`@kubefx/k8s`** — y\n| `Child` | … |\n"
    expect(missing(readme, "core", ["Resource", "Builtin", "Child"])).toEqual(["Child"])
    expect(missing(readme, "k8s", ["Child"])).toEqual([])
  })
})
