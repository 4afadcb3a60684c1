/**
 * The code in the README's tutorial and in docs/testing.md is the code of tests that run: these checks fail
 * when the two drift apart.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const read = (path: string) => readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8")
const firstTsBlock = (markdown: string) => {
  const match = /```ts\n([\s\S]*?)```/.exec(markdown)
  if (match === null) throw new Error("no ts code block")
  return match[1]!.trim()
}

describe("documentation code is tested code", () => {
  it("README tutorial = test/tutorial.test.ts", () => {
    const test = read("./tutorial.test.ts")
    const body = test.slice(test.indexOf("// --- tutorial: begin ---") + "// --- tutorial: begin ---".length, test.indexOf("// --- tutorial: end ---"))
    expect(firstTsBlock(read("../../../README.md"))).toBe(body.trim())
  })
  it("docs/testing.md guide = test/guide.test.ts", () => {
    expect(firstTsBlock(read("../../../docs/testing.md"))).toBe(read("./guide.test.ts").trim())
  })
})
