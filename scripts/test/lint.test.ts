/**
 * The architecture rules in `.oxlintrc.json` (no import circles, even type-only; package boundaries; no
 * oversized source files) catch what they are meant to catch: each rule fails on a fixture that breaks it.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))
const fixtures = fileURLToPath(new URL("./fixtures", import.meta.url))
const oxlint = path.join(root, "node_modules", ".bin", "oxlint")

const lint = (target: string): Promise<{ code: number; output: string }> =>
  new Promise((resolve) => {
    execFile(oxlint, ["-c", path.join(root, ".oxlintrc.json"), "--no-ignore", "--deny-warnings", target], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error.code as number), output: `${stdout}${stderr}` })
    })
  })

describe("architecture lint", () => {
  it("finds a type-only import circle", async () => {
    const { code, output } = await lint(path.join(fixtures, "cycle"))
    expect(code).not.toBe(0)
    expect(output).toContain("import(no-cycle)")
  })

  it("keeps the k8s client out of @kubefx/testkit", async () => {
    const { code, output } = await lint(path.join(fixtures, "packages/testkit/src"))
    expect(code).not.toBe(0)
    expect(output).toContain("@kubefx/testkit depends on @kubefx/core and effect only")
  })

  it("keeps @kubefx/core on effect alone", async () => {
    const { code, output } = await lint(path.join(fixtures, "packages/core/src"))
    expect(code).not.toBe(0)
    expect(output).toContain("@kubefx/core depends on effect only")
  })

  it("refuses a source file over 600 lines", async () => {
    const dir = path.join(fixtures, "generated", "packages", "k8s", "src")
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, "Long.ts")
    fs.writeFileSync(file, Array.from({ length: 601 }, (_, i) => `export const v${i} = ${i}`).join("\n") + "\n")
    try {
      const { code, output } = await lint(dir)
      expect(code).not.toBe(0)
      expect(output).toContain("max-lines")
    } finally {
      fs.rmSync(path.join(fixtures, "generated"), { recursive: true, force: true })
    }
  })
})
