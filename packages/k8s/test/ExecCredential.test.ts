import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Inspectable, Logger, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { symlinkSync } from "node:fs"
import * as ClientConfig from "../src/ClientConfig.ts"
import type { ConfigError } from "../src/ClientConfigError.ts"
import {
  authorization,
  countIn,
  countingPlugin,
  fakePem,
  kubeconfig,
  pluginSaw,
  script,
  tempDir,
  withEnv,
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

  it.effect("a certificate the plugin rotates is the one the next credentials carry (a new TLS identity)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, "n", "1")
      const body = (n: string) =>
        JSON.stringify({
          apiVersion: v1,
          kind: "ExecCredential",
          status: { clientCertificateData: fakePem("CERTIFICATE", n), clientKeyData: fakePem("PRIVATE KEY", n) }
        })
      script(dir, "cert.sh", `if [ "$(cat "${dir}/n")" = 1 ]; then cat <<'EOF'\n${body("MQ==")}\nEOF\nelse cat <<'EOF'\n${body("Mg==")}\nEOF\nfi`)
      const config = yield* withExec(dir, { apiVersion: v1, command: `${dir}/cert.sh`, interactiveMode: "Never" })
      const first = (yield* config.credentials).clientCertificate
      write(dir, "n", "2")
      const rotated = (yield* config.refreshCredentials!).clientCertificate
      assert.include(first?.cert ?? "", "MQ==")
      assert.include(rotated?.cert ?? "", "Mg==")
      assert.include(Redacted.value(rotated!.key), "Mg==")
      // the HTTP layer keys its connection pools on the certificate: a new one means new connections
      // (KubeCluster.test.ts "a rotated certificate gets a new pool")
      assert.strictEqual((yield* config.credentials).clientCertificate, rotated)
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

  it.effect("a non-zero exit names the command, the user and the exit code; it quotes neither stdout nor stderr", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const logs: Array<string> = []
      const error = yield* run(
        dir,
        `echo '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"token":"SECRET-TOKEN"}}'\n` +
          `echo "debug: got token SECRET-STDERR-TOKEN" >&2\nexit 3`
      ).pipe(Effect.provide(Logger.layer([Logger.make((entry) => logs.push(Inspectable.toStringUnknown(entry.message)))])))
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, `users[eks].exec: exec plugin "${dir}/p.sh" exited with code 3`)
      assert.include(error.message, `it wrote 37 bytes to stderr, not shown because it may hold secrets: run "${dir}/p.sh" by hand to see it`)
      for (const shown of [error.message, String(error), JSON.stringify(error), Inspectable.toStringUnknown(error), ...logs]) {
        assert.notInclude(shown, "SECRET-TOKEN")
        assert.notInclude(shown, "SECRET-STDERR-TOKEN")
      }
    }))

  it.effect("a plugin that writes much to stderr is drained, counted, and not quoted", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      // 4000 lines, 75100 bytes: more than a pipe buffer holds, so the plugin would block if nobody read it
      const error = yield* run(dir, `i=100; while [ $i -lt 4100 ]; do echo "line $i of noise" >&2; i=$((i+1)); done; exit 1`)
      assert.include(error.message, "exited with code 1; it wrote 75100 bytes to stderr")
      assert.notInclude(error.message, "of noise")
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

  it.live("a plugin that hangs is stopped after execTimeout, saying how much stderr it wrote", () =>
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
      assert.include(error.message, `exec plugin "${dir}/hang.sh" did not finish within 500ms; it wrote 26 bytes to stderr`)
      assert.notInclude(error.message, "waiting for browser login")
    }).pipe(Effect.scoped))
})

describe("exec plugin policy", () => {
  /** A token plugin named `name` in `dir/bin`, printing `token`. */
  const tokenPlugin = (dir: string, name: string, token: string) =>
    script(dir, `bin/${name}`, `printf '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"token":"${token}"}}'`)
  const single = (exec: Record<string, unknown>) =>
    kubeconfig({
      current: "ctx",
      clusters: { c: { server: "https://10.0.0.1:6443" } },
      contexts: { ctx: { cluster: "c", user: "eks" } },
      users: { eks: { exec: { apiVersion: v1, interactiveMode: "Never", ...exec } } }
    })
  const fromFile = (dir: string, exec: Record<string, unknown>, options: Pick<ClientConfig.KubeconfigOptions, "execPolicy" | "allowExec"> = {}) =>
    ClientConfig.fromKubeconfig({ operatorName: "op", paths: [write(dir, "config", single(exec))], ...options })
  const refusal = (error: ConfigError) => error.reason?._tag === "ExecPluginRefused" ? error.reason : undefined

  it.effect("the user's own kubeconfig runs plugins; KUBEFX_EXEC_PLUGIN_POLICY=DenyAll refuses them, saying how to allow one", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      tokenPlugin(dir, "kubefx-login", "own")
      const env = { PATH: `${dir}/bin` }
      const config = yield* fromFile(dir, { command: "kubefx-login" }).pipe(withEnv(env))
      assert.strictEqual(authorization(yield* config.credentials), "Bearer own")
      const error = yield* Effect.flip(
        fromFile(dir, { command: "kubefx-login" }).pipe(withEnv({ ...env, KUBEFX_EXEC_PLUGIN_POLICY: "DenyAll" }))
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.deepStrictEqual(refusal(error), { _tag: "ExecPluginRefused", command: "kubefx-login", policy: "DenyAll" })
      assert.include(error.message, `users[eks].exec: exec plugin "kubefx-login" is not allowed to run (KUBEFX_EXEC_PLUGIN_POLICY=DenyAll)`)
      assert.include(error.message, "set KUBEFX_EXEC_PLUGIN_POLICY=Allowlist and KUBEFX_EXEC_PLUGIN_ALLOWLIST=kubefx-login")
    }))

  it.effect("an allowlisted name matches the binary PATH resolves it to, and that binary is what runs", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const trusted = tokenPlugin(dir, "kubefx-login", "trusted")
      // the same name in a directory the kubeconfig chose, and earlier on nothing: it must not be taken for `login`
      const impostor = script(dir, "evil/kubefx-login", `echo ran >> "${dir}/evil-ran"; exit 1`)
      const env = { PATH: `relative/bin:${dir}/bin`, KUBEFX_EXEC_PLUGIN_ALLOWLIST: "kubefx-login" }
      const config = yield* fromFile(dir, { command: "kubefx-login" }).pipe(withEnv(env))
      assert.strictEqual(authorization(yield* config.credentials), "Bearer trusted")

      const error = yield* Effect.flip(fromFile(dir, { command: impostor }).pipe(withEnv(env)))
      assert.deepStrictEqual(refusal(error), {
        _tag: "ExecPluginRefused",
        command: impostor,
        resolved: impostor,
        policy: "Allowlist"
      })
      assert.include(error.message, `exec plugin "${impostor}" is not in the allowlist (KUBEFX_EXEC_PLUGIN_ALLOWLIST)`)
      assert.include(error.message, `add "${impostor}" to KUBEFX_EXEC_PLUGIN_ALLOWLIST`)

      // an absolute path in the allowlist matches a name that resolves to it (and a symlink to it)
      symlinkSync(trusted, `${dir}/bin/kubefx-login-link`)
      const byPath = yield* fromFile(dir, { command: "kubefx-login-link" }).pipe(
        withEnv({ PATH: `${dir}/bin`, KUBEFX_EXEC_PLUGIN_POLICY: "Allowlist", KUBEFX_EXEC_PLUGIN_ALLOWLIST: trusted })
      )
      assert.strictEqual(authorization(yield* byPath.credentials), "Bearer trusted")
    }))

  it.effect("a command that is not on PATH under an allowlist fails naming it, with the install hint", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const error = yield* Effect.flip(
        fromFile(dir, { command: "kubelogin", installHint: "brew install kubelogin" }, {
          execPolicy: { allowlist: ["kubelogin"] }
        }).pipe(withEnv({ PATH: `${dir}/bin` }))
      )
      assert.include(error.message, `exec plugin "kubelogin" was not found on PATH. brew install kubelogin`)
    }))

  it.effect("execPolicy in code wins over the environment; it cannot be given with allowExec", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      tokenPlugin(dir, "kubefx-login", "code")
      const env = { PATH: `${dir}/bin`, KUBEFX_EXEC_PLUGIN_POLICY: "DenyAll" }
      const config = yield* fromFile(dir, { command: "kubefx-login" }, { execPolicy: { allowlist: ["kubefx-login"] } }).pipe(withEnv(env))
      assert.strictEqual(authorization(yield* config.credentials), "Bearer code")
      const denied = yield* Effect.flip(fromFile(dir, { command: "kubefx-login" }, { execPolicy: "DenyAll" }))
      assert.include(denied.message, `(execPolicy: DenyAll); to allow it, pass execPolicy: { allowlist: ["kubefx-login"] }`)
      const both = yield* Effect.flip(fromFile(dir, { command: "kubefx-login" }, { execPolicy: "AllowAll", allowExec: true }))
      assert.include(both.message, "set execPolicy or allowExec, not both")
    }))

  it.effect("bad policy variables are refused", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const cases: Array<[Record<string, string>, string]> = [
        [{ KUBEFX_EXEC_PLUGIN_POLICY: "Sometimes" }, "KUBEFX_EXEC_PLUGIN_POLICY must be AllowAll, DenyAll or Allowlist"],
        [{ KUBEFX_EXEC_PLUGIN_POLICY: "Allowlist" }, "KUBEFX_EXEC_PLUGIN_POLICY=Allowlist needs KUBEFX_EXEC_PLUGIN_ALLOWLIST"],
        [
          { KUBEFX_EXEC_PLUGIN_POLICY: "AllowAll", KUBEFX_EXEC_PLUGIN_ALLOWLIST: "aws" },
          "KUBEFX_EXEC_PLUGIN_ALLOWLIST is set but KUBEFX_EXEC_PLUGIN_POLICY=AllowAll"
        ],
        [{ KUBEFX_EXEC_PLUGIN_ALLOWLIST: "bin/aws" }, `entry "bin/aws" must be a command name or an absolute path`]
      ]
      for (const [env, expected] of cases) {
        const error = yield* Effect.flip(fromFile(dir, { command: "aws" }).pipe(withEnv(env)))
        assert.include(error.message, expected)
      }
    }))

  it.effect("kubeconfig data runs no plugin, whatever the environment says, unless the code allows it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      tokenPlugin(dir, "kubefx-login", "data")
      const text = single({ command: "kubefx-login" })
      const env = { PATH: `${dir}/bin`, KUBEFX_EXEC_PLUGIN_POLICY: "AllowAll" }
      const error = yield* Effect.flip(ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: text }).pipe(withEnv(env)))
      assert.deepStrictEqual(refusal(error), { _tag: "ExecPluginRefused", command: "kubefx-login", policy: "DenyAll" })
      assert.include(error.message, `kubeconfig data: users[eks].exec: exec plugin "kubefx-login" is not allowed to run`)
      assert.include(error.message, `if you trust it, pass execPolicy: { allowlist: ["kubefx-login"] }`)
      const allowed = yield* ClientConfig.fromKubeconfig({
        operatorName: "op",
        kubeconfig: text,
        execPolicy: { allowlist: ["kubefx-login"] }
      }).pipe(withEnv(env))
      assert.strictEqual(authorization(yield* allowed.credentials), "Bearer data")
    }))
})

describe("untrusted kubeconfigs", () => {
  const cfg = (cluster: Record<string, unknown>, user: Record<string, unknown>) =>
    kubeconfig({
      current: "ctx",
      clusters: { c: { server: "https://10.0.0.1:6443", ...cluster } },
      contexts: { ctx: { cluster: "c", user: "u" } },
      users: { u: user }
    })
  const untrusted = (text: string, extra: Pick<ClientConfig.KubeconfigOptions, "execPolicy"> = {}) =>
    ClientConfig.fromKubeconfig({ operatorName: "op", kubeconfig: text, baseDir: "/", untrusted: true, ...extra })

  it.effect("may name no local file, no proxy and no plugin, even with baseDir or from a file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const token = write(dir, "token", "the-pods-service-account-token")
      const cases: Array<[string, string]> = [
        [cfg({}, { tokenFile: token }), "users[u].tokenFile: an untrusted kubeconfig may not refer to local files"],
        [cfg({}, { tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token" }), "users[u].tokenFile"],
        [cfg({}, { "client-certificate": token, "client-key": token }), "users[u].client-certificate"],
        [cfg({ "certificate-authority": token }, {}), "clusters[c].certificate-authority: an untrusted kubeconfig"],
        [
          cfg({}, {
            "auth-provider": {
              name: "oidc",
              config: { "idp-issuer-url": "https://issuer", "client-id": "k", "idp-certificate-authority": token }
            }
          }),
          "users[u].auth-provider.config.idp-certificate-authority: an untrusted kubeconfig"
        ],
        [cfg({ "proxy-url": "http://attacker:3128" }, { token: "t" }), "clusters[c].proxy-url: an untrusted kubeconfig may not set a proxy"]
      ]
      for (const [text, expected] of cases) {
        const error = yield* Effect.flip(untrusted(text))
        assert.include(error.message, expected)
        assert.strictEqual(error.reason?._tag, "UntrustedField", expected)
        assert.notInclude(JSON.stringify(error), "the-pods-service-account-token")
        // the same from a file
        const fromFile = yield* Effect.flip(
          ClientConfig.fromKubeconfig({ operatorName: "op", paths: [write(tempDir(), "config", text)], untrusted: true })
        )
        assert.strictEqual(fromFile.reason?._tag, "UntrustedField")
      }
      const plugin = yield* Effect.flip(
        untrusted(cfg({}, { exec: { apiVersion: v1, command: "aws", interactiveMode: "Never" } })).pipe(
          withEnv({ KUBEFX_EXEC_PLUGIN_POLICY: "AllowAll" })
        )
      )
      assert.strictEqual(plugin.reason?._tag, "ExecPluginRefused")
      assert.include(plugin.message, "an untrusted kubeconfig runs no command")
    }))

  it.effect("inline credentials and CA data are fine", () =>
    Effect.gen(function*() {
      const ca = fakePem("CERTIFICATE")
      const config = yield* untrusted(cfg({ "certificate-authority-data": b64(ca) }, {
        token: "inline",
        "client-certificate-data": b64(fakePem("CERTIFICATE")),
        "client-key-data": b64(fakePem("PRIVATE KEY"))
      }))
      assert.strictEqual(config.tls.ca, ca)
      assert.strictEqual(authorization(yield* config.credentials), "Bearer inline")
    }))
})
