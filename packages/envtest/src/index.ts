/**
 * @kubefx/envtest: a real Kubernetes control plane for tests (etcd, kube-apiserver and optionally
 * kube-controller-manager on loopback), and a live `Cluster` layer for it.
 *
 * @since 0.1.0
 */
export * as Envtest from "./Envtest.ts"
export * as EnvtestCluster from "./EnvtestCluster.ts"
