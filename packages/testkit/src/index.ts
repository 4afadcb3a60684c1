/**
 * @kubefx/testkit: tools for testing operators, from fakes to a real API server.
 *
 * @since 0.1.0
 */
export * as Envtest from "./Envtest.ts"
export * as EnvtestCluster from "./EnvtestCluster.ts"
export * as FieldSet from "./FieldSet.ts"
export * as Patch from "./Patch.ts"
export * as ServerSideApply from "./ServerSideApply.ts"
export * as TestKit from "./TestKit.ts"
export * as Workloads from "./Workloads.ts"
export * as FakeCluster from "./FakeCluster.ts"
export * as Laws from "./Laws.ts"
