import { defineProject } from "vitest/config"
import { kubefxAliases } from "../../vitest.shared.ts"

export default defineProject({
  resolve: { alias: kubefxAliases },
  test: { name: "k8s", include: ["test/**/*.test.ts"], testTimeout: 60_000 }
})
