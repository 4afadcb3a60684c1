/**
 * The workload every benchmark measures: `EchoServer` parents of the example operator (`examples/echo-server`),
 * each of which gets a Deployment, a Service and a status.
 *
 * @since 0.1.0
 */
import type { Resource } from "@kubefx/core"
import { EchoServer } from "../../examples/echo-server/src/EchoServer.ts"

/**
 * The namespace of every parent and child.
 *
 * @since 0.1.0
 * @category constants
 */
export const namespace = "default"

/**
 * Parent `i` (`echo-<i>`), the same in every measurement; `message` is its spec's text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parentObject = (i: number, message = `hello ${i}`): Resource.KubeObject => ({
  apiVersion: EchoServer.apiVersion,
  kind: EchoServer.kind,
  metadata: { name: `echo-${i}`, namespace },
  spec: { message, replicas: 1 }
})
