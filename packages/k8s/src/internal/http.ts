/**
 * The HTTP layer under the live `Cluster`: keep-alive connection pools (one per TLS identity), the
 * trusted CAs (`trust.ts`), tunnels through a proxy (`proxy.ts`), and requests as interruptible Effects.
 *
 * Why `node:http`/`node:https` directly rather than `effect/http` + `NodeHttpClient`: the agent must be
 * chosen per request (a client certificate rotated by an exec plugin needs a new pool, while requests in
 * flight keep theirs), a proxy needs an agent whose `createConnection` tunnels through CONNECT, and the
 * watch needs the raw body stream to detect stalls byte by byte. `NodeHttpClient` binds one agent per
 * layer and the undici client one dispatcher; either way we would build and swap clients ourselves and
 * still reach into Node's sockets, so the thin layer here is smaller and easier to reason about.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import * as http from "node:http"
import * as https from "node:https"
import type { Duplex } from "node:stream"
import type * as tls from "node:tls"
import { Data, Effect, Redacted, type Scope } from "effect"
import type { TlsConfig } from "../ClientConfig.ts"
import * as Proxy from "./proxy.ts"
import * as Trust from "./trust.ts"

/** A failure below HTTP: no status line was received, or the body could not be read. */
export class HttpFailure extends Data.TaggedError("HttpFailure")<{
  readonly message: string
  /**
   * `connect`: the request never reached the server (refused, unresolvable host, proxy refused), so
   * any verb may be retried. `tls`: certificate verification failed; retrying will not help.
   * `io`: the exchange broke after it may have reached the server. `timeout`: no answer in time.
   */
  readonly kind: "connect" | "tls" | "io" | "timeout"
  readonly cause?: unknown
}> {}

/** A client certificate and key; each distinct one gets its own connection pool. */
export interface TlsIdentity {
  readonly cert: string
  readonly key: Redacted.Redacted<string>
}

/** What the pool needs to open connections. */
export interface PoolOptions {
  readonly server: URL
  readonly tls: TlsConfig
  /** The proxy to reach the server through (already chosen for this server), if any. */
  readonly proxy: Proxy.Proxy | undefined
  /** For messages: where the configuration came from. */
  readonly source: string
  /** Bound of opening a proxy tunnel (default 30 s); the request's own timeout also aborts it. */
  readonly connectTimeoutMs?: number
}

/** Free keep-alive sockets are closed after this long, before the API server's own 90 s idle timeout. */
const IDLE_SOCKET_MS = 30_000
/** How long opening a tunnel through a proxy may take, as Go's dialer's 30 s. */
const CONNECT_TIMEOUT_MS = 30_000
/** Pools kept at once; older identities are retired (their sockets destroyed). */
const MAX_IDENTITIES = 2

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  Proxy.proxyErrorCode
])

const TLS_VERIFY_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REVOKED",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/** Scheme, host and port: never the userinfo part of a URL. */
export const originOf = (url: URL): string => `${url.protocol}//${url.host}`

/** Turns a Node socket/TLS error into a message a user can act on, without any secret in it. */
export const describe = (err: unknown, options: PoolOptions): HttpFailure => {
  const origin = originOf(options.server)
  const code = codeOf(err)
  const detail = err instanceof Error ? err.message : String(err)
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new HttpFailure({
      kind: "tls",
      cause: err,
      message: `TLS verification of ${origin} failed: the server certificate does not name this host (${detail}); ` +
        `set tls-server-name in ${options.source} to a name the certificate carries`
    })
  }
  if (code !== undefined && TLS_VERIFY_CODES.has(code)) {
    return new HttpFailure({
      kind: "tls",
      cause: err,
      message: `TLS verification of ${origin} failed: ${detail} (${code}); the server certificate is not trusted ` +
        `by the certificate authority configured in ${options.source}`
    })
  }
  if (code !== undefined && code.startsWith("ERR_SSL_")) {
    return new HttpFailure({
      kind: "tls",
      cause: err,
      message: `TLS handshake with ${origin} failed: ${detail} (${code}); check the client certificate in ${options.source}`
    })
  }
  if (code === Proxy.proxyErrorCode) return new HttpFailure({ kind: "connect", cause: err, message: detail })
  if (code !== undefined && CONNECT_CODES.has(code)) {
    const what = code === "ECONNREFUSED" ? "connection refused" : `cannot connect (${code})`
    return new HttpFailure({ kind: "connect", cause: err, message: `${what}: ${origin}${viaProxy(options)}` })
  }
  if (code === "ECONNRESET" || code === "EPIPE") {
    return new HttpFailure({
      kind: "io",
      cause: err,
      message: `connection to ${origin}${viaProxy(options)} was reset (${detail})`
    })
  }
  return new HttpFailure({
    kind: "io",
    cause: err,
    message: `request to ${origin}${viaProxy(options)} failed: ${detail}${code === undefined ? "" : ` (${code})`}`
  })
}

const viaProxy = (options: PoolOptions): string =>
  options.proxy === undefined ? "" : ` via proxy ${options.proxy.origin}`

const bareHost = (hostname: string): string => hostname.replace(/^\[|\]$/g, "")

const defaultPort = (url: URL): number => url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80

type ConnectOptions = http.ClientRequestArgs & {
  readonly host?: string | null
  readonly port?: number | string | null
  readonly [requestKey]?: http.ClientRequest
}

/**
 * Set on the options Node hands from `addRequest` to `createConnection`, so that a tunnel being opened
 * is torn down with the request it is for (an interrupted call, a timeout) instead of running on.
 */
const requestKey: unique symbol = Symbol("kubefx.request")

/**
 * Tunnels being opened, by the request they are for. A request destroyed before it has a socket emits
 * nothing Node would let an agent hear, so {@link destroyRequest} aborts its tunnel here.
 */
const pendingTunnels = new WeakMap<http.ClientRequest, Proxy.Tunnel>()

/** Destroys a request and the tunnel being opened for it, if any. */
const destroyRequest = (req: http.ClientRequest): void => {
  pendingTunnels.get(req)?.abort()
  pendingTunnels.delete(req)
  req.destroy()
}

/** Opens the tunnel for a connection and ties it to the request that asked for the connection. */
const openTunnel = (
  proxy: Proxy.Proxy,
  options: ConnectOptions,
  fallbackPort: number,
  tunnelOptions: Proxy.TunnelOptions,
  done: (err: Error | null, socket?: Duplex) => void
): void => {
  const request = options[requestKey]
  const pending = Proxy.tunnel(
    proxy,
    bareHost(String(options.host ?? "localhost")),
    Number(options.port ?? fallbackPort),
    tunnelOptions,
    (err, socket) => {
      if (request !== undefined) pendingTunnels.delete(request)
      done(err, socket)
    }
  )
  if (request !== undefined) pendingTunnels.set(request, pending)
}

/** Options without the request reference (so that no socket keeps the request reachable). */
const withoutRequest = <O extends ConnectOptions>(options: O): O => {
  const { [requestKey]: _, ...rest } = options
  return rest as O
}

/** What an agent needs beyond Node's options. */
interface AgentSetup {
  readonly proxy: Proxy.Proxy | undefined
  readonly tunnel: Proxy.TunnelOptions
}

/**
 * The https agent of one TLS identity: the trust's current secure context on every new connection (so a
 * rotated CA file is used from the next connection on), through the proxy's tunnel when there is one.
 */
class KubeHttpsAgent extends https.Agent {
  readonly setup: AgentSetup
  readonly context: () => tls.SecureContext
  constructor(options: https.AgentOptions, setup: AgentSetup, context: () => tls.SecureContext) {
    super(options)
    this.setup = setup
    this.context = context
  }
  addRequest(req: http.ClientRequest, options: ConnectOptions): void {
    const add = (https.Agent.prototype as unknown as { addRequest: (r: unknown, o: unknown) => void }).addRequest
    add.call(this, req, this.setup.proxy === undefined ? options : { ...options, [requestKey]: req })
  }
  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    const target = options as ConnectOptions
    const proxy = this.setup.proxy
    if (proxy === undefined) {
      return super.createConnection({ ...options, secureContext: this.context() } as https.RequestOptions)
    }
    openTunnel(proxy, target, 443, this.setup.tunnel, (err, socket) => {
      if (err !== null || socket === undefined) return callback?.(err ?? new Error("proxy tunnel failed"), undefined as never)
      // TLS to the API server inside the tunnel, with the trust, client certificate and servername.
      const secured = super.createConnection({ ...withoutRequest(target), socket, secureContext: this.context() } as https.RequestOptions)
      if (secured) callback?.(null, secured)
    })
    return undefined
  }
}

/** The agent for an `http://` server (a test server, `kubectl proxy`), tunnelling through a proxy when there is one. */
class KubeHttpAgent extends http.Agent {
  readonly setup: AgentSetup
  constructor(options: http.AgentOptions, setup: AgentSetup) {
    super(options)
    this.setup = setup
  }
  addRequest(req: http.ClientRequest, options: ConnectOptions): void {
    const add = (http.Agent.prototype as unknown as { addRequest: (r: unknown, o: unknown) => void }).addRequest
    add.call(this, req, this.setup.proxy === undefined ? options : { ...options, [requestKey]: req })
  }
  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    const proxy = this.setup.proxy
    if (proxy === undefined) return super.createConnection(options, callback)
    openTunnel(proxy, options as ConnectOptions, 80, this.setup.tunnel, (err, socket) => {
      if (err !== null || socket === undefined) return callback?.(err ?? new Error("proxy tunnel failed"), undefined as never)
      callback?.(null, socket)
    })
    return undefined
  }
}

/** Keep-alive agents, one per TLS identity. */
export interface Pool {
  readonly options: PoolOptions
  readonly agentFor: (identity: TlsIdentity | undefined) => http.Agent
  /** Number of live agents (for tests and diagnostics). */
  readonly size: () => number
  readonly destroy: () => void
}

/** Hashes are cached per identity object: credentials are reused across many requests, hashing is not free. */
const identityKeys = new WeakMap<TlsIdentity, string>()
const identityKey = (identity: TlsIdentity | undefined): string => {
  if (identity === undefined) return "anonymous"
  let key = identityKeys.get(identity)
  if (key === undefined) {
    key = createHash("sha256").update(identity.cert).update("\0").update(Redacted.value(identity.key)).digest("hex")
    identityKeys.set(identity, key)
  }
  return key
}

/** Builds the pool; agents are created lazily and reused for as long as their identity is current. */
export const makePool = (options: PoolOptions): Pool => {
  const agents = new Map<string, http.Agent>()
  const trust = Trust.make(options.tls)
  const setup: AgentSetup = {
    proxy: options.proxy,
    tunnel: {
      timeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      // An https proxy is verified against the cluster's CA and the usual roots; never skipped. Only then are
      // the system's roots read: loading that store costs ~6 MiB and ~70 ms, for nothing without such a proxy.
      proxyCa: options.proxy?.protocol !== "https:"
        ? undefined
        : options.tls.ca === undefined
        ? Trust.systemAndBundledRoots()
        : [options.tls.ca, ...Trust.systemAndBundledRoots()]
    }
  }
  const create = (identity: TlsIdentity | undefined): http.Agent => {
    const common = { keepAlive: true, keepAliveMsecs: 30_000, timeout: IDLE_SOCKET_MS, scheduling: "lifo" as const }
    if (options.server.protocol === "http:") return new KubeHttpAgent(common, setup)
    const agentOptions: https.AgentOptions = {
      ...common,
      rejectUnauthorized: !options.tls.insecureSkipTlsVerify,
      ...(options.tls.serverName === undefined ? {} : { servername: options.tls.serverName })
    }
    return new KubeHttpsAgent(agentOptions, setup, Trust.contextCache(trust, identity))
  }
  return {
    options,
    agentFor: (identity) => {
      const key = identityKey(identity)
      const existing = agents.get(key)
      if (existing !== undefined) {
        // Move to the back: the map's first entry is the least recently used identity.
        agents.delete(key)
        agents.set(key, existing)
        return existing
      }
      const agent = create(identity)
      agents.set(key, agent)
      while (agents.size > MAX_IDENTITIES) {
        const [oldest, retired] = agents.entries().next().value!
        agents.delete(oldest)
        retired.destroy()
      }
      return agent
    },
    size: () => agents.size,
    destroy: () => {
      for (const agent of agents.values()) agent.destroy()
      agents.clear()
    }
  }
}

/** One HTTP request. `path` includes the query string and is relative to the server URL. */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  /** An array value is sent as one header line per element (e.g. `Impersonate-Group`), never comma-joined. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly body?: string
}

/** A response whose headers arrived; `body` is still to be read. */
export interface HttpResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: http.IncomingMessage
}

const noop = () => {}

/** The path on the server: the server URL's own path (without trailing slashes) before the request's. */
const basePaths = new WeakMap<URL, string>()
const basePath = (server: URL): string => {
  let base = basePaths.get(server)
  if (base === undefined) {
    base = server.pathname.replace(/\/+$/, "")
    basePaths.set(server, base)
  }
  return base
}

/** Starts a request on the pool's server; `on` gets its response or the error that ended it. */
const send = (pool: Pool, agent: http.Agent, request: HttpRequest): http.ClientRequest => {
  const server = pool.options.server
  // Node sends each element of an array value as a header line of its own.
  const headers: Record<string, string | Array<string>> = {}
  for (const name in request.headers) {
    const value = request.headers[name]!
    headers[name] = typeof value === "string" ? value : [...value]
  }
  if (request.body !== undefined) headers["content-length"] = String(Buffer.byteLength(request.body))
  const req = (server.protocol === "https:" ? https : http).request({
    protocol: server.protocol,
    hostname: bareHost(server.hostname),
    port: defaultPort(server),
    method: request.method,
    path: basePath(server) + request.path,
    headers,
    agent
  })
  req.end(request.body)
  return req
}

const incomplete = (pool: Pool) =>
  new HttpFailure({
    kind: "io",
    message: `connection to ${originOf(pool.options.server)} closed before the response was complete`
  })

/**
 * A callback's `resume` that works once and then lets go. Node keeps the first request of every keep-alive
 * TLS socket reachable for as long as the socket lives (the agent's `session` listener closes over it), and
 * with it every listener attached to that request and its response. Those listeners must not keep the
 * fiber, and through its result the response body, alive: after the first call they hold nothing.
 */
const resumeOnce = <A, E>(resume: (effect: Effect.Effect<A, E>) => void) => {
  let pending: ((effect: Effect.Effect<A, E>) => void) | undefined = resume
  return {
    resume: (effect: Effect.Effect<A, E>): void => {
      const r = pending
      pending = undefined
      r?.(effect)
    },
    forget: (): void => {
      pending = undefined
    },
    isDone: (): boolean => pending === undefined
  }
}

/**
 * Sends a request and waits for the response headers. Interruption, or closing the scope before the
 * body was read to its end, destroys the request (and its socket), so the server sees the abort.
 * For a long body read as it arrives (a watch); a body read whole goes through {@link exchange}.
 */
export const open = (
  pool: Pool,
  agent: http.Agent,
  request: HttpRequest
): Effect.Effect<HttpResponse, HttpFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const state: { req: http.ClientRequest | undefined; res: http.IncomingMessage | undefined } = { req: undefined, res: undefined }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (state.req !== undefined && state.res?.complete !== true) destroyRequest(state.req)
        state.req = undefined
        state.res = undefined
      })
    )
    return yield* Effect.callback<HttpResponse, HttpFailure>((resume) => {
      const once = resumeOnce(resume)
      const req = send(pool, agent, request)
      state.req = req
      req.once("response", (res) => {
        state.res = res
        res.on("error", noop) // readers attach their own; this keeps a late error from crashing the process
        once.resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: res }))
      })
      req.on("error", (err) => once.resume(Effect.fail(describe(err, pool.options))))
      return Effect.sync(() => {
        once.forget()
        destroyRequest(req)
      })
    })
  })

/** A response read to its end. */
export interface HttpText {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

/**
 * Sends a request and reads the whole response body as UTF-8 text, in one callback (no scope, no
 * stream): the path of every non-watch call. Interruption destroys the request (and its socket) unless
 * the response was complete. A body that cannot be read fails with `io`, except that of a non-2xx
 * answer, which reads as empty: its status code is still worth reporting. Once settled, the listeners
 * left on the request and response hold neither the body nor the caller (see `resumeOnce`).
 */
export const exchange = (pool: Pool, agent: http.Agent, request: HttpRequest): Effect.Effect<HttpText, HttpFailure> =>
  Effect.callback<HttpText, HttpFailure>((resume) => {
    const once = resumeOnce(resume)
    let chunks: Array<Buffer> = []
    let complete = false
    const finish = (result: Effect.Effect<HttpText, HttpFailure>) => {
      chunks = []
      once.resume(result)
    }
    const req = send(pool, agent, request)
    req.once("response", (res) => {
      const status = res.statusCode ?? 0
      const headers = res.headers
      const failedRead = (failure: HttpFailure) =>
        finish(status >= 200 && status <= 299 ? Effect.fail(failure) : Effect.succeed({ status, headers, text: "" }))
      res.on("data", (chunk: Buffer) => {
        if (!once.isDone()) chunks.push(chunk)
      })
      res.once("end", () => {
        complete = true
        // Node returns the socket to the agent's free list on a `nextTick` queued by its own 'end' handler;
        // resuming after it lets the caller's next request reuse this connection instead of opening one.
        process.nextTick(() => {
          const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
          finish(Effect.succeed({ status, headers, text }))
        })
      })
      res.on("error", (err) => failedRead(describe(err, pool.options)))
      res.once("close", () => {
        if (!complete) failedRead(incomplete(pool))
      })
    })
    req.on("error", (err) => finish(Effect.fail(describe(err, pool.options))))
    return Effect.sync(() => {
      chunks = []
      once.forget()
      if (!complete) destroyRequest(req)
    })
  })

/** Reads a whole body as UTF-8 text. */
export const readText = (res: http.IncomingMessage, pool: Pool): Effect.Effect<string, HttpFailure> =>
  Effect.callback<string, HttpFailure>((resume) => {
    const once = resumeOnce(resume)
    let chunks: Array<Buffer> = []
    res.on("data", (chunk: Buffer) => {
      if (!once.isDone()) chunks.push(chunk)
    })
    // As in `exchange`: resume after Node has returned the socket to the pool.
    res.once("end", () =>
      process.nextTick(() => {
        const text = Buffer.concat(chunks).toString("utf8")
        chunks = []
        once.resume(Effect.succeed(text))
      }))
    res.once("error", (err) => once.resume(Effect.fail(describe(err, pool.options))))
    res.once("close", () => {
      if (!res.complete) once.resume(Effect.fail(incomplete(pool)))
    })
    return Effect.sync(() => {
      chunks = []
      once.forget()
    })
  })
