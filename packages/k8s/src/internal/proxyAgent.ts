/**
 * Node agents for HTTP clients that talk to hosts other than the API server (the OIDC issuer), with the
 * same proxy settings as the API: the kubeconfig's `proxy-url`, else the environment, with `NO_PROXY`
 * applied to each host the client connects to. They plug into `NodeHttpClient` through its `HttpAgent`.
 *
 * @internal
 */
import * as http from "node:http"
import * as https from "node:https"
import type { Duplex } from "node:stream"
import { Effect, type Scope } from "effect"
import * as Proxy from "./proxy.ts"
import * as Trust from "./trust.ts"

type Target = http.ClientRequestArgs & { readonly host?: string | null; readonly port?: number | string | null }

const targetUrl = (protocol: "http:" | "https:", options: Target, fallback: number): URL => {
  const host = String(options.host ?? "localhost")
  const port = Number(options.port ?? fallback)
  return new URL(`${protocol}//${host.includes(":") ? `[${host}]` : host}:${port}`)
}

const bareHost = (hostname: string): string => hostname.replace(/^\[|\]$/g, "")

class RoutedHttpsAgent extends https.Agent {
  readonly settings: Proxy.Settings
  readonly tunnelOptions: Proxy.TunnelOptions
  constructor(options: https.AgentOptions, settings: Proxy.Settings, tunnelOptions: Proxy.TunnelOptions) {
    super(options)
    this.settings = settings
    this.tunnelOptions = tunnelOptions
  }
  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    const url = targetUrl("https:", options as Target, 443)
    const proxy = Proxy.forTarget(this.settings, url)
    if (proxy === undefined) return super.createConnection(options)
    Proxy.tunnel(proxy, bareHost(url.hostname), Number(url.port || 443), this.tunnelOptions, (err, socket) => {
      if (err !== null || socket === undefined) return callback?.(err ?? new Error("proxy tunnel failed"), undefined as never)
      const secured = super.createConnection({ ...options, socket } as https.RequestOptions)
      if (secured) callback?.(null, secured)
    })
    return undefined
  }
}

class RoutedHttpAgent extends http.Agent {
  readonly settings: Proxy.Settings
  readonly tunnelOptions: Proxy.TunnelOptions
  constructor(options: http.AgentOptions, settings: Proxy.Settings, tunnelOptions: Proxy.TunnelOptions) {
    super(options)
    this.settings = settings
    this.tunnelOptions = tunnelOptions
  }
  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    const url = targetUrl("http:", options as Target, 80)
    const proxy = Proxy.forTarget(this.settings, url)
    if (proxy === undefined) return super.createConnection(options, callback)
    Proxy.tunnel(proxy, bareHost(url.hostname), Number(url.port || 80), this.tunnelOptions, (err, socket) => {
      if (err !== null || socket === undefined) return callback?.(err ?? new Error("proxy tunnel failed"), undefined as never)
      callback?.(null, socket)
    })
    return undefined
  }
}

/**
 * An `http` and an `https` agent routed by `settings`, trusting `ca` (else the system and bundled roots)
 * for the servers and the system and bundled roots (plus `ca`) for an `https://` proxy; destroyed with
 * the scope.
 */
export const make = (
  settings: Proxy.Settings,
  ca: string | undefined
): Effect.Effect<{ readonly http: http.Agent; readonly https: https.Agent }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const roots = Trust.systemAndBundledRoots()
      const tunnelOptions: Proxy.TunnelOptions = {
        timeoutMs: 30_000,
        proxyCa: ca === undefined ? roots : [ca, ...roots]
      }
      return {
        http: new RoutedHttpAgent({ keepAlive: true }, settings, tunnelOptions),
        https: new RoutedHttpsAgent({ keepAlive: true, ca: ca ?? [...roots] }, settings, tunnelOptions)
      }
    }),
    (agents) =>
      Effect.sync(() => {
        agents.http.destroy()
        agents.https.destroy()
      })
  )
