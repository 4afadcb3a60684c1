/**
 * What `npm start` should do, decided from the command line and the environment: the fake-cluster demo
 * (the default), or the operator against a real cluster when a kubeconfig or the in-cluster service
 * account is asked for. Pure, so every combination is tested without starting anything.
 */
import { parseArgs } from "node:util"

/** The embedded fake cluster with the scripted demo. */
export interface Demo {
  readonly _tag: "Demo"
  /** Exit 0 once the demo has converged instead of running until interrupted. */
  readonly exitWhenSettled: boolean
}

/** A real cluster, until SIGINT/SIGTERM. */
export interface Live {
  readonly _tag: "Live"
  /** `kubeconfig`: `kubeconfigPath`, else the files in `KUBECONFIG`; `in-cluster`: the pod's service account. */
  readonly source: "kubeconfig" | "in-cluster"
  readonly kubeconfigPath?: string
  readonly context?: string
  /** Watch only this namespace; all namespaces when absent. */
  readonly namespace?: string
}

/** Print the usage and exit 0. */
export interface Help {
  readonly _tag: "Help"
}

/** The command line is wrong; `message` says how. */
export interface Invalid {
  readonly _tag: "Invalid"
  readonly message: string
}

export type Mode = Demo | Live | Help | Invalid

export const usage = `Usage: npm start -- [options]

Without a cluster option, runs the operator against an embedded fake cluster with a scripted demo.

Options:
  --exit-when-settled    demo only: exit 0 once the demo has converged
  --kubeconfig <path>    run against the cluster of this kubeconfig (also: when KUBECONFIG is set)
  --context <name>       the kubeconfig context to use (default: its current-context)
  --in-cluster           run against the cluster this pod runs in (its service account)
  --namespace <ns>       watch EchoServers in this namespace only (default: all namespaces)
  -h, --help             show this help

Against a real cluster the operator runs until SIGINT or SIGTERM and then exits 0.
Install the CRD and RBAC first: kubectl apply -f deploy/crd.yaml -f deploy/rbac.yaml
`

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

const invalid = (message: string): Invalid => ({ _tag: "Invalid", message })

/** The flags, or the message of what is wrong with them. */
const read = (argv: ReadonlyArray<string>) => {
  try {
    return parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        "exit-when-settled": { type: "boolean" },
        kubeconfig: { type: "string" },
        context: { type: "string" },
        "in-cluster": { type: "boolean" },
        namespace: { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    }).values
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

/** Decides the mode from the arguments after `main.ts` and the environment (`KUBECONFIG`). */
export const parse = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): Mode => {
  const values = read(argv)
  if (typeof values === "string") return invalid(values)
  if (values.help === true) return { _tag: "Help" }
  const inCluster = values["in-cluster"] === true
  const kubeconfigPath = values.kubeconfig
  if (kubeconfigPath === "") return invalid("--kubeconfig needs a path")
  if (inCluster && kubeconfigPath !== undefined) return invalid("--in-cluster and --kubeconfig exclude each other")
  if (inCluster && values.context !== undefined) return invalid("--context applies to a kubeconfig, not to --in-cluster")
  const namespace = values.namespace
  if (namespace !== undefined && (!DNS_LABEL.test(namespace) || namespace.length > 63)) {
    return invalid(`--namespace ${JSON.stringify(namespace)} is not a namespace name (a DNS label: a-z, 0-9, '-')`)
  }
  const fromEnv = (env["KUBECONFIG"] ?? "") !== ""
  if (!inCluster && kubeconfigPath === undefined && !fromEnv) {
    if (values.context !== undefined) return invalid("--context needs a kubeconfig (--kubeconfig or KUBECONFIG)")
    if (namespace !== undefined) {
      return invalid("--namespace applies to a real cluster; the demo runs in namespace default (add --kubeconfig or --in-cluster)")
    }
    return { _tag: "Demo", exitWhenSettled: values["exit-when-settled"] === true }
  }
  if (values["exit-when-settled"] === true) return invalid("--exit-when-settled applies to the demo only, not to a real cluster")
  return {
    _tag: "Live",
    source: inCluster ? "in-cluster" : "kubeconfig",
    ...(kubeconfigPath === undefined ? {} : { kubeconfigPath }),
    ...(values.context === undefined ? {} : { context: values.context }),
    ...(namespace === undefined ? {} : { namespace })
  }
}
