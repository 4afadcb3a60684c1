/**
 * Logging of a measured process: warnings only, counted. Lower levels are not even formatted, so that logging
 * costs the measurement nothing unless something goes wrong.
 *
 * @since 0.1.0
 */
import { Logging } from "@kubefx/core"
import { Layer, Logger, References } from "effect"

/**
 * How many lines at level Warn or above were logged.
 *
 * @since 0.1.0
 * @category models
 */
export interface WarningCount {
  warnings: number
}

/**
 * Logs at level Warn and above: counts every line in `counter` and writes the first 10 to stderr.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWarnings = (counter: WarningCount) => {
  const human = Logging.human((line) => {
    counter.warnings++
    if (counter.warnings <= 10) process.stderr.write(`${line}\n`)
  })
  return Layer.mergeAll(Logger.layer([human]), Layer.succeed(References.MinimumLogLevel, "Warn"))
}
