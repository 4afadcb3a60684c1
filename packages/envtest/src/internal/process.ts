/**
 * Child processes of the test control plane: each runs in its own process group with its output in a
 * log file, and is stopped with SIGTERM, then SIGKILL to the whole group after a grace period.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { Duration, Effect, Option } from "effect"

/** How a process ended. */
export interface ProcessExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running (or ended) child process that leads its own process group. */
export interface ManagedProcess {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** The exit, once the process has ended. */
  readonly exited: () => ProcessExit | undefined
  /** Completes when the process has ended (at once if it already has). */
  readonly awaitExit: Effect.Effect<ProcessExit>
}

// Process groups still alive, and the temporary directories (with the CA and admin keys) of envtests not
// yet closed. If the Node process ends without closing their scopes (a crash, `process.exit`, a test
// worker killed with SIGTERM or SIGINT), the groups are killed and the directories removed synchronously
// from the `exit` hook or the signal handler, so no server and no key outlives its test run. (SIGKILL
// cannot be caught: after one, `ps` shows the orphans and `/tmp/kubefx-envtest-*` their files.)
const liveGroups = new Set<number>()
const liveDirs = new Set<string>()
const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const
let hooksInstalled = false

/** Kills every live group and removes every live directory, synchronously. */
const reap = (): void => {
  for (const pgid of liveGroups) signalGroup(pgid, "SIGKILL")
  liveGroups.clear()
  for (const dir of liveDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    } catch {
      // best effort: the process is going away
    }
  }
  liveDirs.clear()
}

/**
 * A signal handler that cleans up, then lets the signal do what it would have done: with no other
 * listener Node's default (terminate with that signal) is restored by re-raising it; with others (a
 * runtime's graceful shutdown, vitest), they decide, as they would have without us.
 */
const onSignal = (signal: typeof signals[number]) => {
  const handler = () => {
    reap()
    for (const other of signals) if (other !== signal) process.removeListener(other, handlers[other])
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }
  return handler
}
const handlers = Object.fromEntries(signals.map((signal) => [signal, onSignal(signal)])) as Record<
  typeof signals[number],
  () => void
>

const installHooks = (): void => {
  if (hooksInstalled) return
  hooksInstalled = true
  process.once("exit", reap)
  for (const signal of signals) process.once(signal, handlers[signal])
}

/** Removes `dir` if the process ends before {@link releaseDir} is called for it. */
export const trackDir = (dir: string): void => {
  liveDirs.add(dir)
  installHooks()
}

/** `dir` was removed (or handed back): nothing to do for it at exit any more. */
export const releaseDir = (dir: string): void => {
  liveDirs.delete(dir)
}

/** Signals every process in the group; false when the group no longer exists. */
export const signalGroup = (pgid: number, signal: NodeJS.Signals | 0): boolean => {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false
    throw error
  }
}

/** Starts `command` detached (a new process group) with stdout and stderr appended to `logFile`. */
export const spawnProcess = (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly logFile: string; readonly cwd: string; readonly env: NodeJS.ProcessEnv }
): Effect.Effect<ManagedProcess, Error> =>
  Effect.callback<ManagedProcess, Error>((resume) => {
    let fd: number
    try {
      fd = fs.openSync(options.logFile, "a")
    } catch (error) {
      resume(Effect.fail(error as Error))
      return
    }
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", fd, fd]
    })
    fs.closeSync(fd)
    let exit: ProcessExit | undefined
    const waiters = new Set<(exit: ProcessExit) => void>()
    child.once("exit", (code, signal) => {
      exit = { code, signal }
      if (child.pid !== undefined) liveGroups.delete(child.pid)
      for (const waiter of waiters) waiter(exit)
      waiters.clear()
    })
    child.once("error", (error) => resume(Effect.fail(new Error(`cannot start ${name} (${command}): ${error.message}`))))
    child.once("spawn", () => {
      const pid = child.pid!
      liveGroups.add(pid)
      installHooks()
      resume(Effect.succeed({
        name,
        pid,
        logFile: options.logFile,
        exited: () => exit,
        awaitExit: Effect.callback<ProcessExit>((resumeExit) => {
          if (exit !== undefined) {
            resumeExit(Effect.succeed(exit))
            return
          }
          const waiter = (e: ProcessExit) => resumeExit(Effect.succeed(e))
          waiters.add(waiter)
          return Effect.sync(() => waiters.delete(waiter))
        })
      }))
    })
  })

/**
 * Stops the process group: SIGTERM, then SIGKILL once `grace` has passed, then SIGKILL again for any
 * member that outlived the leader.
 */
export const stopProcess = (proc: ManagedProcess, grace: Duration.Input): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (proc.exited() === undefined) {
      signalGroup(proc.pid, "SIGTERM")
      const ended = yield* Effect.timeoutOption(proc.awaitExit, grace)
      if (Option.isNone(ended)) {
        signalGroup(proc.pid, "SIGKILL")
        yield* Effect.timeoutOption(proc.awaitExit, Duration.seconds(10))
      }
    }
    signalGroup(proc.pid, "SIGKILL")
    liveGroups.delete(proc.pid)
  })

/** The last `lines` lines of a log file, for error messages. */
export const tailFile = (file: string, lines: number): string => {
  try {
    const text = fs.readFileSync(file, "utf8")
    return text.split("\n").filter((line) => line.length > 0).slice(-lines).join("\n")
  } catch {
    return "(no log)"
  }
}
