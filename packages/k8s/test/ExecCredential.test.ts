import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Inspectable, Redacted } from "effect"
import { TestClock } from "effect/testing"
import * as ClientConfig from "../src/ClientConfig.ts"
import {
  authorization,
  countIn,
  countingPlugin,
  fakePem,
  kubeconfig,
  pluginSaw,
  script,
  tempDir,
  write
} from "./support/ClientConfigFixtures.ts"

const v1 = "client.authentication.k8s.io/v1"
const v1beta1 = "client.authentication.k8s.io/v1beta1"
const b64 = (text: string) => Buffer.from(text).toString("base64")

/** A kubeconfig in `dir` whose user `eks` runs `exec`; its cluster may carry extra fields. */
const withExec = (
  dir: string,
  exec: Record<string, unknown>,
  options: { readonly cluster?: Record<string, unknown>; readonly stdinIsTerminal?: boolean; readonly execTimeout?: Duration.Input } =
    {}
) => {
  const path = write(
    dir,
    "config",
    kubeconfig({
      current: "ctx",
      clusters: { c: { server: "https://10.0.0.1:6443", ...options.cluster } },
      contexts: { ctx: { cluster: "c", user: "eks" } },
      users: { eks: { exec } }
    })
  )
  return ClientConfig.fromKubeconfig({
    operatorName: "op",
    paths: [path],
    stdinIsTerminal: options.stdinIsTerminal ?? false,
    ...(options.execTimeout !== undefined ? { execTimeout: options.execTimeout } : {})
  })
}

describe("exec plugins", () => {
  it.effect("run with args and env, cached until expirationTimestamp, run again after", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      countingPlugin(dir)
      write(dir, "expiry", "1970-01-01T01:00:00Z")
      const config = yield* withExec(dir, {
        apiVersion: v1,
        command: "./plugin.sh",
        args: ["--cluster", "prod"],
        env: [{ name: "PLUGIN_GREETING", value: "hello" }],
        interactiveMode: "Never"
      })
      assert.strictEqual(countIn(dir), 0, "the plugin runs on first use, not when the layer is built")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-1")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-1")
      assert.strictEqual(countIn(dir), 1)
      const saw = pluginSaw(dir)
      assert.strictEqual(saw.args, "--cluster prod")
      assert.strictEqual(saw.env, "hello")
      assert.deepStrictEqual(saw.info, { apiVersion: v1, kind: "ExecCredential", spec: { interactive: false } })

      // refreshed 10 seconds before the expiry
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-1")
      write(dir, "expiry", "1970-01-01T02:00:00Z")
      yield* TestClock.adjust("51 seconds")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-2")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-2")
      assert.strictEqual(countIn(dir), 2)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-3")
    }))

  it.effect("concurrent first use runs the plugin once; refreshCredentials runs it once for many callers", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      countingPlugin(dir)
      const config = yield* withExec(dir, { apiVersion: v1, command: `${dir}/plugin.sh`, interactiveMode: "Never" })
      const first = yield* Effect.all(Array.from({ length: 5 }, () => config.credentials), { concurrency: "unbounded" })
      assert.deepStrictEqual(first.map(authorization), Array(5).fill("Bearer tok-1"))
      assert.strictEqual(countIn(dir), 1)
      // without an expiry the credential is kept …
      yield* TestClock.adjust("10 hours")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-1")
      // … until the server refuses it
      const refreshed = yield* Effect.all(
        Array.from({ length: 5 }, () => config.refreshCredentials!),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(refreshed.map(authorization), Array(5).fill("Bearer tok-2"))
      assert.strictEqual(countIn(dir), 2)
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-2")
    }))

  it.effect("v1beta1 defaults to IfAvailable: without a terminal the plugin runs non-interactively", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      countingPlugin(dir, { apiVersion: v1beta1 })
      const config = yield* withExec(dir, { apiVersion: v1beta1, command: `${dir}/plugin.sh` })
      assert.strictEqual(authorization(yield* config.credentials), "Bearer tok-1")
      assert.deepStrictEqual(pluginSaw(dir).info, { apiVersion: v1beta1, kind: "ExecCredential", spec: { interactive: false } })
    }))

  it.effect("IfAvailable and Always run interactively when there is a terminal", () =>
    Effect.gen(function*() {
      for (const mode of ["IfAvailable", "Always"]) {
        const dir = tempDir()
        countingPlugin(dir)
        const config = yield* withExec(dir, { apiVersion: v1, command: `${dir}/plugin.sh`, interactiveMode: mode }, {
          stdinIsTerminal: true
        })
        yield* config.credentials
        assert.isTrue(pluginSaw(dir).info.spec.interactive, mode)
      }
    }))

  it.effect("Always without a terminal is refused when the configuration is built", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      countingPlugin(dir)
      const error = yield* Effect.flip(
        withExec(dir, { apiVersion: v1, command: `${dir}/plugin.sh`, interactiveMode: "Always" })
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "users[eks].exec: exec plugin")
      assert.include(error.message, "needs a terminal (interactiveMode: Always), but standard input is not a terminal")
      assert.strictEqual(countIn(dir), 0)
    }))

  it.effect("unsupported apiVersions and a v1 config without interactiveMode are refused", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const alpha = yield* Effect.flip(
        withExec(dir, { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" })
      )
      assert.include(alpha.message, `has apiVersion "client.authentication.k8s.io/v1alpha1"; supported:`)
      const none = yield* Effect.flip(withExec(dir, { command: "x", interactiveMode: "Never" }))
      assert.include(none.message, "has apiVersion (none)")
      const mode = yield* Effect.flip(withExec(dir, { apiVersion: v1, command: "x" }))
      assert.include(mode.message, `users[eks].exec: exec plugin "x" must set interactiveMode`)
      const bad = yield* Effect.flip(withExec(dir, { apiVersion: v1, command: "x", interactiveMode: "Sometimes" }))
      assert.include(bad.message, `has interactiveMode "Sometimes"`)
    }))

  it.effect("provideClusterInfo passes the cluster and its exec extension", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      countingPlugin(dir)
      const ca = fakePem("CERTIFICATE")
      const config = yield* withExec(
        dir,
        { apiVersion: v1, command: `${dir}/plugin.sh`, interactiveMode: "Never", provideClusterInfo: true },
        {
          cluster: {
            "certificate-authority-data": b64(ca),
            "tls-server-name": "kube",
            extensions: [{ name: "client.authentication.k8s.io/exec", extension: { audience: "kubefx" } }]
          }
        }
      )
      yield* config.credentials
      assert.deepStrictEqual(pluginSaw(dir).info.spec, {
        interactive: false,
        cluster: {
          server: "https://10.0.0.1:6443",
          "tls-server-name": "kube",
          "certificate-authority-data": b64(ca),
          config: { audience: "kubefx" }
        }
      })
    }))

  it.effect("a plugin may issue a client certificate", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const cert = fakePem("CERTIFICATE")
      const key = fakePem("PRIVATE KEY", "U0VDUkVU")
      const body = JSON.stringify({
        apiVersion: v1,
        kind: "ExecCredential",
        status: { clientCertificateData: cert, clientKeyData: key }
      })
      script(dir, "cert.sh", `cat <<'EOF'\n${body}\nEOF`)
      const config = yield* withExec(dir, { apiVersion: v1, command: `${dir}/cert.sh`, interactiveMode: "Never" })
      const credentials = yield* config.credentials
      assert.strictEqual(credentials.clientCertificate?.cert, cert)
      assert.strictEqual(Redacted.value(credentials.clientCertificate!.key), key)
      assert.isUndefined(credentials.headers.Authorization)
    }))
})

describe("exec plugin failures", () => {
  const run = (dir: string, body: string, extra: Record<string, unknown> = {}) => {
    script(dir, "p.sh", body)
    return Effect.flatMap(
      withExec(dir, { apiVersion: v1, command: `${dir}/p.sh`, interactiveMode: "Never", ...extra }),
      (config) => Effect.flip(config.credentials)
    )
  }

  it.effect("a non-zero exit names the command, the user and the exit code and quotes stderr, never stdout", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const error = yield* run(
        dir,
        `echo '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"token":"SECRET-TOKEN"}}'\n` +
          `echo "error: SSO session expired" >&2\nexit 3`
      )
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, `users[eks].exec: exec plugin "${dir}/p.sh" exited with code 3`)
      assert.include(error.message, "stderr: error: SSO session expired")
      for (const shown of [error.message, String(error), JSON.stringify(error), Inspectable.toStringUnknown(error)]) {
        assert.notInclude(shown, "SECRET-TOKEN")
      }
    }))

  it.effect("long stderr is truncated to its end", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const error = yield* run(dir, `i=0; while [ $i -lt 400 ]; do echo "line $i of noise" >&2; i=$((i+1)); done; exit 1`)
      assert.include(error.message, "line 399 of noise")
      assert.notInclude(error.message, "line 0 of noise")
      assert.isBelow(error.message.length, 2300)
    }))

  it.effect("output that is not a valid ExecCredential is refused without quoting it", () =>
    Effect.gen(function*() {
      const cases: Array<[string, string]> = [
        ["echo 'not json SECRET-TOKEN'", "did not print an ExecCredential on stdout"],
        [
          `echo '{"apiVersion":"${v1beta1}","kind":"ExecCredential","status":{"token":"SECRET-TOKEN"}}'`,
          `printed apiVersion "${v1beta1}", but its configuration says ${v1}`
        ],
        [`echo '{"apiVersion":"${v1}","kind":"ExecCredential","status":{}}'`, "printed neither status.token"],
        [`echo '{"apiVersion":"${v1}","kind":"ExecCredential"}'`, "printed an ExecCredential without status"],
        [
          `echo '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"clientKeyData":"SECRET-TOKEN"}}'`,
          "printed only one of status.clientCertificateData and status.clientKeyData"
        ],
        [
          `echo '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"token":"SECRET-TOKEN","expirationTimestamp":"soon"}}'`,
          `printed status.expirationTimestamp "soon", which is not an RFC 3339 time`
        ]
      ]
      for (const [body, expected] of cases) {
        const error = yield* run(tempDir(), body)
        assert.include(error.message, expected)
        assert.notInclude(JSON.stringify(error), "SECRET-TOKEN")
      }
    }))

  it.effect("a missing command says so and shows the install hint", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const config = yield* withExec(dir, {
        apiVersion: v1,
        command: `${dir}/no-such-plugin`,
        interactiveMode: "Never",
        installHint: "Install it with: brew install no-such-plugin"
      })
      const error = yield* Effect.flip(config.credentials)
      assert.include(error.message, `exec plugin "${dir}/no-such-plugin" could not be started`)
      assert.include(error.message, "Install it with: brew install no-such-plugin")
    }))

  it.live("a plugin that hangs is stopped after execTimeout, with its stderr so far", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      script(dir, "hang.sh", `echo "waiting for browser login" >&2\nexec sleep 30`)
      const config = yield* withExec(
        dir,
        { apiVersion: v1, command: `${dir}/hang.sh`, interactiveMode: "IfAvailable" },
        { execTimeout: "500 millis" }
      )
      const started = performance.now()
      const error = yield* Effect.flip(config.credentials)
      assert.isBelow(performance.now() - started, 5000)
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, `exec plugin "${dir}/hang.sh" did not finish within 500ms`)
      assert.include(error.message, "stderr: waiting for browser login")
    }).pipe(Effect.scoped))
})
