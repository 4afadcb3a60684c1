import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Inspectable, Layer, Logger, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { inspect } from "node:util"
import * as ClientConfig from "../src/ClientConfig.ts"
import { AuthError, type ConfigError } from "../src/ClientConfigError.ts"
import { authorization, fakePem, kubeconfig, tempDir, withEnv, write } from "./support/ClientConfigFixtures.ts"

const ca = fakePem("CERTIFICATE", "Q0E=")
const clientCert = fakePem("CERTIFICATE", "Q0VSVA==")
const clientKey = fakePem("PRIVATE KEY", "S0VZ")
const b64 = (text: string) => Buffer.from(text).toString("base64")

/** A kubeconfig file with one cluster `c`, one user `u` and the current context `ctx`. */
const single = (
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  context: Record<string, unknown> = {}
) =>
  kubeconfig({
    current: "ctx",
    clusters: { c: { server: "https://10.1.2.3:6443/", ...cluster } },
    contexts: { ctx: { cluster: "c", user: "u", ...context } },
    users: { u: user }
  })

type FileOptions = ClientConfig.CommonOptions & {
  readonly userAgent?: string
  readonly context?: string
  readonly allowExec?: boolean
}

const fromFile = (content: string, options: FileOptions = {}, dir = tempDir()) => {
  const path = write(dir, "config", content)
  return ClientConfig.fromKubeconfig({ ...options, operatorName: "test-operator", paths: [path] })
}

const failure = <A, R>(effect: Effect.Effect<A, ConfigError | AuthError, R>) => Effect.flip(effect)

describe("ClientConfig.fromKubeconfig: cluster", () => {
  it.effect("takes server, CA data, TLS server name, proxy and namespace from the current context", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(single(
        { "certificate-authority-data": b64(ca), "tls-server-name": "kube.internal", "proxy-url": "http://proxy:3128" },
        { token: "abc" },
        { namespace: "team-a" }
      ))
      assert.strictEqual(config.server, "https://10.1.2.3:6443")
      assert.strictEqual(config.tls.ca, ca)
      assert.strictEqual(config.tls.serverName, "kube.internal")
      assert.isFalse(config.tls.insecureSkipTlsVerify)
      assert.strictEqual(config.proxyUrl && Redacted.value(config.proxyUrl), "http://proxy:3128")
      assert.strictEqual(config.namespace, "team-a")
      assert.strictEqual(config.userAgent, "test-operator")
      assert.strictEqual(Duration.toMillis(config.timeout), 60_000)
      assert.match(config.source, /config \(context ctx\)$/)
    }))

  it.effect("reads the CA from a file relative to the kubeconfig; options override namespace, user agent, timeout", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, "pki/ca.crt", ca)
      const config = yield* fromFile(
        single({ "certificate-authority": "pki/ca.crt" }, {}),
        { userAgent: "my-agent/1.0", namespace: "override", timeout: "5 seconds" },
        dir
      )
      assert.strictEqual(config.tls.ca, ca)
      assert.strictEqual(config.namespace, "override")
      assert.strictEqual(config.userAgent, "my-agent/1.0")
      assert.strictEqual(Duration.toMillis(config.timeout), 5000)
      assert.deepStrictEqual(yield* config.credentials, { headers: {} })
    }))

  it.effect("the namespace is `default` when the context sets none; `host:port` means https", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(single({ server: "10.0.0.1:443" }, {}))
      assert.strictEqual(config.namespace, "default")
      assert.strictEqual(config.server, "https://10.0.0.1") // the default port is dropped
    }))

  it.effect("a chosen context wins over current-context", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(
        kubeconfig({
          current: "a",
          clusters: { one: { server: "https://one" }, two: { server: "https://two" } },
          contexts: { a: { cluster: "one" }, b: { cluster: "two", namespace: "nb" } }
        }),
        { context: "b" }
      )
      assert.strictEqual(config.server, "https://two")
      assert.strictEqual(config.namespace, "nb")
    }))

  it.effect("skips TLS verification only when the kubeconfig says so, and then warns once, naming the cluster", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string }> = []
      const capture = Effect.provide(Logger.layer([Logger.make((entry) =>
        logs.push({ level: entry.logLevel, message: Inspectable.toStringUnknown(entry.message) })
      )]))
      const config = yield* fromFile(single({ "insecure-skip-tls-verify": true }, { token: "SECRET-TOKEN" })).pipe(capture)
      assert.isTrue(config.tls.insecureSkipTlsVerify)
      assert.isUndefined(config.tls.ca)
      yield* config.credentials.pipe(capture)
      assert.strictEqual(logs.length, 1)
      assert.strictEqual(logs[0]!.level, "Warn")
      assert.include(logs[0]!.message, "clusters[c].insecure-skip-tls-verify: TLS verification of https://10.1.2.3:6443/ is off")
      assert.notInclude(logs[0]!.message, "SECRET-TOKEN")

      for (const off of [{}, { "insecure-skip-tls-verify": false }, { "insecure-skip-tls-verify": "false" }]) {
        const verified = yield* fromFile(single(off, {})).pipe(capture)
        assert.isFalse(verified.tls.insecureSkipTlsVerify)
      }
      // nothing in the environment turns verification off either
      const withEnvFlag = yield* fromFile(single({}, {})).pipe(capture, withEnv({ NODE_TLS_REJECT_UNAUTHORIZED: "0" }))
      assert.isFalse(withEnvFlag.tls.insecureSkipTlsVerify)
      assert.strictEqual(logs.length, 1)
    }))

  it.effect("refuses insecure-skip-tls-verify together with a CA", () =>
    Effect.gen(function*() {
      const error = yield* failure(
        fromFile(single({ "insecure-skip-tls-verify": true, "certificate-authority-data": b64(ca) }, {}))
      )
      assert.include(error.message, "clusters[c].certificate-authority-data: a CA together with insecure-skip-tls-verify")
    }))

  it.effect("refuses an http:// server unless allowInsecureHttp", () =>
    Effect.gen(function*() {
      const content = single({ server: "http://127.0.0.1:8080" }, { token: "t" })
      const error = yield* failure(fromFile(content))
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "clusters[c].server: refusing http:// server 127.0.0.1:8080")
      const allowed = yield* fromFile(content, { allowInsecureHttp: true })
      assert.strictEqual(allowed.server, "http://127.0.0.1:8080")
    }))

  it.effect("bad cluster fields are named", () =>
    Effect.gen(function*() {
      const noServer = yield* failure(fromFile(single({ server: "" }, {})))
      assert.include(noServer.message, "clusters[c].server: no server is set")
      const proxy = yield* failure(fromFile(single({ "proxy-url": "ftp://proxy" }, {})))
      assert.include(proxy.message, "clusters[c].proxy-url: proxy scheme must be http, https or socks5")
      const unparsable = yield* failure(fromFile(single({ "proxy-url": "http://user:SECRET@[bad" }, {})))
      assert.include(unparsable.message, "clusters[c].proxy-url: the proxy URL is not a URL")
      assert.notInclude(unparsable.message, "SECRET")
      const base64 = yield* failure(fromFile(single({ "certificate-authority-data": "%%%not base64" }, {})))
      assert.include(base64.message, "clusters[c].certificate-authority-data: not valid base64")
      const notPem = yield* failure(fromFile(single({ "certificate-authority-data": b64(b64(ca)) }, {})))
      assert.include(notPem.message, "clusters[c].certificate-authority-data: the CA certificate is not PEM")
      const missing = yield* failure(fromFile(single({ "certificate-authority": "/nonexistent/ca.crt" }, {})))
      assert.include(missing.message, "clusters[c].certificate-authority: cannot read /nonexistent/ca.crt: does not exist")
    }))

  it.effect("a user agent is required", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = write(dir, "config", single({}, {}))
      const error = yield* failure(ClientConfig.fromKubeconfig({ userAgent: " ", paths: [path] }))
      assert.include(error.message, "a user agent is required")
    }))
})

describe("ClientConfig.fromKubeconfig: users", () => {
  it.effect("basic auth becomes Authorization: Basic", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(single({}, { username: "admin", password: "pa:ss" }))
      const credentials = yield* config.credentials
      assert.strictEqual(authorization(credentials), `Basic ${b64("admin:pa:ss")}`)
    }))

  it.effect("a token becomes Authorization: Bearer", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(single({}, { token: "s3cr3t" }))
      assert.strictEqual(authorization(yield* config.credentials), "Bearer s3cr3t")
    }))

  it.effect("client certificate and key files, relative to the kubeconfig", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, "u.crt", clientCert)
      write(dir, "keys/u.key", clientKey)
      const config = yield* fromFile(single({}, { "client-certificate": "u.crt", "client-key": "keys/u.key" }), {}, dir)
      const credentials = yield* config.credentials
      assert.strictEqual(credentials.clientCertificate?.cert, clientCert)
      assert.strictEqual(Redacted.value(credentials.clientCertificate!.key), clientKey)
      assert.deepStrictEqual(credentials.headers, {})
    }))

  it.effect("inline client certificate and key data (base64)", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(
        single({}, { "client-certificate-data": b64(clientCert), "client-key-data": b64(clientKey), token: "t" })
      )
      const credentials = yield* config.credentials
      assert.strictEqual(credentials.clientCertificate?.cert, clientCert)
      assert.strictEqual(Redacted.value(credentials.clientCertificate!.key), clientKey)
      assert.strictEqual(authorization(credentials), "Bearer t")
    }))

  it.effect("a missing certificate file, a lone key and bad key data are named", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const missing = yield* failure(
        fromFile(single({}, { "client-certificate": "gone.crt", "client-key": "gone.key" }), {}, dir)
      )
      assert.include(missing.message, `users[u].client-certificate: cannot read ${join(dir, "gone.crt")}: does not exist`)
      const lone = yield* failure(fromFile(single({}, { "client-key-data": b64(clientKey) })))
      assert.include(lone.message, "users[u].client-certificate-data: a client certificate needs its key")
      const bad = yield* failure(
        fromFile(single({}, { "client-certificate-data": b64(clientCert), "client-key-data": b64("not a key") }))
      )
      assert.include(bad.message, "users[u].client-key-data: the client key is not PEM")
    }))

  it.effect("impersonation: as, as-uid, as-groups and as-user-extra", () =>
    Effect.gen(function*() {
      const config = yield* fromFile(single({}, {
        token: "t",
        as: "jane",
        "as-uid": "1234",
        "as-groups": ["devs", "ops"],
        "as-user-extra": { "scopes.example.com/project": ["p1", "p2"], reason: ["on call"], "a(b)ü": ["x"] }
      }))
      const credentials = yield* config.credentials
      assert.strictEqual(Redacted.value(credentials.headers["Impersonate-User"]!), "jane")
      assert.strictEqual(Redacted.value(credentials.headers["Impersonate-Uid"]!), "1234")
      assert.strictEqual(authorization(credentials), "Bearer t")
      assert.deepStrictEqual(credentials.multiHeaders, {
        "Impersonate-Group": ["devs", "ops"],
        "Impersonate-Extra-scopes.example.com%2Fproject": ["p1", "p2"],
        "Impersonate-Extra-reason": ["on call"],
        "Impersonate-Extra-a%28b%29%C3%BC": ["x"]
      })
    }))

  it.effect("impersonation details without `as` are refused", () =>
    Effect.gen(function*() {
      const error = yield* failure(fromFile(single({}, { "as-groups": ["devs"] })))
      assert.include(error.message, `users[u].as: as-uid, as-groups or as-user-extra need "as"`)
    }))

  it.effect("more than one authentication method is refused, naming them", () =>
    Effect.gen(function*() {
      const error = yield* failure(fromFile(single({}, { token: "t", username: "a", password: "b" })))
      assert.include(error.message, "users[u]: more than one authentication method (token, basic (username/password))")
    }))

  it.effect("deprecated auth-providers are refused with the replacement", () =>
    Effect.gen(function*() {
      const error = yield* failure(fromFile(single({}, { "auth-provider": { name: "gcp", config: {} } })))
      assert.include(error.message, `users[u].auth-provider: auth-provider "gcp" is not supported`)
      assert.include(error.message, "gke-gcloud-auth-plugin")
    }))
})

describe("ClientConfig: token files", () => {
  it.effect("re-reads a rotated token file after a minute and on refreshCredentials", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const token = write(dir, "token", "first\n")
      const config = yield* fromFile(single({}, { tokenFile: "token" }), {}, dir)
      assert.strictEqual(authorization(yield* config.credentials), "Bearer first")
      write(dir, "token", "second")
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer first")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer second")
      write(dir, "token", "third")
      assert.strictEqual(authorization(yield* config.refreshCredentials!), "Bearer third")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer third")
      rmSync(token)
      yield* TestClock.adjust("2 minutes")
      const error = yield* Effect.flip(config.credentials)
      assert.instanceOf(error, AuthError)
      assert.include(error.message, `users[u].tokenFile: cannot read token file ${token}: does not exist`)
    }))

  it.effect("a missing or empty token file fails when the configuration is built", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const missing = yield* failure(fromFile(single({}, { tokenFile: "nope" }), {}, dir))
      assert.strictEqual(missing._tag, "ConfigError")
      assert.include(missing.message, `users[u].tokenFile: cannot read token file ${join(dir, "nope")}: does not exist`)
      write(dir, "empty", " \n")
      const empty = yield* failure(fromFile(single({}, { tokenFile: "empty" }), {}, dir))
      assert.include(empty.message, `token file ${join(dir, "empty")} is empty`)
    }))
})

describe("ClientConfig: kubeconfig given as data", () => {
  const plugin = { apiVersion: "client.authentication.k8s.io/v1", command: "true", interactiveMode: "Never" }

  it.effect("is decoded from text or an object", () =>
    Effect.gen(function*() {
      const text = single({}, { token: "t" })
      const fromText = yield* ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: text })
      const fromObject = yield* ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: JSON.parse(text) })
      assert.strictEqual(fromText.server, "https://10.1.2.3:6443")
      assert.strictEqual(authorization(yield* fromObject.credentials), "Bearer t")
      assert.match(fromText.source, /^kubeconfig data \(context ctx\)$/)
    }))

  it.effect("never runs an exec plugin unless allowExec", () =>
    Effect.gen(function*() {
      const error = yield* failure(
        ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: single({}, { exec: plugin }) })
      )
      assert.include(error.message, `kubeconfig data: users[u].exec: exec plugin "true" is not allowed to run`)
      assert.include(error.message, `if you trust it, pass execPolicy: { allowlist: ["true"] } (or allowExec: true)`)
      assert.deepStrictEqual(error._tag === "ConfigError" ? error.reason : undefined, { _tag: "ExecPluginRefused", command: "true", policy: "DenyAll" })
      yield* ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: single({}, { exec: plugin }), allowExec: true })
    }))

  it.effect("an own kubeconfig file may be refused exec plugins with allowExec: false", () =>
    Effect.gen(function*() {
      const error = yield* failure(fromFile(single({}, { exec: plugin }), { allowExec: false }))
      assert.include(error.message, `users[u].exec: exec plugin "true" is not allowed to run (allowExec: false)`)
    }))

  it.effect("refers to no file unless baseDir is given, then resolves against it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, "token", "from-file")
      const content = single({}, { tokenFile: "token" })
      const error = yield* failure(ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: content }))
      assert.include(error.message, "users[u].tokenFile: kubeconfig data may not refer to files (token)")
      const config = yield* ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: content, baseDir: dir })
      assert.strictEqual(authorization(yield* config.credentials), "Bearer from-file")
    }))
})

describe("ClientConfig.make", () => {
  it.effect("programmatic options: server, CA, token, impersonation", () =>
    Effect.gen(function*() {
      const config = yield* ClientConfig.make({
        userAgent: "ua",
        server: "https://api.example.com:443/prefix/",
        ca,
        tlsServerName: "api",
        auth: { token: Redacted.make("tok") },
        impersonate: { user: "bob", groups: ["g"] }
      })
      assert.strictEqual(config.server, "https://api.example.com/prefix")
      assert.strictEqual(config.namespace, "default")
      assert.strictEqual(config.source, "ClientConfig options")
      const credentials = yield* config.credentials
      assert.strictEqual(authorization(credentials), "Bearer tok")
      assert.strictEqual(Redacted.value(credentials.headers["Impersonate-User"]!), "bob")
      assert.deepStrictEqual(credentials.multiHeaders, { "Impersonate-Group": ["g"] })
    }))

  it.effect("custom credentials get impersonation on top", () =>
    Effect.gen(function*() {
      let calls = 0
      const config = yield* ClientConfig.make({
        operatorName: "op",
        server: "https://x",
        auth: {
          credentials: Effect.sync(() => {
            calls++
            return { headers: { Authorization: Redacted.make(`Custom ${calls}`) } }
          })
        },
        impersonate: { user: "bob" }
      })
      const credentials = yield* config.credentials
      assert.strictEqual(authorization(credentials), "Custom 1")
      assert.strictEqual(Redacted.value(credentials.headers["Impersonate-User"]!), "bob")
    }))

  it.effect("option errors name the option", () =>
    Effect.gen(function*() {
      const file = yield* failure(ClientConfig.make({ operatorName: "op", server: "https://x", caFile: "/nonexistent/ca" }))
      assert.include(file.message, "caFile: cannot read /nonexistent/ca: does not exist")
      const timeout = yield* failure(ClientConfig.make({ operatorName: "op", server: "https://x", timeout: -1 }))
      assert.include(timeout.message, "timeout must be a positive duration")
      const url = yield* failure(ClientConfig.make({ operatorName: "op", server: "https://x/?a=b" }))
      assert.include(url.message, "server: server URL must not carry a query")
      const scheme = yield* failure(ClientConfig.make({ operatorName: "op", server: "ftp://x" }))
      assert.include(scheme.message, "server: server must be an https:// URL")
    }))

  it.effect("ClientConfig.layer provides the service", () =>
    Effect.gen(function*() {
      const config = yield* ClientConfig.ClientConfig
      assert.strictEqual(config.server, "https://x")
    }).pipe(Effect.provide(ClientConfig.layer({ operatorName: "op", server: "https://x" }))))
})

describe("ClientConfig: secrets stay secret", () => {
  const secrets = ["SECRET-TOKEN-1", "SECRET-PASSWORD-2", "SECRET-KEY-3"]
  const leaks = (text: string) => secrets.filter((secret) => text.includes(secret) || text.includes(b64(secret)))

  const shown = (value: unknown): string =>
    [
      String(value),
      JSON.stringify(value) ?? "",
      Inspectable.toStringUnknown(value),
      inspect(value, { depth: 10 })
    ].join("\n")

  it.effect("the config, its credentials and its errors never show a token, password or key", () =>
    Effect.gen(function*() {
      const withToken = yield* fromFile(single({}, {
        token: secrets[0],
        "client-certificate-data": b64(clientCert),
        "client-key-data": b64(fakePem("PRIVATE KEY", secrets[2]))
      }))
      const basic = yield* fromFile(single({}, { username: "u", password: secrets[1] }))
      for (const config of [withToken, basic]) {
        assert.deepStrictEqual(leaks(shown(config)), [])
        assert.deepStrictEqual(leaks(shown(yield* config.credentials)), [])
      }
      // the credentials do carry them, for the HTTP layer
      assert.strictEqual(authorization(yield* withToken.credentials), `Bearer ${secrets[0]}`)

      const errors = [
        yield* failure(fromFile(single({ server: "http://x" }, { token: secrets[0], password: secrets[1] }))),
        yield* failure(fromFile(single({}, { token: secrets[0], username: "u", password: secrets[1] }))),
        yield* failure(fromFile(single({}, { token: { value: secrets[0] } }))),
        yield* failure(fromFile(`users:\n- name: u\n  user:\n    token: ${secrets[0]}\n    password: [${secrets[1]}`)),
        yield* failure(fromFile(single({}, { "client-key-data": b64(fakePem("PRIVATE KEY", secrets[2])) })))
      ]
      for (const error of errors) assert.deepStrictEqual(leaks(shown(error)), [], error.message)
    }))

  it.effect("a layer failure shows no secret either", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = write(dir, "config", single({ server: "http://x" }, { token: secrets[0] }))
      const exit = yield* Effect.exit(
        Layer.build(ClientConfig.layerFromKubeconfig({ operatorName: "op", paths: [path] }))
      )
      assert.deepStrictEqual(leaks(shown(exit)), [])
    }))
})

describe("ClientConfig.fromEnvironment", () => {
  it.effect("uses KUBECONFIG when no service account is mounted", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = write(dir, "kc", single({}, { token: "from-kubeconfig" }))
      const config = yield* ClientConfig.fromEnvironment({ operatorName: "op", directory: join(dir, "no-sa") }).pipe(
        withEnv({ KUBECONFIG: path, KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" })
      )
      assert.strictEqual(config.server, "https://10.1.2.3:6443")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer from-kubeconfig")
    }))

  it.effect("prefers the mounted service account over KUBECONFIG", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = write(dir, "kc", single({}, { token: "from-kubeconfig" }))
      write(dir, "sa/token", "from-service-account")
      write(dir, "sa/namespace", "operators")
      const config = yield* ClientConfig.fromEnvironment({ operatorName: "op", directory: join(dir, "sa") }).pipe(
        withEnv({ KUBECONFIG: path, KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" })
      )
      assert.strictEqual(config.server, "https://10.96.0.1")
      assert.strictEqual(config.namespace, "operators")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer from-service-account")
    }))

  it.effect("layerFromEnvironment fails with the kubeconfig's error when neither is usable", () =>
    Effect.gen(function*() {
      const home = tempDir()
      const error = yield* Effect.flip(
        Layer.build(ClientConfig.layerFromEnvironment({ operatorName: "op", directory: join(home, "none") }))
      ).pipe(withEnv({ HOME: home }))
      assert.include(error.message, join(home, ".kube", "config"))
    }))
})
