import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { ConfigProvider, Duration, Effect, Exit, Inspectable, Layer, Redacted, Result } from "effect"
import * as ClientConfig from "../src/ClientConfig.ts"
import * as Http from "../src/internal/http.ts"
import * as Proxy from "../src/internal/proxy.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import { countingPlugin, pluginSaw, tempDir } from "./support/ClientConfigFixtures.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"
import * as Proxies from "./support/Proxies.ts"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const environment = (env: Record<string, string>): Proxy.Settings => {
  const read = Effect.runSync(Proxy.fromEnvironment.pipe(withEnv(env)))
  if (Result.isFailure(read)) throw new Error(read.failure.message)
  return { _tag: "Environment", environment: read.success }
}

/** The origin of the proxy `url` goes through, or "direct". */
const route = (settings: Proxy.Settings, url: string) => Proxy.forTarget(settings, new URL(url))?.origin ?? "direct"

const cm: Builtin.ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web", namespace: "default" } }

/** A live cluster against the loopback server, reached as `host` (only the proxies resolve `*.test`). */
const withCluster = <A, E>(
  server: Loopback.LoopbackApiServer,
  f: (cluster: Cluster.Cluster["Service"]) => Effect.Effect<A, E>,
  overrides: Parameters<typeof Loopback.clientConfig>[1] = {},
  host = "kube.test"
) =>
  Effect.gen(function*() {
    return yield* f(yield* Cluster.Cluster)
  }).pipe(
    Effect.provide(KubeCluster.layerOptions({ retry: { maxAttempts: 1 } }).pipe(Layer.provide(Loopback.clientConfig(server, {
      server: server.url.replace("127.0.0.1", host),
      tls: { ca: Loopback.certs().ca, serverName: "localhost", insecureSkipTlsVerify: false },
      ...overrides
    }))))
  )

const failure = <A, E>(exit: Exit.Exit<A, E>): { readonly _tag: string; readonly message: string } => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") throw new Error(`expected a Fail: ${String(exit.cause)}`)
  return error.error as { readonly _tag: string; readonly message: string }
}

describe("proxy environment variables, with Go's httpproxy semantics", () => {
  it("NO_PROXY: domains with and without a leading dot or *., ports, IPs, CIDRs, *", () => {
    const s = environment({
      HTTPS_PROXY: "http://proxy.corp:3128",
      NO_PROXY: "example.com, .internal.corp,*.svc.local, example.org:8443,10.0.0.0/8,192.168.1.1,[2001:db8::1]:6443,2001:db9::/32,UPPER.CASE"
    })
    const proxied = "http://proxy.corp:3128"
    const table: Array<[string, string]> = [
      ["https://example.com", "direct"],
      ["https://api.example.com", "direct"],
      ["https://notexample.com", proxied],
      ["https://internal.corp", proxied], // a leading dot matches subdomains only
      ["https://a.internal.corp", "direct"],
      ["https://svc.local", proxied],
      ["https://x.svc.local", "direct"],
      ["https://example.org", proxied], // the entry is for port 8443 only
      ["https://example.org:8443", "direct"],
      ["https://10.1.2.3:6443", "direct"],
      ["https://11.0.0.1", proxied],
      ["https://192.168.1.1", "direct"],
      ["https://192.168.1.2", proxied],
      ["https://[2001:db8::1]:6443", "direct"],
      ["https://[2001:db8::1]:443", proxied],
      ["https://[2001:db9::5]", "direct"],
      ["https://upper.case", "direct"],
      // Go never proxies localhost nor loopback addresses, and nothing else is special
      ["https://localhost:6443", "direct"],
      ["https://127.0.0.1:6443", "direct"],
      ["https://127.9.9.9", "direct"],
      ["https://[::1]:6443", "direct"],
      ["https://kubernetes.default.svc", proxied]
    ]
    for (const [url, expected] of table) assert.strictEqual(route(s, url), expected, url)
    assert.strictEqual(route(environment({ HTTPS_PROXY: "http://p:1", NO_PROXY: "*" }), "https://any.where"), "direct")
  })

  it("HTTPS_PROXY for https and HTTP_PROXY for http, uppercase first, a bare host:port means http, CGI ignores HTTP_PROXY", () => {
    const s = environment({ HTTPS_PROXY: "secure:3128", https_proxy: "http://lower:1", HTTP_PROXY: "http://plain:8080" })
    assert.strictEqual(route(s, "https://api.corp"), "http://secure:3128")
    assert.strictEqual(route(s, "http://api.corp"), "http://plain:8080")
    assert.strictEqual(route(environment({ https_proxy: "http://lower:1" }), "https://api.corp"), "http://lower:1")
    assert.strictEqual(route(environment({ HTTP_PROXY: "http://plain:8080" }), "https://api.corp"), "direct", "no fallback")
    assert.strictEqual(route(environment({ HTTP_PROXY: "http://plain:8080", REQUEST_METHOD: "GET" }), "http://api.corp"), "direct")
    assert.strictEqual(route(environment({ HTTPS_PROXY: "socks5://s:1080" }), "https://api.corp"), "socks5://s:1080")
  })

  it.effect("an unsupported scheme in HTTPS_PROXY is a ConfigError naming the variable, never its value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ClientConfig.make({ server: "https://10.0.0.1:6443", operatorName: "op" }).pipe(
          withEnv({ HTTPS_PROXY: "ftp://user:hunter2@proxy:21" })
        )
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.message, "HTTPS_PROXY: proxy scheme ftp: is not supported (use http://, https://, socks5:// or socks5h://)")
      assert.notInclude(JSON.stringify(error) + String(error), "hunter2")
    }).pipe(Effect.scoped))

  it("proxy credentials are Redacted from the moment the URL is parsed", () => {
    const parsed = Proxy.parse("http://us%3Aer:p%40ss-w0rd@proxy:3128")
    assert.isTrue(Result.isSuccess(parsed))
    if (Result.isFailure(parsed)) return
    assert.strictEqual(Redacted.value(parsed.success.username!), "us:er")
    assert.strictEqual(Redacted.value(parsed.success.password!), "p@ss-w0rd")
    for (const text of [JSON.stringify(parsed.success), String(parsed.success), Inspectable.toStringUnknown(parsed.success)]) {
      assert.notInclude(text, "w0rd")
      assert.notInclude(text, "p%40ss")
    }
    assert.strictEqual(parsed.success.origin, "http://proxy:3128")
    assert.strictEqual(Proxy.withoutCredentials("http://u:secret@proxy:3128"), "http://proxy:3128")
  })
})

describe("proxies, end to end on loopback", () => {
  it.live("HTTPS_PROXY is used for the API server; NO_PROXY bypasses it", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const proxy = yield* Proxies.connectProxy()
      yield* withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" })).pipe(
        withEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: "example.com" })
      )
      assert.deepStrictEqual(proxy.connects.map((c) => c.target), [`kube.test:${server.url.split(":")[2]}`])
      // bypassed: the client resolves kube.test itself and cannot
      const error = failure(
        yield* Effect.exit(withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" })).pipe(
          withEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: ".test" })
        ))
      )
      assert.strictEqual(error._tag, "Transport")
      assert.include(error.message, "cannot connect")
      assert.strictEqual(proxy.connects.length, 1)
    }))

  it.live("proxy-url wins over HTTPS_PROXY", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const envProxy = yield* Proxies.connectProxy({ hang: true })
      const proxy = yield* Proxies.connectProxy()
      yield* withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), { proxyUrl: Redacted.make(proxy.url) }).pipe(
        withEnv({ HTTPS_PROXY: envProxy.url })
      )
      assert.strictEqual(proxy.connects.length, 1)
      assert.strictEqual(envProxy.connects.length, 0)
    }))

  it.live("an https:// proxy: TLS to the proxy, then CONNECT, with Proxy-Authorization", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const proxy = yield* Proxies.connectProxy({ tls: true, credentials: "ann:s3cret" })
      yield* withCluster(server, (c) => Effect.repeat(c.get(Builtin.ConfigMap, { name: "web" }), { times: 1 }), {
        proxyUrl: Redacted.make(`https://ann:s3cret@127.0.0.1:${proxy.port}`)
      })
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(proxy.connects.length, 1, "the tunnel is kept alive")
      assert.strictEqual(proxy.connects[0]!.authorization, `Basic ${Buffer.from("ann:s3cret").toString("base64")}`)
      assert.isUndefined(server.requests[0]!.headers["proxy-authorization"], "the API server never sees proxy credentials")
    }))

  it.live("a socks5:// proxy with username and password; the host name is resolved by the proxy", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const socks = yield* Proxies.socksProxy({ username: "sam", password: "pa55" })
      yield* withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), {
        proxyUrl: Redacted.make(`socks5://sam:pa55@127.0.0.1:${socks.port}`)
      })
      assert.deepStrictEqual(socks.seen, [{ host: "kube.test", port: Number(server.url.split(":")[2]), username: "sam", password: "pa55" }])
      const wrong = failure(
        yield* Effect.exit(withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), {
          proxyUrl: Redacted.make(`socks5h://sam:WRONG@127.0.0.1:${socks.port}`)
        }))
      )
      assert.include(wrong.message, "SOCKS5 authentication failed")
      assert.notInclude(wrong.message, "WRONG")
    }))

  it.live("a proxy requiring Proxy-Authorization: 407 without credentials, named without them", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const proxy = yield* Proxies.connectProxy({ credentials: "ann:right" })
      for (const url of [`http://127.0.0.1:${proxy.port}`, `http://ann:wr0ng@127.0.0.1:${proxy.port}`]) {
        const error = failure(
          yield* Effect.exit(withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), { proxyUrl: Redacted.make(url) }))
        )
        assert.strictEqual(error._tag, "Transport")
        assert.include(
          error.message,
          `proxy http://127.0.0.1:${proxy.port} refused CONNECT to kube.test:${server.url.split(":")[2]}: HTTP 407 (proxy authentication required`
        )
        assert.notInclude(JSON.stringify(error) + Inspectable.toStringUnknown(error), "wr0ng")
      }
      assert.strictEqual(server.requests.length, 0)
    }))

  it.live("a CONNECT that gets no answer is aborted with its request (timeout) and has its own bound", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const proxy = yield* Proxies.connectProxy({ hang: true })
      const error = failure(
        yield* Effect.exit(withCluster(server, (c) => c.get(Builtin.ConfigMap, { name: "web" }), {
          proxyUrl: Redacted.make(proxy.url),
          timeout: Duration.millis(300)
        }))
      )
      assert.include(error.message, "no response from")
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(proxy.connects.length, 1)
      assert.strictEqual(proxy.closed(), 1, "the tunnel being opened was torn down with the request")
      // the tunnel's own bound, without a request timeout
      const pool = Http.makePool({
        server: new URL(server.url.replace("127.0.0.1", "kube.test")),
        tls: { ca: Loopback.certs().ca, serverName: "localhost", insecureSkipTlsVerify: false },
        proxy: Result.getOrThrow(Proxy.parse(proxy.url)),
        source: "test",
        connectTimeoutMs: 200
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => pool.destroy()))
      const stuck = yield* Effect.flip(Http.exchange(pool, pool.agentFor(undefined), { method: "GET", path: "/x", headers: {} }))
      assert.strictEqual(stuck.kind, "connect")
      assert.include(stuck.message, `no answer to CONNECT kube.test:${server.url.split(":")[2]} within 200 ms`)
    }).pipe(Effect.scoped))

  it.live("OIDC token requests use the API's proxy settings: proxy-url, else HTTPS_PROXY with NO_PROXY", () =>
    Effect.gen(function*() {
      const proxy = yield* Proxies.connectProxy({ credentials: "ann:pw" })
      const idp = Proxies.selfSignedFor("idp.test")
      const issuer = yield* Proxies.fakeIssuer({ baseUrl: (port) => `https://idp.test:${port}`, certificate: idp })
      const oidc = {
        issuerUrl: issuer.url,
        clientId: "kubefx",
        idToken: Redacted.make(Proxies.jwt(1, "expired")),
        refreshToken: Redacted.make("refresh-0"),
        ca: idp.cert
      }
      const explicit = yield* ClientConfig.make({
        server: "https://10.0.0.1:6443",
        operatorName: "op",
        proxyUrl: `http://ann:pw@127.0.0.1:${proxy.port}`,
        auth: { oidc }
      }).pipe(withEnv({}))
      yield* explicit.credentials
      assert.deepStrictEqual(proxy.connects.map((c) => c.target), [`idp.test:${issuer.port}`])
      const viaEnv = yield* ClientConfig.make({ server: "https://10.0.0.1:6443", operatorName: "op", auth: { oidc } }).pipe(
        withEnv({ HTTPS_PROXY: `http://ann:pw@127.0.0.1:${proxy.port}`, NO_PROXY: "10.0.0.0/8" })
      )
      yield* viaEnv.credentials
      assert.strictEqual(proxy.connects.length, 2)
      assert.deepStrictEqual(issuer.seen.map((s) => s.line), [
        "GET /.well-known/openid-configuration",
        "POST /token",
        "GET /.well-known/openid-configuration",
        "POST /token"
      ])
    }).pipe(Effect.scoped))

  it.effect("an exec plugin learns where the proxy is, never its credentials", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      countingPlugin(dir)
      const config = yield* ClientConfig.make({
        server: "https://10.0.0.1:6443",
        operatorName: "op",
        proxyUrl: "http://ann:pr0xy-pw@proxy.corp:3128",
        auth: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: `${dir}/plugin.sh`,
            interactiveMode: "Never",
            provideClusterInfo: true
          }
        }
      })
      yield* config.credentials
      assert.strictEqual(pluginSaw(dir).info.spec.cluster["proxy-url"], "http://proxy.corp:3128")
      assert.strictEqual(Redacted.value(config.proxyUrl!), "http://ann:pr0xy-pw@proxy.corp:3128")
      assert.notInclude(JSON.stringify(config) + Inspectable.toStringUnknown(config), "pr0xy-pw")
    }).pipe(Effect.scoped))
})
