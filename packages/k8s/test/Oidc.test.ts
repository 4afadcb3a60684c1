import { assert, describe, it } from "@effect/vitest"
import { Effect, Inspectable, Logger, Redacted } from "effect"
import { TestClock } from "effect/testing"
import type * as http from "node:http"
import * as https from "node:https"
import { chmodSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import type { AddressInfo } from "node:net"
import * as yaml from "js-yaml"
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
  /** Advertise this token endpoint instead of the real one. */
  tokenEndpoint: string | undefined
  issued: number
  readonly seen: Array<Seen>
}

/** A loopback HTTPS OpenID provider: discovery and a refresh-token grant that rotates refresh tokens. */
const issuer = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly state: IssuerState; readonly server: https.Server }>((resume) => {
    const { cert, key } = selfSigned()
    const state: IssuerState = {
      nextExp: 0,
      authMethods: undefined,
      refuse: false,
      lie: false,
      tokenEndpoint: undefined,
      issued: 0,
      seen: []
    }
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
            token_endpoint: state.tokenEndpoint ?? `${base()}/token`,
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

  it.effect("an http:// issuer is refused when the configuration is built; so is a discovered http:// token endpoint", () =>
    Effect.gen(function*() {
      const plain = yield* Effect.flip(oidcConfig({ "idp-issuer-url": "http://127.0.0.1:5556", "client-id": "app" }))
      assert.strictEqual(plain._tag, "ConfigError")
      assert.include(plain.message, "users[dex].auth-provider: config.idp-issuer-url must be an https:// URL")

      const { state, url } = yield* issuer
      state.tokenEndpoint = "http://127.0.0.1:1/token"
      const config = yield* oidcConfig({ "idp-issuer-url": url, "client-id": "app", "refresh-token": "r1" })
      const error = yield* Effect.flip(config.credentials)
      assert.include(error.message, "names a token endpoint that is not https:// (http://127.0.0.1:1/token)")
      assert.deepStrictEqual(state.seen.map((s) => s.path), ["/.well-known/openid-configuration"])
    }))

  it.effect("http:// is accepted only with the test-only allowHttpForTesting", () =>
    Effect.gen(function*() {
      const config = { "idp-issuer-url": Redacted.make("http://127.0.0.1:5556"), "client-id": Redacted.make("app") }
      const readCa = () => Effect.succeed("")
      assert.strictEqual(
        (yield* Oidc.fromAuthProviderConfig(config, "test", readCa, { allowHttpForTesting: true })).issuerUrl,
        "http://127.0.0.1:5556"
      )
      assert.include((yield* Effect.flip(Oidc.fromAuthProviderConfig(config, "test", readCa))).message, "must be an https:// URL")
      assert.isFalse(Oidc.isSecureUrl("http://x"))
      assert.isTrue(Oidc.isSecureUrl("http://x", true))
      assert.isFalse(Oidc.isSecureUrl("file:///etc/passwd", true))
    }))
})

describe("oidc: refreshed tokens are written back to the kubeconfig", () => {
  const ca = () => Buffer.from(selfSigned().cert).toString("base64")
  const fileText = (url: string, options: { readonly shared?: boolean } = {}) =>
    [
      "# managed by hand: keep this comment",
      "apiVersion: v1",
      "kind: Config",
      "current-context: ctx",
      "clusters:",
      "- name: c",
      "  cluster:",
      "    server: https://10.0.0.1:6443",
      "contexts:",
      "- name: ctx",
      "  context: {cluster: c, user: dex}",
      "users:",
      "- name: other",
      "  user:",
      `    token: ${options.shared === true ? "r1" : "other-token"}`,
      "- name: dex",
      "  user:",
      "    auth-provider:",
      "      name: oidc",
      "      config:",
      `        idp-issuer-url: ${url}`,
      "        client-id: app",
      `        idp-certificate-authority-data: ${ca()}`,
      `        id-token: ${jwt(60, "initial")}`,
      "        refresh-token: 'r1'",
      ""
    ].join("\n")
  const providerOf = (path: string, user = "dex") =>
    (yaml.load(readFileSync(path, "utf8")) as any).users.find((u: any) => u.name === user).user

  it.effect("in place: the new refresh and id tokens replace the old, the file keeps its mode, comments and entries", () =>
    Effect.gen(function*() {
      const { state, url } = yield* issuer
      const dir = tempDir()
      const path = write(dir, "config", fileText(url))
      chmodSync(path, 0o640)
      const before = readFileSync(path, "utf8")
      state.nextExp = 7200
      const config = yield* ClientConfig.fromKubeconfig({ operatorName: "op", paths: [path] })
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(subject(authorization(yield* config.credentials)), "id-1")

      const after = readFileSync(path, "utf8")
      const idToken = authorization(yield* config.credentials)!.replace(/^Bearer /, "")
      assert.strictEqual(after, before.replace("'r1'", "'r2'").replace(jwt(60, "initial"), idToken))
      assert.strictEqual(statSync(path).mode & 0o777, 0o640)
      assert.deepStrictEqual(readdirSync(dir), ["config"], "no temporary file is left behind")

      // a restart reads the rotated refresh token, and presents it, not the used one
      const restarted = yield* ClientConfig.fromKubeconfig({ operatorName: "op", paths: [path] })
      yield* restarted.refreshCredentials!
      assert.strictEqual(state.seen.at(-1)!.form.refresh_token, "r2")
      assert.strictEqual(providerOf(path)["auth-provider"].config["refresh-token"], "r3")
    }))

  it.effect("a token that also appears elsewhere: the document is rewritten, changing only this user's tokens", () =>
    Effect.gen(function*() {
      const { url } = yield* issuer
      const dir = tempDir()
      const path = write(dir, "config", fileText(url, { shared: true }))
      const config = yield* ClientConfig.fromKubeconfig({ operatorName: "op", paths: [path] })
      yield* config.refreshCredentials!
      assert.strictEqual(providerOf(path)["auth-provider"].config["refresh-token"], "r2")
      assert.strictEqual(providerOf(path, "other").token, "r1")
      assert.strictEqual(providerOf(path)["auth-provider"].config["client-id"], "app")
    }))

  it.effect("a file that cannot be written is a warning naming it (never a token); the refresh still succeeds", () =>
    Effect.gen(function*() {
      const { url } = yield* issuer
      const dir = tempDir()
      const path = write(dir, "config", fileText(url))
      const logs: Array<string> = []
      const config = yield* ClientConfig.fromKubeconfig({ operatorName: "op", paths: [path] })
      rmSync(path)
      const credentials = yield* config.refreshCredentials!.pipe(
        Effect.provide(Logger.layer([Logger.make((entry) => logs.push(Inspectable.toStringUnknown(entry.message)))]))
      )
      assert.strictEqual(subject(authorization(credentials)), "id-1")
      assert.strictEqual(logs.length, 1)
      assert.include(logs[0], `users[dex].auth-provider: the refreshed OIDC tokens could not be written back to ${path}`)
      // the temporary path is random and may itself contain "r2" or "eyJ": look at the rest of the line
      const rest = logs[0]!.replaceAll(path, "<path>")
      assert.notInclude(rest, "r2")
      assert.notInclude(rest, "eyJ")
    }))

  it.effect("kubeconfig data has no file to write to: the tokens stay in memory", () =>
    Effect.gen(function*() {
      const { url } = yield* issuer
      const config = yield* ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: fileText(url) })
      assert.strictEqual(subject(authorization(yield* config.refreshCredentials!)), "id-1")
      assert.strictEqual(subject(authorization(yield* config.refreshCredentials!)), "id-2")
    }))
})
