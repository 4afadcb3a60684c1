import { assert, describe, it } from "@effect/vitest"
import { Effect, Inspectable } from "effect"
import { TestClock } from "effect/testing"
import type * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as ClientConfig from "../src/ClientConfig.ts"
import * as Oidc from "../src/Oidc.ts"
import { authorization, jwt, kubeconfig, selfSigned, tempDir, write } from "./support/ClientConfigFixtures.ts"

interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly form: Record<string, string>
}

interface IssuerState {
  /** `exp` (seconds) of the next id_token issued. */
  nextExp: number
  /** What the discovery document advertises. */
  authMethods: ReadonlyArray<string> | undefined
  /** Make the token endpoint refuse. */
  refuse: boolean
  /** Claim another issuer in discovery. */
  lie: boolean
  issued: number
  readonly seen: Array<Seen>
}

/** A loopback HTTPS OpenID provider: discovery and a refresh-token grant that rotates refresh tokens. */
const issuer = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly state: IssuerState; readonly server: https.Server }>((resume) => {
    const { cert, key } = selfSigned()
    const state: IssuerState = { nextExp: 0, authMethods: undefined, refuse: false, lie: false, issued: 0, seen: [] }
    const server = https.createServer({ cert, key }, (req: http.IncomingMessage, res: http.ServerResponse) => {
      let body = ""
      req.on("data", (chunk) => (body += chunk))
      req.on("end", () => {
        const path = req.url ?? ""
        state.seen.push({
          method: req.method ?? "",
          path,
          authorization: req.headers.authorization,
          form: Object.fromEntries(new URLSearchParams(body))
        })
        const json = (status: number, value: unknown) => {
          res.writeHead(status, { "content-type": "application/json" })
          res.end(JSON.stringify(value))
        }
        if (path === "/.well-known/openid-configuration") {
          return json(200, {
            issuer: state.lie ? "https://elsewhere.example" : base(),
            token_endpoint: `${base()}/token`,
            ...(state.authMethods !== undefined ? { token_endpoint_auth_methods_supported: state.authMethods } : {})
          })
        }
        if (path === "/token" && req.method === "POST") {
          if (state.refuse) {
            return json(400, { error: "invalid_grant", error_description: `refresh token ${body} is revoked` })
          }
          state.issued++
          return json(200, {
            id_token: jwt(state.nextExp, `id-${state.issued}`),
            refresh_token: `r${state.issued + 1}`,
            token_type: "Bearer",
            expires_in: 3600
          })
        }
        json(404, {})
      })
    })
    const base = () => `https://127.0.0.1:${(server.address() as AddressInfo).port}`
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ url: base(), state, server })))
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const subject = (bearer: string | undefined) => {
  const token = bearer?.replace(/^Bearer /, "") ?? ""
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).sub
}

const oidcConfig = (config: Record<string, string>, options: { readonly trust?: boolean } = {}) => {
  const dir = tempDir()
  const auth = {
    ...config,
    ...(options.trust === false ? {} : { "idp-certificate-authority-data": Buffer.from(selfSigned().cert).toString("base64") })
  }
  const path = write(
    dir,
    "config",
    kubeconfig({
      current: "ctx",
      clusters: { c: { server: "https://10.0.0.1:6443" } },
      contexts: { ctx: { cluster: "c", user: "dex" } },
      users: { dex: { "auth-provider": { name: "oidc", config: auth } } }
    })
  )
  return ClientConfig.fromKubeconfig({ operatorName: "op", paths: [path] })
}

describe("Oidc.expiry", () => {
  it("reads exp from a JWT and nothing from anything else", () => {
    assert.strictEqual(Oidc.expiry(jwt(1700000000, "x")), 1700000000 * 1000)
    assert.isUndefined(Oidc.expiry(jwt(undefined, "x")))
    assert.isUndefined(Oidc.expiry("not-a-jwt"))
    assert.isUndefined(Oidc.expiry("a.%%%.c"))
  })
})

describe("oidc auth-provider", () => {
  it.effect("uses the id-token until exp, then refreshes through the discovered token endpoint", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      const config = yield* oidcConfig({
        "idp-issuer-url": url,
        "client-id": "kube fx",
        "client-secret": "CLIENT-SECRET",
        "id-token": jwt(3600, "initial"),
        "refresh-token": "r1"
      })
      assert.strictEqual(subject(authorization(yield* config.credentials)), "initial")
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual(subject(authorization(yield* config.credentials)), "initial")
      assert.strictEqual(state.seen.length, 0)

      state.nextExp = 7200
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(subject(authorization(yield* config.credentials)), "id-1")
      assert.strictEqual(subject(authorization(yield* config.credentials)), "id-1")
      assert.deepStrictEqual(state.seen.map((s) => `${s.method} ${s.path}`), [
        "GET /.well-known/openid-configuration",
        "POST /token"
      ])
      const grant = state.seen[1]!
      assert.deepStrictEqual(grant.form, { grant_type: "refresh_token", refresh_token: "r1" })
      // client_secret_basic, id and secret form-encoded first (RFC 6749 §2.3.1)
      assert.strictEqual(grant.authorization, `Basic ${Buffer.from("kube+fx:CLIENT-SECRET").toString("base64")}`)

      // the rotated refresh token is used next time; discovery is not repeated
      state.nextExp = 10800
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(subject(authorization(yield* config.credentials)), "id-2")
      assert.strictEqual(state.seen.length, 3)
      assert.strictEqual(state.seen[2]!.form.refresh_token, "r2")

      // refreshCredentials refreshes at once
      assert.strictEqual(subject(authorization(yield* config.refreshCredentials!)), "id-3")
      assert.strictEqual(state.seen[3]!.form.refresh_token, "r3")
    }))

  it.effect("client_secret_post when the issuer supports only that; a public client sends its id in the body", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      state.authMethods = ["client_secret_post"]
      state.nextExp = 3600
      const post = yield* oidcConfig({
        "idp-issuer-url": url,
        "client-id": "app",
        "client-secret": "CLIENT-SECRET",
        "refresh-token": "r1"
      })
      assert.strictEqual(subject(authorization(yield* post.credentials)), "id-1")
      assert.deepStrictEqual(state.seen[1]!.form, {
        grant_type: "refresh_token",
        refresh_token: "r1",
        client_id: "app",
        client_secret: "CLIENT-SECRET"
      })
      assert.isUndefined(state.seen[1]!.authorization)

      const pub = yield* oidcConfig({ "idp-issuer-url": url, "client-id": "cli", "refresh-token": "r9" })
      yield* pub.credentials
      assert.deepStrictEqual(state.seen.at(-1)!.form, { grant_type: "refresh_token", refresh_token: "r9", client_id: "cli" })
    }))

  it.effect("an id-token whose expiry cannot be read is refreshed on first use", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      state.nextExp = 3600
      const config = yield* oidcConfig({
        "idp-issuer-url": url,
        "client-id": "app",
        "id-token": "opaque",
        "refresh-token": "r1"
      })
      assert.strictEqual(subject(authorization(yield* config.credentials)), "id-1")
    }))

  it.effect("a refused refresh fails with the OAuth error code only; the next use tries again", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      state.refuse = true
      const config = yield* oidcConfig({
        "idp-issuer-url": url,
        "client-id": "app",
        "client-secret": "CLIENT-SECRET",
        "id-token": jwt(10, "old"),
        "refresh-token": "REFRESH-SECRET"
      })
      const error = yield* Effect.flip(config.credentials)
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, `users[dex].auth-provider: oidc issuer ${url}: token endpoint ${url}/token refused`)
      assert.include(error.message, "HTTP 400 (invalid_grant)")
      for (const shown of [String(error), JSON.stringify(error), Inspectable.toStringUnknown(error)]) {
        assert.notInclude(shown, "REFRESH-SECRET")
        assert.notInclude(shown, "CLIENT-SECRET")
        assert.notInclude(shown, "revoked")
      }
      state.refuse = false
      state.nextExp = 3600
      assert.strictEqual(subject(authorization(yield* config.credentials)), "id-1")
    }))

  it.effect("an expired id-token without a refresh-token fails", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      const config = yield* oidcConfig({ "idp-issuer-url": url, "client-id": "app", "id-token": jwt(0, "old") })
      const error = yield* Effect.flip(config.credentials)
      assert.include(error.message, "the id-token has expired or is missing, and there is no refresh-token")
      assert.strictEqual(state.seen.length, 0)
    }))

  it.effect("a discovery document for another issuer is refused", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      state.lie = true
      const config = yield* oidcConfig({ "idp-issuer-url": url, "client-id": "app", "refresh-token": "r1" })
      const error = yield* Effect.flip(config.credentials)
      assert.include(error.message, "describes issuer https://elsewhere.example")
      assert.isFalse(state.seen.some((s) => s.path === "/token"))
    }))

  it.effect("an issuer whose certificate is not trusted is not contacted further", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      const config = yield* oidcConfig(
        { "idp-issuer-url": url, "client-id": "app", "refresh-token": "r1" },
        { trust: false }
      )
      const error = yield* Effect.flip(config.credentials)
      assert.include(error.message, `cannot fetch ${url}/.well-known/openid-configuration`)
      assert.match(error.message, /certificate/i)
      assert.strictEqual(state.seen.length, 0)
    }))

  it.effect("idp-issuer-url and client-id are required", () =>
    Effect.gen(function*() {
      const noIssuer = yield* Effect.flip(oidcConfig({ "client-id": "app" }))
      assert.include(noIssuer.message, "users[dex].auth-provider: oidc needs config.idp-issuer-url")
      const noClient = yield* Effect.flip(oidcConfig({ "idp-issuer-url": "https://x" }))
      assert.include(noClient.message, "oidc needs config.client-id")
    }))
})
