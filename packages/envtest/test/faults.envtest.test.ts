/**
 * The live client under real network faults: a real kube-apiserver, with `FaultProxy` between it and a
 * `KubeCluster` (default tuning unless a test says otherwise) that dials `https://127.0.0.1:<proxy port>`.
 * The proxy forwards raw TCP, so TLS still runs end to end and is verified: envtest's serving certificate
 * names 127.0.0.1. Writes that set the scene go straight to the server, as the admin.
 *
 * - half-open during a watch: noticed within the default 60 s stall bound (the measured time is printed),
 *   and the watcher resumes from its last resourceVersion without a relist;
 * - a quiet healthy watch, meanwhile, outlives that bound: never failed, still delivering;
 * - reset: the watcher reconnects after a backoff, again without a relist;
 * - blackhole: a request fails with a typed `Transport` error once the request timeout has passed.
 *
 * They run at once; the quiet and half-open ones set the file's wall time (about 65 s plus the server's start).
 * Needs the envtest binaries (packages/envtest/scripts/envtest-assets.sh); set KUBEFX_ENVTEST=0 to switch it off.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Builtin, Cluster, type ClusterError, type Resource, Watcher } from "@kubefx/core"
import { ClientConfig, KubeCluster } from "@kubefx/k8s"
import { FaultProxy } from "@kubefx/testkit"
import { Context, Duration, Effect, Layer, Stream } from "effect"
import { EnvtestCluster } from "../src/index.ts"

const TIMEOUT = 150_000

/** What a proxied `Cluster` was asked and answered: lists, watches (from which version), and versions seen. */
interface Recorder {
  /** Lists, and watches that stream the current state in place of one. */
  lists: number
  readonly watchedFrom: Array<string>
  /** The last resourceVersion any watch event carried (bookmarks included), and when it arrived. */
  lastVersion: string | undefined
  lastEventAt: number
}

/** A `Cluster` that records `Recorder` facts about the calls it passes on. */
const recording = (cluster: Cluster.Cluster["Service"], recorder: Recorder): Cluster.Cluster["Service"] =>
  Cluster.Cluster.of({
    ...cluster,
    list: (type, options) => {
      recorder.lists++
      return cluster.list(type, options)
    },
    watch: (type, options) => {
      if (options.sendInitialEvents === true) recorder.lists++
      recorder.watchedFrom.push(options.resourceVersion)
      return cluster.watch(type, options).pipe(
        Stream.tap((event) =>
          Effect.sync(() => {
            recorder.lastVersion = event.object.metadata.resourceVersion ?? recorder.lastVersion
            recorder.lastEventAt = Date.now()
          })
        )
      )
    }
  })

/**
 * A proxy in front of the envtest's API server, and the live `Cluster` (admin credentials, CA verified)
 * dialling the proxy. Both stop with the test's scope.
 */
const throughProxy = (options: { readonly timeout?: Duration.Input; readonly kubeCluster?: KubeCluster.Options } = {}) =>
  Effect.gen(function*() {
    const env = yield* EnvtestCluster.EnvtestCluster
    const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: Number(new URL(env.server).port) } })
    const config = Layer.effect(
      ClientConfig.ClientConfig,
      Effect.gen(function*() {
        const base = yield* ClientConfig.fromKubeconfig({ paths: [env.kubeconfigPath], context: "envtest", userAgent: "kubefx-faults" })
        return ClientConfig.ClientConfig.of({
          ...base,
          server: `https://127.0.0.1:${proxy.port}`,
          timeout: Duration.fromInputUnsafe(options.timeout ?? "5 seconds")
        })
      })
    )
    // Fresh: the admin's Cluster in the shared layer must not lend this one its connection.
    const context = yield* Layer.build(Layer.fresh(KubeCluster.layerOptions(options.kubeCluster ?? {}).pipe(Layer.provide(config))))
    const recorder: Recorder = { lists: 0, watchedFrom: [], lastVersion: undefined, lastEventAt: 0 }
    return { proxy, cluster: recording(Context.get(context, Cluster.Cluster), recorder), recorder }
  })

const configMap = (namespace: string, name: string): Resource.KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  data: { k: name }
})

const namespace = (name: string) =>
  Effect.gen(function*() {
    const admin = yield* Cluster.Cluster
    yield* admin.create(Builtin.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name } })
    return name
  })

/** Repeats `check` every 100 ms until it holds; dies after `within` (real time). */
const eventually = (what: string, check: () => boolean, within: Duration.Input = "20 seconds") =>
  Effect.suspend(function loop(): Effect.Effect<void> {
    return check() ? Effect.void : Effect.sleep("100 millis").pipe(Effect.andThen(loop))
  }).pipe(Effect.timeoutOrElse({ duration: within, orElse: () => Effect.die(new Error(`timed out waiting until ${what}`)) }))

/** A watcher over the proxied cluster: its events and its state changes (with times), as they come. */
const watching = (
  cluster: Cluster.Cluster["Service"],
  ns: string,
  onState: (state: Watcher.WatcherState) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    const events: Array<Watcher.WatcherEvent> = []
    const states: Array<{ readonly state: Watcher.WatcherState; readonly at: number }> = []
    yield* Watcher.watch(Builtin.ConfigMap, {
      namespace: ns,
      onState: (state) => Effect.suspend(() => {
        states.push({ state, at: Date.now() })
        return onState(state)
      })
    }).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.provideService(Cluster.Cluster, cluster),
      Effect.forkScoped
    )
    const applied = (name: string) => events.some((e) => e._tag === "Applied" && e.object.metadata.name === name)
    const restarts = () => events.filter((e) => e._tag === "Restarted").length
    return { events, states, applied, restarts }
  })

describe.runIf(process.env["KUBEFX_ENVTEST"] !== "0")("the live client under network faults (FaultProxy)", () => {
  layer(EnvtestCluster.layer(), { timeout: "3 minutes", excludeTestServices: true, concurrent: true })("faults", (it) => {
    it.effect("half-open during a watch: failed within the default 60 s, resumed from the last version, no relist", () =>
      Effect.gen(function*() {
        const admin = yield* Cluster.Cluster
        const ns = yield* namespace("faults-half-open")
        const { cluster, proxy, recorder } = yield* throughProxy()
        let faultAt = 0
        let detectedAt = 0
        // Heal as the watcher notices, before its backoff ends, so its reconnect finds a working network.
        const w = yield* watching(cluster, ns, (state) =>
          state === "reconnecting" && faultAt > 0 && detectedAt === 0
            ? Effect.andThen(Effect.sync(() => (detectedAt = Date.now())), proxy.heal)
            : Effect.void)
        yield* eventually("the watch is open", () => w.states.some((s) => s.state === "watching"))
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "before"))
        yield* eventually("the first change arrived", () => w.applied("before"))
        const versionAtFault = recorder.lastVersion
        yield* proxy.halfOpen
        faultAt = Date.now()
        const silentSince = recorder.lastEventAt
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "during"))

        yield* eventually("the watcher noticed", () => detectedAt > 0, "75 seconds")
        const detected = (detectedAt - faultAt) / 1000
        const sinceLastByte = (detectedAt - silentSince) / 1000
        console.log(
          `half-open watch detected after ${detected.toFixed(1)} s (${sinceLastByte.toFixed(1)} s after its last byte); ` +
            `default stall timeout ${Duration.format(KubeCluster.defaultWatchStallTimeout)}`
        )
        assert.isAtMost(sinceLastByte, 61, "within the stall timeout of the last byte")
        assert.isAtLeast(sinceLastByte, 59, "and not before: a silent minute is what it takes")

        yield* eventually("the change made during the outage arrived on the resumed watch", () => w.applied("during"))
        assert.strictEqual(recorder.lists, 1, "no relist")
        assert.strictEqual(w.restarts(), 1)
        assert.deepStrictEqual(recorder.watchedFrom.slice(1, 2), [versionAtFault], "resumed from the last version seen")
        assert.isAtLeast((yield* proxy.stats).accepted, 2, "a new connection after the dead one")
      }), TIMEOUT)

    it.effect("a quiet healthy watch outlives the stall timeout: never failed, still delivering", () =>
      Effect.gen(function*() {
        const admin = yield* Cluster.Cluster
        const ns = yield* namespace("faults-quiet")
        const { cluster, recorder } = yield* throughProxy()
        const w = yield* watching(cluster, ns)
        yield* eventually("the watch is open", () => w.states.some((s) => s.state === "watching"))
        // Nothing changes in the namespace: no event, and no bookmark either while the version stands still.
        yield* Effect.sleep("65 seconds")
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "late"))
        yield* eventually("a change after the quiet minute arrived", () => w.applied("late"))
        // The state streamed by the watch, and the same watch on: watching from the end of the initial events.
        assert.deepStrictEqual(w.states.map((s) => s.state), ["listing", "watching"], "never reconnected")
        assert.strictEqual(recorder.lists, 1)
      }), TIMEOUT)

    it.effect("reset during a watch: reconnects after a backoff, from the last version, no relist", () =>
      Effect.gen(function*() {
        const admin = yield* Cluster.Cluster
        const ns = yield* namespace("faults-reset")
        const { cluster, proxy, recorder } = yield* throughProxy()
        const w = yield* watching(cluster, ns)
        yield* eventually("the watch is open", () => w.states.some((s) => s.state === "watching"))
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "before"))
        yield* eventually("the first change arrived", () => w.applied("before"))
        const versionAtFault = recorder.lastVersion

        yield* proxy.reset
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "after"))
        yield* eventually("the change after the reset arrived", () => w.applied("after"))

        const reconnecting = w.states.findIndex((s) => s.state === "reconnecting")
        assert.isAtLeast(reconnecting, 0, "the reset failed the watch")
        // After the backoff: connecting, then watching once the server accepted the new watch; no listing between.
        assert.deepStrictEqual(w.states.slice(reconnecting + 1, reconnecting + 3).map((s) => s.state), ["connecting", "watching"], "watching again, without listing")
        const resumed = w.states[reconnecting + 1]
        const backoff = resumed!.at - w.states[reconnecting]!.at
        assert.isAtLeast(backoff, 100, `waited out a backoff (${backoff} ms)`)
        assert.strictEqual(recorder.lists, 1, "no relist")
        assert.strictEqual(w.restarts(), 1)
        assert.deepStrictEqual(recorder.watchedFrom.slice(1, 2), [versionAtFault], "resumed from the last version seen")
      }), TIMEOUT)

    it.effect("blackhole of a request: a typed Transport error once the request timeout has passed", () =>
      Effect.gen(function*() {
        const admin = yield* Cluster.Cluster
        const ns = yield* namespace("faults-blackhole")
        yield* admin.create(Builtin.ConfigMap, configMap(ns, "a"))
        const { cluster, proxy } = yield* throughProxy({ timeout: "2 seconds", kubeCluster: { retry: { maxAttempts: 1 } } })
        const at = { namespace: ns, name: "a" }
        assert.strictEqual((yield* cluster.get(Builtin.ConfigMap, at)).metadata.name, "a", "through the proxy")

        yield* proxy.blackhole
        const started = Date.now()
        const error: ClusterError.ClusterError = yield* Effect.flip(cluster.get(Builtin.ConfigMap, at))
        const elapsed = Date.now() - started
        assert.strictEqual(error._tag, "Transport")
        assert.match(error.message, /^get v1\/ConfigMap faults-blackhole\/a: no response from https:\/\/127\.0\.0\.1:\d+ within 2s$/)
        assert.isAtLeast(elapsed, 1900)
        assert.isBelow(elapsed, 3500, `failed at ${elapsed} ms`)

        yield* proxy.heal
        assert.strictEqual((yield* cluster.get(Builtin.ConfigMap, at)).metadata.name, "a", "a new connection works")
      }), TIMEOUT)
  })
})
