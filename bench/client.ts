/**
 * The client path alone: CPU per write and per watch event through kubefx's live `Cluster` (`KubeCluster`), and
 * through the `Watcher` into a `Store`, each beside the same work done with bare `node:https` and `JSON.parse`,
 * against a loopback HTTPS stub (`client/stub.ts`, in a process of its own). A quick loop for work on the client's
 * cost: the peers benchmark needs 20 minutes and a real API server, this needs seconds and neither.
 *
 *   node --conditions=@kubefx/source bench/client.ts [--requests 20000] [--events 20000] [--repeat 3]
 *
 * Each figure is the median of `--repeat` passes, after a warm-up pass; 16 requests are in flight at a time (the
 * bare client: an `https.Agent` with keep-alive, the same body, headers and answer).
 *
 * @since 0.1.0
 */
import { Builtin, Cluster, Store, Watcher } from "@kubefx/core"
import { ClientConfig, KubeCluster } from "@kubefx/k8s"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { Agent, request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { flags } from "./harness/args.ts"
import { median } from "./peers/report.ts"

const inFlight = 16
const body = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "echo-0", namespace: "default" }, spec: { replicas: 1, template: { spec: { containers: [{ name: "echo", image: "hashicorp/http-echo:1.0", args: ["-text=hello"] }] } } } }

/** A self-signed serving certificate for 127.0.0.1, made with openssl. */
const certificate = (dir: string) => {
  const cert = join(dir, "cert.pem")
  const key = join(dir, "key.pem")
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" })
  return { cert, key }
}

/** Starts the stub; resolves with its port. */
const startStub = (cert: string, key: string, events: number) =>
  new Promise<{ readonly port: number; readonly stop: () => void }>((resolve, reject) => {
    const stub = spawn(process.execPath, [fileURLToPath(new URL("client/stub.ts", import.meta.url)), "--cert", cert, "--key", key, "--events", String(events)], { stdio: ["ignore", "pipe", "inherit"] })
    stub.on("error", reject)
    stub.stdout.setEncoding("utf8").on("data", (text: string) => {
      const m = /PORT (\d+)/.exec(text)
      if (m !== null) resolve({ port: Number(m[1]), stop: () => stub.kill() })
    })
  })

/** CPU µs per unit of `run(n)`, after a warm-up. */
const cpuPer = async (units: number, repeat: number, run: () => Promise<number>): Promise<number> => {
  await run()
  const samples: Array<number> = []
  for (let i = 0; i < repeat; i++) {
    const start = process.cpuUsage()
    const done = await run()
    if (done !== units) throw new Error(`expected ${units} units, got ${done}`)
    const used = process.cpuUsage(start)
    samples.push((used.user + used.system) / units)
  }
  return median(samples)
}

/** `n` requests, `inFlight` at a time. */
const concurrently = async (n: number, one: () => Promise<unknown>) => {
  let started = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (started < n) {
      started++
      await one()
    }
  }))
  return n
}

const main = async () => {
  const args = flags(process.argv.slice(2))
  const requests = args.int("--requests", 20_000)
  const events = args.int("--events", 20_000)
  const repeat = args.int("--repeat", 3)
  const dir = mkdtempSync(join(tmpdir(), "kubefx-client-bench-"))
  const { cert, key } = certificate(dir)
  const ca = readFileSync(cert, "utf8")
  const stub = await startStub(cert, key, events)
  try {
    const server = `https://127.0.0.1:${stub.port}`
    const agent = new Agent({ keepAlive: true, ca })
    const text = JSON.stringify(body)
    const path = "/apis/apps/v1/namespaces/default/deployments/echo-0?fieldManager=bench&force=true"
    const bareWrite = () =>
      new Promise<unknown>((resolve, reject) => {
        const req = request(`${server}${path}`, {
          method: "PATCH",
          agent,
          headers: { "content-type": "application/apply-patch+yaml", accept: "application/json", "content-length": Buffer.byteLength(text) }
        }, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))))
        })
        req.on("error", reject)
        req.end(text)
      })
    const bareWatch = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${server}/apis/apps/v1/namespaces/default/deployments?watch=1`, { agent }, (res) => {
          let rest = ""
          let n = 0
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => {
            rest += chunk
            for (let i = rest.indexOf("\n"); i !== -1; i = rest.indexOf("\n")) {
              const line = rest.slice(0, i)
              rest = rest.slice(i + 1)
              if (line !== "") {
                JSON.parse(line)
                n++
              }
            }
          })
          res.on("end", () => resolve(n))
        })
        req.on("error", reject)
        req.end()
      })

    const runtime = ManagedRuntime.make(KubeCluster.layer.pipe(Layer.provide(ClientConfig.layer({ operatorName: "bench", server, ca }))))
    const run = <A>(effect: Effect.Effect<A, unknown, Cluster.Cluster>) => runtime.runPromise(effect)
    // The requests run in fibers, as the engine's do: `inFlight` fibers, each making requests in turn.
    const write = () =>
      run(Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        let started = 0
        const worker = Effect.whileLoop({
          while: () => started < requests,
          body: () =>
            Effect.suspend(() => {
              started++
              return cluster.apply(Builtin.Deployment, body as Builtin.Deployment, { fieldManager: "bench", force: true })
            }),
          step: () => {}
        })
        yield* Effect.forEach(Array.from({ length: inFlight }), () => worker, { concurrency: "unbounded", discard: true })
        return requests
      }))
    const watch = () =>
      run(Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        return yield* cluster.watch(Builtin.Deployment, { namespace: "default", resourceVersion: "1", timeoutSeconds: 300 }).pipe(
          Stream.take(events),
          Stream.runFold(() => 0, (n) => n + 1)
        )
      }))
    const watcher = () =>
      run(Effect.suspend(() => {
        const store = Store.make()
        return Watcher.watch(Builtin.Deployment, { namespace: "default", initialState: "list" }).pipe(
          Stream.filter((e) => e._tag === "Applied"),
          Stream.take(events),
          Stream.runFold(() => 0, (n, e) => {
            Store.applyEvent(store, Builtin.Deployment, e, "default")
            return n + 1
          })
        )
      }))
    const kubefx = { write, watch, watcher }

    const rows: Array<[string, number, number]> = [
      ["write (server-side apply, answer of ~2 KiB), µs per request", await cpuPer(requests, repeat, () => concurrently(requests, bareWrite)), await cpuPer(requests, repeat, kubefx.write)],
      ["watch event (~2 KiB), µs per event: KubeCluster.watch", await cpuPer(events, repeat, bareWatch), await cpuPer(events, repeat, kubefx.watch)],
      ["… through the Watcher into a Store", await cpuPer(events, repeat, bareWatch), await cpuPer(events, repeat, kubefx.watcher)]
    ]
    agent.destroy()
    await runtime.dispose()
    console.log(`client path on loopback, CPU of this process (median of ${repeat}; ${requests} requests, ${events} events; Node ${process.version})\n`)
    console.log("| | node:https + JSON.parse | kubefx | kubefx / bare |\n|---|---:|---:|---:|")
    for (const [what, bare, ours] of rows) console.log(`| ${what} | ${bare.toFixed(1)} | ${ours.toFixed(1)} | ${(ours / bare).toFixed(2)}× |`)
  } finally {
    stub.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

await main()
