/**
 * A loopback HTTPS stand-in for kube-apiserver's answers, for `bench/client.ts`, in a process of its own so that
 * its CPU is not the client's: every write is answered with the same Deployment (managed fields included, as the
 * API server answers a server-side apply), a list with an empty list, and a watch with `--events` ADDED lines
 * (written as the API server writes them, a few per chunk) and then the end of the response.
 *
 *   node bench/client/stub.ts --cert C --key K --events N      prints `PORT <port>` once listening
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:https"
import { parseArgs } from "node:util"

/** A Deployment as kube-apiserver returns it after a server-side apply (about 2 KiB of JSON). */
const deployment = (i: number) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: `echo-${i}`,
    namespace: "default",
    uid: `0c1d2e3f-aaaa-bbbb-cccc-${String(i).padStart(12, "0")}`,
    resourceVersion: String(1000 + i),
    generation: 1,
    creationTimestamp: "2026-12-08T00:00:00Z",
    labels: { "app.kubernetes.io/name": "echo", "kubefx.io/operator": "echo-operator" },
    annotations: { "kubefx.io/hash": "abcdef0123456789" },
    ownerReferences: [{ apiVersion: "example.kubefx.io/v1alpha1", kind: "EchoServer", name: `echo-${i}`, uid: `1111-${i}`, controller: true, blockOwnerDeletion: true }],
    managedFields: [{
      manager: "echo-operator",
      operation: "Apply",
      apiVersion: "apps/v1",
      time: "2026-12-08T00:00:00Z",
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": { "f:annotations": { "f:kubefx.io/hash": {} }, "f:labels": { "f:app.kubernetes.io/name": {}, "f:kubefx.io/operator": {} } },
        "f:spec": { "f:replicas": {}, "f:selector": {}, "f:template": { "f:metadata": { "f:labels": { "f:app": {} } }, "f:spec": { "f:containers": { "k:{\"name\":\"echo\"}": { ".": {}, "f:args": {}, "f:image": {}, "f:name": {} } } } } }
      }
    }]
  },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: `echo-${i}` } },
    template: {
      metadata: { labels: { app: `echo-${i}` } },
      spec: {
        containers: [{ name: "echo", image: "hashicorp/http-echo:1.0", args: [`-text=hello ${i}`], ports: [{ containerPort: 5678, protocol: "TCP" }], resources: {}, terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", imagePullPolicy: "IfNotPresent" }],
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 30,
        dnsPolicy: "ClusterFirst",
        schedulerName: "default-scheduler"
      }
    },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: 600
  },
  status: {}
})

const main = () => {
  const { values } = parseArgs({ options: { cert: { type: "string" }, key: { type: "string" }, events: { type: "string", default: "20000" } } })
  const events = Number(values.events)
  const answer = JSON.stringify(deployment(0))
  const lines = Array.from({ length: events }, (_, i) => `${JSON.stringify({ type: "ADDED", object: deployment(i) })}\n`)
  const server = createServer({ cert: readFileSync(values.cert!), key: readFileSync(values.key!) }, (req, res) => {
    req.resume()
    req.on("end", () => {
      const url = req.url ?? ""
      if (req.method === "GET" && url.includes("watch=")) {
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" })
        let i = 0
        // A few events per write, yielding between writes, as a watch cache sends them.
        const pump = () => {
          while (i < lines.length) {
            const ok = res.write(lines[i++]!)
            if (i % 5 === 0) return void setImmediate(pump)
            if (!ok) return void res.once("drain", pump)
          }
          res.end()
        }
        return pump()
      }
      const body = req.method === "GET" ? JSON.stringify({ apiVersion: "apps/v1", kind: "DeploymentList", metadata: { resourceVersion: "1" }, items: [] }) : answer
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "audit-id": "6f1c6a1e-0000-4000-8000-000000000000", "cache-control": "no-cache, private" })
      res.end(body)
    })
  })
  server.keepAliveTimeout = 120_000
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    console.log(`PORT ${typeof address === "object" && address !== null ? address.port : 0}`)
  })
}

main()
