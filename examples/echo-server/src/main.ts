/**
 * `npm start`: the echo-server operator. The only entry point: the other modules define, this one runs.
 *
 *   (no flags)             against an embedded fake cluster, with a scripted demo; runs until Ctrl-C
 *   --exit-when-settled    the same, exiting 0 once the demo has converged (for scripts)
 *   --kubeconfig <path>    against a real cluster (also when KUBECONFIG is set; --context to pick one)
 *   --in-cluster           against the cluster the pod runs in, with its service account
 *   --namespace <ns>       with a real cluster: watch one namespace only
 *
 * See `Mode.ts` for how the flags combine, `live.ts` for the real-cluster run.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Logging, Operator } from "@kubefx/core"
import { FakeCluster, Workloads } from "@kubefx/testkit"
import { Cause, Effect, Exit } from "effect"
import { scenario } from "./demo.ts"
import { Directory } from "./Directory.ts"
import { EchoServer } from "./EchoServer.ts"
import * as Live from "./live.ts"
import * as Mode from "./Mode.ts"
import { EchoOperator } from "./operator.ts"

const demo = (exitWhenSettled: boolean) =>
  Effect.gen(function*() {
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
  }).pipe(
    Effect.scoped,
    Effect.provide(Directory.layerMemory),
    Effect.provide(FakeCluster.layer({ types: [EchoServer] }))
  )

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** A failure of the live run is logged as its message (they name the file, context or fix), a defect in full. */
const live = (mode: Mode.Live) =>
  Live.program(mode).pipe(
    Effect.tapCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.logError(Cause.hasFails(cause) ? messageOf(Cause.squash(cause)) : Cause.pretty(cause))
    )
  )

const run = (program: Effect.Effect<void, unknown>, options: { readonly disableErrorReporting: boolean }) =>
  NodeRuntime.runMain(program.pipe(Effect.provide(Logging.layer({ format: "human", level: "Info" }))), {
    disableErrorReporting: options.disableErrorReporting,
    teardown: (exit, onExit) => {
      // Ctrl-C or SIGTERM (interruption) is a normal way to stop: exit 0.
      onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
    }
  })

const mode = Mode.parse(process.argv.slice(2), process.env)
switch (mode._tag) {
  case "Help":
    process.stdout.write(Mode.usage)
    break
  case "Invalid":
    process.stderr.write(`${mode.message}\n\n${Mode.usage}`)
    process.exitCode = 2
    break
  case "Demo":
    run(demo(mode.exitWhenSettled), { disableErrorReporting: false })
    break
  case "Live":
    run(live(mode), { disableErrorReporting: true })
    break
}
