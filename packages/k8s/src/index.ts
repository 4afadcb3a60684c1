/**
 * @kubefx/k8s: the live Kubernetes side of kubefx (client configuration, the API-server `Cluster`, and
 * manifests generated from definitions).
 *
 * @since 0.1.0
 */
export * as Manifests from "./Manifests.ts"
