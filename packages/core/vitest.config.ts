import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@kubefx/source"] },
  test: { name: "core", include: ["test/**/*.test.ts"], testTimeout: 60_000 }
})
