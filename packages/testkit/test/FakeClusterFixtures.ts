/** Shared fixtures of the FakeCluster tests. */
import { Cluster, type ClusterError, Resource } from "@kubefx/core"
import { Effect, Exit, Schema } from "effect"
import { FakeCluster } from "../src/index.ts"

export const Widget = Resource.custom({
  group: "test.kubefx.io",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  spec: Schema.Struct({
    size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })),
    mode: Schema.optionalKey(Schema.Literals(["fast", "safe"])),
    items: Schema.optionalKey(Schema.Array(Schema.Struct({ name: Schema.String })))
  }),
  status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) })
})

export const cm = (name: string, extra: Record<string, unknown> = {}, namespace = "default"): Resource.KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  ...extra
})

export const widget = (name: string, spec: unknown = { size: 1 }, meta: Record<string, unknown> = {}): Resource.KubeObject => ({
  apiVersion: "test.kubefx.io/v1",
  kind: "Widget",
  metadata: { name, namespace: "default", ...meta },
  spec
})

export const provide = (options: FakeCluster.Options = {}) => Effect.provide(FakeCluster.layer({ types: [Widget], ...options }))

export const services = Effect.all({ cluster: Cluster.Cluster, fake: FakeCluster.FakeCluster })

export const failure = <A, E>(eff: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.exit(eff), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.die(new Error(`expected a failure, got ${JSON.stringify(exit.value)}`))
    const e = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (e === undefined) return Effect.die(new Error(`expected a typed failure: ${String(exit.cause)}`))
    return Effect.succeed((e as any).error as ClusterError.ClusterError)
  })

