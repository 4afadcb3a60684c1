/**
 * `bench/README.md` has two writers: `bench/run.ts` rewrites all of it, `bench/apiserver.ts` only the real
 * kube-apiserver section between two markers. `run.ts` keeps that section as it is when it did not measure it.
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
 * Replaces (or appends) the section in a README's text.
 *
 * @since 0.1.0
 * @category splicing
 */
export const withSection = (readme: string, section: string): string => {
  const start = readme.indexOf(sectionStart)
  const end = readme.indexOf(sectionEnd)
  if (start !== -1 && end > start) return readme.slice(0, start) + section + readme.slice(end + sectionEnd.length)
  return `${readme.trimEnd()}\n\n${section}\n`
}

/**
 * The section currently in a README's text, markers included, if any.
 *
 * @since 0.1.0
 * @category splicing
 */
export const existingSection = (readme: string): string | undefined => {
  const start = readme.indexOf(sectionStart)
  const end = readme.indexOf(sectionEnd)
  return start !== -1 && end > start ? readme.slice(start, end + sectionEnd.length) : undefined
}

/**
 * The section in `bench/README.md` now; undefined when the file or the section is missing.
 *
 * @since 0.1.0
 * @category files
 */
export const readSection = (): string | undefined => {
  try {
    return existingSection(readFileSync(readmePath, "utf8"))
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
export const writeSection = (section: string): void => writeFileSync(readmePath, withSection(readFileSync(readmePath, "utf8"), section))

/**
 * Replaces the whole of `bench/README.md`.
 *
 * @since 0.1.0
 * @category files
 */
export const writeReadme = (text: string): void => writeFileSync(readmePath, text)
