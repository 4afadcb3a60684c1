/**
 * @kubefx/core: the declarative reconcile engine and the `Cluster` port.
 *
 * @since 0.1.0
 */
export * as Builtin from "./Builtin.ts"
export * as Child from "./Child.ts"
export * as Cluster from "./Cluster.ts"
export * as ClusterError from "./ClusterError.ts"
export * as Controller from "./Controller.ts"
export * as Conditions from "./Conditions.ts"
export * as Handler from "./Handler.ts"
export * as Health from "./Health.ts"
export * as LeaderElection from "./LeaderElection.ts"
export * as Logging from "./Logging.ts"
export * as Operator from "./Operator.ts"
export * as Plan from "./Plan.ts"
export * as Reconciler from "./Reconciler.ts"
export * as Resource from "./Resource.ts"
export * as Store from "./Store.ts"
export * as Trigger from "./Trigger.ts"
export * as Watcher from "./Watcher.ts"
export * as WorkQueue from "./WorkQueue.ts"
