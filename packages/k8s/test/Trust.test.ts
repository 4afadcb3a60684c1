import { assert, describe, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { Effect, Exit, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as tls from "node:tls"
import * as ClientConfig from "../src/ClientConfig.ts"
import * as Trust from "../src/internal/trust.ts"
import * as KubeCluster from "../src/KubeCluster.ts"
import { tempDir, write } from "./support/ClientConfigFixtures.ts"
import * as Loopback from "./support/LoopbackApiServer.ts"

const cm: Builtin.ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "web", namespace: "default" } }

const get = (config: Layer.Layer<ClientConfig.ClientConfig>) =>
  Effect.exit(
    Effect.gen(function*() {
      return yield* (yield* Cluster.Cluster).get(Builtin.ConfigMap, { name: "web" })
    }).pipe(Effect.provide(KubeCluster.layerOptions({ retry: { maxAttempts: 1 } }).pipe(Layer.provide(config))))
  )

const failureMessage = (exit: Exit.Exit<unknown, unknown>): string => {
  assert.isTrue(Exit.isFailure(exit))
  return String(exit)
}

describe("TLS trust", () => {
  // In a process of its own: the store, once read, stays cached in this one.
  it("reads the operating system's trust store only when something needs it (~6 MiB and ~70 ms at start)", () => {
    const http = new URL("../src/internal/http.ts", import.meta.url).href
    const script = `
      import { createRequire, syncBuiltinESMExports } from "node:module"
      const tls = createRequire(import.meta.url)("node:tls")
      const read = []
      const original = tls.getCACertificates
      tls.getCACertificates = (type) => { read.push(type); return original(type) }
      syncBuiltinESMExports()
      const { makePool } = await import(${JSON.stringify(http)})
      const pool = (tlsConfig, proxy) => makePool({ server: new URL("https://127.0.0.1:6443"), tls: tlsConfig, proxy, source: "test" })
      const proxy = (protocol) => ({ protocol, hostname: "127.0.0.1", port: 3128, origin: protocol + "//127.0.0.1:3128" })
      const steps = []
      pool({ ca: "x" }, undefined); steps.push(read.includes("system"))
      pool({ ca: "x" }, proxy("http:")); steps.push(read.includes("system"))
      pool({ ca: "x" }, proxy("https:")); steps.push(read.includes("system"))
      console.log(JSON.stringify(steps))`
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })
    // With a CA and no https proxy: not read; an https proxy is verified against the usual roots too.
    assert.deepStrictEqual(JSON.parse(out.trim().split("\n").pop()!), [false, false, true])
  })

  it("without a CA: the operating system's trust store together with Node's bundled roots", () => {
    const { ca } = Trust.make({}).current()
    assert.isArray(ca)
    const roots = new Set(ca as ReadonlyArray<string>)
    const get = (tls as unknown as { getCACertificates: (type: string) => Array<string> }).getCACertificates
    for (const cert of get("bundled")) assert.isTrue(roots.has(cert), "a bundled root is missing")
    for (const cert of get("system")) assert.isTrue(roots.has(cert), "a system root is missing")
    assert.isAtLeast(roots.size, get("bundled").length)
  })

  it.live("without a CA and without insecure-skip-tls-verify, an unknown server certificate is refused", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const config = yield* ClientConfig.make({ server: server.url, operatorName: "op" })
      assert.isFalse(config.tls.insecureSkipTlsVerify)
      assert.isUndefined(config.tls.ca)
      const message = failureMessage(yield* get(Layer.succeed(ClientConfig.ClientConfig, config)))
      assert.include(message, "TLS verification of")
      assert.strictEqual(server.requests.length, 0)
    }).pipe(Effect.scoped))

  it.live("a CA file that changes on disk is read again for new connections; a broken rewrite keeps the last good CA", () =>
    Effect.gen(function*() {
      const server = yield* Loopback.start((_, res) => Loopback.json(res, 200, cm))
      const c = Loopback.certs()
      const dir = tempDir()
      const caFile = write(dir, "ca.crt", c.wrongCa)
      const config = yield* ClientConfig.make({ server: server.url, operatorName: "op", caFile })
      assert.strictEqual(config.tls.caFile, caFile)
      const layer = Layer.succeed(ClientConfig.ClientConfig, config)
      yield* Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const first = yield* Effect.exit(cluster.get(Builtin.ConfigMap, { name: "web" }))
        assert.include(failureMessage(first), "TLS verification of")
        writeFileSync(caFile, c.ca) // the cluster's CA was rotated
        yield* cluster.get(Builtin.ConfigMap, { name: "web" })
        const trust = Trust.make({ ca: c.ca, caFile })
        writeFileSync(caFile, "garbage mid-write")
        assert.deepStrictEqual(trust.current(), { ca: c.ca, version: 0 }, "a file without PEM keeps the last good CA")
        writeFileSync(caFile, `${c.wrongCa}\n`)
        assert.deepStrictEqual(trust.current(), { ca: `${c.wrongCa}\n`, version: 1 })
      }).pipe(Effect.provide(KubeCluster.layerOptions({ retry: { maxAttempts: 1 } }).pipe(Layer.provide(layer))))
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.scoped))
})
