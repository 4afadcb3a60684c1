import { fileURLToPath } from "node:url"

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

/**
 * Tests always run against the packages' sources, never a stale `dist/`. (Vite's `resolve.conditions`
 * does not reach server-side module resolution, so the `@kubefx/source` export condition is not enough.)
 */
export const kubefxAliases = {
  "@kubefx/core": src("core"),
  "@kubefx/testkit": src("testkit"),
  "@kubefx/envtest": src("envtest"),
  "@kubefx/k8s": src("k8s")
}
