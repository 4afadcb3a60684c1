/**
 * Fault injection for the fake's requests: which requests a rule matches, and how an injected
 * failure fails one (a `ClusterError` at once, a timeout as a `Transport` failure after the delay).
 * The rules' public shapes (`Match`, `Fault`) are defined in `FakeCluster.ts`.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { ClusterError, Resource } from "@kubefx/core"
import { Duration, Effect } from "effect"

/** What a rule is matched against: a request without its time. @internal */
export interface RequestTarget {
  readonly verb: Cluster.Verb
  readonly resource: string
  readonly namespace?: string
  readonly name?: string
}

/** Which requests a rule applies to; every field given must match. @internal */
export interface MatchRule {
  readonly verb?: Cluster.Verb
  readonly resource?: string
  readonly namespace?: string
  readonly name?: string
}

/** A failure to inject: an error, or a client-side timeout. @internal */
export type InjectedError = ClusterError.ClusterError | { readonly timeout: Duration.Duration }

/** @internal */
export interface PendingFault {
  readonly match: MatchRule
  readonly error: InjectedError
  readonly when: "before" | "after"
  remaining: number
}

/** @internal */
export const matches = (match: MatchRule, request: RequestTarget) =>
  (match.verb === undefined || match.verb === request.verb) &&
  (match.resource === undefined || match.resource === request.resource) &&
  (match.namespace === undefined || match.namespace === (request.namespace ?? "")) &&
  (match.name === undefined || match.name === (request.name ?? ""))

/** A rule from input that may name its type by descriptor instead of key. @internal */
export const toMatch = (input: MatchRule & { readonly type?: Resource.ResourceType<any> }): MatchRule => ({
  ...(input.verb === undefined ? {} : { verb: input.verb }),
  ...(input.type !== undefined
    ? { resource: Resource.typeKey(input.type) }
    : input.resource === undefined
    ? {}
    : { resource: input.resource }),
  ...(input.namespace === undefined ? {} : { namespace: input.namespace }),
  ...(input.name === undefined ? {} : { name: input.name })
})

/** The namespace and name a request or error names, without empty ones. @internal */
export const target = (namespace: string | undefined, name: string | undefined) => ({
  ...(namespace === undefined || namespace === "" ? {} : { namespace }),
  ...(name === undefined || name === "" ? {} : { name })
})

/** Fails a request with an injected error; a timeout first hangs for its duration (on the Clock). @internal */
export const inject = (error: InjectedError, request: RequestTarget): Effect.Effect<never, ClusterError.ClusterError> => {
  if (!("timeout" in error)) return Effect.fail(error)
  const millis = Duration.toMillis(error.timeout)
  return Effect.sleep(error.timeout).pipe(
    Effect.andThen(Effect.fail(
      new ClusterError.Transport({
        message: `${request.verb} ${request.resource}: the request timed out after ${millis}ms (injected)`,
        resource: request.resource,
        ...target(request.namespace, request.name)
      })
    ))
  )
}
