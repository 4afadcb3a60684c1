/**
 * A bearer token kept in a file that something else rotates: a bound service-account token (the
 * kubelet replaces it well before its one-hour expiry) or a kubeconfig `tokenFile`. The file is read
 * again once the cached copy is older than `maxAge` (one minute, as client-go does) or on `refresh`,
 * e.g. after a 401.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, FileSystem, Redacted } from "effect"
import { AuthError, ConfigError } from "./ClientConfigError.ts"
import * as Expiring from "./internal/expiring.ts"
import { problem } from "./internal/files.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface TokenFile {
  readonly path: string
  /** The token, read again when the cached copy is older than `maxAge`. */
  readonly get: Effect.Effect<Redacted.Redacted<string>, AuthError>
  /** Reads the file now (after the server refused the token). */
  readonly refresh: Effect.Effect<Redacted.Redacted<string>, AuthError>
}

/** Reads and trims the token; the message names the file and the field it came from, never the content. */
const read = (fs: FileSystem.FileSystem, path: string, field: string) =>
  fs.readFileString(path).pipe(
    Effect.mapError((error) => `${field}: cannot read token file ${path}: ${problem(error)}`),
    Effect.flatMap((text) => {
      const token = text.trim()
      return token === ""
        ? Effect.fail(`${field}: token file ${path} is empty`)
        : Effect.succeed(Redacted.make(token))
    })
  )

/**
 * Reads the file once now, so a missing or empty file fails when the configuration is built (with a
 * `ConfigError` naming `field`, e.g. `users[ci].tokenFile`); later reads fail with an `AuthError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  path: string,
  options?: { readonly field?: string | undefined; readonly maxAge?: Duration.Duration | undefined }
): Effect.Effect<TokenFile, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const field = options?.field ?? "tokenFile"
    const maxAge = Duration.toMillis(options?.maxAge ?? Duration.minutes(1))
    const stamp = (token: Redacted.Redacted<string>) =>
      Effect.map(Clock.currentTimeMillis, (now) => ({
        value: token,
        expiresAt: now + maxAge
      }))
    const initial = yield* read(fs, path, field).pipe(
      Effect.mapError((message) => new ConfigError({ message, source: field })),
      Effect.flatMap(stamp)
    )
    const cache = yield* Expiring.make(
      read(fs, path, field).pipe(
        Effect.mapError((message) => new AuthError({ message, source: field })),
        Effect.flatMap(stamp)
      ),
      { initial }
    )
    return { path, get: cache.get, refresh: cache.refresh }
  })
