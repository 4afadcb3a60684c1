import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { join } from "node:path"
import * as ClientConfig from "../src/ClientConfig.ts"
import * as InCluster from "../src/InCluster.ts"
import { authorization, fakePem, tempDir, withEnv, write } from "./support/ClientConfigFixtures.ts"

const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }
const ca = fakePem("CERTIFICATE", "Q0x1c3Rlcg==")

/** A mounted service account in a temp dir. */
const mounted = (files: { readonly token?: string; readonly ca?: string; readonly namespace?: string } = {}) => {
  const dir = tempDir()
  if (files.token !== undefined) write(dir, "token", files.token)
  if (files.ca !== undefined) write(dir, "ca.crt", files.ca)
  if (files.namespace !== undefined) write(dir, "namespace", files.namespace)
  return dir
}

describe("ClientConfig.layerInCluster", () => {
  it.effect("reads server, CA and namespace, and re-reads the rotating token", () =>
    Effect.gen(function*() {
      const dir = mounted({ token: "bound-1", ca, namespace: "operators\n" })
      const config = yield* Effect.gen(function*() {
        return yield* ClientConfig.ClientConfig
      }).pipe(
        Effect.provide(ClientConfig.layerInCluster({ operatorName: "widget-operator", directory: dir })),
        withEnv(env)
      )
      assert.strictEqual(config.server, "https://10.96.0.1")
      assert.strictEqual(config.tls.ca, ca)
      // Trusted by path: a CA the kubelet rotates is read again (the http layer's caFile handling).
      assert.strictEqual(config.tls.caFile, join(dir, "ca.crt"))
      assert.isFalse(config.tls.insecureSkipTlsVerify)
      assert.strictEqual(config.namespace, "operators")
      assert.strictEqual(config.userAgent, "widget-operator")
      assert.strictEqual(config.source, `in-cluster service account (${join(dir, "token")})`)
      assert.strictEqual(authorization(yield* config.credentials), "Bearer bound-1")

      // the kubelet swaps the token; it is picked up within a minute, or at once on refresh
      write(dir, "token", "bound-2")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer bound-1")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(authorization(yield* config.credentials), "Bearer bound-2")
      write(dir, "token", "bound-3")
      assert.strictEqual(authorization(yield* config.refreshCredentials!), "Bearer bound-3")
    }))

  it.effect("without ca.crt and namespace: system roots and `default`; IPv6 hosts are bracketed", () =>
    Effect.gen(function*() {
      const dir = mounted({ token: "t" })
      const config = yield* ClientConfig.fromInCluster({ operatorName: "op", directory: dir }).pipe(
        withEnv({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" })
      )
      assert.strictEqual(config.server, "https://[fd00::1]:6443")
      assert.isUndefined(config.tls.ca)
      assert.strictEqual(config.namespace, "default")
    }))

  it.effect("each path can be moved, and the namespace overridden", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const tokenPath = write(dir, "a/tok", "moved")
      const config = yield* ClientConfig.fromInCluster({
        operatorName: "op",
        tokenPath,
        caPath: write(dir, "b/ca", ca),
        namespacePath: write(dir, "c/ns", "ignored"),
        namespace: "chosen"
      }).pipe(withEnv(env))
      assert.strictEqual(authorization(yield* config.credentials), "Bearer moved")
      assert.strictEqual(config.tls.ca, ca)
      assert.strictEqual(config.namespace, "chosen")
    }))

  it.effect("fails naming what is missing", () =>
    Effect.gen(function*() {
      const dir = mounted({ token: "t" })
      const noEnv = yield* Effect.flip(ClientConfig.fromInCluster({ operatorName: "op", directory: dir }).pipe(withEnv({})))
      assert.include(noEnv.message, "needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT")
      const badPort = yield* Effect.flip(
        ClientConfig.fromInCluster({ operatorName: "op", directory: dir }).pipe(
          withEnv({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "https" })
        )
      )
      assert.include(badPort.message, `KUBERNETES_SERVICE_PORT is not a port number: "https"`)
      const empty = mounted({})
      const noToken = yield* Effect.flip(
        ClientConfig.fromInCluster({ operatorName: "op", directory: empty }).pipe(withEnv(env))
      )
      assert.include(noToken.message, `in-cluster service account token ${join(empty, "token")} does not exist`)
      const blank = mounted({ token: "\n" })
      const blankToken = yield* Effect.flip(
        Layer.build(ClientConfig.layerInCluster({ operatorName: "op", directory: blank })).pipe(withEnv(env))
      )
      assert.include(blankToken.message, `token file ${join(blank, "token")} is empty`)
    }))

  it.effect("isMounted looks for the token file", () =>
    Effect.gen(function*() {
      assert.isTrue(yield* InCluster.isMounted({ directory: mounted({ token: "t" }) }))
      assert.isFalse(yield* InCluster.isMounted({ directory: mounted({ ca }) }))
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
