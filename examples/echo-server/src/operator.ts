/**
 * The echo-server operator: for each EchoServer, a Deployment running an HTTP echo server and a Service in
 * front of it; status reports readiness from the Deployment; `finalize` removes the directory entry.
 */
import { Builtin, Child, type Handler, Operator } from "@kubefx/core"
import { Effect } from "effect"
import { Directory } from "./Directory.ts"
import { EchoServer, type EchoServerSpec, type EchoServerStatus } from "./EchoServer.ts"

type Request = Handler.SyncRequest<EchoServerSpec, EchoServerStatus>

const labelsFor = (name: string) => ({ "app.kubernetes.io/name": "echo-server", "app.kubernetes.io/instance": name })

export const deploymentFor = (parent: Request["parent"]): Builtin.Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: parent.metadata.name!, labels: labelsFor(parent.metadata.name!) },
  spec: {
    replicas: parent.spec.replicas ?? 1,
    selector: { matchLabels: labelsFor(parent.metadata.name!) },
    template: {
      metadata: { labels: labelsFor(parent.metadata.name!) },
      spec: {
        containers: [{
          name: "echo",
          image: "hashicorp/http-echo:1.0",
          args: [`-text=${parent.spec.message}`, "-listen=:5678"],
          ports: [{ name: "http", containerPort: 5678, protocol: "TCP" }]
        }]
      }
    }
  }
})

export const serviceFor = (parent: Request["parent"]): Builtin.Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: parent.metadata.name!, labels: labelsFor(parent.metadata.name!) },
  spec: {
    selector: labelsFor(parent.metadata.name!),
    ports: [{ name: "http", port: 80, targetPort: 5678, protocol: "TCP" }]
  }
})

export const urlFor = (parent: Request["parent"]) => `http://${parent.metadata.name}.${parent.metadata.namespace}.svc`

/** Desired children and status, from the parent and what the Deployment reports. */
export const sync = (req: Request) =>
  Effect.gen(function*() {
    const directory = yield* Directory
    const deployment = req.children.get(Builtin.Deployment, req.parent.metadata.name!)
    const want = req.parent.spec.replicas ?? 1
    const available = deployment?.status?.availableReplicas ?? 0
    yield* directory.register(`${req.parent.metadata.namespace}/${req.parent.metadata.name}`, urlFor(req.parent))
    const ready = available >= want
    return {
      status: {
        ready,
        availableReplicas: available,
        url: urlFor(req.parent),
        // kubefx fills in Ready itself when a handler does not; this one knows better: ready means serving.
        conditions: [{
          type: "Ready",
          status: ready ? "True" : "False",
          reason: ready ? "Available" : "Progressing",
          message: `${available}/${want} replicas available`
        }]
      },
      children: [deploymentFor(req.parent), serviceFor(req.parent)]
    } satisfies Handler.SyncResponse<EchoServerStatus>
  })

/** External cleanup before the EchoServer goes; its children are garbage-collected by Kubernetes. */
export const finalize = (req: Request) =>
  Effect.gen(function*() {
    const directory = yield* Directory
    yield* directory.unregister(`${req.parent.metadata.namespace}/${req.parent.metadata.name}`)
    return { finalized: true } satisfies Handler.FinalizeResponse<EchoServerStatus>
  })

export const EchoOperator = Operator.make({
  name: "echo-operator",
  parent: EchoServer,
  children: [Child.of(Builtin.Deployment, { update: "apply" }), Child.of(Builtin.Service, { update: "replace" })],
  sync,
  finalize
})
