/**
 * Parent side of the protocol (`protocol.ts`): a measured process (`bench/apiserver-child.ts`, or the
 * controller-runtime peer) as a scoped child process whose messages can be awaited by tag. Closing the scope
 * kills a child that has not exited.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { type Command, type Messages, parseLine, type Tag } from "./protocol.ts"

/**
 * A running child.
 *
 * @since 0.1.0
 * @category models
 */
export interface Child {
  readonly pid: number
  readonly send: (command: Command) => void
  /** The next message tagged `tag`; dies when the child exits first or the time runs out. */
  readonly next: <T extends Tag>(tag: T, timeoutMillis: number) => Effect.Effect<Messages[T]>
  readonly exited: Effect.Effect<number | null>
}

/**
 * How to start a measured process: the executable and its arguments (`nodeChild.ts`, `peer.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildCommand {
  readonly file: string
  readonly args: ReadonlyArray<string>
}

/**
 * Starts `command` with `args` after its own. Its stderr passes through to this process's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawnChild = (command: ChildCommand, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command.file, [...command.args, ...args], { stdio: ["pipe", "pipe", "pipe"] })
      const lines: Array<{ readonly tag: string; readonly value: unknown }> = []
      let stderr = ""
      let exit: number | null | undefined
      let wake: (() => void) | undefined
      createInterface({ input: child.stdout }).on("line", (line) => {
        const message = parseLine(line)
        if (message === undefined) return
        lines.push(message)
        wake?.()
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000)
        process.stderr.write(chunk)
      })
      const exited = new Promise<number | null>((resolve) =>
        child.on("exit", (code) => {
          exit = code
          resolve(code)
          wake?.()
        })
      )
      const handle: Child = {
        pid: child.pid ?? -1,
        send: (command) => void child.stdin.write(`${command}\n`),
        next: <T extends Tag>(tag: T, timeoutMillis: number) =>
          Effect.callback<Messages[T]>((resume) => {
            const check = () => {
              const i = lines.findIndex((l) => l.tag === tag)
              if (i !== -1) {
                wake = undefined
                resume(Effect.succeed(lines.splice(i, 1)[0]!.value as Messages[T]))
              } else if (exit !== undefined) {
                wake = undefined
                resume(Effect.die(new Error(`child ${args.join(" ")} exited with ${exit} before ${tag}; stderr:\n${stderr}`)))
              }
            }
            wake = check
            check()
          }).pipe(
            Effect.timeoutOrElse({
              duration: timeoutMillis,
              orElse: () => Effect.die(new Error(`child ${args.join(" ")}: no ${tag} within ${timeoutMillis} ms; stderr:\n${stderr}`))
            })
          ),
        exited: Effect.promise(() => exited)
      }
      const kill = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }
      return { handle, kill }
    }),
    ({ kill }) => Effect.sync(kill)
  ).pipe(Effect.map(({ handle }) => handle))
