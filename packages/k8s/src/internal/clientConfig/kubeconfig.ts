/**
 * A kubeconfig context as the `Options` `ClientConfig.make` takes: kubeconfig field names and data
 * encodings on one side, options on the other.
 *
 * @internal
 */
import { Effect, FileSystem, Redacted } from "effect"
import { ConfigError } from "../../ClientConfigError.ts"
import * as Kubeconfig from "../../Kubeconfig.ts"
import * as Oidc from "../../Oidc.ts"
import { readText } from "../files.ts"
import { configError, decodeBase64, nonEmpty } from "./checks.ts"
import * as ExecPolicy from "./execPolicy.ts"
import { writeBack } from "./persist.ts"
import type { Auth, KubeconfigOptions, Resolved } from "./model.ts"

/**
 * Turns the selected kubeconfig context into `Options`, with labels that point into the kubeconfig.
 * File references and exec plugins are checked against what the origin permits.
 */
export const fromSelected = (
  selected: Kubeconfig.Selected,
  options: KubeconfigOptions,
  source: string
): Effect.Effect<Resolved, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { cluster, user } = selected
    const c = cluster.value
    const u = user?.value ?? {}
    const cf = (field: string) => Kubeconfig.fieldOf(cluster, "clusters", field)
    const uf = (field: string) => (user === undefined ? field : Kubeconfig.fieldOf(user, "users", field))
    const untrusted = options.untrusted === true
    const refuse = (label: string, message: string) =>
      Effect.fail(new ConfigError({ message, source: label, reason: { _tag: "UntrustedField", field: label } }))
    const fileRef = <E extends Kubeconfig.Entry<unknown>>(entry: E | undefined, path: string | undefined, label: string) =>
      path === undefined || path === "" || entry === undefined
        ? Effect.succeed(nonEmpty(path))
        : untrusted
        ? refuse(
          label,
          `${label}: an untrusted kubeconfig may not refer to local files (${path}): ` +
            "it could have them sent to a server it names; use the inline -data field instead"
        )
        : entry.origin.dir === undefined
        ? refuse(label, `${label}: kubeconfig data may not refer to files (${path}); pass baseDir to permit file references`)
        : Effect.succeed(nonEmpty(path))

    const caData = nonEmpty(c["certificate-authority-data"])
    const certData = nonEmpty(u["client-certificate-data"])
    const keyData = u["client-key-data"] === undefined ? undefined : nonEmpty(Redacted.value(u["client-key-data"]))

    const exec = u.exec === undefined || user === undefined
      ? u.exec
      : yield* ExecPolicy.authorize(u.exec, yield* ExecPolicy.decide(options, user.origin.isFile, uf("exec")), uf("exec"))
    const proxyUrl = c["proxy-url"] === undefined ? undefined : nonEmpty(Redacted.value(c["proxy-url"]))
    if (untrusted && proxyUrl !== undefined) {
      return yield* refuse(
        cf("proxy-url"),
        `${cf("proxy-url")}: an untrusted kubeconfig may not set a proxy (its requests and credentials would go there)`
      )
    }

    let oidc: Oidc.OidcConfig | undefined
    const provider = u["auth-provider"]
    if (provider !== undefined) {
      if (provider.name !== "oidc") {
        return yield* configError(
          `${uf("auth-provider")}: auth-provider "${provider.name}" is not supported; ` +
            "use its exec plugin instead (gcp: gke-gcloud-auth-plugin, azure: kubelogin)",
          uf("auth-provider")
        )
      }
      oidc = yield* Oidc.fromAuthProviderConfig(provider.config ?? {}, uf("auth-provider"), (path) =>
        Effect.flatMap(
          fileRef(user, path, uf("auth-provider.config.idp-certificate-authority")),
          (checked) =>
            readText(checked ?? path).pipe(
              Effect.mapError((message) =>
                configError(
                  `${uf("auth-provider.config.idp-certificate-authority")}: ${message}`,
                  uf("auth-provider.config.idp-certificate-authority")
                )
              )
            )
        ))
      const file = user?.origin.path
      if (user !== undefined && file !== undefined && !untrusted) {
        const fs = yield* FileSystem.FileSystem
        const name = user.name
        const label = uf("auth-provider")
        oidc = {
          ...oidc,
          onRefresh: (tokens) =>
            writeBack(file, name, {
              "id-token": Redacted.value(tokens.idToken),
              "refresh-token": Redacted.value(tokens.refreshToken)
            }).pipe(
              Effect.provideService(FileSystem.FileSystem, fs),
              Effect.catch((reason) =>
                Effect.logWarning(
                  `${label}: the refreshed OIDC tokens could not be written back to ${file} (${reason}); ` +
                    "they are used from memory, but a restart will present the old refresh token, " +
                    "which a provider that rotates refresh tokens may refuse"
                )
              )
            )
        }
      }
    }

    const as = nonEmpty(u.as)
    const groups = u["as-groups"] ?? []
    const extra = u["as-user-extra"] ?? {}
    const uid = nonEmpty(u["as-uid"])
    if (as === undefined && (uid !== undefined || groups.length > 0 || Object.keys(extra).length > 0)) {
      return yield* configError(`${uf("as")}: as-uid, as-groups or as-user-extra need "as" (the user to impersonate)`, uf("as"))
    }

    const auth: Auth = {
      token: u.token !== undefined && Redacted.value(u.token) !== "" ? u.token : undefined,
      tokenFile: yield* fileRef(user, u.tokenFile, uf("tokenFile")),
      username: nonEmpty(u.username),
      password: u.password,
      clientCertificate: certData === undefined ? undefined : yield* decodeBase64(certData, uf("client-certificate-data")),
      clientCertificateFile: certData === undefined
        ? yield* fileRef(user, u["client-certificate"], uf("client-certificate"))
        : undefined,
      clientKey: keyData === undefined ? undefined : Redacted.make(yield* decodeBase64(keyData, uf("client-key-data"))),
      clientKeyFile: keyData === undefined ? yield* fileRef(user, u["client-key"], uf("client-key")) : undefined,
      exec,
      oidc
    }
    const extension = c.extensions?.find((named) => named.name === "client.authentication.k8s.io/exec")?.extension
    return {
      options: {
        userAgent: options.userAgent ?? options.operatorName ?? "",
        server: c.server ?? "",
        ca: caData === undefined ? undefined : yield* decodeBase64(caData, cf("certificate-authority-data")),
        caFile: caData === undefined ? yield* fileRef(cluster, c["certificate-authority"], cf("certificate-authority")) : undefined,
        tlsServerName: nonEmpty(c["tls-server-name"]),
        insecureSkipTlsVerify: c["insecure-skip-tls-verify"] === true,
        proxyUrl,
        namespace: nonEmpty(options.namespace) ?? selected.namespace,
        timeout: options.timeout,
        allowInsecureHttp: options.allowInsecureHttp,
        execTimeout: options.execTimeout,
        stdinIsTerminal: options.stdinIsTerminal,
        tokenFileMaxAge: options.tokenFileMaxAge,
        auth,
        impersonate: as === undefined ? undefined : { user: as, uid, groups, extra },
        source
      },
      labels: {
        server: cf("server"),
        ca: cf("certificate-authority-data"),
        caFile: cf("certificate-authority"),
        insecureSkipTlsVerify: cf("insecure-skip-tls-verify"),
        proxyUrl: cf("proxy-url"),
        user: user === undefined ? source : Kubeconfig.locate(user, "users"),
        tokenFile: uf("tokenFile"),
        clientCertificate: uf("client-certificate-data"),
        clientCertificateFile: uf("client-certificate"),
        clientKey: uf("client-key-data"),
        clientKeyFile: uf("client-key"),
        exec: uf("exec"),
        oidc: uf("auth-provider"),
        impersonate: uf("as")
      },
      extras: extension === undefined ? {} : { execClusterConfig: extension }
    }
  })
