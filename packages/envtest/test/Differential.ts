/**
 * The harness of the differential tests (`FakeCluster*.envtest.test.ts`): the same steps through the
 * `Cluster` port of a real kube-apiserver (Envtest, reached by the live `KubeCluster` over the
 * envtest's kubeconfig, the code path operators use) and of a fresh `FakeCluster`; each step's outcome
 * is reduced to what both must agree on (a view) and compared.
 *
 * A failure is compared by its tag, HTTP status, reason, the server's message (without the live
 * client's `verb type namespace/name: ` prefix) and causes; a success by a view of the value (by
 * default `project`: the metadata the server maintains and the user's fields). UIDs and resource
 * version numbers differ between the two clusters and are masked; whether they change is compared.
 */
import { Builtin, Cluster, ClusterError, type Resource } from "@kubefx/core"
import { Duration, Effect, Fiber, Stream } from "effect"
import { Manifests } from "@kubefx/k8s"
import { FakeCluster } from "@kubefx/testkit"
import { Envtest, EnvtestCluster } from "../src/index.ts"
import { Widget } from "../../testkit/test/FakeClusterFixtures.ts"

export type Obj = Resource.KubeObject
export type Port = Cluster.Cluster["Service"]
export type Which = "real" | "fake"

/**
 * The CRD of the fixtures' Widget, generated from its Schemas as an operator's would be, so the real server
 * and the fake enforce the same schema (bounds, enum, status fields the engine adds, status subresource).
 */
export const widgetCrd = Effect.runSync(Manifests.crd(Widget))

/** Options of `layer` from `@effect/vitest` for a shared envtest: real clock, room to start. */
export const layerOptions = { timeout: "3 minutes", excludeTestServices: true } as const

/** Per-test timeout of a differential test. */
export const TIMEOUT = 120_000

/**
 * The real side: an envtest with the Widget CRD and the live `Cluster` over its kubeconfig, without
 * retries (the server's first answer is what is compared).
 */
export const realLayer = (options: Omit<EnvtestCluster.Options, "crds" | "kubeCluster"> = {}) =>
  EnvtestCluster.layer({ crds: [widgetCrd], kubeCluster: { retry: { maxAttempts: 1 } }, ...options })

/** What a step observed on one side. */
export type Outcome =
  | { readonly ok: false; readonly error: ClusterError.ClusterError }
  | { readonly ok: true; readonly value: any }

/** The live client prefixes every message with the call (`get v1/ConfigMap default/a: `); the server's message follows. */
const clientPrefix = /^(get|list|watch|create|update|apply|patch|delete|update status of|patch status of) \S+( \S+| in namespace \S+)?: /

const UID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g

/** Resource versions inside server messages: numbers that differ between the two clusters. */
const rvInMessages: ReadonlyArray<RegExp> = [
  /(too old resource version: )\d+( \()\d+/g,
  /(Too large resource version: )\d+(, current: )\d+/g,
  /(ResourceVersion in the precondition \()\d+(\) does not match the ResourceVersion in record \()\d+/g
]

/** The server's message, as both sides report it. */
export const serverMessage = (message: string): string => {
  // ... and ends a 401/403 with where its credentials came from.
  let m = message.replace(clientPrefix, "").replace(/ \(credentials from [^)]*\)\)?$/, "")
  for (const re of rvInMessages) m = m.replace(re, "$1<rv>$2<rv>")
  return m
}

/** JSON with object keys sorted: key order carries no meaning. */
export const canonical = (u: unknown): unknown =>
  Array.isArray(u)
    ? u.map(canonical)
    : typeof u === "object" && u !== null
    ? Object.fromEntries(Object.entries(u).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)]))
    : u

const byJson = (a: unknown, b: unknown) => (JSON.stringify(canonical(a)) < JSON.stringify(canonical(b)) ? -1 : 1)

/** A failure as both sides must report it. */
export const failureView = (e: ClusterError.ClusterError): unknown => {
  const causes = "causes" in e ? [...e.causes].sort(byJson) : []
  // The server validates object fields in map order, so several causes come in no fixed order:
  // compare them as a multiset, and the aggregated message up to where it lists them.
  const message = serverMessage(e.message)
  const distinct = new Set(causes.map((c) => `${c.field}: ${c.message}`)).size
  return {
    error: e._tag,
    ...("status" in e ? { status: e.status } : {}),
    ...("reason" in e && e.reason !== undefined ? { reason: e.reason } : {}),
    message: distinct > 1 ? message.replace(/: \[.*\]$/s, ": [...]") : message,
    causes
  }
}

/** The metadata the server maintains and the user's fields of types the server does not default. */
export const project = (value: unknown): unknown => {
  const obj = value as any
  if (obj === undefined || obj === null) return { ok: true }
  if (Array.isArray(obj.items)) return { items: obj.items.map((i: Obj) => `${i.metadata.namespace ?? ""}/${i.metadata.name}`) }
  const m = obj.metadata ?? {}
  return {
    name: m.name,
    namespace: m.namespace,
    generation: m.generation,
    finalizers: m.finalizers,
    deleting: m.deletionTimestamp !== undefined,
    deletionGracePeriodSeconds: m.deletionGracePeriodSeconds,
    labels: m.labels,
    owners: m.ownerReferences?.map((r: any) => r.name),
    hasResourceVersion: m.resourceVersion !== undefined,
    ...(obj.kind === "ConfigMap" || obj.kind === "Widget" ? { data: obj.data, spec: obj.spec, status: obj.status } : {})
  }
}

/** Who owns which fields, by manager/operation/subresource (times left out). */
export const ownership = (obj: Obj): Record<string, unknown> =>
  Object.fromEntries(
    (obj.metadata.managedFields ?? []).map((e) => [`${e.manager}/${e.operation}${e.subresource ? `/${e.subresource}` : ""}`, e.fieldsV1])
  )

export const show = (u: unknown): string => JSON.stringify(canonical(u)).replace(UID, "<uid>")

/** The previous outcomes of the side a step runs on, by label. */
export type Own = (label: string) => any

export type View = (value: any, own: Own, which: Which) => unknown

/** Both sides and the steps' record. */
export interface Differential {
  readonly real: Port
  readonly fake: Port
  readonly controls: FakeCluster.FakeCluster["Service"]
  /** The namespace this test's objects live in (created on both sides). */
  readonly namespace: string
  /**
   * One step on both sides (real first); `f` may use the earlier results of its own side. The outcome
   * is compared through `view` (default `project`); failures always by `failureView`.
   */
  readonly step: (
    label: string,
    f: (cluster: Port, own: Own, which: Which) => Effect.Effect<unknown, ClusterError.ClusterError>,
    view?: View
  ) => Effect.Effect<void>
  /**
   * For the real server's asynchronous controllers (garbage collector, namespace controller): runs `f`
   * on the fake, then on the real server until it agrees (every 250 ms, up to `within`).
   */
  readonly settle: (
    label: string,
    f: (cluster: Port, own: Own, which: Which) => Effect.Effect<unknown, ClusterError.ClusterError>,
    view?: View,
    within?: Duration.Input
  ) => Effect.Effect<void>
  /**
   * A step the live client cannot express (it refuses the request before sending it): the raw request
   * to the real server, its answer mapped as the live client maps a `metav1.Status`, against `fake`.
   */
  readonly rawStep: (
    label: string,
    request: { readonly method: string; readonly path: string; readonly body?: unknown; readonly contentType?: string },
    fake: (cluster: Port) => Effect.Effect<unknown, ClusterError.ClusterError>,
    view?: View
  ) => Effect.Effect<void>
  /** Records a disagreement found by a test's own comparison. */
  readonly problem: (text: string) => void
  /** The disagreements so far (a test asserts this is empty at its end). */
  readonly problems: ReadonlyArray<string>
}

const runOutcome = (eff: Effect.Effect<unknown, ClusterError.ClusterError>): Effect.Effect<Outcome> =>
  eff.pipe(
    Effect.map((value): Outcome => ({ ok: true, value })),
    Effect.catch((error) => Effect.succeed<Outcome>({ ok: false, error }))
  )

/**
 * Starts a differential test: a fresh FakeCluster (with the Widget type) beside the real `Cluster` in
 * context, and `namespace` created on both (each test gets its own, so tests on one envtest never see
 * each other's objects).
 */
export const make = (namespace: string, options: FakeCluster.Options = {}) =>
  Effect.gen(function*() {
    const real = yield* Cluster.Cluster
    const env = yield* EnvtestCluster.EnvtestCluster
    // The real server names a write's manager after the client's User-Agent when it names none.
    const { cluster: fake, fake: controls } = yield* FakeCluster.make({ types: [Widget], defaultFieldManager: "kubefx-envtest", ...options })
    const results = new Map<string, { real: Outcome; fake: Outcome }>()
    const problems: Array<string> = []
    const ownOf = (which: Which): Own => (label) => {
      const r = results.get(label)?.[which]
      if (r === undefined || !r.ok) throw new Error(`step ${label} has no result on the ${which} side`)
      return r.value
    }
    const viewOf = (o: Outcome, view: View, which: Which) =>
      show(o.ok ? view(o.value, ownOf(which), which) : failureView(o.error))
    const port = (which: Which) => (which === "real" ? real : fake)
    /** KUBEFX_DIFFERENTIAL_LOG=1 prints every step's view (what is compared), agreeing or not. */
    const log = process.env["KUBEFX_DIFFERENTIAL_LOG"] === "1"
    const compare = (label: string, a: string, b: string) => {
      if (log) console.log(`${label}\n  real: ${a}${a === b ? "" : `\n  fake: ${b}`}`)
      if (a !== b) problems.push(`${label}\n  real: ${a}\n  fake: ${b}`)
    }

    const step: Differential["step"] = (label, f, view = project) =>
      Effect.gen(function*() {
        const r = yield* runOutcome(f(real, ownOf("real"), "real"))
        const m = yield* runOutcome(f(fake, ownOf("fake"), "fake"))
        results.set(label, { real: r, fake: m })
        compare(label, viewOf(r, view, "real"), viewOf(m, view, "fake"))
      })

    const settle: Differential["settle"] = (label, f, view = project, within = "15 seconds") =>
      Effect.gen(function*() {
        const m = yield* runOutcome(f(fake, ownOf("fake"), "fake"))
        const expected = viewOf(m, view, "fake")
        const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(within))
        let r: Outcome
        let observed: string
        do {
          r = yield* runOutcome(f(real, ownOf("real"), "real"))
          observed = viewOf(r, view, "real")
          if (observed === expected) break
          yield* Effect.sleep("250 millis")
        } while (Date.now() < deadline)
        results.set(label, { real: r, fake: m })
        compare(`${label} (after settling)`, observed, expected)
      })

    const rawStep: Differential["rawStep"] = (label, request, f, view = project) =>
      Effect.gen(function*() {
        const res = yield* Envtest.request(env, request).pipe(Effect.orDie)
        const body = res.body as any
        const r: Outcome = res.status < 300
          ? { ok: true, value: body }
          : {
            ok: false,
            error: ClusterError.fromStatus(res.status, { reason: body?.reason, message: body?.message ?? String(body), causes: body?.details?.causes })
          }
        const m = yield* runOutcome(f(fake))
        results.set(label, { real: r, fake: m })
        compare(label, viewOf(r, view, "real"), viewOf(m, view, "fake"))
      })

    const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }
    yield* real.create(Builtin.Namespace, ns).pipe(Effect.orDie)
    yield* fake.create(Builtin.Namespace, ns).pipe(Effect.orDie)
    return {
      real,
      fake,
      controls,
      namespace,
      step,
      settle,
      rawStep,
      problem: (text: string) => void problems.push(text),
      problems,
      port
    } satisfies Differential & { port: (which: Which) => Port }
  })

/** One watch event as both sides must deliver it: type, object name and the projected object. */
export type EventView = (event: Cluster.WatchEvent) => unknown

export const eventView: EventView = (e) =>
  e.type === "BOOKMARK" ? { type: e.type, kind: e.object.kind, apiVersion: e.object.apiVersion } : { type: e.type, ...(project(e.object) as object) }

/**
 * Opens a watch, runs `during` while it is open, and collects events until `until` holds for them,
 * the watch ends, or `within` passes (then what arrived is returned).
 */
export const watchWhile = <E = Cluster.WatchEvent>(
  stream: Stream.Stream<E, ClusterError.ClusterError>,
  during: Effect.Effect<unknown, ClusterError.ClusterError>,
  until: (events: ReadonlyArray<E>) => boolean,
  within: Duration.Input = "10 seconds"
): Effect.Effect<ReadonlyArray<E>, ClusterError.ClusterError> =>
  Effect.gen(function*() {
    const seen: Array<E> = []
    const fiber = yield* Effect.forkChild(
      Stream.runForEach(stream, (e) => Effect.sync(() => void seen.push(e)))
    )
    // The real server needs a moment to register the watch before the writes.
    yield* Effect.sleep("300 millis")
    yield* during
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(within))
    while (!until(seen) && Date.now() < deadline) {
      const done = yield* Fiber.await(fiber).pipe(Effect.timeoutOption("50 millis"))
      if (done._tag === "Some") {
        if (done.value._tag === "Failure") return yield* Fiber.join(fiber).pipe(Effect.as(seen))
        break
      }
    }
    yield* Fiber.interrupt(fiber)
    return seen
  })
