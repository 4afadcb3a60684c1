/**
 * @kubefx/core: the declarative reconcile engine and the `Cluster` port.
 *
 * @since 0.1.0
 */
export * as Builtin from "./Builtin.ts"
export * as Cluster from "./Cluster.ts"
export * as ClusterError from "./ClusterError.ts"
export * as Resource from "./Resource.ts"
export * as WorkQueue from "./WorkQueue.ts"
