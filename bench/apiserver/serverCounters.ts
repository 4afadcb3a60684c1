/**
 * The API server's own count of the requests it served, from kube-apiserver's `/metrics`: `apiserver_request_total`
 * by verb and resource, and `apiserver_longrunning_requests` (watches open now). Read around each phase, the
 * difference is what every client made in it, whatever its language or its own bookkeeping; the harness takes its
 * own requests out (`minusByResource` with what `requests.ts` counted in this process).
 *
 * Gotcha: the server counts a request when it completes, and a watch completes when it closes. The watches
 * started in a phase are therefore those completed in it plus the change in the number open
 * (started = completed + open at the end − open at the start).
 *
 * @since 0.1.0
 */
import { Envtest } from "@kubefx/envtest"
import { Effect } from "effect"
import { type Counts, type ResourceCounts, zeroCounts } from "./requests.ts"

/**
 * The resources of the workload: what the operators read and write.
 *
 * @since 0.1.0
 * @category constants
 */
export const workloadResources: ReadonlyArray<string> = ["echoservers", "deployments", "services"]

/**
 * The server's counters at one moment: requests by resource and verb (watches: started so far, in the sense of
 * the module comment), resource `""` for non-resource paths (discovery, `/metrics`, health).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerCounters {
  readonly byResource: ResourceCounts
}

/** kubefx's verb for the server's (`APPLY` is server-side apply; status writes are their own verbs). */
const verbOf = (verb: string, subresource: string): keyof Counts | undefined => {
  const status = subresource === "status"
  switch (verb) {
    case "GET":
      return "get"
    case "LIST":
      return "list"
    case "WATCH":
    case "WATCHLIST":
      return "watch"
    case "POST":
      return "create"
    case "PUT":
      return status ? "updateStatus" : "update"
    case "PATCH":
    case "APPLY":
      return status ? "patchStatus" : verb === "APPLY" ? "apply" : "patch"
    case "DELETE":
    case "DELETECOLLECTION":
      return "delete"
    default:
      return undefined
  }
}

const sample = /^(\w+)\{([^}]*)\}\s+(\S+)/
const label = /(\w+)="((?:[^"\\]|\\.)*)"/g

/**
 * The counters in a `/metrics` text.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseServerCounters = (text: string): ServerCounters => {
  const byResource: ResourceCounts = {}
  for (const line of text.split("\n")) {
    const m = sample.exec(line)
    if (m === null || (m[1] !== "apiserver_request_total" && m[1] !== "apiserver_longrunning_requests")) continue
    const labels = Object.fromEntries([...m[2]!.matchAll(label)].map((l) => [l[1]!, l[2]!]))
    // The gauge holds every long-running request; only the open watches complete the count of watches.
    if (m[1] === "apiserver_longrunning_requests" && labels["verb"] !== "WATCH" && labels["verb"] !== "WATCHLIST") continue
    const verb = verbOf(labels["verb"] ?? "", labels["subresource"] ?? "")
    if (verb === undefined) continue
    const counts = (byResource[labels["resource"] ?? ""] ??= zeroCounts())
    counts[verb] += Number(m[3])
  }
  return { byResource }
}

/**
 * The server's counters now (as the admin; the request itself is a non-resource `GET /metrics`).
 *
 * @since 0.1.0
 * @category sampling
 */
export const readServerCounters = (env: Envtest.Envtest) =>
  Effect.gen(function*() {
    const res = yield* Envtest.request(env, { path: "/metrics" })
    if (res.status !== 200 || typeof res.body !== "string") return yield* Effect.die(new Error(`GET /metrics answered ${res.status}`))
    return parseServerCounters(res.body)
  }).pipe(Effect.orDie)
