/**
 * Why a client configuration could not be built or could not produce credentials.
 * Messages name the file, context or field at fault and never include a secret.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * An exec plugin the credential plugin policy does not allow (kubectl 1.35's `credentialPluginPolicy`).
 * `resolved` is the binary the command resolved to, when the policy is an allowlist.
 *
 * @since 0.1.0
 * @category errors
 */
export const ExecPluginRefused = Schema.TaggedStruct("ExecPluginRefused", {
  command: Schema.String,
  resolved: Schema.optionalKey(Schema.String),
  policy: Schema.Literals(["DenyAll", "Allowlist"])
})

/**
 * A field an untrusted kubeconfig (`untrusted: true`, or data without `baseDir`) may not use: a local
 * file reference (`tokenFile`, certificate and key paths) or a `proxy-url`.
 *
 * @since 0.1.0
 * @category errors
 */
export const UntrustedField = Schema.TaggedStruct("UntrustedField", { field: Schema.String })

/**
 * A kubeconfig whose YAML aliases expand to more nodes than `limit` (the "billion laughs" shape), or
 * refer to themselves (`expandedNodes` absent): no real kubeconfig does either.
 *
 * @since 0.1.0
 * @category errors
 */
export const DocumentTooComplex = Schema.TaggedStruct("DocumentTooComplex", {
  expandedNodes: Schema.optionalKey(Schema.Finite),
  limit: Schema.Finite
})

/**
 * Why a configuration was refused, for the cases a program may want to tell apart; absent for plain
 * mistakes (a missing file, a malformed field).
 *
 * @since 0.1.0
 * @category errors
 */
export const Reason = Schema.Union([ExecPluginRefused, UntrustedField, DocumentTooComplex])

/**
 * @since 0.1.0
 * @category errors
 */
export type Reason = typeof Reason.Type

/**
 * The configuration itself is unusable: a missing or malformed kubeconfig, an unknown context,
 * an unreadable certificate file, a refused `http://` server, an exec plugin that may not run here
 * (the exec policy, or `interactiveMode: Always` without a terminal), a field an untrusted kubeconfig
 * may not use. Raised when a layer is built. `reason` tells the refusals apart (match on its `_tag`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  message: Schema.String,
  /** The file, context or field at fault, e.g. `~/.kube/config: contexts[prod]`. */
  source: Schema.String,
  reason: Schema.optionalKey(Reason),
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
