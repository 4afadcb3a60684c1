/**
 * Logging layers for operators: human-readable lines for terminals and demos, JSON lines for log
 * collectors. Both show the operator and parent a line is about (the engine annotates every reconcile).
 *
 * @since 0.1.0
 */
import { Cause, Layer, Logger, type LogLevel, References } from "effect"

const levelTag: Record<string, string> = {
  Fatal: "FATAL",
  Error: "ERROR",
  Warn: "WARN ",
  Info: "INFO ",
  Debug: "DEBUG",
  Trace: "TRACE"
}

const render = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value instanceof Error) return value.message
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

/**
 * `12:00:01 INFO  [echo-operator default/hello] message {"detail":1}`.
 *
 * @since 0.1.0
 * @category loggers
 */
export const human = (write: (line: string) => void = (line) => console.log(line)): Logger.Logger<unknown, void> =>
  Logger.make(({ cause, date, fiber, logLevel, message }) => {
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    const context = [annotations["operator"], annotations["parent"] ?? annotations["watcher"]]
      .filter((x) => x !== undefined)
      .join(" ")
    const parts = Array.isArray(message) ? message : [message]
    const text = parts.map(render).join(" ")
    const failure = cause.reasons.length > 0 ? ` ${Cause.pretty(cause)}` : ""
    write(`${date.toISOString().slice(11, 19)} ${levelTag[logLevel] ?? logLevel} ${context ? `[${context}] ` : ""}${text}${failure}`)
  })

/**
 * Replaces the default logger.
 *
 * @example
 * ```ts
 * declare const op: Operator.Operator<unknown, unknown, never, never>
 *
 * Operator.layer(op).pipe(Layer.provide(Logging.layer({ format: "human", level: "Info" })))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: {
  readonly format?: "human" | "json"
  readonly level?: LogLevel.LogLevel
} = {}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([options.format === "json" ? Logger.consoleJson : human()]),
    Layer.succeed(References.MinimumLogLevel, options.level ?? "Info")
  )
