import { defineProject } from "vitest/config"
import { kubefxAliases } from "../../vitest.shared.ts"

export default defineProject({
  resolve: { alias: kubefxAliases },
  test: { name: "echo-server", include: ["test/**/*.test.ts"], testTimeout: 240_000 }
})
