/**
 * The parent type: an `EchoServer` custom resource. Its CRD is generated from these Schemas.
 */
import { Resource } from "@kubefx/core"
import { Schema } from "effect"

export const EchoServerSpec = Schema.Struct({
  message: Schema.String.annotate({ description: "The text every request is answered with." }),
  replicas: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 })).annotate({ description: "Pods to run (default 1)." })
  )
})
export type EchoServerSpec = typeof EchoServerSpec.Type

export const EchoServerStatus = Schema.Struct({
  ready: Schema.optionalKey(Schema.Boolean.annotate({ description: "Every replica is available." })),
  availableReplicas: Schema.optionalKey(Schema.Int),
  url: Schema.optionalKey(Schema.String.annotate({ description: "In-cluster URL of the echo service." })),
  conditions: Schema.optionalKey(Schema.Array(Resource.Condition))
})
export type EchoServerStatus = typeof EchoServerStatus.Type

export const EchoServer = Resource.custom({
  group: "example.kubefx.io",
  version: "v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  shortNames: ["echo"],
  spec: EchoServerSpec,
  status: EchoServerStatus,
  description: "An HTTP server that answers every request with spec.message.",
  printerColumns: [
    { name: "Message", type: "string", jsonPath: ".spec.message" },
    { name: "Ready", type: "boolean", jsonPath: ".status.ready" }
  ]
})
