/**
 * The mounted service account as `Options`: its token file (re-read as bound tokens rotate), its CA and
 * namespace, with labels that name where each came from.
 *
 * @internal
 */
import type * as InCluster from "../../InCluster.ts"
import { nonEmpty } from "./checks.ts"
import { type InClusterOptions, optionLabels, type Resolved } from "./model.ts"

/** Turns the loaded service account into `Options`. */
export const fromServiceAccount = (
  account: InCluster.ServiceAccount,
  options: InClusterOptions
): Resolved => ({
  options: {
    userAgent: options.userAgent ?? options.operatorName ?? "",
    server: account.server,
    // By path, not content: the CA file is read again when the kubelet rotates it (see `TlsConfig.caFile`).
    ...(account.ca === undefined ? {} : { caFile: account.caPath }),
    namespace: nonEmpty(options.namespace) ?? account.namespace,
    timeout: options.timeout,
    allowInsecureHttp: options.allowInsecureHttp,
    tokenFileMaxAge: options.tokenFileMaxAge,
    auth: { tokenFile: account.tokenPath },
    source: `in-cluster service account (${account.tokenPath})`
  },
  labels: {
    ...optionLabels,
    server: "KUBERNETES_SERVICE_HOST",
    ca: account.caPath,
    caFile: account.caPath,
    tokenFile: "in-cluster service account token"
  },
  extras: {}
})
