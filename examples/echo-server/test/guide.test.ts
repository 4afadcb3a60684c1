import { expect, it } from "@effect/vitest"
import { Builtin, Cluster } from "@kubefx/core"
import { FakeCluster, Laws, TestKit } from "@kubefx/testkit"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Directory } from "../src/Directory.ts"
import { EchoServer } from "../src/EchoServer.ts"
import { EchoOperator } from "../src/operator.ts"

const env = Layer.mergeAll(FakeCluster.layer({ types: [EchoServer] }), TestKit.TestKit.layer, Directory.layerMemory)

it.effect("survives a 409 and a 500, then writes nothing on resync", () => Effect.gen(function*() {
  const fake = yield* FakeCluster.FakeCluster
  yield* fake.failNext({ verb: "apply", times: 1, error: FakeCluster.errors.conflict() })
  yield* fake.failNext({ verb: "create", times: 1, error: FakeCluster.errors.internalError() })
  yield* TestKit.run(EchoOperator)
  yield* fake.seed(EchoServer, [{ apiVersion: EchoServer.apiVersion, kind: "EchoServer", metadata: { name: "a", namespace: "default" }, spec: { message: "hi" } }])
  yield* TestKit.settle()
  expect(yield* (yield* Cluster.Cluster).get(Builtin.Service, { namespace: "default", name: "a" })).toBeDefined()
  yield* TestClock.adjust("10 minutes") // the resync period: every parent is reconciled again
  expect((yield* TestKit.settle()).writes).toBe(0)
}).pipe(Effect.provide(env)))

it.effect("obeys the operator laws", () => Laws.check(EchoOperator, { provide: Directory.layerMemory }))
