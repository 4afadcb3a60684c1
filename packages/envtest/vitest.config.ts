import { defineProject } from "vitest/config"
import { kubefxAliases } from "../../vitest.shared.ts"

export default defineProject({
  resolve: { alias: kubefxAliases },
  test: { name: "envtest", include: ["test/**/*.test.ts"], testTimeout: 60_000 }
})
