/**
 * `bench/client.ts` runs end to end on a small workload: it starts its stub, measures every row, checks that
 * each pass did the work it counts (a short pass fails the run), and prints the table.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))

describe("bench/client.ts", () => {
  it("measures writes, watch events and the Watcher on a loopback stub", async () => {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, ["--conditions=@kubefx/source", "bench/client.ts", "--requests", "300", "--events", "300", "--repeat", "1"], { cwd: root }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : (error.code as number), output: `${stdout}${stderr}` })
      })
    })
    expect(code, output).toBe(0)
    const rows = output.split("\n").filter((l) => /^\| (write|watch event|… through)/.test(l))
    expect(rows).toHaveLength(3)
    for (const row of rows) {
      const [bare, ours, ratio] = row.split("|").slice(2, 5).map((c) => Number.parseFloat(c))
      expect(bare, row).toBeGreaterThan(0)
      expect(ours, row).toBeGreaterThan(0)
      expect(ratio, row).toBeGreaterThan(0)
    }
  })
})
