/**
 * `npm start`: the echo-server operator.
 *
 *   (no flags)             against an embedded fake cluster, with a scripted demo; runs until Ctrl-C
 *   --exit-when-settled    the same, exiting 0 once the demo has converged (for scripts)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Logging, Operator } from "@kubefx/core"
import { FakeCluster, Workloads } from "@kubefx/testkit"
import { Cause, Effect, Exit } from "effect"
import { scenario } from "./demo.ts"
import { Directory } from "./Directory.ts"
import { EchoServer } from "./EchoServer.ts"
import { EchoOperator } from "./operator.ts"

const args = process.argv.slice(2)
const exitWhenSettled = args.includes("--exit-when-settled")

const demo = Effect.gen(function*() {
  yield* Effect.logInfo("starting echo-operator against an embedded fake cluster (no Kubernetes needed)")
  yield* Workloads.simulate({ readyAfter: "1 second" })
  const controller = yield* Operator.run(EchoOperator)
  const result = yield* scenario(controller)
  if (result.orphans > 0) return yield* Effect.fail(new Error(`${result.orphans} children were left without a parent`))
  if (exitWhenSettled) {
    yield* Effect.logInfo("settled; exiting (--exit-when-settled)")
    return
  }
  yield* Effect.logInfo("settled; the operator keeps running. Press Ctrl-C to stop.")
  return yield* Effect.never
}).pipe(Effect.scoped)

const program = demo.pipe(
  Effect.provide(Directory.layerMemory),
  Effect.provide(FakeCluster.layer({ types: [EchoServer] })),
  Effect.provide(Logging.layer({ format: "human", level: "Info" }))
)

NodeRuntime.runMain(program as Effect.Effect<void, unknown>, {
  teardown: (exit, onExit) => {
    // Ctrl-C (interruption) is a normal way to stop: exit 0.
    onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
  }
})

