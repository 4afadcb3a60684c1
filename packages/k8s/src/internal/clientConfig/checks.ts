/**
 * Checks of single option values, shared by every constructor: durations, PEM text or files, base64
 * data. Each failure is a `ConfigError` whose message starts with the label of the field at fault.
 *
 * @internal
 */
import { Duration, Effect, type FileSystem, Option } from "effect"
import { ConfigError } from "../../ClientConfigError.ts"
import { readText } from "../files.ts"

export const configError = (message: string, source: string) => new ConfigError({ message, source })

/** A positive duration; the fallback when none is given. */
export const duration = (input: Duration.Input | undefined, fallback: Duration.Duration, name: string) => {
  if (input === undefined) return Effect.succeed(fallback)
  const parsed = Duration.fromInput(input)
  return Option.isSome(parsed) && Duration.isPositive(parsed.value)
    ? Effect.succeed(parsed.value)
    : Effect.fail(configError(`${name} must be a positive duration`, name))
}

/** A PEM from a string or a file, checked to at least look like PEM (catches double base64). */
export const pem = (
  inline: string | undefined,
  file: string | undefined,
  labels: { readonly inline: string; readonly file: string },
  what: string
): Effect.Effect<string | undefined, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const text = inline !== undefined && inline !== ""
      ? inline
      : file !== undefined && file !== ""
      ? yield* readText(file).pipe(Effect.mapError((message) => configError(`${labels.file}: ${message}`, labels.file)))
      : undefined
    if (text !== undefined && !text.includes("-----BEGIN ")) {
      const label = inline !== undefined && inline !== "" ? labels.inline : labels.file
      return yield* configError(`${label}: the ${what} is not PEM (no "-----BEGIN" line)`, label)
    }
    return text
  })

/** The `*-data` fields of a kubeconfig: base64 of UTF-8 text. */
export const decodeBase64 = (text: string, label: string): Effect.Effect<string, ConfigError> => {
  const compact = text.replace(/\s+/g, "")
  return /^[A-Za-z0-9+/]*={0,2}$/.test(compact) && compact.length % 4 === 0
    ? Effect.succeed(Buffer.from(compact, "base64").toString("utf8"))
    : Effect.fail(configError(`${label}: not valid base64`, label))
}

/** An empty string counts as absent, as it does in a kubeconfig. */
export const nonEmpty = (text: string | undefined) => (text === undefined || text === "" ? undefined : text)
