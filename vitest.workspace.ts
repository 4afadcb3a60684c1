import { defineConfig } from "vitest/config"

/**
 * The root test definition. vitest 5 replaced workspace files with `test.projects`;
 * this file is that config, so `vitest run --config vitest.workspace.ts` runs every package.
 */
export default defineConfig({
  test: {
    projects: ["packages/core", "packages/testkit", "packages/k8s", "packages/envtest", "examples/echo-server", "scripts"]
  }
})
