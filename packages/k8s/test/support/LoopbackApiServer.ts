/**
 * A loopback HTTPS server speaking the API server's wire format, for the live `Cluster` tests:
 * certificates from `openssl` in a temp dir, client certificates requested (mTLS checks), every
 * request and connection recorded, and per-test handlers.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import type * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TLSSocket } from "node:tls"
import { Duration, Effect, Layer, Redacted, type Scope } from "effect"
import { ClientConfig, type Credentials } from "../../src/ClientConfig.ts"

export interface Certs {
  readonly ca: string
  readonly serverCert: string
  readonly serverKey: string
  readonly clientCert: string
  readonly clientKey: string
  /** A second client identity, for rotation tests. */
  readonly clientCert2: string
  readonly clientKey2: string
  /** A CA that did not sign the server certificate. */
  readonly wrongCa: string
}

let cached: Certs | undefined

/** Generates (once per test file) a CA, a server certificate for 127.0.0.1, two client certificates and a stray CA. */
export const certs = (): Certs => {
  if (cached !== undefined) return cached
  const dir = mkdtempSync(join(tmpdir(), "kubefx-certs-"))
  const ossl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  const key = (name: string) => ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`)
  const selfSigned = (name: string, cn: string) => {
    key(name)
    ossl("req", "-x509", "-new", "-key", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${cn}`)
  }
  const signed = (name: string, cn: string, ext: string) => {
    key(name)
    ossl("req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`)
    writeFileSync(join(dir, `${name}.ext`), ext)
    ossl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`,
      "-days", "2", "-extfile", `${name}.ext`)
  }
  try {
    selfSigned("ca", "kubefx-test-ca")
    selfSigned("wrong", "kubefx-wrong-ca")
    signed("server", "kube-apiserver", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    signed("client", "alice", "extendedKeyUsage=clientAuth\n")
    signed("client2", "bob", "extendedKeyUsage=clientAuth\n")
    const read = (f: string) => readFileSync(join(dir, f), "utf8")
    cached = {
      ca: read("ca.crt"),
      serverCert: read("server.crt"),
      serverKey: read("server.key"),
      clientCert: read("client.crt"),
      clientKey: read("client.key"),
      clientCert2: read("client2.crt"),
      clientKey2: read("client2.key"),
      wrongCa: read("wrong.crt")
    }
    return cached
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One request as the server saw it. */
export interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: http.IncomingHttpHeaders
  /** Header lines as sent, `[name, value, name, value, ...]` (repeated headers are not joined). */
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: string
  /** Which connection carried it (1-based, in order of TLS handshakes). */
  readonly connection: number
  /** CN of the verified client certificate, if one was presented. */
  readonly clientCn: string | undefined
}

export type Handler = (req: Recorded, res: http.ServerResponse) => void

export interface LoopbackApiServer {
  readonly url: string
  readonly requests: Array<Recorded>
  /** TLS connections accepted so far. */
  readonly connections: () => number
  /** Connections the client closed while a response was still open (aborted watches). */
  readonly abortedResponses: () => number
  readonly handle: (handler: Handler) => void
}

/** JSON answer helper. */
export const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** A `metav1.Status` failure body. */
export const status = (code: number, reason: string, message: string, details?: object) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  ...(details === undefined ? {} : { details }),
  code
})

/** Starts the server on 127.0.0.1, port 0; it stops with the scope. */
export const start = (handler?: Handler): Effect.Effect<LoopbackApiServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: https.Server; readonly api: LoopbackApiServer }>((resume) => {
      const c = certs()
      let current: Handler = handler ?? ((_, res) => json(res, 404, status(404, "NotFound", "no handler")))
      let connections = 0
      let aborted = 0
      const requests: Array<Recorded> = []
      const server = https.createServer({
        key: c.serverKey,
        cert: c.serverCert,
        ca: c.ca,
        requestCert: true,
        rejectUnauthorized: false,
        keepAliveTimeout: 60_000
      })
      server.on("secureConnection", (socket: TLSSocket & { kubefxId?: number }) => {
        socket.kubefxId = ++connections
      })
      server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const socket = req.socket as TLSSocket & { kubefxId?: number }
          const url = new URL(req.url ?? "/", "https://127.0.0.1")
          const peer = socket.authorized ? socket.getPeerCertificate() : undefined
          const recorded: Recorded = {
            method: req.method ?? "",
            path: url.pathname,
            query: url.searchParams,
            headers: req.headers,
            rawHeaders: req.rawHeaders,
            body: Buffer.concat(chunks).toString("utf8"),
            connection: socket.kubefxId ?? 0,
            clientCn: peer?.subject?.CN as string | undefined
          }
          requests.push(recorded)
          res.on("close", () => {
            if (!res.writableFinished) aborted++
          })
          current(recorded, res)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          api: {
            url: `https://127.0.0.1:${port}`,
            requests,
            connections: () => connections,
            abortedResponses: () => aborted,
            handle: (h) => {
              current = h
            }
          }
        }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ api }) => api))

/** A `ClientConfig` for the loopback server: its CA, a bearer token, optional overrides. */
export const clientConfig = (
  server: LoopbackApiServer,
  overrides: Partial<ClientConfig["Service"]> & { readonly credentials?: Effect.Effect<Credentials, never> } = {}
): Layer.Layer<ClientConfig> =>
  Layer.succeed(ClientConfig, ClientConfig.of({
    server: server.url,
    namespace: "default",
    userAgent: "kubefx-test/0.1.0",
    tls: { ca: certs().ca, insecureSkipTlsVerify: false },
    timeout: Duration.seconds(5),
    credentials: Effect.succeed({ headers: { Authorization: Redacted.make("Bearer s3cr3t-token") } }),
    source: "test-kubeconfig (context loopback)",
    ...overrides
  }))
