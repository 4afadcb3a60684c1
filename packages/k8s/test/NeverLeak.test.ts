/**
 * The live client at the most verbose log level through full sessions (a token, a client certificate, an
 * exec plugin with a secret env value, an OIDC refresh through a proxy with credentials, 401s and refreshes,
 * an error page from the path that echoes the request): no secret byte may appear in a log line, an error
 * message, its cause, or any rendering of errors and configurations.
 */
import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { Cause, ConfigProvider, Effect, Exit, Inspectable, Layer, Logger, Redacted, References } from "effect"
import * as ClientConfig from "../src/ClientConfig.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import { script, tempDir } from "./support/ClientConfigFixtures.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"
import * as Proxies from "./support/Proxies.ts"

const secrets = {
  staticToken: "STATIC-TOKEN-1618-secret",
  proxyPassword: "PROXY-PW-9911-secret",
  refreshToken: "REFRESH-7788-secret",
  clientSecret: "CLIENT-SECRET-5566",
  execToken: "EXEC-TOKEN-3141-secret",
  execEnv: "EXEC-ENV-2718-secret"
}

/** Every rendering of a value a program might log or print. */
const renderings = (value: unknown): Array<string> => {
  const out = [String(value), Inspectable.toStringUnknown(value)]
  try {
    out.push(JSON.stringify(value) ?? "")
  } catch {
    // a value holding Effects may not serialise; String and inspect cover it
  }
  if (value instanceof Error) {
    out.push(value.message, value.stack ?? "")
    const cause = (value as { cause?: unknown }).cause
    if (cause !== undefined) out.push(...renderings(cause))
  }
  return out
}

const cm = (name: string): Builtin.ConfigMap => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" } })

describe("never leak", () => {
  it.live("no secret in any log line (level All), error, cause or inspected value through full sessions", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.make((options) => {
        lines.push(
          `${options.logLevel} ${Inspectable.toStringUnknown(options.message)} ${Cause.pretty(options.cause)}`
        )
      })
      const seen: Array<unknown> = []
      const c = Loopback.certs()
      const keySecret = c.clientKey.split("\n")[1]!
      const proxy = yield* Proxies.connectProxy({ credentials: `pxuser:${secrets.proxyPassword}` })
      const issuer = yield* Proxies.fakeIssuer({ idTokenMarker: "issued" })
      let unauthorizedOnce = true
      const api = yield* Loopback.start((req, res) => {
        if (req.path.endsWith("/configmaps/page")) {
          const echo = req.rawHeaders.join(": ")
          res.writeHead(502, { "content-type": "text/html" })
          return res.end(`<html><body><h1>Bad gateway</h1><pre>${echo}</pre></body></html>`)
        }
        if (req.path.endsWith("/configmaps/denied")) {
          return Loopback.json(res, 401, Loopback.status(401, "Unauthorized", "Unauthorized"))
        }
        if (unauthorizedOnce) {
          unauthorizedOnce = false
          return Loopback.json(res, 401, Loopback.status(401, "Unauthorized", "Unauthorized"))
        }
        if (req.path.endsWith("/missing")) return Loopback.json(res, 404, Loopback.status(404, "NotFound", "not found"))
        Loopback.json(res, 200, cm("web"))
      })

      const session = (config: ClientConfig.ClientConfig["Service"], names: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          seen.push(config, config.tls)
          yield* Effect.logTrace("client config", config)
          const cluster = yield* Cluster.Cluster
          for (const name of names) {
            const exit = yield* Effect.exit(cluster.get(Builtin.ConfigMap, { name }))
            seen.push(exit)
            if (Exit.isFailure(exit)) {
              seen.push(Cause.pretty(exit.cause), ...exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error : r)))
              yield* Effect.logError("call failed", exit.cause)
            }
          }
        }).pipe(
          Effect.provide(KubeCluster.layerOptions({ retry: { maxAttempts: 2, baseDelay: "1 millis" } }).pipe(
            Layer.provide(Layer.succeed(ClientConfig.ClientConfig, config))
          ))
        )

      const run = Effect.gen(function*() {
        // 1. OIDC (expired id-token, refresh through the proxy) with a client certificate, via a proxy with
        //    credentials; the first answer is a 401 (refresh and retry), then an error page and a 404.
        const oidc = yield* ClientConfig.make({
          server: api.url,
          operatorName: "leak-test",
          ca: c.ca,
          proxyUrl: `http://pxuser:${secrets.proxyPassword}@127.0.0.1:${proxy.port}`,
          auth: {
            clientCertificate: c.clientCert,
            clientKey: Redacted.make(c.clientKey),
            oidc: {
              issuerUrl: issuer.url,
              clientId: "kubefx",
              clientSecret: Redacted.make(secrets.clientSecret),
              idToken: Redacted.make(Proxies.jwt(1, "expired")),
              refreshToken: Redacted.make(secrets.refreshToken),
              ca: c.ca
            }
          }
        })
        yield* session(oidc, ["web", "page", "missing", "denied"])
        // 2. An exec plugin with a secret in its env, whose token the server rejects even after a re-run.
        const dir = tempDir()
        script(
          dir,
          "plugin.sh",
          `[ "$PLUGIN_PW" = "${secrets.execEnv}" ] || exit 3\n` +
            `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${secrets.execToken}"}}'`
        )
        const exec = yield* ClientConfig.make({
          server: api.url,
          operatorName: "leak-test",
          ca: c.ca,
          auth: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: `${dir}/plugin.sh`,
              env: [{ name: "PLUGIN_PW", value: Redacted.make(secrets.execEnv) }],
              interactiveMode: "Never"
            }
          }
        })
        yield* session(exec, ["denied", "page", "web"])
        // 3. A plugin that fails, printing its env to stderr.
        const failing = yield* ClientConfig.make({
          server: api.url,
          operatorName: "leak-test",
          ca: c.ca,
          auth: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: script(dir, "bad.sh", `echo "pw=$PLUGIN_PW" >&2\nexit 1`),
              env: [{ name: "PLUGIN_PW", value: Redacted.make(secrets.execEnv) }],
              interactiveMode: "Never"
            }
          }
        })
        yield* session(failing, ["web"])
        // 4. A static token, with an error page.
        const token = yield* ClientConfig.make({
          server: api.url,
          operatorName: "leak-test",
          ca: c.ca,
          auth: { token: Redacted.make(secrets.staticToken) }
        })
        yield* session(token, ["page", "denied"])
      })
      yield* run.pipe(
        Effect.provide(Logger.layer([capture])),
        Effect.provideService(References.MinimumLogLevel, "All"),
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
      )

      // The session really went through every path.
      assert.isAtLeast(issuer.issued.length, 1, "the OIDC refresh ran")
      assert.isAtLeast(proxy.connects.length, 2, "the API and the issuer were reached through the proxy")
      assert.isTrue(api.requests.some((r) => r.headers.authorization === `Bearer ${secrets.execToken}`), "the exec token was sent")
      assert.isTrue(api.requests.some((r) => r.clientCn === "alice"), "the client certificate was presented")
      assert.isAtLeast(lines.length, 5)

      const forbidden = [
        ...Object.values(secrets),
        ...issuer.issued,
        keySecret,
        Buffer.from(`pxuser:${secrets.proxyPassword}`).toString("base64"),
        ...issuer.issued.map((t) => t.split(".")[1]!)
      ]
      const texts = [...lines, ...seen.flatMap(renderings)]
      for (const secret of forbidden) {
        for (const text of texts) {
          assert.notInclude(text, secret, `a secret leaked into: ${text.slice(0, 300)}`)
        }
      }
    }).pipe(Effect.scoped), 30_000)
})
