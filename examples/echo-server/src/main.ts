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
// The runtime module alone: the package's index loads every platform module (~17 MiB more at start).
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Logging } from "@kubefx/core"
import { Cause, Effect, Exit } from "effect"
import * as Live from "./live.ts"
import * as Mode from "./Mode.ts"

// The demo and its fake cluster (@kubefx/testkit) are loaded only when the demo runs, not in a real cluster.
const demo = (exitWhenSettled: boolean) =>
  Effect.flatMap(Effect.promise(() => import("./demo.ts")), (module) => module.program(exitWhenSettled))

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
