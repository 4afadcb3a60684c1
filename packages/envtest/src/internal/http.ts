/**
 * One-shot HTTP(S) requests with node:http/node:https: mTLS or a bearer token, a timeout, and
 * cancellation when the calling fiber is interrupted. No connection reuse: the callers make few requests.
 */
import * as http from "node:http"
import * as https from "node:https"
import { Effect } from "effect"

/** How the request authenticates. */
export interface Credentials {
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly token?: string
}

/** The status and raw body of a response. */
export interface RawResponse {
  readonly status: number
  readonly text: string
}

export const send = (
  url: URL,
  options: {
    readonly method: string
    readonly credentials: Credentials
    readonly body?: string
    readonly contentType?: string
    readonly timeoutMs: number
  }
): Effect.Effect<RawResponse, Error> =>
  Effect.callback<RawResponse, Error>((resume, signal) => {
    const headers: Record<string, string> = { accept: "application/json" }
    if (options.credentials.token !== undefined) headers["authorization"] = `Bearer ${options.credentials.token}`
    if (options.body !== undefined) {
      headers["content-type"] = options.contentType ?? "application/json"
      headers["content-length"] = String(Buffer.byteLength(options.body))
    }
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("error", (error) => resume(Effect.fail(error)))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") })))
    }
    const common = { method: options.method, headers, signal, timeout: options.timeoutMs, agent: false as const }
    const { ca, cert, key } = options.credentials
    const req = url.protocol === "https:"
      ? https.request(url, { ...common, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) }, onResponse)
      : http.request(url, common, onResponse)
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(options.body)
  })
