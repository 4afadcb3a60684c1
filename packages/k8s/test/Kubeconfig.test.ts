import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { join } from "node:path"
import { inspect } from "node:util"
import * as Kubeconfig from "../src/Kubeconfig.ts"
import { kubeconfig, tempDir, withEnv, write } from "./support/ClientConfigFixtures.ts"

const fs = Effect.provide(NodeFileSystem.layer)

describe("Kubeconfig.parse", () => {
  it.effect("decodes YAML, keeps numeric-looking text and redacts secrets", () =>
    Effect.gen(function*() {
      const config = yield* Kubeconfig.parse(
        [
          "apiVersion: v1",
          "kind: Config",
          "current-context: dev",
          "preferences: {}",
          "clusters:",
          "- name: c",
          "  cluster:",
          "    server: https://10.0.0.1:6443",
          "    insecure-skip-tls-verify: true",
          "contexts:",
          "- name: dev",
          "  context: {cluster: c, user: u, namespace: 0123}",
          "users:",
          "- name: u",
          "  user:",
          "    token: 000123secret",
          "    password:",
          "    unknown-field: ignored"
        ].join("\n"),
        "test.yaml"
      )
      assert.strictEqual(config["current-context"], "dev")
      assert.strictEqual(config.clusters?.[0]?.cluster?.["insecure-skip-tls-verify"], true)
      assert.strictEqual(config.contexts?.[0]?.context?.namespace, "0123")
      const token = config.users?.[0]?.user?.token
      assert.isTrue(token !== undefined && Redacted.isRedacted(token))
      assert.strictEqual(Redacted.value(token!), "000123secret")
      assert.isUndefined(config.users?.[0]?.user?.password)
      assert.notInclude(JSON.stringify(config), "000123secret")
    }))

  it.effect("a proxy-url with credentials is redacted once decoded: printing the config shows no password", () =>
    Effect.gen(function*() {
      const config = yield* Kubeconfig.parse(
        "clusters:\n- name: c\n  cluster:\n    server: https://k\n    proxy-url: http://alice:pr0xy-s3cret@proxy.corp:3128\n",
        "test"
      )
      const cluster = config.clusters![0]!.cluster!
      assert.strictEqual(Redacted.value(cluster["proxy-url"]!), "http://alice:pr0xy-s3cret@proxy.corp:3128")
      for (const shown of [JSON.stringify(config), String(cluster["proxy-url"]), inspect(config, { depth: 10 })]) {
        assert.notInclude(shown, "pr0xy-s3cret")
      }
    }))

  it.effect("an empty file is an empty config", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Kubeconfig.parse("  \n", "empty"), {})
    }))

  it.effect("a YAML syntax error names the source and the line, without quoting the text", () =>
    Effect.gen(function*() {
      const error = yield* Kubeconfig.parse("users:\n- name: u\n  user:\n    token: SECRET-abc\n  bad: [", "/tmp/kc")
        .pipe(Effect.flip)
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "/tmp/kc: not valid YAML at line")
      assert.notInclude(error.message, "SECRET-abc")
      assert.notInclude(JSON.stringify(error), "SECRET-abc")
    }))

  it.effect("a field of the wrong shape is named by its path, with entry names, never with its value", () =>
    Effect.gen(function*() {
      const error = yield* Kubeconfig.parse(
        kubeconfig({ users: { alice: { token: { nested: "SECRET-in-object" } } } }),
        "/home/me/.kube/config"
      ).pipe(Effect.flip)
      assert.include(error.message, "/home/me/.kube/config: users[alice].user.token")
      assert.notInclude(error.message, "SECRET-in-object")
      assert.notInclude(String(error), "SECRET-in-object")
      assert.strictEqual(error.source, "/home/me/.kube/config: users[alice].user.token")
    }))

  it.effect("a missing required field is named", () =>
    Effect.gen(function*() {
      const error = yield* Kubeconfig.parse(kubeconfig({ users: { ci: { exec: { args: ["x"] } } } }), "kc")
        .pipe(Effect.flip)
      assert.include(error.message, "kc: users[ci].user.exec.command: Missing key")
    }))

  it.effect("a document that is not a mapping is refused", () =>
    Effect.gen(function*() {
      const error = yield* Kubeconfig.parse("- a\n- b\n", "kc").pipe(Effect.flip)
      assert.include(error.message, "kc: a kubeconfig must be a mapping")
    }))
})

describe("Kubeconfig.parse: YAML aliases", () => {
  /** The classic "billion laughs": nine levels of nine aliases, 9^9 (387 million) strings from 342 bytes. */
  const laughs = (() => {
    const names = "abcdefghi"
    const lines = [`a: &a [${Array(9).fill(`"lol"`).join(",")}]`]
    for (let i = 1; i < 9; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(",")}]`)
    return lines.join("\n") + "\n"
  })()

  it.effect("a billion-laughs document is a typed error at once, not a hang or an out-of-memory", () =>
    Effect.gen(function*() {
      assert.isBelow(laughs.length, 400)
      const started = performance.now()
      const error = yield* Effect.flip(Kubeconfig.parse(laughs, "bomb.yaml"))
      assert.isBelow(performance.now() - started, 1000)
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.reason?._tag, "DocumentTooComplex")
      assert.include(error.message, "bomb.yaml: refusing a kubeconfig whose YAML aliases expand to")
      assert.include(error.message, "(at most 10000)")
      // a small fan-out is refused too: the bound is on the expansion, not on the depth
      const wide = `a: &a [${Array(50).fill(`"x"`).join(",")}]\nb: &b [${Array(50).fill("*a").join(",")}]\nc: [${Array(50).fill("*b").join(",")}]\n`
      assert.strictEqual((yield* Effect.flip(Kubeconfig.parse(wide, "wide.yaml"))).reason?._tag, "DocumentTooComplex")
    }))

  it.effect("a self-referring alias is refused instead of overflowing the stack", () =>
    Effect.gen(function*() {
      for (const text of ["users: &u [*u]", "clusters:\n- &c {name: c, cluster: {extensions: [*c]}}"]) {
        const error = yield* Effect.flip(Kubeconfig.parse(text, "loop.yaml"))
        assert.deepStrictEqual(error.reason, { _tag: "DocumentTooComplex", limit: 10_000 })
        assert.include(error.message, "loop.yaml: refusing a kubeconfig whose YAML aliases refer to themselves")
      }
    }))

  it.effect("ordinary aliases, and large documents without any, are fine", () =>
    Effect.gen(function*() {
      const shared = yield* Kubeconfig.parse(
        [
          "users:",
          "- name: a",
          "  user: &exec {exec: {command: aws, args: [eks, get-token], apiVersion: client.authentication.k8s.io/v1}}",
          "- name: b",
          "  user: *exec"
        ].join("\n"),
        "shared.yaml"
      )
      assert.strictEqual(shared.users?.[1]?.user?.exec?.command, "aws")
      const many = kubeconfig({
        clusters: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`c${i}`, { server: `https://10.0.${i % 250}.1` }]))
      })
      assert.strictEqual((yield* Kubeconfig.parse(many, "many.yaml")).clusters?.length, 3000)
    }))
})

describe("Kubeconfig.resolvePaths", () => {
  it("resolves file references against the directory, leaves absolute paths and PATH commands alone", () => {
    const resolved = Kubeconfig.resolvePaths(
      {
        clusters: [{ name: "c", cluster: { server: "https://x", "certificate-authority": "certs/ca.crt" } }],
        users: [
          {
            name: "u",
            user: {
              "client-certificate": "u.crt",
              "client-key": "/abs/u.key",
              tokenFile: "../token",
              exec: { command: "./bin/plugin" }
            }
          },
          { name: "v", user: { exec: { command: "aws" } } }
        ]
      },
      "/home/me/.kube"
    )
    assert.strictEqual(resolved.clusters?.[0]?.cluster?.["certificate-authority"], "/home/me/.kube/certs/ca.crt")
    const user = resolved.users?.[0]?.user
    assert.strictEqual(user?.["client-certificate"], "/home/me/.kube/u.crt")
    assert.strictEqual(user?.["client-key"], "/abs/u.key")
    assert.strictEqual(user?.tokenFile, "/home/me/token")
    assert.strictEqual(user?.exec?.command, "/home/me/.kube/bin/plugin")
    assert.strictEqual(resolved.users?.[1]?.user?.exec?.command, "aws")
  })
})

describe("Kubeconfig.load", () => {
  const first = kubeconfig({
    current: "a",
    clusters: { shared: { server: "https://first" }, one: { server: "https://one" } },
    contexts: { a: { cluster: "shared", user: "u1" }, both: { cluster: "one" } },
    users: { u1: { token: "t1" } }
  })
  const second = kubeconfig({
    current: "b",
    clusters: { shared: { server: "https://second" }, two: { server: "https://two" } },
    contexts: { b: { cluster: "two", user: "u2" }, both: { cluster: "two" } },
    users: { u2: { token: "t2" }, u1: { token: "other" } }
  })

  it.effect("merges KUBECONFIG files as kubectl: first definition and first current-context win", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const a = write(dir, "a.yaml", first)
      const b = write(dir, "b/config", second)
      const missing = join(dir, "missing")
      const merged = yield* Kubeconfig.load().pipe(withEnv({ KUBECONFIG: `${a}:${missing}:${b}:${a}` }), fs)
      assert.deepStrictEqual(merged.sources, [a, b])
      assert.strictEqual(merged.currentContext, "a")
      assert.strictEqual(merged.clusters.get("shared")?.value.server, "https://first")
      assert.strictEqual(merged.clusters.get("shared")?.origin.source, a)
      assert.strictEqual(merged.clusters.get("two")?.value.server, "https://two")
      assert.strictEqual(merged.contexts.get("both")?.value.cluster, "one")
      assert.strictEqual(Redacted.value(merged.users.get("u1")!.value.token!), "t1")
      const selected = yield* Kubeconfig.select(merged, "b")
      assert.strictEqual(selected.cluster.value.server, "https://two")
      assert.strictEqual(selected.user?.name, "u2")
      assert.strictEqual(selected.user?.origin.dir, join(dir, "b"))
    }))

  it.effect("a current-context set only in a later file is used", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const a = write(dir, "a", kubeconfig({ clusters: { c: { server: "https://c" } } }))
      const b = write(dir, "b", kubeconfig({ current: "x", contexts: { x: { cluster: "c" } } }))
      const merged = yield* Kubeconfig.load().pipe(withEnv({ KUBECONFIG: `${a}:${b}` }), fs)
      assert.strictEqual(merged.currentContext, "x")
      assert.strictEqual((yield* Kubeconfig.select(merged)).cluster.value.server, "https://c")
    }))

  it.effect("without KUBECONFIG reads ~/.kube/config", () =>
    Effect.gen(function*() {
      const home = tempDir()
      write(home, ".kube/config", first)
      const merged = yield* Kubeconfig.load().pipe(withEnv({ HOME: home }), fs)
      assert.deepStrictEqual(merged.sources, [join(home, ".kube", "config")])
    }))

  it.effect("a missing ~/.kube/config fails naming the file", () =>
    Effect.gen(function*() {
      const home = tempDir()
      const error = yield* Kubeconfig.load().pipe(withEnv({ HOME: home }), fs, Effect.flip)
      assert.include(error.message, `kubeconfig cannot read ${join(home, ".kube", "config")}: does not exist`)
      assert.strictEqual(error.source, join(home, ".kube", "config"))
    }))

  it.effect("KUBECONFIG naming only missing files fails naming them", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const error = yield* Kubeconfig.load().pipe(withEnv({ KUBECONFIG: `${dir}/x:${dir}/y` }), fs, Effect.flip)
      assert.include(error.message, `none of the KUBECONFIG files exist (${dir}/x, ${dir}/y)`)
    }))

  it.effect("explicit paths must exist", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const error = yield* Kubeconfig.load({ paths: [join(dir, "nope")] }).pipe(fs, Effect.flip)
      assert.include(error.message, `cannot read ${join(dir, "nope")}: does not exist`)
    }))

  it.effect("an unreadable file fails naming it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = write(dir, "dir-not-file/x", "")
      const error = yield* Kubeconfig.load({ paths: [join(dir, "dir-not-file")] }).pipe(fs, Effect.flip)
      assert.include(error.message, `cannot read ${join(dir, "dir-not-file")}`)
      assert.isString(path)
    }))
})

describe("Kubeconfig.select", () => {
  const merged = Kubeconfig.merge([{
    config: {
      "current-context": "dev",
      clusters: [{ name: "c", cluster: { server: "https://c" } }],
      contexts: [
        { name: "dev", context: { cluster: "c", user: "u", namespace: "team" } },
        { name: "ghost-cluster", context: { cluster: "nope", user: "u" } },
        { name: "ghost-user", context: { cluster: "c", user: "nobody" } },
        { name: "no-cluster", context: { user: "u" } },
        { name: "anonymous", context: { cluster: "c" } }
      ],
      users: [{ name: "u", user: {} }]
    },
    origin: { source: "/kc", dir: "/", isFile: true }
  }])

  it.effect("picks the current context with its namespace", () =>
    Effect.gen(function*() {
      const selected = yield* Kubeconfig.select(merged)
      assert.strictEqual(selected.context.name, "dev")
      assert.strictEqual(selected.namespace, "team")
      assert.strictEqual(selected.user?.name, "u")
    }))

  it.effect("a context without a user is anonymous", () =>
    Effect.gen(function*() {
      const selected = yield* Kubeconfig.select(merged, "anonymous")
      assert.isUndefined(selected.user)
      assert.isUndefined(selected.namespace)
    }))

  it.effect("each dangling name fails with a message naming it", () =>
    Effect.gen(function*() {
      const unknown = yield* Kubeconfig.select(merged, "prod").pipe(Effect.flip)
      assert.include(unknown.message, `/kc: context "prod" not found (defined: dev, ghost-cluster`)
      const cluster = yield* Kubeconfig.select(merged, "ghost-cluster").pipe(Effect.flip)
      assert.include(cluster.message, `/kc: contexts[ghost-cluster]: cluster "nope" not found in /kc (defined: c)`)
      const user = yield* Kubeconfig.select(merged, "ghost-user").pipe(Effect.flip)
      assert.include(user.message, `user "nobody" not found`)
      const none = yield* Kubeconfig.select(merged, "no-cluster").pipe(Effect.flip)
      assert.include(none.message, "/kc: contexts[no-cluster]: context has no cluster")
      const noCurrent = yield* Kubeconfig.select(Kubeconfig.merge([]), undefined).pipe(Effect.flip)
      assert.include(noCurrent.message, "no current-context is set and no context was chosen (none defined)")
    }))
})

/**
 * `@kubernetes/client-node` as a reference: on one file both read the same thing; on several files it
 * departs from kubectl, which is one reason `Kubeconfig` does not delegate to it (see its doc comment).
 */
describe("Kubeconfig compared with @kubernetes/client-node", () => {
  const file = kubeconfig({
    current: "dev",
    clusters: {
      c: {
        server: "https://10.0.0.1:6443",
        "certificate-authority-data": "Q0E=",
        "tls-server-name": "kube",
        "proxy-url": "http://proxy:3128"
      }
    },
    contexts: { dev: { cluster: "c", user: "u", namespace: "team" } },
    users: { u: { token: "tkn", as: "jane" } }
  })

  it.live("agrees on a single file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = write(dir, "config", file)
      const k8s = yield* Effect.promise(() => import("@kubernetes/client-node"))
      const kc = new k8s.KubeConfig()
      kc.loadFromFile(path)
      const selected = yield* Kubeconfig.select(yield* Kubeconfig.load({ paths: [path] }).pipe(fs))
      const cluster = kc.getCurrentCluster()!
      assert.strictEqual(selected.context.name, kc.getCurrentContext())
      assert.strictEqual(selected.cluster.value.server, cluster.server)
      assert.strictEqual(selected.cluster.value["certificate-authority-data"], cluster.caData)
      assert.strictEqual(selected.cluster.value["tls-server-name"], cluster.tlsServerName)
      const proxyUrl = selected.cluster.value["proxy-url"]
      assert.strictEqual(proxyUrl === undefined ? undefined : Redacted.value(proxyUrl), cluster.proxyUrl)
      assert.strictEqual(selected.namespace, kc.getContextObject("dev")?.namespace)
      assert.strictEqual(Redacted.value(selected.user!.value.token!), kc.getCurrentUser()?.token)
      assert.strictEqual(selected.user?.value.as, kc.getCurrentUser()?.impersonateUser)
    }))

  it.live("departs from kubectl when merging: duplicate names throw and the last current-context wins", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const a = write(dir, "a", file)
      const b = write(dir, "b", kubeconfig({ current: "other", clusters: { c: { server: "https://elsewhere" } } }))
      const k8s = yield* Effect.promise(() => import("@kubernetes/client-node"))
      // what client-node's loadFromDefault does with KUBECONFIG=a:b
      const kc = new k8s.KubeConfig()
      kc.loadFromFile(a)
      const second = new k8s.KubeConfig()
      second.loadFromFile(b)
      assert.throws(() => kc.mergeConfig(second), /Duplicate cluster: c/)
      const onlyContext = new k8s.KubeConfig()
      onlyContext.loadFromFile(write(dir, "b2", kubeconfig({ current: "other" })))
      const fresh = new k8s.KubeConfig()
      fresh.loadFromFile(a)
      fresh.mergeConfig(onlyContext)
      assert.strictEqual(fresh.getCurrentContext(), "other")
      // kubectl (and Kubeconfig.merge): the first file wins both
      const merged = yield* Kubeconfig.load({ paths: [a, b] }).pipe(fs)
      assert.strictEqual(merged.currentContext, "dev")
      assert.strictEqual(merged.clusters.get("c")?.value.server, "https://10.0.0.1:6443")
    }))
})
