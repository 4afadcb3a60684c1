/**
 * Which certificate authorities a connection trusts, as one `SecureContext` per TLS identity:
 *
 * - a configured CA (kubeconfig `certificate-authority[-data]`, the service account's `ca.crt`) alone, as
 *   client-go trusts it alone;
 * - a CA from a file is read again when the file changes (its mtime, size or inode), checked on each new
 *   connection: a rotated cluster CA is picked up without a restart. A file that vanishes or holds no
 *   PEM for a moment keeps the last good CA;
 * - no CA: the operating system's trust store together with Node's bundled roots (and
 *   `NODE_EXTRA_CA_CERTS`), as Go's `crypto/x509` uses the system roots. Node 24's
 *   `tls.getCACertificates("system")` reads them; without it, the bundled roots only.
 *
 * Contexts are built once and reused: a context with a few hundred roots costs milliseconds to build,
 * which Node would otherwise spend on every connection.
 *
 * @internal
 */
import * as fs from "node:fs"
import * as tls from "node:tls"
import { Redacted } from "effect"

let defaultRoots: ReadonlyArray<string> | undefined

/** The OS trust store plus Node's default roots (bundled and `NODE_EXTRA_CA_CERTS`), without duplicates. */
export const systemAndBundledRoots = (): ReadonlyArray<string> => {
  if (defaultRoots === undefined) {
    const get = (tls as { getCACertificates?: (type: "default" | "system" | "bundled" | "extra") => Array<string> })
      .getCACertificates
    defaultRoots = get === undefined ? [...tls.rootCertificates] : [...new Set([...get("default"), ...get("system")])]
  }
  return defaultRoots
}

/** The CAs to trust now; `version` changes whenever they do. */
export interface Trust {
  readonly current: () => { readonly ca: string | ReadonlyArray<string>; readonly version: number }
}

const looksLikePem = (text: string) => text.includes("-----BEGIN CERTIFICATE-----")

/** The trust a TLS configuration describes (see the module header). */
export const make = (config: { readonly ca?: string | undefined; readonly caFile?: string | undefined }): Trust => {
  if (config.caFile === undefined) {
    const fixed = { ca: config.ca ?? systemAndBundledRoots(), version: 0 }
    return { current: () => fixed }
  }
  const file = config.caFile
  let state = { ca: config.ca ?? "", version: 0 }
  let stamp: string | undefined
  try {
    const stat = fs.statSync(file)
    stamp = `${stat.ino}:${stat.size}:${stat.mtimeMs}`
  } catch {
    stamp = undefined
  }
  return {
    current: () => {
      try {
        const stat = fs.statSync(file)
        const next = `${stat.ino}:${stat.size}:${stat.mtimeMs}`
        if (next !== stamp) {
          const text = fs.readFileSync(file, "utf8")
          // A file caught mid-write is tried again on the next connection.
          if (looksLikePem(text)) {
            stamp = next
            if (text !== state.ca) state = { ca: text, version: state.version + 1 }
          }
        }
      } catch {
        // Keep the last good CA: a file replaced by rename may be missing for an instant.
      }
      return state.ca === "" ? { ca: systemAndBundledRoots(), version: state.version } : state
    }
  }
}

/** A secure context per trust version and identity, rebuilt only when the trust changes. */
export const contextCache = (
  trust: Trust,
  identity: { readonly cert: string; readonly key: Redacted.Redacted<string> } | undefined
) => {
  let cached: { version: number; context: tls.SecureContext } | undefined
  return (): tls.SecureContext => {
    const { ca, version } = trust.current()
    if (cached === undefined || cached.version !== version) {
      cached = {
        version,
        context: tls.createSecureContext({
          ca: ca as string | Array<string>,
          ...(identity === undefined ? {} : { cert: identity.cert, key: Redacted.value(identity.key) })
        })
      }
    }
    return cached.context
  }
}
