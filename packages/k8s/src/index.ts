/**
 * @kubefx/k8s: the live Kubernetes side of kubefx (client configuration, the API-server `Cluster`, and
 * manifests generated from definitions).
 *
 * @since 0.1.0
 */
export * as Manifests from "./Manifests.ts"
export * as ClientConfig from "./ClientConfig.ts"
export * as ClientConfigError from "./ClientConfigError.ts"
export * as ExecCredential from "./ExecCredential.ts"
export * as InCluster from "./InCluster.ts"
export * as Kubeconfig from "./Kubeconfig.ts"
export * as Oidc from "./Oidc.ts"
export * as TokenFile from "./TokenFile.ts"
export * as Api from "./Api.ts"
export * as Discovery from "./Discovery.ts"
export * as KubeCluster from "./KubeCluster.ts"
