/**
 * A child type an operator may own, and how kubefx brings an existing child in line with the desired one.
 *
 * @since 0.1.0
 */
import type { KubeObject, ResourceType } from "./Resource.ts"

/**
 * How an existing child that differs from the desired one is updated.
 *
 * - `apply`: server-side apply as the operator's field manager (default). Fields other writers own are left
 *   alone; fields the operator stops declaring are removed.
 * - `replace`: PUT the desired object over the current one. Other writers' changes are overwritten.
 * - `recreate`: delete the child, then create it again (for objects with immutable fields, like Jobs).
 * - `onDelete`: never update an existing child; it is recreated only after someone deletes it.
 *
 * @since 0.1.0
 * @category models
 */
export type UpdatePolicy = "apply" | "replace" | "recreate" | "onDelete"

/**
 * @since 0.1.0
 * @category models
 */
export interface ChildConfig<A extends KubeObject = KubeObject> {
  readonly type: ResourceType<A>
  readonly update: UpdatePolicy
}

/**
 * Declares a child type.
 *
 * @example
 * ```ts
 * const children = [Child.of(Builtin.Deployment), Child.of(Builtin.Job, { update: "recreate" })]
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const of = <A extends KubeObject>(
  type: ResourceType<A>,
  options?: { readonly update?: UpdatePolicy }
): ChildConfig<A> => ({ type, update: options?.update ?? "apply" })
