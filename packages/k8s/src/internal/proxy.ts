/**
 * Proxies as client-go uses them: the kubeconfig's `proxy-url` when set, else `HTTPS_PROXY` /
 * `HTTP_PROXY` / `NO_PROXY` (and their lowercase forms) with the semantics of Go's
 * `golang.org/x/net/http/httpproxy`; and the tunnels through them (`http://` and `https://` proxies with
 * CONNECT, `socks5://` / `socks5h://` with SOCKS5 and its username/password method).
 *
 * A proxy's credentials are split from its address as soon as its URL is parsed and kept `Redacted`:
 * messages show {@link Proxy.origin} only.
 *
 * @internal
 */
import * as http from "node:http"
import * as net from "node:net"
import type { Duplex } from "node:stream"
import * as tls from "node:tls"
import { domainToASCII } from "node:url"
import { Config, Effect, Redacted, Result } from "effect"
import { ConfigError } from "../ClientConfigError.ts"

/** A proxy's address and, apart, its credentials. */
export interface Proxy {
  readonly protocol: "http:" | "https:" | "socks5:" | "socks5h:"
  /** Without the brackets of an IPv6 literal. */
  readonly hostname: string
  readonly port: number
  /** `scheme://host:port`: all that messages ever show of a proxy. */
  readonly origin: string
  readonly username?: Redacted.Redacted<string>
  readonly password?: Redacted.Redacted<string>
}

const defaultPorts: Record<Proxy["protocol"], number> = { "http:": 80, "https:": 443, "socks5:": 1080, "socks5h:": 1080 }

const isSupported = (protocol: string): protocol is Proxy["protocol"] => protocol in defaultPorts

/**
 * Parses a proxy URL. A value without a scheme (`proxy:3128`) means `http://`, as in Go. Failures are
 * messages that never quote the value (it may carry a password).
 */
export const parse = (raw: string): Result.Result<Proxy, string> => {
  const text = raw.trim()
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  if (url === undefined || url.host === "") {
    try {
      url = new URL(`http://${text}`)
    } catch {
      return Result.fail("the proxy URL is not a URL")
    }
  }
  if (!isSupported(url.protocol)) {
    return Result.fail(`proxy scheme ${url.protocol} is not supported (use http://, https://, socks5:// or socks5h://)`)
  }
  if (url.hostname === "") return Result.fail("the proxy URL has no host")
  const protocol = url.protocol
  const port = url.port === "" ? defaultPorts[protocol] : Number(url.port)
  return Result.succeed({
    protocol,
    hostname: bareHost(url.hostname),
    port,
    origin: `${protocol}//${url.host}`,
    ...(url.username === "" && url.password === ""
      ? {}
      : {
        username: Redacted.make(decodeURIComponent(url.username)),
        password: Redacted.make(decodeURIComponent(url.password))
      })
  })
}

/** The URL of a proxy without its credentials (what an exec plugin is told). */
export const withoutCredentials = (raw: string): string => {
  const parsed = parse(raw)
  return Result.isSuccess(parsed) ? parsed.success.origin : ""
}

const bareHost = (hostname: string): string => hostname.replace(/^\[|\]$/g, "")

// ---------------------------------------------------------------------------------------------------
// NO_PROXY, as httpproxy's `config.init` parses it and `useProxy` applies it
// ---------------------------------------------------------------------------------------------------

/** 16 bytes; IPv4 addresses in their IPv4-mapped form, as Go's `net.IP` holds them. */
type Ip = Uint8Array

const parseIp = (text: string): Ip | undefined => {
  if (net.isIPv4(text)) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...text.split(".").map(Number)])
  if (!net.isIPv6(text) || text.includes("%")) return undefined
  // URL normalises the embedded-IPv4 form to hex groups, so only `::` remains to expand.
  const normal = bareHost(new URL(`http://[${text}]`).hostname)
  const [head, tail] = normal.includes("::") ? normal.split("::") as [string, string] : [normal, undefined]
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)))
  const front = groups(head)
  const back = tail === undefined ? [] : groups(tail)
  const all = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back]
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]))
}

const isV4 = (ip: Ip): boolean => ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff

const isLoopback = (ip: Ip): boolean =>
  isV4(ip) ? ip[12] === 127 : ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1

const sameIp = (a: Ip, b: Ip): boolean => a.every((byte, i) => byte === b[i])

const inPrefix = (ip: Ip, network: Ip, bits: number): boolean => {
  for (let i = 0; i < 16; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8))
    const mask = take === 0 ? 0 : (0xff << (8 - take)) & 0xff
    if ((ip[i]! & mask) !== (network[i]! & mask)) return false
  }
  return true
}

type Matcher =
  | { readonly _tag: "all" }
  | { readonly _tag: "cidr"; readonly network: Ip; readonly bits: number }
  | { readonly _tag: "ip"; readonly ip: Ip; readonly port: string }
  | { readonly _tag: "domain"; readonly host: string; readonly port: string; readonly matchHost: boolean }

/** `NO_PROXY` parsed. */
export interface NoProxy {
  readonly ipMatchers: ReadonlyArray<Matcher>
  readonly domainMatchers: ReadonlyArray<Matcher>
}

/** `host:port` / `[v6]:port` split as Go's `net.SplitHostPort` does, or undefined when there is no port. */
const splitHostPort = (text: string): { host: string; port: string } | undefined => {
  if (text.startsWith("[")) {
    const end = text.indexOf("]")
    if (end < 0 || text[end + 1] !== ":") return undefined
    return { host: text.slice(1, end), port: text.slice(end + 2) }
  }
  const colon = text.indexOf(":")
  if (colon < 0 || text.indexOf(":", colon + 1) >= 0) return undefined
  return { host: text.slice(0, colon), port: text.slice(colon + 1) }
}

const parseCidr = (text: string): { network: Ip; bits: number } | undefined => {
  const slash = text.indexOf("/")
  if (slash < 0) return undefined
  const address = text.slice(0, slash)
  const prefix = text.slice(slash + 1)
  const ip = parseIp(address)
  if (ip === undefined || !/^\d{1,3}$/.test(prefix)) return undefined
  const bits = Number(prefix)
  const v4 = net.isIPv4(address)
  if (bits > (v4 ? 32 : 128)) return undefined
  return { network: ip, bits: v4 ? 96 + bits : bits }
}

/** Parses `NO_PROXY` as httpproxy does: `*`, CIDRs, IPs (with ports), domains with or without a leading dot or `*.`. */
export const parseNoProxy = (value: string): NoProxy => {
  const ipMatchers: Array<Matcher> = []
  const domainMatchers: Array<Matcher> = []
  for (const raw of value.split(",")) {
    const p = raw.trim().toLowerCase()
    if (p === "") continue
    if (p === "*") return { ipMatchers: [{ _tag: "all" }], domainMatchers: [{ _tag: "all" }] }
    const cidr = parseCidr(p)
    if (cidr !== undefined) {
      ipMatchers.push({ _tag: "cidr", ...cidr })
      continue
    }
    const split = splitHostPort(p)
    let host = split?.host ?? p
    const port = split?.port ?? ""
    if (split !== undefined && host === "") continue
    const ip = parseIp(host)
    if (ip !== undefined) {
      ipMatchers.push({ _tag: "ip", ip, port })
      continue
    }
    if (host === "") continue
    if (host.startsWith("*.")) host = host.slice(1)
    const matchHost = !host.startsWith(".")
    if (matchHost) host = `.${host}`
    const ascii = domainToASCII(host.slice(1))
    domainMatchers.push({ _tag: "domain", host: ascii === "" ? host : `.${ascii}`, port, matchHost })
  }
  return { ipMatchers, domainMatchers }
}

const matches = (m: Matcher, host: string, port: string, ip: Ip | undefined): boolean => {
  switch (m._tag) {
    case "all":
      return true
    case "cidr":
      return ip !== undefined && inPrefix(ip, m.network, m.bits)
    case "ip":
      return ip !== undefined && sameIp(m.ip, ip) && (m.port === "" || m.port === port)
    case "domain":
      return (host.endsWith(m.host) || (m.matchHost && host === m.host.slice(1))) && (m.port === "" || m.port === port)
  }
}

/**
 * Whether a request to `host:port` goes through the proxy: not to `localhost` nor a loopback address
 * (httpproxy never proxies them), nor to what `NO_PROXY` lists.
 */
export const useProxy = (noProxy: NoProxy, hostname: string, port: string): boolean => {
  const host = bareHost(hostname).trim().toLowerCase()
  if (host === "localhost") return false
  const ip = parseIp(host)
  if (ip !== undefined && isLoopback(ip)) return false
  if (ip !== undefined && noProxy.ipMatchers.some((m) => matches(m, host, port, ip))) return false
  return !noProxy.domainMatchers.some((m) => matches(m, host, port, ip))
}

// ---------------------------------------------------------------------------------------------------
// Settings: the explicit proxy-url, or the environment
// ---------------------------------------------------------------------------------------------------

/** The proxy variables of the environment, read once (httpproxy reads them once per process too). */
export interface Environment {
  readonly httpProxy: Proxy | undefined
  readonly httpsProxy: Proxy | undefined
  readonly noProxy: NoProxy
  /** `REQUEST_METHOD` is set: `HTTP_PROXY` could come from a request header, so it is ignored (httpoxy). */
  readonly cgi: boolean
}

/** How to reach servers: always through one proxy (`proxy-url`), or as the environment says. */
export type Settings =
  | { readonly _tag: "Explicit"; readonly proxy: Proxy }
  | { readonly _tag: "Environment"; readonly environment: Environment }

/** A variable whose value is set and is not a usable proxy. */
export interface EnvironmentError {
  readonly variable: string
  readonly message: string
}

const envVar = (upper: string, lower: string) =>
  Effect.gen(function*() {
    const first = yield* Config.String(upper).pipe(Config.withDefault(""))
    if (first !== "") return { name: upper, value: first }
    return { name: lower, value: yield* Config.String(lower).pipe(Config.withDefault("")) }
  })

/**
 * Reads `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (uppercase first, then lowercase, as Go) through Effect's
 * `ConfigProvider`. A set proxy variable with an unsupported scheme is an error naming the variable (Go
 * would fail each request with "unsupported proxy scheme"); one that is no URL at all is ignored, as Go
 * ignores it.
 */
export const fromEnvironment: Effect.Effect<Result.Result<Environment, EnvironmentError>> = Effect.gen(function*() {
  const https = yield* envVar("HTTPS_PROXY", "https_proxy")
  const httpVar = yield* envVar("HTTP_PROXY", "http_proxy")
  const noProxy = yield* envVar("NO_PROXY", "no_proxy")
  const cgi = (yield* Config.String("REQUEST_METHOD").pipe(Config.withDefault(""))) !== ""
  const proxyOf = (v: { name: string; value: string }): Result.Result<Proxy | undefined, EnvironmentError> => {
    if (v.value === "") return Result.succeed(undefined)
    const parsed = parse(v.value)
    if (Result.isSuccess(parsed)) return Result.succeed(parsed.success)
    return parsed.failure.startsWith("proxy scheme")
      ? Result.fail({ variable: v.name, message: parsed.failure })
      : Result.succeed(undefined)
  }
  const httpsProxy = proxyOf(https)
  if (Result.isFailure(httpsProxy)) return Result.fail(httpsProxy.failure)
  const httpProxy = proxyOf(httpVar)
  if (Result.isFailure(httpProxy)) return Result.fail(httpProxy.failure)
  return Result.succeed({
    httpProxy: httpProxy.success,
    httpsProxy: httpsProxy.success,
    noProxy: parseNoProxy(noProxy.value),
    cgi
  })
}).pipe(Effect.orDie)

/**
 * The settings of a configuration: its `proxy-url` when set (it wins, as in client-go), else the
 * environment. `source` names the configuration in messages; neither message quotes a proxy URL.
 */
export const settingsOf = (
  proxyUrl: Redacted.Redacted<string> | string | undefined,
  source: string
): Effect.Effect<Settings, ConfigError> => {
  if (proxyUrl !== undefined) {
    const parsed = parse(typeof proxyUrl === "string" ? proxyUrl : Redacted.value(proxyUrl))
    return Result.isSuccess(parsed)
      ? Effect.succeed({ _tag: "Explicit", proxy: parsed.success })
      : Effect.fail(new ConfigError({ source, message: `proxy-url in ${source}: ${parsed.failure}` }))
  }
  return Effect.flatMap(fromEnvironment, (env) =>
    Result.isSuccess(env)
      ? Effect.succeed({ _tag: "Environment", environment: env.success } as const)
      : Effect.fail(
        new ConfigError({ source: env.failure.variable, message: `${env.failure.variable}: ${env.failure.message}` })
      ))
}

/** The proxy for a request to `url`, or undefined to connect directly. */
export const forTarget = (settings: Settings, url: URL): Proxy | undefined => {
  if (settings._tag === "Explicit") return settings.proxy
  const env = settings.environment
  const proxy = url.protocol === "https:" ? env.httpsProxy : url.protocol === "http:" && !env.cgi ? env.httpProxy : undefined
  if (proxy === undefined) return undefined
  const port = url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80"
  return useProxy(env.noProxy, url.hostname, port) ? proxy : undefined
}

// ---------------------------------------------------------------------------------------------------
// Tunnels
// ---------------------------------------------------------------------------------------------------

/** Errors of the tunnel carry this code, which the HTTP layer maps to a `connect` failure. */
export const proxyErrorCode = "ERR_KUBEFX_PROXY"

const proxyError = (message: string): Error => Object.assign(new Error(message), { code: proxyErrorCode })

/** How a tunnel is opened. */
export interface TunnelOptions {
  /** The whole tunnel (connection, TLS to an https proxy, CONNECT or SOCKS handshake) must be up within this. */
  readonly timeoutMs: number
  /** CAs an `https://` proxy's certificate is verified against. */
  readonly proxyCa: ReadonlyArray<string> | string | undefined
}

/** A tunnel being opened; `abort` destroys it (the request it was for was aborted). */
export interface Tunnel {
  readonly abort: () => void
}

const authority = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`)

const basicAuthorization = (proxy: Proxy): string | undefined =>
  proxy.username === undefined
    ? undefined
    : `Basic ${
      Buffer.from(`${Redacted.value(proxy.username)}:${Redacted.value(proxy.password ?? Redacted.make(""))}`).toString(
        "base64"
      )
    }`

/** Connects to the proxy itself: TCP, plus TLS for an `https://` proxy (verified, never with a client certificate). */
const connectToProxy = (proxy: Proxy, options: TunnelOptions): net.Socket =>
  proxy.protocol === "https:"
    ? tls.connect({
      host: proxy.hostname,
      port: proxy.port,
      ...(net.isIP(proxy.hostname) === 0 ? { servername: proxy.hostname } : {}),
      ...(options.proxyCa === undefined ? {} : { ca: options.proxyCa as Array<string> | string }),
      ALPNProtocols: ["http/1.1"]
    })
    : net.connect({ host: proxy.hostname, port: proxy.port })

/** CONNECT through an http(s) proxy. */
const httpConnect = (
  proxy: Proxy,
  host: string,
  port: number,
  options: TunnelOptions,
  done: (err: Error | null, socket?: Duplex) => void
): Tunnel => {
  const target = authority(host, port)
  const headers: Record<string, string> = { host: target }
  const auth = basicAuthorization(proxy)
  if (auth !== undefined) headers["proxy-authorization"] = auth
  const connection = connectToProxy(proxy, options)
  const request = http.request({
    method: "CONNECT",
    path: target,
    headers,
    // No agent: the request runs on this one connection, which becomes the tunnel.
    createConnection: () => connection
  })
  let settled = false
  const finish = (err: Error | null, socket?: Duplex) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    done(err, socket)
  }
  const timer = setTimeout(() => {
    finish(proxyError(`proxy ${proxy.origin}: no answer to CONNECT ${target} within ${options.timeoutMs} ms`))
    request.destroy()
    connection.destroy()
  }, options.timeoutMs)
  request.once("connect", (res, socket, head) => {
    if (res.statusCode !== 200) {
      socket.destroy()
      const hint = res.statusCode === 407 ? " (proxy authentication required: check the proxy credentials)" : ""
      finish(proxyError(`proxy ${proxy.origin} refused CONNECT to ${target}: HTTP ${res.statusCode}${hint}`))
      return
    }
    if (head.length > 0) socket.unshift(head)
    finish(null, socket)
  })
  request.on("error", (err) => {
    const code = (err as { code?: unknown }).code
    finish(proxyError(`cannot reach proxy ${proxy.origin}: ${err.message}${typeof code === "string" ? ` (${code})` : ""}`))
  })
  request.end()
  return {
    abort: () => {
      if (settled) return
      finish(proxyError(`CONNECT to ${target} through proxy ${proxy.origin} aborted`))
      request.destroy()
      connection.destroy()
    }
  }
}

const socksReplies: Record<number, string> = {
  1: "general failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported"
}

/** SOCKS5 (RFC 1928) with no authentication or username/password (RFC 1929); names are resolved by the proxy. */
const socksConnect = (
  proxy: Proxy,
  host: string,
  port: number,
  options: TunnelOptions,
  done: (err: Error | null, socket?: Duplex) => void
): Tunnel => {
  const socket = net.connect({ host: proxy.hostname, port: proxy.port })
  let settled = false
  let buffered = Buffer.alloc(0)
  let step: "method" | "auth" | "reply" = "method"
  const finish = (err: Error | null) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    socket.removeListener("data", onData)
    if (err !== null) {
      socket.destroy()
      done(err)
    } else {
      if (buffered.length > 0) socket.unshift(buffered)
      done(null, socket)
    }
  }
  const fail = (message: string) => finish(proxyError(`proxy ${proxy.origin}: ${message}`))
  const timer = setTimeout(() => fail(`no SOCKS5 answer within ${options.timeoutMs} ms`), options.timeoutMs)
  const sendConnect = () => {
    const ip = parseIp(host)
    const address = ip === undefined
      ? Buffer.concat([Buffer.from([3, Buffer.byteLength(host)]), Buffer.from(host)])
      : isV4(ip)
      ? Buffer.from([1, ...ip.slice(12)])
      : Buffer.from([4, ...ip])
    const portBytes = Buffer.from([port >> 8, port & 0xff])
    socket.write(Buffer.concat([Buffer.from([5, 1, 0]), address, portBytes]))
    step = "reply"
  }
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    if (step === "method") {
      if (buffered.length < 2) return
      const method = buffered[1]!
      buffered = buffered.subarray(2)
      if (method === 0) return sendConnect()
      if (method === 2 && proxy.username !== undefined) {
        const user = Buffer.from(Redacted.value(proxy.username))
        const pass = Buffer.from(Redacted.value(proxy.password ?? Redacted.make("")))
        if (user.length > 255 || pass.length > 255) return fail("SOCKS5 username or password longer than 255 bytes")
        socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]))
        step = "auth"
        return
      }
      return fail(method === 0xff ? "no acceptable SOCKS5 authentication method (credentials needed?)" : "unexpected SOCKS5 method")
    }
    if (step === "auth") {
      if (buffered.length < 2) return
      const status = buffered[1]!
      buffered = buffered.subarray(2)
      return status === 0 ? sendConnect() : fail("SOCKS5 authentication failed: check the proxy credentials")
    }
    if (buffered.length < 5) return
    const rep = buffered[1]!
    if (rep !== 0) return fail(`SOCKS5 CONNECT to ${authority(host, port)} failed: ${socksReplies[rep] ?? `code ${rep}`}`)
    const atyp = buffered[3]!
    const length = 4 + (atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buffered[4]!) + 2
    if (buffered.length < length) return
    buffered = buffered.subarray(length)
    finish(null)
  }
  socket.on("data", onData)
  socket.once("connect", () =>
    socket.write(Buffer.from(proxy.username === undefined ? [5, 1, 0] : [5, 2, 0, 2])))
  socket.on("error", (err) => fail(`cannot reach proxy: ${err.message}`))
  socket.once("close", () => fail("the proxy closed the connection during the SOCKS5 handshake"))
  return {
    abort: () => {
      if (!settled) fail(`connection to ${authority(host, port)} aborted`)
    }
  }
}

/** Opens a tunnel to `host:port` through `proxy`; `done` gets the socket TLS to the server runs over. */
export const tunnel = (
  proxy: Proxy,
  host: string,
  port: number,
  options: TunnelOptions,
  done: (err: Error | null, socket?: Duplex) => void
): Tunnel =>
  proxy.protocol === "socks5:" || proxy.protocol === "socks5h:"
    ? socksConnect(proxy, host, port, options, done)
    : httpConnect(proxy, host, port, options, done)
