import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@kubefx/source"] },
  test: { name: "echo-server", include: ["test/**/*.test.ts"], testTimeout: 60_000 }
})
