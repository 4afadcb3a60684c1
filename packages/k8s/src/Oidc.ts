/**
 * The `oidc` auth-provider of a kubeconfig user: send the `id-token` while its JWT `exp` lies ahead,
 * then trade the `refresh-token` for a new one at the issuer's token endpoint (found through
 * `/.well-known/openid-configuration`).
 *
 * As kubectl does, the tokens a refresh returns are handed to `OidcConfig.onRefresh`, which the kubeconfig
 * loader uses to write them back to the file they came from: providers rotate refresh tokens, and one
 * with reuse detection revokes the whole session when a used refresh token is replayed after a restart.
 * The issuer and its token endpoint must be `https://` (tokens and the client secret travel there).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Redacted, Schema } from "effect"
import { HttpClient, type HttpClientError, HttpClientRequest, HttpClientResponse } from "effect/http"
import { AuthError, ConfigError } from "./ClientConfigError.ts"
import * as Expiring from "./internal/expiring.ts"

/**
 * What the provider needs. Secrets are `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface OidcConfig {
  /** `idp-issuer-url`. */
  readonly issuerUrl: string
  /** `client-id`. */
  readonly clientId: string
  /** `client-secret`; absent for a public client. */
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  /** `id-token`: used until it expires. */
  readonly idToken?: Redacted.Redacted<string> | undefined
  /** `refresh-token`: needed once the id-token has expired. */
  readonly refreshToken?: Redacted.Redacted<string> | undefined
  /** PEM to trust for the issuer (`idp-certificate-authority[-data]`); absent means the system roots. */
  readonly ca?: string | undefined
  /**
   * Called after each successful refresh with the new tokens, before they are used. The kubeconfig loader
   * writes them back to the kubeconfig file (as kubectl does); it must not fail the refresh.
   */
  readonly onRefresh?: ((tokens: RefreshedTokens) => Effect.Effect<void>) | undefined
}

/**
 * What a refresh returned: the new id-token, and the refresh token to use next (the provider's new one,
 * or the old one when it did not rotate it).
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshedTokens {
  readonly idToken: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string>
}

/**
 * Where the configuration sits and how the refreshed token is fetched.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Names the provider in messages, e.g. `/home/me/.kube/config: users[dex].auth-provider`. */
  readonly source: string
  /** A token is refreshed this long before its `exp` (default 10 seconds). */
  readonly refreshSkew?: Duration.Duration | undefined
  /** Limit for each call to the issuer (default 30 seconds). */
  readonly timeout?: Duration.Duration | undefined
  /** For tests against a local fake provider only: permit an `http://` issuer and token endpoint. */
  readonly allowHttpForTesting?: boolean | undefined
}

/**
 * Whether `url` may receive tokens: https, or http when a test allows it.
 *
 * @since 0.1.0
 * @category validation
 */
export const isSecureUrl = (url: string, allowHttpForTesting = false): boolean => {
  try {
    const protocol = new URL(url).protocol
    return protocol === "https:" || (allowHttpForTesting && protocol === "http:")
  } catch {
    return false
  }
}

const JwtClaims = Schema.fromJsonString(Schema.Struct({ exp: Schema.optionalKey(Schema.Finite) }))
const decodeClaims = Schema.decodeUnknownOption(JwtClaims)

/**
 * The `exp` claim of a JWT in epoch milliseconds, or `undefined` when the token is not a JWT or has no
 * `exp`. The signature is not checked: the API server does that; we only need to know when to refresh.
 *
 * @since 0.1.0
 * @category jwt
 */
export const expiry = (jwt: string): number | undefined => {
  const parts = jwt.split(".")
  if (parts.length !== 3 || parts[1] === undefined) return undefined
  const claims = decodeClaims(Buffer.from(parts[1], "base64url").toString("utf8"))
  return Option.isSome(claims) && claims.value.exp !== undefined ? claims.value.exp * 1000 : undefined
}

const Discovery = Schema.Struct({
  issuer: Schema.String,
  token_endpoint: Schema.String,
  token_endpoint_auth_methods_supported: Schema.optionalKey(Schema.Array(Schema.String))
})

const TokenResponse = Schema.Struct({
  id_token: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  refresh_token: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
  expires_in: Schema.optionalKey(Schema.Finite)
})

const ErrorResponse = Schema.Struct({ error: Schema.String })

const trimSlash = (url: string) => url.replace(/\/+$/, "")

/** The client error plus the network or TLS reason beneath it ("self-signed certificate", "ECONNREFUSED"). */
const describe = (error: HttpClientError.HttpClientError): string => {
  const cause: unknown = "cause" in error.reason ? error.reason.cause : undefined
  return cause instanceof Error && cause.message !== "" ? `${error.message}: ${cause.message}` : error.message
}

/** RFC 6749 §2.3.1: client id and secret are form-encoded before they go into Basic auth. */
const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2)

/**
 * Reads the auth-provider `config` map of a kubeconfig user. `readCa` loads
 * `idp-certificate-authority` (a file); `idp-certificate-authority-data` is base64 PEM.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromAuthProviderConfig = <R>(
  config: Readonly<Record<string, Redacted.Redacted<string>>>,
  source: string,
  readCa: (path: string) => Effect.Effect<string, ConfigError, R>,
  options?: { readonly allowHttpForTesting?: boolean | undefined }
): Effect.Effect<OidcConfig, ConfigError, R> =>
  Effect.gen(function*() {
    const text = (key: string): string | undefined => {
      const value = config[key]
      const plain = value === undefined ? undefined : Redacted.value(value).trim()
      return plain === "" ? undefined : plain
    }
    const secret = (key: string) => (text(key) === undefined ? undefined : config[key])
    const required = (key: string) => {
      const value = text(key)
      return value === undefined
        ? Effect.fail(new ConfigError({ message: `${source}: oidc needs config.${key}`, source }))
        : Effect.succeed(value)
    }
    const issuerUrl = yield* required("idp-issuer-url")
    if (!isSecureUrl(issuerUrl, options?.allowHttpForTesting)) {
      return yield* new ConfigError({
        message: `${source}: config.idp-issuer-url must be an https:// URL (the refresh token and client secret are sent there)`,
        source: `${source}.config.idp-issuer-url`
      })
    }
    const clientId = yield* required("client-id")
    const caData = text("idp-certificate-authority-data")
    const caFile = text("idp-certificate-authority")
    const ca = caData !== undefined
      ? Buffer.from(caData, "base64").toString("utf8")
      : caFile !== undefined
      ? yield* readCa(caFile)
      : undefined
    return {
      issuerUrl,
      clientId,
      clientSecret: secret("client-secret"),
      idToken: secret("id-token"),
      refreshToken: secret("refresh-token"),
      ca
    }
  })

/**
 * The id-token as a cached credential. `get` returns the configured id-token until its `exp`, then
 * refreshes; `refresh` (after a 401) refreshes at once. Each refresh may rotate the refresh-token.
 * Failures are `AuthError`s naming the issuer and, for a refused refresh, the OAuth `error` code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: OidcConfig,
  options: Options
): Effect.Effect<Expiring.Expiring<Redacted.Redacted<string>, AuthError>, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const timeout = options.timeout ?? Duration.seconds(30)
    const fail = (message: string) =>
      new AuthError({ message: `${options.source}: oidc issuer ${config.issuerUrl}: ${message}`, source: options.source })
    const call = <A>(what: string, effect: Effect.Effect<A, AuthError>) =>
      effect.pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(fail(`${what} did not answer within ${Duration.format(timeout)}`))
        })
      )

    let refreshToken = config.refreshToken
    let endpoint: { readonly url: string; readonly basicAuth: boolean } | undefined

    const discover = call(
      "discovery",
      Effect.gen(function*() {
        const url = `${trimSlash(config.issuerUrl)}/.well-known/openid-configuration`
        const response = yield* client.get(url, { acceptJson: true }).pipe(
          Effect.mapError((error) => fail(`cannot fetch ${url}: ${describe(error)}`))
        )
        if (response.status !== 200) return yield* fail(`${url} answered HTTP ${response.status}`)
        const document = yield* HttpClientResponse.schemaBodyJson(Discovery)(response).pipe(
          Effect.mapError(() => fail(`${url} is not an OpenID configuration (needs issuer and token_endpoint)`))
        )
        // OpenID Connect Discovery §4.3: the document must be for the issuer we asked
        if (trimSlash(document.issuer) !== trimSlash(config.issuerUrl)) {
          return yield* fail(`${url} describes issuer ${document.issuer}`)
        }
        if (!isSecureUrl(document.token_endpoint, options.allowHttpForTesting)) {
          return yield* fail(
            `${url} names a token endpoint that is not https:// (${document.token_endpoint}); ` +
              "the refresh token is not sent there"
          )
        }
        const methods = document.token_endpoint_auth_methods_supported ?? ["client_secret_basic"]
        const found = {
          url: document.token_endpoint,
          basicAuth: methods.includes("client_secret_basic") || !methods.includes("client_secret_post")
        }
        endpoint = found
        return found
      })
    )

    const exchange = Effect.gen(function*() {
      const token = refreshToken
      if (token === undefined) return yield* fail("the id-token has expired or is missing, and there is no refresh-token")
      if (!isSecureUrl(config.issuerUrl, options.allowHttpForTesting)) {
        return yield* fail("the issuer must be an https:// URL")
      }
      const target = endpoint ?? (yield* discover)
      const secret = config.clientSecret
      const basic = secret !== undefined && target.basicAuth
      const params: Record<string, string> = { grant_type: "refresh_token", refresh_token: Redacted.value(token) }
      if (!basic) {
        params.client_id = config.clientId
        if (secret !== undefined) params.client_secret = Redacted.value(secret)
      }
      let request = HttpClientRequest.post(target.url).pipe(
        HttpClientRequest.bodyUrlParams(params),
        HttpClientRequest.acceptJson
      )
      if (basic) {
        request = HttpClientRequest.basicAuth(
          request,
          formEncode(config.clientId),
          Redacted.make(formEncode(Redacted.value(secret)))
        )
      }
      const response = yield* client.execute(request).pipe(
        Effect.mapError((error) => fail(`cannot reach token endpoint ${target.url}: ${describe(error)}`))
      )
      if (response.status !== 200) {
        // only the OAuth error code: a description could echo what we sent
        const code = yield* HttpClientResponse.schemaBodyJson(ErrorResponse)(response).pipe(
          Effect.map((body) => (/^[A-Za-z0-9_.-]{1,64}$/.test(body.error) ? ` (${body.error})` : "")),
          Effect.orElseSucceed(() => "")
        )
        return yield* fail(`token endpoint ${target.url} refused the refresh-token with HTTP ${response.status}${code}`)
      }
      const body = yield* HttpClientResponse.schemaBodyJson(TokenResponse)(response).pipe(
        Effect.mapError(() => fail(`token endpoint ${target.url} did not answer with a token response`))
      )
      if (body.id_token === undefined) return yield* fail(`token endpoint ${target.url} returned no id_token`)
      const exp = expiry(Redacted.value(body.id_token))
      if (exp === undefined) return yield* fail("the refreshed id_token has no exp claim")
      const next = body.refresh_token !== undefined && Redacted.value(body.refresh_token) !== "" ? body.refresh_token : token
      refreshToken = next
      if (config.onRefresh !== undefined) yield* config.onRefresh({ idToken: body.id_token, refreshToken: next })
      return { value: body.id_token, expiresAt: exp }
    })

    const initial = config.idToken === undefined ? undefined : {
      value: config.idToken,
      // an id-token we cannot read the expiry of counts as expired, as in client-go
      expiresAt: expiry(Redacted.value(config.idToken)) ?? 0
    }
    return yield* Expiring.make(call("refresh", exchange), {
      initial,
      skewMillis: Duration.toMillis(options.refreshSkew ?? Duration.seconds(10))
    })
  })
