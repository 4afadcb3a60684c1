/**
 * What RBAC and Deployment generation read from an operator definition, and the labels they share.
 *
 * @internal
 */
import type { Child, Resource } from "@kubefx/core"

/**
 * What RBAC and Deployment generation need to know about an operator: a structural subset of core's
 * operator definition, so a full definition can be passed as it is.
 */
export interface OperatorDefinition {
  readonly name: string
  readonly parent: Resource.ResourceType
  readonly children: ReadonlyArray<{ readonly type: Resource.ResourceType; readonly update: Child.UpdatePolicy }>
  /** Where the operator watches; `"all"` (the default) needs cluster-wide roles. */
  readonly namespaces?: ReadonlyArray<string> | "all"
  /** Whether the operator puts a finalizer on its parents. */
  readonly hasFinalizer?: boolean
  /** A definition with a `finalize` handler puts a finalizer on its parents, like `hasFinalizer: true`. */
  readonly finalize?: unknown
}

/** The label every generated object carries, and the Deployment selects its pods by. */
export const labelsOf = (operator: OperatorDefinition) => ({ "app.kubernetes.io/name": operator.name })
