/**
 * Reading the files a configuration points at, with messages that say which file and why, and never
 * what it contains.
 *
 * @internal
 */
import { Effect, FileSystem } from "effect"
import type { PlatformError } from "effect/PlatformError"

/** "does not exist", "permission denied", … */
export const problem = (error: PlatformError): string => {
  switch (error.reason._tag) {
    case "NotFound":
      return "does not exist"
    case "PermissionDenied":
      return "permission denied"
    case "BadArgument":
      return "invalid path"
    default:
      return error.reason._tag
  }
}

/** The file's text, or a message like `cannot read /x/ca.crt: does not exist`. */
export const readText = (path: string): Effect.Effect<string, string, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.readFileString(path).pipe(Effect.mapError((error) => `cannot read ${path}: ${problem(error)}`))
  })

/** Whether a file exists; an error while checking counts as "no". */
export const exists = (path: string): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.exists(path).pipe(Effect.orElseSucceed(() => false))
  })
