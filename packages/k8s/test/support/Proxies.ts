/**
 * In-process proxies and an OpenID provider on loopback, for the proxy and leak tests: an HTTP CONNECT
 * proxy (plain or over TLS) that records what it saw and may require `Proxy-Authorization`, hang, or
 * answer with an error page; a SOCKS5 proxy with the username/password method; a fake OIDC issuer.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import type * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as https from "node:https"
import * as net from "node:net"
import * as tls from "node:tls"
import { Effect, type Scope } from "effect"
import * as Loopback from "./LoopbackApiServer.ts"

/** One CONNECT as the proxy saw it. */
export interface SeenConnect {
  readonly target: string
  readonly authorization: string | undefined
  /** The head of the request as sent, header lines included. */
  readonly head: string
}

export interface ConnectProxyOptions {
  /** `user:password` the proxy requires (407 otherwise). */
  readonly credentials?: string
  /** Serve over TLS with the loopback server certificate (an `https://` proxy). */
  readonly tls?: boolean
  /** Never answer a CONNECT. */
  readonly hang?: boolean
  /** Answer every CONNECT with this status and an HTML page quoting the request head (as some proxies do). */
  readonly errorPage?: number
}

export interface ConnectProxy {
  readonly port: number
  readonly url: string
  readonly connects: Array<SeenConnect>
  /** Client connections that were closed (by the client or the proxy). */
  readonly closed: () => number
}

const listen = <S extends net.Server>(server: S): Effect.Effect<S, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<S>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (s) =>
      Effect.sync(() => {
        s.close()
        ;(s as unknown as { kubefxSockets?: Set<net.Socket> }).kubefxSockets?.forEach((socket) => socket.destroy())
      })
  )

const track = (server: net.Server) => {
  const sockets = new Set<net.Socket>()
  ;(server as unknown as { kubefxSockets: Set<net.Socket> }).kubefxSockets = sockets
  return sockets
}

/** An HTTP CONNECT proxy that tunnels every target to 127.0.0.1 (so any host name reaches the loopback server). */
export const connectProxy = (options: ConnectProxyOptions = {}): Effect.Effect<ConnectProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const connects: Array<SeenConnect> = []
    let closed = 0
    const onClient = (client: net.Socket) => {
      client.on("close", () => closed++)
      client.on("error", () => {})
      let buffered = ""
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString("latin1")
        const end = buffered.indexOf("\r\n\r\n")
        if (end < 0) return
        client.removeListener("data", onData)
        const head = buffered.slice(0, end)
        const [line, ...headerLines] = head.split("\r\n")
        const target = line!.split(" ")[1]!
        const authorization = headerLines.find((h) => h.toLowerCase().startsWith("proxy-authorization:"))?.slice(20).trim()
        connects.push({ target, authorization, head })
        if (options.hang === true) return
        if (options.errorPage !== undefined) {
          const page = `<html><body><h1>Access denied</h1><pre>${head}</pre>${"<p>policy</p>".repeat(200)}</body></html>`
          client.end(`HTTP/1.1 ${options.errorPage} Denied\r\ncontent-type: text/html\r\ncontent-length: ${page.length}\r\n\r\n${page}`)
          return
        }
        if (
          options.credentials !== undefined &&
          authorization !== `Basic ${Buffer.from(options.credentials).toString("base64")}`
        ) {
          client.end("HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n")
          return
        }
        const port = Number(target.slice(target.lastIndexOf(":") + 1))
        const upstream = net.connect(port, "127.0.0.1", () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          const rest = buffered.slice(end + 4)
          if (rest !== "") upstream.write(Buffer.from(rest, "latin1"))
          upstream.pipe(client)
          client.pipe(upstream)
        })
        upstream.on("error", () => client.destroy())
        client.on("close", () => upstream.destroy())
      }
      client.on("data", onData)
    }
    const c = Loopback.certs()
    const server = options.tls === true
      ? tls.createServer({ cert: c.serverCert, key: c.serverKey }, onClient)
      : net.createServer(onClient)
    const sockets = track(server)
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    yield* listen(server)
    const port = (server.address() as net.AddressInfo).port
    return {
      port,
      url: `${options.tls === true ? "https" : "http"}://127.0.0.1:${port}`,
      connects,
      closed: () => closed
    }
  })

/** One SOCKS5 CONNECT as the proxy saw it. */
export interface SeenSocks {
  readonly host: string
  readonly port: number
  readonly username: string | undefined
  readonly password: string | undefined
}

/** A SOCKS5 proxy (RFC 1928/1929) that connects every target to 127.0.0.1; requires `credentials` when given. */
export const socksProxy = (
  credentials?: { readonly username: string; readonly password: string }
): Effect.Effect<{ readonly port: number; readonly seen: Array<SeenSocks> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<SeenSocks> = []
    const server = net.createServer((client) => {
      client.on("error", () => {})
      let buffered = Buffer.alloc(0)
      let step: "greeting" | "auth" | "request" = "greeting"
      let user: { username: string; password: string } | undefined
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk])
        if (step === "greeting") {
          if (buffered.length < 2 || buffered.length < 2 + buffered[1]!) return
          const methods = [...buffered.subarray(2, 2 + buffered[1]!)]
          buffered = buffered.subarray(2 + buffered[1]!)
          if (credentials !== undefined) {
            if (!methods.includes(2)) return void client.end(Buffer.from([5, 0xff]))
            client.write(Buffer.from([5, 2]))
            step = "auth"
          } else {
            client.write(Buffer.from([5, 0]))
            step = "request"
          }
          return
        }
        if (step === "auth") {
          if (buffered.length < 2) return
          const ulen = buffered[1]!
          if (buffered.length < 3 + ulen) return
          const plen = buffered[2 + ulen]!
          if (buffered.length < 3 + ulen + plen) return
          user = {
            username: buffered.subarray(2, 2 + ulen).toString(),
            password: buffered.subarray(3 + ulen, 3 + ulen + plen).toString()
          }
          buffered = buffered.subarray(3 + ulen + plen)
          const ok = user.username === credentials!.username && user.password === credentials!.password
          client.write(Buffer.from([1, ok ? 0 : 1]))
          if (!ok) return void client.end()
          step = "request"
          return
        }
        if (buffered.length < 5) return
        const atyp = buffered[3]!
        const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buffered[4]!
        if (buffered.length < 4 + addrLen + 2) return
        const host = atyp === 3
          ? buffered.subarray(5, 5 + buffered[4]!).toString()
          : atyp === 1
          ? [...buffered.subarray(4, 8)].join(".")
          : "ipv6"
        const port = buffered.readUInt16BE(4 + addrLen)
        buffered = buffered.subarray(4 + addrLen + 2)
        client.removeListener("data", onData)
        seen.push({ host, port, username: user?.username, password: user?.password })
        const upstream = net.connect(port, "127.0.0.1", () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))
          if (buffered.length > 0) upstream.write(buffered)
          upstream.pipe(client)
          client.pipe(upstream)
        })
        upstream.on("error", () => client.destroy())
        client.on("close", () => upstream.destroy())
      }
      client.on("data", onData)
    })
    const sockets = track(server)
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    yield* listen(server)
    return { port: (server.address() as net.AddressInfo).port, seen }
  })

/** A self-signed certificate for a DNS name (a host only the proxies resolve, e.g. `idp.test`). */
export const selfSignedFor = (dns: string): { readonly cert: string; readonly key: string } => {
  const dir = mkdtempSync(join(tmpdir(), "kubefx-proxy-certs-"))
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", `/CN=${dns}`,
      "-addext", `subjectAltName=DNS:${dns}`
    ], { cwd: dir, stdio: "pipe" })
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** An unsigned JWT expiring at `exp` (seconds). */
export const jwt = (exp: number, marker: string): string =>
  `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: marker, exp })}.sig`

export interface FakeIssuer {
  readonly url: string
  readonly port: number
  /** Requests as `METHOD path` with their form bodies. */
  readonly seen: Array<{ readonly line: string; readonly form: Record<string, string> }>
  /** id_tokens issued so far. */
  readonly issued: Array<string>
}

/**
 * An OpenID provider over HTTPS on loopback (the loopback server certificate): discovery, and a token
 * endpoint that trades any refresh token for a fresh id_token valid for an hour. `baseUrl` is the issuer
 * URL it claims (default its loopback address).
 */
export const fakeIssuer = (
  options: {
    readonly baseUrl?: (port: number) => string
    readonly idTokenMarker?: string
    readonly certificate?: { readonly cert: string; readonly key: string }
  } = {}
): Effect.Effect<FakeIssuer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<{ line: string; form: Record<string, string> }> = []
    const issued: Array<string> = []
    let base = ""
    const c = Loopback.certs()
    const identity = options.certificate ?? { cert: c.serverCert, key: c.serverKey }
    const server = https.createServer(identity, (req: http.IncomingMessage, res: http.ServerResponse) => {
      let body = ""
      req.on("data", (chunk) => (body += chunk))
      req.on("end", () => {
        seen.push({ line: `${req.method} ${req.url}`, form: Object.fromEntries(new URLSearchParams(body)) })
        res.setHeader("content-type", "application/json")
        if (req.url === "/.well-known/openid-configuration") {
          return res.end(JSON.stringify({ issuer: base, token_endpoint: `${base}/token` }))
        }
        const token = jwt(Math.floor(Date.now() / 1000) + 3600, `${options.idTokenMarker ?? "fresh"}-${issued.length + 1}`)
        issued.push(token)
        res.end(JSON.stringify({ id_token: token, refresh_token: `rotated-refresh-${issued.length}`, expires_in: 3600 }))
      })
    })
    const sockets = track(server)
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    yield* listen(server)
    const port = (server.address() as net.AddressInfo).port
    base = options.baseUrl?.(port) ?? `https://127.0.0.1:${port}`
    return { url: base, port, seen, issued }
  })
