/**
 * The authenticated API client both the live `Cluster` and `Discovery` use: credentials and headers
 * per request, one shared connection pool, timeouts, the mapping of every failure to a `ClusterError`,
 * and the retry policy for throttled or failed calls.
 *
 * @internal
 */
import { Cluster, ClusterError } from "@kubefx/core"
import { Clock, Context, Duration, Effect, Layer, Random, Redacted, Result, type Scope } from "effect"
import { ClientConfig } from "../ClientConfig.ts"
import { ConfigError } from "../ClientConfigError.ts"
import * as Http from "./http.ts"
import * as Json from "./json.ts"
import * as Proxy from "./proxy.ts"
import { type Query, withQuery } from "./paths.ts"
import * as Wire from "./wire.ts"

/** What a call addressed, for messages and error fields. */
export interface Target {
  readonly resource?: string
  readonly namespace?: string
  readonly name?: string
}

/**
 * The operation, for messages and for deciding what is safe to retry: the API server's verb (core's
 * `Cluster.Verb`), or `discover` for a discovery read.
 */
export type Verb = Cluster.Verb | "discover"

/** One API call. */
export interface Call {
  readonly verb: Verb
  readonly method: Http.HttpRequest["method"]
  readonly path: string
  readonly query?: Query
  /** Sent as JSON. */
  readonly body?: unknown
  readonly contentType?: string
  readonly target: Target
}

/** A successful (2xx) response with its body parsed as JSON (`undefined` when empty). */
export interface JsonResponse {
  readonly status: number
  readonly json: unknown
}

const verbLabels: Record<Verb, string> = {
  get: "get",
  list: "list",
  watch: "watch",
  create: "create",
  update: "update",
  apply: "apply",
  patch: "patch",
  delete: "delete",
  updateStatus: "update status of",
  patchStatus: "patch status of",
  discover: "discover"
}

/** `get apps/v1/Deployment default/web`, the prefix of every message about a call. */
export const describeCall = (call: Pick<Call, "verb" | "path" | "target">): string => {
  const { name, namespace, resource } = call.target
  const what = resource ?? call.path
  const where = name !== undefined
    ? ` ${namespace !== undefined ? `${namespace}/` : ""}${name}`
    : namespace !== undefined
    ? ` in namespace ${namespace}`
    : ""
  return `${verbLabels[call.verb]} ${what}${where}`
}

/** A failure below HTTP as a `Transport` error; the `HttpFailure` is kept as the cause for retry decisions. */
export const transport = (call: Call, failure: Http.HttpFailure): ClusterError.Transport =>
  new ClusterError.Transport({ ...call.target, message: `${describeCall(call)}: ${failure.message}`, cause: failure })

/** `Retry-After` in seconds; the HTTP-date form is not used by the API server and is ignored. */
export const parseRetryAfter = (header: string | ReadonlyArray<string> | undefined): number | undefined => {
  const value = Array.isArray(header) ? header[0] : header
  if (typeof value !== "string" || !/^\s*\d+\s*$/.test(value)) return undefined
  return Number(value.trim())
}

/** How much of a body that is not a `metav1.Status` an error message quotes. */
export const snippetLength = 200

/** Header lines a body may echo (a proxy's or ingress's error page): their values are never quoted. */
const echoedSecret = /\b(proxy-authorization|authorization|cookie|set-cookie|x-api-key)(\s*[:=]\s*)("[^"]*"|[^\r\n<&,;]*)/gi

/**
 * Removes the request's own secrets (header values and the tokens inside them) and any echoed credential
 * header from text about to be quoted in an error.
 */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]")
  return out.replace(echoedSecret, (_, name: string, sep: string) => `${name}${sep}[redacted]`)
}

/**
 * A short quote of a body that is not a `metav1.Status` (an HTML page from a proxy, a load balancer's
 * text): scrubbed first, then markup dropped, whitespace collapsed and cut at {@link snippetLength}.
 */
export const snippet = (text: string, secrets: ReadonlyArray<string> = []): string => {
  const flat = scrub(text, secrets).replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ").trim()
  return flat.length > snippetLength ? `${flat.slice(0, snippetLength)}…` : flat
}

/**
 * The typed error for a non-2xx response: the `metav1.Status` body when there is one (reason,
 * causes), the status code otherwise. 401 and 403 name where the credentials came from. `secrets` are
 * the values the request carried (its credential headers): never part of the message, even when the
 * body echoes them.
 */
export const statusError = (
  call: Call,
  code: number,
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  text: string,
  source: string,
  secrets: ReadonlyArray<string> = []
): ClusterError.ClusterError => {
  const parsed = Wire.parseJson(text)
  const decoded = Result.isSuccess(parsed) ? Wire.decodeStatus(parsed.success) : undefined
  const status = decoded !== undefined && Result.isSuccess(decoded) ? decoded.success : undefined
  const retryAfterSeconds = parseRetryAfter(headers["retry-after"]) ?? status?.details?.retryAfterSeconds
  const serverMessage = status?.message !== undefined
    ? scrub(status.message, secrets)
    : text.trim() === ""
    ? `HTTP ${code}`
    : `HTTP ${code}: ${snippet(text, secrets)}`
  const auth = code === 401 || code === 403 ? ` (credentials from ${source})` : ""
  return ClusterError.fromStatus(code, {
    message: `${describeCall(call)}: ${serverMessage}${auth}`,
    reason: status?.reason,
    causes: status?.details?.causes?.map((cause) =>
      cause.message === undefined ? cause : { ...cause, message: scrub(cause.message, secrets) }
    ),
    retryAfterSeconds
  }, call.target)
}

/**
 * The connection to one API server.
 */
export class ApiClient extends Context.Service<ApiClient, {
  readonly config: ClientConfig["Service"]
  readonly pool: Http.Pool
  /**
   * Sends a call and reads its JSON answer, within `ClientConfig.timeout`. No retry, except one with
   * refreshed credentials after a 401.
   */
  readonly send: (call: Call) => Effect.Effect<JsonResponse, ClusterError.ClusterError>
  /**
   * Sends a call and returns the response once its headers arrive (within the timeout), leaving the
   * body to the caller; closing the scope before the body ended aborts the request. Non-2xx fail
   * (a 401 after one try with refreshed credentials).
   */
  readonly open: (call: Call) => Effect.Effect<Http.HttpResponse, ClusterError.ClusterError, Scope.Scope>
}>()("@kubefx/k8s/internal/ApiClient") {
  /** Shared by `KubeCluster.layer` and `Discovery.layer`: one build, one pool. */
  static readonly layer: Layer.Layer<ApiClient, ConfigError, ClientConfig> = Layer.effect(
    ApiClient,
    Effect.gen(function*() {
      const config = yield* ClientConfig
      const server = yield* parseUrl(config.server, config.source, "server")
      if (server.protocol !== "https:" && server.protocol !== "http:") {
        return yield* new ConfigError({
          source: config.source,
          message: `server ${Http.originOf(server)} in ${config.source} is not an http(s) URL`
        })
      }
      const proxy = Proxy.forTarget(yield* Proxy.settingsOf(config.proxyUrl, config.source), server)
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => Http.makePool({ server, tls: config.tls, proxy, source: config.source })),
        (pool) => Effect.sync(() => pool.destroy())
      )
      return makeClient(config, pool)
    })
  )
}

const parseUrl = (value: string, source: string, field: string): Effect.Effect<URL, ConfigError> =>
  Effect.try({
    try: () => new URL(value),
    catch: () => new ConfigError({ source, message: `${field} in ${source} is not a valid URL` })
  })

const makeClient = (config: ClientConfig["Service"], pool: Http.Pool): ApiClient["Service"] => {
  const timeoutFailure = (what: string) =>
    new Http.HttpFailure({
      kind: "timeout",
      message: `no ${what} from ${Http.originOf(pool.options.server)} within ${Duration.format(config.timeout)}`
    })

  type Prepared = Effect.Success<ReturnType<typeof prepare>>

  /** Headers and connection pool for one call, from the given credentials (current or refreshed). */
  const prepare = (call: Call, credentials: ClientConfig["Service"]["credentials"]) =>
    credentials.pipe(
      Effect.mapError((error) =>
        new ClusterError.Unauthorized({
          ...call.target,
          message: `${describeCall(call)}: cannot obtain credentials from ${config.source}: ${error.message}`
        })
      ),
      Effect.map((credentials) => {
        const headers: Record<string, string | ReadonlyArray<string>> = {
          "user-agent": config.userAgent,
          accept: "application/json"
        }
        // What an error message must never quote: each credential header and the token inside it.
        const secrets: Array<string> = []
        for (const [name, value] of Object.entries(credentials.headers)) {
          const plain = Redacted.value(value)
          headers[name.toLowerCase()] = plain
          // Who is impersonated is no secret, and 403 messages name that user.
          if (name.toLowerCase().startsWith("impersonate-")) continue
          secrets.push(plain)
          const space = plain.indexOf(" ")
          if (space > 0) secrets.push(plain.slice(space + 1))
        }
        // One header line per value: the API server reads each `Impersonate-Group` line as one group.
        for (const [name, values] of Object.entries(credentials.multiHeaders ?? {})) {
          if (values.length > 0) headers[name.toLowerCase()] = values
        }
        if (call.body !== undefined) headers["content-type"] = call.contentType ?? "application/json"
        return {
          agent: pool.agentFor(credentials.clientCertificate),
          secrets,
          request: {
            method: call.method,
            path: withQuery(call.path, call.query),
            headers,
            ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) })
          } satisfies Http.HttpRequest
        }
      })
    )

  /** Whether two prepared requests carry the same credentials (headers and TLS identity). */
  const sameCredentials = (a: Prepared, b: Prepared): boolean =>
    a.agent === b.agent && Json.equals(a.request.headers, b.request.headers)

  const errorOf = (call: Call, res: Http.HttpResponse, note: string, prepared: Prepared) =>
    Http.readText(res.body, pool).pipe(
      // An unreadable error body still has a status code worth reporting.
      Effect.catch(() => Effect.succeed("")),
      Effect.flatMap((text) =>
        Effect.fail(
          statusError(
            call,
            res.status,
            res.headers,
            text,
            res.status === 401 ? config.source + note : config.source,
            prepared.secrets
          )
        )
      )
    )

  /** Sends and waits for the headers; a non-2xx answer is read and mapped to its error. */
  const exchange = (
    call: Call,
    prepared: Prepared,
    note = ""
  ): Effect.Effect<Http.HttpResponse, ClusterError.ClusterError, Scope.Scope> =>
    Http.open(pool, prepared.agent, prepared.request).pipe(
      Effect.mapError((failure) => transport(call, failure)),
      Effect.flatMap((res) => res.status < 200 || res.status > 299 ? errorOf(call, res, note, prepared) : Effect.succeed(res))
    )

  /**
   * Runs `attempt` with the current credentials; when the server answers 401, once more with fresh ones:
   * those another call obtained meanwhile, else `refreshCredentials` (an expired token, a rotated
   * certificate). Credentials are obtained outside `attempt`, so outside its timeout: an exec plugin
   * may take its time.
   */
  const authenticated = <A, R>(
    call: Call,
    attempt: (prepared: Prepared, note: string) => Effect.Effect<A, ClusterError.ClusterError, R>
  ): Effect.Effect<A, ClusterError.ClusterError, R> =>
    Effect.flatMap(prepare(call, config.credentials), (first) =>
      attempt(first, "").pipe(
        Effect.catchTag("Unauthorized", (rejected) => {
          const refresh = config.refreshCredentials
          if (refresh === undefined) return Effect.fail(rejected)
          return Effect.gen(function*() {
            const current = yield* prepare(call, config.credentials)
            const fresh = sameCredentials(first, current) ? yield* prepare(call, refresh) : current
            return yield* attempt(fresh, "; they were refreshed and rejected again")
          })
        })
      ))

  const timedOut = (call: Call, what: string) => () => Effect.fail(transport(call, timeoutFailure(what)))

  const open = (call: Call): Effect.Effect<Http.HttpResponse, ClusterError.ClusterError, Scope.Scope> =>
    authenticated(call, (prepared, note) =>
      exchange(call, prepared, note).pipe(
        Effect.timeoutOrElse({ duration: config.timeout, orElse: timedOut(call, "response") })
      ))

  /** The answer to a call read whole: its JSON, or the error a non-2xx status or an unreadable body stands for. */
  const answer = (
    call: Call,
    res: Http.HttpText,
    note: string,
    prepared: Prepared
  ): Effect.Effect<JsonResponse, ClusterError.ClusterError> => {
    if (res.status < 200 || res.status > 299) {
      return Effect.fail(
        statusError(
          call,
          res.status,
          res.headers,
          res.text,
          res.status === 401 ? config.source + note : config.source,
          prepared.secrets
        )
      )
    }
    if (res.text.trim() === "") return Effect.succeed({ status: res.status, json: undefined })
    const parsed = Wire.parseJson(res.text)
    return Result.isSuccess(parsed)
      ? Effect.succeed({ status: res.status, json: parsed.success })
      : Effect.fail(
        new ClusterError.Transport({
          ...call.target,
          message: `${describeCall(call)}: unreadable response body: ${parsed.failure}`
        })
      )
  }

  // One callback per call (request, body, parse): no scope and no stream, as this is the path of every write.
  const send = (call: Call): Effect.Effect<JsonResponse, ClusterError.ClusterError> =>
    authenticated(call, (prepared, note) =>
      Http.exchange(pool, prepared.agent, prepared.request).pipe(
        Effect.timeoutOrElse({ duration: config.timeout, orElse: timedOut(call, "response") }),
        Effect.mapError((failure) => failure instanceof Http.HttpFailure ? transport(call, failure) : failure),
        Effect.flatMap((res) => answer(call, res, note, prepared))
      ))

  return ApiClient.of({ config, pool, send, open })
}

/**
 * How failed calls are retried. Delays follow `Retry-After` when the server sent one, else a jittered
 * exponential backoff; retrying stops after `maxAttempts` tries or when the next try would start after
 * `budget` since the first.
 */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly budget: Duration.Duration
  readonly baseDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
}

/** 5 tries within 30 s, backoff from 200 ms doubling up to 5 s. */
export const defaultRetry: RetryPolicy = {
  maxAttempts: 5,
  budget: Duration.seconds(30),
  baseDelay: Duration.millis(200),
  maxDelay: Duration.seconds(5)
}

const isRead = (verb: Verb): boolean => verb === "discover" || !Cluster.writeVerbs.has(verb)

/**
 * Whether a failed call may be sent again.
 * - 429: always; the server did not process the request.
 * - 5xx: reads always; writes only when the server sent `Retry-After`, its signal that the request
 *   was not processed and should be repeated (client-go's rule). A bare 500 on a write may have taken
 *   effect, so it is returned to the caller, whose reconcile re-reads state.
 * - Transport: reads always, except failed TLS verification (retrying cannot fix a wrong CA) and an
 *   unreadable body (the same answer would come again); writes only when the connection was never made
 *   (refused, unresolvable, proxy refused), so nothing was sent.
 */
export const shouldRetry = (verb: Verb, error: ClusterError.ClusterError): boolean => {
  switch (error._tag) {
    case "TooManyRequests":
      return true
    case "ServerError":
      return error.status >= 500 && (isRead(verb) || error.retryAfterSeconds !== undefined)
    case "Transport": {
      // Without an HttpFailure cause the exchange completed but its body was unreadable: not transient.
      if (!(error.cause instanceof Http.HttpFailure)) return false
      const kind = error.cause.kind
      return kind === "connect" || (kind !== "tls" && isRead(verb))
    }
    default:
      return false
  }
}

const backoff = (policy: RetryPolicy, attempt: number): Effect.Effect<number> =>
  Effect.map(Random.next, (r) => {
    const exp = Duration.toMillis(policy.baseDelay) * 2 ** (attempt - 1)
    return Math.min(exp, Duration.toMillis(policy.maxDelay)) * (0.5 + r / 2)
  })

/** Runs `effect`, retrying per `shouldRetry` and the policy's bounds. Uses the Effect `Clock`. */
export const retrying = (policy: RetryPolicy, verb: Verb) =>
<A, R>(effect: Effect.Effect<A, ClusterError.ClusterError, R>): Effect.Effect<A, ClusterError.ClusterError, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    for (let attempt = 1;; attempt++) {
      const result = yield* Effect.result(effect)
      if (Result.isSuccess(result)) return result.success
      const error = result.failure
      if (attempt >= policy.maxAttempts || !shouldRetry(verb, error)) return yield* Effect.fail(error)
      const retryAfter = ClusterError.retryAfterSeconds(error)
      const delay = retryAfter !== undefined ? retryAfter * 1000 : yield* backoff(policy, attempt)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      if (elapsed + delay > Duration.toMillis(policy.budget)) return yield* Effect.fail(error)
      yield* Effect.logDebug(`retrying in ${Math.round(delay)} ms (attempt ${attempt + 1}): ${error.message}`)
      yield* Effect.sleep(Duration.millis(delay))
    }
  })
