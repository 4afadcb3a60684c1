/**
 * `bench/README.md` has three writers: `bench/run.ts` rewrites all of it, `bench/apiserver.ts` only the real
 * kube-apiserver section between its two markers, `bench/peers.ts` only the peers section between its own.
 * `run.ts` keeps those sections as they are when it did not measure them.
 *
 * @since 0.1.0
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/**
 * @since 0.1.0
 * @category constants
 */
export const readmePath = fileURLToPath(new URL("../README.md", import.meta.url))

/**
 * The markers around the real kube-apiserver section; the section's text includes them.
 *
 * @since 0.1.0
 * @category constants
 */
export const sectionStart = "<!-- apiserver:start -->"
/**
 * @since 0.1.0
 * @category constants
 */
export const sectionEnd = "<!-- apiserver:end -->"

/**
 * The sections with markers: `apiserver` (`bench/apiserver.ts`) and `peers` (`bench/peers.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export type SectionName = "apiserver" | "peers"

/**
 * The markers around a section; the section's text includes them.
 *
 * @since 0.1.0
 * @category constants
 */
export const markers = (name: SectionName): { readonly start: string; readonly end: string } => ({
  start: `<!-- ${name}:start -->`,
  end: `<!-- ${name}:end -->`
})

/**
 * Replaces (or appends) the section in a README's text.
 *
 * @since 0.1.0
 * @category splicing
 */
export const withSection = (readme: string, section: string, name: SectionName = "apiserver"): string => {
  const m = markers(name)
  const start = readme.indexOf(m.start)
  const end = readme.indexOf(m.end)
  if (start !== -1 && end > start) return readme.slice(0, start) + section + readme.slice(end + m.end.length)
  return `${readme.trimEnd()}\n\n${section}\n`
}

/**
 * The section currently in a README's text, markers included, if any.
 *
 * @since 0.1.0
 * @category splicing
 */
export const existingSection = (readme: string, name: SectionName = "apiserver"): string | undefined => {
  const m = markers(name)
  const start = readme.indexOf(m.start)
  const end = readme.indexOf(m.end)
  return start !== -1 && end > start ? readme.slice(start, end + m.end.length) : undefined
}

/**
 * The section in `bench/README.md` now; undefined when the file or the section is missing.
 *
 * @since 0.1.0
 * @category files
 */
export const readSection = (name: SectionName = "apiserver"): string | undefined => {
  try {
    return existingSection(readFileSync(readmePath, "utf8"), name)
  } catch {
    return undefined
  }
}

/**
 * Puts `section` into `bench/README.md`, leaving the rest of it as it is.
 *
 * @since 0.1.0
 * @category files
 */
export const writeSection = (section: string, name: SectionName = "apiserver"): void =>
  writeFileSync(readmePath, withSection(readFileSync(readmePath, "utf8"), section, name))

/**
 * Replaces the whole of `bench/README.md`.
 *
 * @since 0.1.0
 * @category files
 */
export const writeReadme = (text: string): void => writeFileSync(readmePath, text)
