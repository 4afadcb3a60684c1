/**
 * How a configuration reaches its server: the server URL (https unless a test server is allowed http), the
 * TLS trust (a CA, or no verification at all, never both) and the proxy.
 *
 * @internal
 */
import { Effect, type FileSystem } from "effect"
import type { ConfigError } from "../../ClientConfigError.ts"
import { configError, pem } from "./checks.ts"
import type { Labels, Options } from "./model.ts"

/** `https://host:6443/` → `https://host:6443`; `host:6443` → `https://host:6443`. */
export const normalizeServer = (raw: string, label: string, allowInsecureHttp: boolean): Effect.Effect<string, ConfigError> => {
  const text = raw.trim()
  if (text === "") return Effect.fail(configError(`${label}: no server is set`, label))
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text) ? text : `https://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return Effect.fail(configError(`${label}: ${JSON.stringify(text)} is not a URL`, label))
  }
  if (url.protocol === "http:" && !allowInsecureHttp) {
    return Effect.fail(configError(
      `${label}: refusing http:// server ${url.host}: credentials and data would cross the network unencrypted; ` +
        "use https, or set allowInsecureHttp: true for a local test server",
      label
    ))
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return Effect.fail(configError(`${label}: server must be an https:// URL, got ${url.protocol}//`, label))
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return Effect.fail(configError(`${label}: server URL must not carry a query, fragment or credentials`, label))
  }
  return Effect.succeed(url.href.replace(/\/+$/, ""))
}

const checkProxy = (raw: string, label: string): Effect.Effect<string, ConfigError> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    // not quoted: a proxy URL may carry a password
    return Effect.fail(configError(`${label}: the proxy URL is not a URL`, label))
  }
  return ["http:", "https:", "socks5:", "socks5h:"].includes(url.protocol)
    ? Effect.succeed(raw)
    : Effect.fail(configError(`${label}: proxy scheme must be http, https or socks5, got ${url.protocol}`, label))
}

/** The checked TLS and proxy settings of a configuration. */
export interface Connection {
  readonly insecureSkipTlsVerify: boolean
  /** PEM of the CAs to trust; undefined means the system roots. */
  readonly ca: string | undefined
  readonly tlsServerName: string | undefined
  readonly proxyUrl: string | undefined
}

/** The TLS and proxy options, checked: a CA is read (inline or from its file) and must look like PEM. */
export const connectionOf = (options: Options, labels: Labels): Effect.Effect<Connection, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const insecure = options.insecureSkipTlsVerify === true
    const hasCa = (options.ca !== undefined && options.ca !== "") || (options.caFile !== undefined && options.caFile !== "")
    if (insecure && hasCa) {
      return yield* configError(
        `${labels.ca}: a CA together with insecure-skip-tls-verify is refused (kubectl refuses it too); drop one`,
        labels.ca
      )
    }
    if (insecure) {
      // once, when the configuration is built: every request after this trusts whoever answers
      yield* Effect.logWarning(
        `${labels.insecureSkipTlsVerify}: TLS verification of ${options.server.trim()} is off: the server's certificate ` +
          "is not checked, so anyone on the network path can pose as it and receive the credentials sent to it"
      )
    }
    const ca = yield* pem(options.ca, options.caFile, { inline: labels.ca, file: labels.caFile }, "CA certificate")
    const proxyUrl = options.proxyUrl !== undefined && options.proxyUrl !== ""
      ? yield* checkProxy(options.proxyUrl, labels.proxyUrl)
      : undefined
    const tlsServerName = options.tlsServerName !== undefined && options.tlsServerName !== ""
      ? options.tlsServerName
      : undefined
    return { insecureSkipTlsVerify: insecure, ca, tlsServerName, proxyUrl }
  })
