/**
 * How the pure manifest builders fail: they throw an `Invalid` naming the offending path, and
 * `Manifests` turns it into a `ManifestError` for the subject being generated.
 *
 * @internal
 */

/** Thrown by the pure builders, turned into a `ManifestError` by `Manifests`' `attempt`. */
export class Invalid {
  readonly path: string
  readonly reason: string
  constructor(path: string, reason: string) {
    this.path = path
    this.reason = reason
  }
}
