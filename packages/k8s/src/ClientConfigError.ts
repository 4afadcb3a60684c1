/**
 * Why a client configuration could not be built or could not produce credentials.
 * Messages name the file, context or field at fault and never include a secret.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The configuration itself is unusable: a missing or malformed kubeconfig, an unknown context,
 * an unreadable certificate file, a refused `http://` server, an exec plugin that may not run here
 * (`allowExec`, or `interactiveMode: Always` without a terminal). Raised when a layer is built.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String,
  /** The file, context or field at fault, e.g. `~/.kube/config: contexts[prod]`. */
  source: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {}

/**
 * Credentials could not be obtained while running: an exec plugin failed or timed out, a token file
 * vanished, an OIDC refresh was refused. The next request tries again.
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthError extends Schema.TaggedError<AuthError>()("AuthError", {
  message: Schema.String,
  source: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {}
