/**
 * @kubefx/testkit: testing operators in memory: an API server with real semantics, a test runner under
 * `TestClock`, and the operator laws; and a fault-injecting TCP proxy for tests over real sockets. A real
 * API server is `@kubefx/envtest`.
 *
 * @since 0.1.0
 */
export * as FakeCluster from "./FakeCluster.ts"
export * as FaultProxy from "./FaultProxy.ts"
export * as FieldSet from "./FieldSet.ts"
export * as Laws from "./Laws.ts"
export * as Patch from "./Patch.ts"
export * as ServerSideApply from "./ServerSideApply.ts"
export * as TestKit from "./TestKit.ts"
export * as Workloads from "./Workloads.ts"
