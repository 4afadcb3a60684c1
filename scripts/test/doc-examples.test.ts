/**
 * The documentation checker reports an example that does not compile at its place in the document, and
 * passes one that does: without this, "every example is type-checked" would prove nothing.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { assemble, check, fromMarkdown, fromSource } from "../doc-examples.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const out = path.join(root, "node_modules", ".cache", "kubefx-doc-examples-test")
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kubefx-doc-examples-"))
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.rmSync(out, { recursive: true, force: true })
})

const write = (name: string, text: string) => {
  const file = path.join(tmp, name)
  fs.writeFileSync(file, text)
  return file
}

describe("doc examples checker", () => {
  it("reports a type error at the document's line, and names a free variable", () => {
    const file = write("broken.md", [
      "# Broken",
      "",
      "```ts",
      "const op = Operator.make({ name: 42, parent: Greeting, children: [], sync })",
      "```",
      ""
    ].join("\n"))
    const { errors } = check([file], out)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e.startsWith(`${file}:4:`))).toBe(true)
    expect(errors.join("\n")).toMatch(/Greeting/)
  }, 60_000)

  it("passes a document whose blocks compile together, with kubefx and effect names imported for it", () => {
    const file = write("good.md", [
      "```ts",
      "const Greeting = Resource.custom({",
      "  group: \"t.example.com\", version: \"v1\", kind: \"Greeting\", plural: \"greetings\",",
      "  spec: Schema.Struct({ name: Schema.String }), status: Schema.Struct({})",
      "})",
      "```",
      "Then, in a later block:",
      "```ts",
      "import { Effect } from \"effect\"",
      "const op = Operator.make({ name: \"greeter\", parent: Greeting, children: [], sync: () => Effect.succeed({ status: {}, children: [] }) })",
      "```"
    ].join("\n"))
    expect(check([file], out)).toEqual({ modules: 1, errors: [] })
  }, 60_000)

  it("reads @example blocks from doc comments, each as a module of its own", () => {
    const source = [
      "/**",
      " * @example",
      " * ```ts",
      " * const a: number = \"not a number\"",
      " * ```",
      " * @since 0.1.0",
      " */",
      "export const x = 1"
    ].join("\n")
    const snippets = fromSource("Example.ts", source)
    expect(snippets).toHaveLength(1)
    expect(snippets[0]).toMatchObject({ line: 4, code: "const a: number = \"not a number\"" })
    const file = write("Example.ts", source)
    const { errors } = check([file], out)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:4:.*TS2322`))
  }, 60_000)

  it("merges imports across blocks and does not import over a name the example declares", () => {
    const blocks = fromMarkdown("doc.md", "```ts\nimport { Effect } from \"effect\"\n```\n```ts\nimport { Effect, Layer } from \"effect\"\nconst Operator = 1\n```\n")
    const { text } = assemble(blocks)
    expect(text.match(/from "effect"/g)).toHaveLength(1)
    expect(text).toContain("import { Effect, Layer } from \"effect\"")
    expect(text).not.toContain("@kubefx/core")
  })
})
