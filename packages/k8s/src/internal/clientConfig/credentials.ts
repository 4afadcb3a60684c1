/**
 * Where a configuration's credentials come from: the one authentication method the options name (token,
 * token file, basic, exec plugin, OIDC, or credentials given in code), a static client certificate, and
 * impersonation headers on top.
 *
 * @internal
 */
import type * as NodeHttpClientModule from "@effect/platform-node/NodeHttpClient"
import { type Duration, Effect, type FileSystem, Redacted, type Scope } from "effect"
import { HttpClient } from "effect/http"
import type { ChildProcessSpawner } from "effect/process"
import type { AuthError, ConfigError } from "../../ClientConfigError.ts"
import * as ExecCredential from "../../ExecCredential.ts"
import * as Oidc from "../../Oidc.ts"
import * as TokenFile from "../../TokenFile.ts"
import { configError, pem } from "./checks.ts"
import type { Auth, Credentials, Impersonation, Labels } from "./model.ts"

/** What the auth sources need from the platform: files (token files, PEM) and processes (exec plugins). */
type Platform = FileSystem.FileSystem | ChildProcessSpawner.ChildProcessSpawner

/**
 * A header name allows fewer characters than an extra key: percent-escape all but the unreserved ones,
 * as client-go does; the API server unescapes.
 */
const escapeExtraKey = (key: string) =>
  Array.from(new TextEncoder().encode(key), (byte) =>
    /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) && byte < 0x80
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")

const impersonationHeaders = (
  impersonate: Impersonation | undefined,
  label: string
): Effect.Effect<Pick<Credentials, "headers" | "multiHeaders">, ConfigError> => {
  if (impersonate === undefined) return Effect.succeed({ headers: {} })
  if (impersonate.user === "") {
    return Effect.fail(configError(`${label}: uid, groups or extra need a user to impersonate`, label))
  }
  const headers: Record<string, Redacted.Redacted<string>> = { "Impersonate-User": Redacted.make(impersonate.user) }
  if (impersonate.uid !== undefined && impersonate.uid !== "") headers["Impersonate-Uid"] = Redacted.make(impersonate.uid)
  const multi: Record<string, ReadonlyArray<string>> = {}
  if (impersonate.groups !== undefined && impersonate.groups.length > 0) multi["Impersonate-Group"] = impersonate.groups
  for (const [key, values] of Object.entries(impersonate.extra ?? {})) {
    if (values.length > 0) multi[`Impersonate-Extra-${escapeExtraKey(key)}`] = values
  }
  return Effect.succeed(Object.keys(multi).length > 0 ? { headers, multiHeaders: multi } : { headers })
}

const bearer = (token: Redacted.Redacted<string>) => Redacted.make(`Bearer ${Redacted.value(token)}`)

/**
 * Node's HTTP client for the OIDC token endpoint, loaded only when a configuration uses OIDC: importing it
 * (and undici under it) costs about 9 MiB of RSS in every operator process, and most never refresh an id-token.
 */
const loadNodeHttpClient: Effect.Effect<typeof NodeHttpClientModule> = Effect.promise(() =>
  import("@effect/platform-node/NodeHttpClient")
)

/** A part of the credentials that may change, with a forced refresh. */
interface Dynamic {
  readonly get: Effect.Effect<Partial<Credentials>, AuthError>
  readonly refresh: Effect.Effect<Partial<Credentials>, AuthError>
}

const staticPart = (part: Partial<Credentials>): Dynamic => ({ get: Effect.succeed(part), refresh: Effect.succeed(part) })

/** How the auth sources run: when a token file is read again, and how an exec plugin is run. */
export interface AuthContext {
  readonly tokenFileMaxAge: Duration.Duration
  readonly exec: Omit<ExecCredential.RunOptions, "source">
  /**
   * Agents for the OIDC issuer's HTTP client (the API's proxy settings, the issuer's CA); Node's defaults
   * when absent.
   */
  readonly httpAgents?: (
    ca: string | undefined
  ) => Effect.Effect<NodeHttpClientModule.HttpAgent["Service"], never, Scope.Scope>
}

/** The credentials source the auth options describe (without impersonation and static client certs). */
const authSource = (
  auth: Auth,
  labels: Labels,
  common: AuthContext
): Effect.Effect<Dynamic, ConfigError, Platform | Scope.Scope> =>
  Effect.gen(function*() {
    const methods = [
      auth.token !== undefined || (auth.tokenFile !== undefined && auth.tokenFile !== "") ? "token" : undefined,
      auth.username !== undefined || auth.password !== undefined ? "basic (username/password)" : undefined,
      auth.exec !== undefined ? "exec" : undefined,
      auth.oidc !== undefined ? "auth-provider (oidc)" : undefined,
      auth.credentials !== undefined ? "credentials" : undefined
    ].filter((method) => method !== undefined)
    if (methods.length > 1) {
      return yield* configError(
        `${labels.user}: more than one authentication method (${methods.join(", ")}); keep one`,
        labels.user
      )
    }
    if (auth.tokenFile !== undefined && auth.tokenFile !== "") {
      const file = yield* TokenFile.make(auth.tokenFile, { field: labels.tokenFile, maxAge: common.tokenFileMaxAge })
      const part = (token: Redacted.Redacted<string>) => ({ headers: { Authorization: bearer(token) } })
      return { get: Effect.map(file.get, part), refresh: Effect.map(file.refresh, part) }
    }
    if (auth.token !== undefined) return staticPart({ headers: { Authorization: bearer(auth.token) } })
    if (auth.username !== undefined || auth.password !== undefined) {
      if (auth.username === undefined || auth.username === "") {
        return yield* configError(`${labels.user}: a password needs a username`, labels.user)
      }
      const pair = `${auth.username}:${auth.password === undefined ? "" : Redacted.value(auth.password)}`
      return staticPart({
        headers: { Authorization: Redacted.make(`Basic ${Buffer.from(pair, "utf8").toString("base64")}`) }
      })
    }
    if (auth.exec !== undefined) {
      const plugin = yield* ExecCredential.make(auth.exec, { ...common.exec, source: labels.exec })
      const part = (issued: ExecCredential.Issued): Partial<Credentials> => ({
        headers: issued.token !== undefined ? { Authorization: bearer(issued.token) } : {},
        ...(issued.clientCertificate !== undefined ? { clientCertificate: issued.clientCertificate } : {})
      })
      return { get: Effect.map(plugin.get, part), refresh: Effect.map(plugin.refresh, part) }
    }
    if (auth.oidc !== undefined) {
      const oidc = auth.oidc
      const NodeHttpClient = yield* loadNodeHttpClient
      const agent = common.httpAgents !== undefined
        ? yield* common.httpAgents(oidc.ca)
        : yield* NodeHttpClient.makeAgent(oidc.ca !== undefined ? { ca: oidc.ca } : {})
      const client = yield* NodeHttpClient.makeNodeHttp.pipe(Effect.provideService(NodeHttpClient.HttpAgent, agent))
      const provider = yield* Oidc.make(oidc, { source: labels.oidc }).pipe(
        Effect.provideService(HttpClient.HttpClient, client)
      )
      const part = (token: Redacted.Redacted<string>) => ({ headers: { Authorization: bearer(token) } })
      return { get: Effect.map(provider.get, part), refresh: Effect.map(provider.refresh, part) }
    }
    if (auth.credentials !== undefined) return { get: auth.credentials, refresh: auth.credentials }
    return staticPart({ headers: {} })
  })

/** A client certificate and its key, from PEM text or files; one without the other is refused. */
const clientCertificateOf = (
  auth: Auth,
  labels: Labels
): Effect.Effect<Credentials["clientCertificate"], ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const cert = yield* pem(
      auth.clientCertificate,
      auth.clientCertificateFile,
      { inline: labels.clientCertificate, file: labels.clientCertificateFile },
      "client certificate"
    )
    const key = yield* pem(
      auth.clientKey === undefined ? undefined : Redacted.value(auth.clientKey),
      auth.clientKeyFile,
      { inline: labels.clientKey, file: labels.clientKeyFile },
      "client key"
    )
    if ((cert === undefined) !== (key === undefined)) {
      const label = cert === undefined ? labels.clientCertificate : labels.clientKey
      return yield* configError(`${label}: a client certificate needs its key and a key its certificate`, label)
    }
    return cert !== undefined && key !== undefined ? { cert, key: Redacted.make(key) } : undefined
  })

/**
 * The credentials of a configuration, current and refreshed: those of the auth method, with the static client
 * certificate unless the method issues its own, and the impersonation headers on top of its headers.
 */
export const credentialsOf = (
  auth: Auth,
  impersonate: Impersonation | undefined,
  labels: Labels,
  context: AuthContext
): Effect.Effect<
  { readonly get: Effect.Effect<Credentials, AuthError>; readonly refresh: Effect.Effect<Credentials, AuthError> },
  ConfigError,
  Platform | Scope.Scope
> =>
  Effect.gen(function*() {
    const clientCertificate = yield* clientCertificateOf(auth, labels)
    const impersonation = yield* impersonationHeaders(impersonate, labels.impersonate)
    const dynamic = yield* authSource(auth, labels, context)
    const assemble = (part: Partial<Credentials>): Credentials => {
      const certificate = part.clientCertificate ?? clientCertificate
      const multiHeaders = part.multiHeaders === undefined
        ? impersonation.multiHeaders
        : { ...part.multiHeaders, ...impersonation.multiHeaders }
      return {
        headers: { ...part.headers, ...impersonation.headers },
        ...(multiHeaders !== undefined ? { multiHeaders } : {}),
        ...(certificate !== undefined ? { clientCertificate: certificate } : {})
      }
    }
    return { get: Effect.map(dynamic.get, assemble), refresh: Effect.map(dynamic.refresh, assemble) }
  })
