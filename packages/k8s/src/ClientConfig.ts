/**
 * How to reach and authenticate to an API server. Layers build it from the environment, a kubeconfig,
 * the in-cluster service account or plain options; the live `Cluster` layer only consumes it.
 *
 * @since 0.1.0
 */
import { Context, type Duration, type Effect, type Redacted } from "effect"
import type { AuthError } from "./ClientConfigError.ts"

/**
 * Credentials for one request. They may change over time (rotated token files, exec plugins,
 * OIDC refresh), so the live layer asks for them per request; implementations cache.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /** Headers to add: `Authorization`, `Impersonate-*`. Values are secret. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string>>>
  /** A client certificate (PEM) from the kubeconfig or an exec plugin. */
  readonly clientCertificate?: {
    readonly cert: string
    readonly key: Redacted.Redacted<string>
  }
}

/**
 * TLS settings. Verification is on unless the kubeconfig explicitly said `insecure-skip-tls-verify`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfig {
  /** PEM bundle of trusted CAs; undefined means the system roots. */
  readonly ca?: string
  /** Overrides the name checked against the server certificate (`tls-server-name`). */
  readonly serverName?: string
  readonly insecureSkipTlsVerify: boolean
}

/**
 * @since 0.1.0
 * @category services
 */
export class ClientConfig extends Context.Service<ClientConfig, {
  /** Base URL, e.g. `https://10.0.0.1:6443`, without a trailing slash. */
  readonly server: string
  /** The namespace of the context or service account; `default` when none is set. */
  readonly namespace: string
  readonly userAgent: string
  readonly tls: TlsConfig
  readonly proxyUrl?: string
  /** Timeout of a non-watch request. */
  readonly timeout: Duration.Duration
  /** Current credentials; refreshes expired ones. Never logs their values. */
  readonly credentials: Effect.Effect<Credentials, AuthError>
  /** Where this configuration came from, for messages: a kubeconfig path and context, or `in-cluster`. */
  readonly source: string
}>()("@kubefx/k8s/ClientConfig") {}
