/**
 * The option model of `ClientConfig`: what each constructor takes, the `Credentials` a configuration
 * produces per request, and the labels that name option fields in messages (so that a problem in a
 * kubeconfig names the kubeconfig field, not the option it became).
 *
 * @internal
 */
import type { Duration, Effect, Redacted } from "effect"
import type { AuthError } from "../../ClientConfigError.ts"
import type * as ExecCredential from "../../ExecCredential.ts"
import type * as InCluster from "../../InCluster.ts"
import type * as Oidc from "../../Oidc.ts"

/**
 * Credentials for one request. They may change over time (rotated token files, exec plugins,
 * OIDC refresh), so the live layer asks for them per request; implementations cache.
 */
export interface Credentials {
  /** Headers to add: `Authorization`, `Impersonate-User`, `Impersonate-Uid`. Values are secret. */
  readonly headers: Readonly<Record<string, Redacted.Redacted<string>>>
  /**
   * Headers sent once per value, as separate header lines: `Impersonate-Group` and
   * `Impersonate-Extra-<key>`. The API server reads each line as one value, so they must not be
   * joined with commas. Not secret. Absent when there are none.
   */
  readonly multiHeaders?: Readonly<Record<string, ReadonlyArray<string>>>
  /** A client certificate (PEM) from the kubeconfig or an exec plugin. */
  readonly clientCertificate?: {
    readonly cert: string
    readonly key: Redacted.Redacted<string>
  }
}

/**
 * Who is calling. The user agent is required; it defaults to the operator's name, so the API
 * server's logs show which operator made a request.
 */
export type Identity =
  | { readonly userAgent: string; readonly operatorName?: string | undefined }
  | { readonly operatorName: string; readonly userAgent?: string | undefined }

/** Options every constructor takes. */
export interface CommonOptions {
  /** Overrides the namespace of the context or service account. */
  readonly namespace?: string | undefined
  /** Timeout of a non-watch request; default 60 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** Permit an `http://` server. Off by default: credentials would cross the network in clear text. */
  readonly allowInsecureHttp?: boolean | undefined
  /** How long a non-interactive exec plugin may run; default 60 seconds. */
  readonly execTimeout?: Duration.Input | undefined
  /** Whether standard input is a terminal an exec plugin may prompt on; default `tty.isatty(0)`. */
  readonly stdinIsTerminal?: boolean | undefined
  /** How long a token read from a file is used before the file is read again; default 1 minute. */
  readonly tokenFileMaxAge?: Duration.Input | undefined
}

/**
 * How to authenticate, as in a kubeconfig user. At most one of: `token`/`tokenFile`,
 * `username`/`password`, `exec`, `oidc`, `credentials`. A client certificate may accompany any.
 */
export interface Auth {
  readonly token?: Redacted.Redacted<string> | undefined
  /** Read now and again every `tokenFileMaxAge`; takes precedence over `token`, as in client-go. */
  readonly tokenFile?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** PEM, or `clientCertificateFile`. */
  readonly clientCertificate?: string | undefined
  readonly clientCertificateFile?: string | undefined
  /** PEM, or `clientKeyFile`. */
  readonly clientKey?: Redacted.Redacted<string> | undefined
  readonly clientKeyFile?: string | undefined
  readonly exec?: ExecCredential.ExecConfig | undefined
  readonly oidc?: Oidc.OidcConfig | undefined
  /** Any other source of credentials (Roperator's "header" credentials); impersonation is added on top. */
  readonly credentials?: Effect.Effect<Credentials, AuthError> | undefined
}

/** Act as another user (`kubectl --as`): sent as `Impersonate-*` headers. */
export interface Impersonation {
  readonly user: string
  readonly uid?: string | undefined
  readonly groups?: ReadonlyArray<string> | undefined
  readonly extra?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
}

/** A configuration spelled out in code. */
export type Options = Identity & CommonOptions & {
  /** `https://host:port`; `host:port` means https. */
  readonly server: string
  /** PEM of the CAs to trust, or `caFile`; neither means the system roots. */
  readonly ca?: string | undefined
  readonly caFile?: string | undefined
  readonly tlsServerName?: string | undefined
  /** Do not verify the server certificate. Refused together with a CA, as kubectl refuses it. */
  readonly insecureSkipTlsVerify?: boolean | undefined
  /** `http`, `https` or `socks5` proxy. */
  readonly proxyUrl?: string | undefined
  readonly auth?: Auth | undefined
  readonly impersonate?: Impersonation | undefined
  /** Shown in messages; default `ClientConfig options`. */
  readonly source?: string | undefined
}

/** Where to find a kubeconfig and what to take from it. */
export type KubeconfigOptions = Identity & CommonOptions & {
  /** Files to read and merge instead of `KUBECONFIG` or `~/.kube/config`; each must exist. */
  readonly paths?: ReadonlyArray<string> | undefined
  /**
   * A kubeconfig given as data (YAML/JSON text or a parsed object) instead of files. Such a config
   * runs no exec plugin unless `allowExec: true`, and refers to no file unless `baseDir` is given.
   */
  readonly kubeconfig?: string | object | undefined
  /** Resolves the relative paths of `kubeconfig` data and permits its file references. */
  readonly baseDir?: string | undefined
  /** The context to use; default the `current-context`. */
  readonly context?: string | undefined
  /**
   * Which exec plugins named in the kubeconfig may run (`AllowAll`, `DenyAll` or an allowlist; see
   * `ExecCredential.Policy`). Default: `KUBEFX_EXEC_PLUGIN_POLICY` / `KUBEFX_EXEC_PLUGIN_ALLOWLIST` when
   * set, else `AllowAll`, for the user's own files; `DenyAll` for `kubeconfig` data and `untrusted`
   * configs. A kubeconfig from elsewhere can run any command it names.
   */
  readonly execPolicy?: ExecCredential.Policy | undefined
  /** Shorthand: `true` is `execPolicy: "AllowAll"`, `false` is `"DenyAll"`. Not together with `execPolicy`. */
  readonly allowExec?: boolean | undefined
  /**
   * The kubeconfig comes from someone else (a Secret, a user's request, as multi-cluster operators get
   * them): it runs no exec plugin (unless `execPolicy` allows it), and may not name a local file
   * (`tokenFile`, certificate, key and CA paths) or a `proxy-url`, so that it cannot make this process
   * send the pod's service-account token, or any file, to a server of its choosing. Inline data
   * (`token`, `*-data` fields) is fine. Default false.
   */
  readonly untrusted?: boolean | undefined
}

/** Where the service account is mounted; see `InCluster.Paths`. */
export type InClusterOptions = Identity & CommonOptions & InCluster.Paths

/** Options of `ClientConfig.layerFromEnvironment`: those of both sources. */
export type EnvironmentOptions = KubeconfigOptions & InCluster.Paths

/** Labels of the fields of `Options` in messages, so kubeconfig problems name kubeconfig fields. */
export interface Labels {
  readonly server: string
  readonly ca: string
  readonly caFile: string
  readonly insecureSkipTlsVerify: string
  readonly proxyUrl: string
  readonly user: string
  readonly tokenFile: string
  readonly clientCertificate: string
  readonly clientCertificateFile: string
  readonly clientKey: string
  readonly clientKeyFile: string
  readonly exec: string
  readonly oidc: string
  readonly impersonate: string
}

/** The labels of options given in code (`ClientConfig.make`): their own names. */
export const optionLabels: Labels = {
  server: "server",
  ca: "ca",
  caFile: "caFile",
  insecureSkipTlsVerify: "insecureSkipTlsVerify",
  proxyUrl: "proxyUrl",
  user: "auth",
  tokenFile: "auth.tokenFile",
  clientCertificate: "auth.clientCertificate",
  clientCertificateFile: "auth.clientCertificateFile",
  clientKey: "auth.clientKey",
  clientKeyFile: "auth.clientKeyFile",
  exec: "auth.exec",
  oidc: "auth.oidc",
  impersonate: "impersonate"
}

/** What a kubeconfig knows beyond `Options`. */
export interface Extras {
  /** The cluster's `client.authentication.k8s.io/exec` extension, for `provideClusterInfo`. */
  readonly execClusterConfig?: unknown
}

/**
 * `Options` taken from a source (a kubeconfig context, the mounted service account), with the labels that
 * name where each came from, for `build`.
 */
export interface Resolved {
  readonly options: Options
  readonly labels: Labels
  readonly extras: Extras
}
