/**
 * A real Kubernetes API server for tests ("envtest for TypeScript"): etcd and kube-apiserver (and
 * optionally kube-controller-manager) on loopback, with a fresh PKI, RBAC on, a restricted user for
 * denial tests, CRDs installed and a kubeconfig written. Everything lives in one `Scope`: closing it
 * stops the processes (whole process groups) and deletes the temporary directory; so does the test
 * process ending without closing it (exit, SIGTERM, SIGINT, SIGHUP). A port taken between choosing and
 * binding it is retried with new ports.
 *
 * The binaries come from `KUBEBUILDER_ASSETS` or from this package's `scripts/envtest-assets.sh`
 * (`npx kubefx-envtest-assets`, which builds them once into `~/.cache/kubefx/envtest`). Uses the real clock: run it under `it.live`, not `it.effect`.
 *
 * @example
 * ```ts
 * import { Envtest } from "@kubefx/envtest"
 * declare const widgetCrd: unknown                // e.g. Manifests.crd(Widget)
 *
 * it.live("talks to a real server", () => Effect.gen(function*() {
 *   const env = yield* Envtest.make({ crds: [widgetCrd] })
 *   const res = yield* Envtest.request(env, { method: "GET", path: "/api/v1/namespaces" })
 * }), 180_000)
 * ```
 *
 * @since 0.1.0
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Option, Redacted, Schema, type Scope } from "effect"
import * as Certs from "./internal/certs.ts"
import * as Http from "./internal/http.ts"
import * as Ports from "./internal/ports.ts"
import * as Proc from "./internal/process.ts"

/**
 * Why an envtest could not be started or used. `reason` says which step failed; `message` says what
 * to do about it (and, for a process that would not start, ends with the tail of its log).
 *
 * @since 0.1.0
 * @category errors
 */
export class EnvtestError extends Schema.TaggedError<EnvtestError>()("EnvtestError", {
  reason: Schema.Literals([
    "BinariesNotFound",
    "Certificates",
    "FileSystem",
    "ProcessFailed",
    "NotReady",
    "PortTaken",
    "InvalidCrd",
    "CrdNotEstablished",
    "Request"
  ]),
  message: Schema.String
}) {}

/**
 * What to start and how long to wait.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** CustomResourceDefinition manifests (apiextensions.k8s.io/v1 JSON objects) to install and wait for. */
  readonly crds?: ReadonlyArray<unknown>
  /** Also run kube-controller-manager: garbage collection of owned objects, namespace deletion, ... */
  readonly controllerManager?: boolean
  /** A directory holding etcd, kube-apiserver and kube-controller-manager; skips the lookup. */
  readonly assetsDir?: string
  /**
   * Let `scripts/envtest-assets.sh` build missing binaries (11-15 minutes on 2 cores with cold Go
   * caches). Default: false: fail fast with a hint.
   */
  readonly build?: boolean
  /** The lookup script; defaults to this package's `scripts/envtest-assets.sh`. */
  readonly assetsScript?: string
  /** How long etcd plus kube-apiserver may take to become ready. Default: 120 seconds. */
  readonly startTimeout?: Duration.Input
  /** How long each CRD may take to become Established and served. Default: 30 seconds. */
  readonly crdTimeout?: Duration.Input
  /** Time between SIGTERM and SIGKILL when stopping a process. Default: 5 seconds. */
  readonly stopGracePeriod?: Duration.Input
  /** Where to create the envtest's temporary directory. Default: `os.tmpdir()`. */
  readonly baseDir?: string
  /** Extra kube-apiserver flags (`--feature-gates=...`); they come after the defaults. */
  readonly apiServerArgs?: ReadonlyArray<string>
}

/**
 * A running control plane.
 *
 * @since 0.1.0
 * @category models
 */
export interface Envtest {
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  /** A kubeconfig with contexts `envtest` (admin, current) and `envtest-restricted`. */
  readonly kubeconfigPath: string
  readonly caPem: string
  /** Client certificate of an admin in `system:masters`. */
  readonly adminCertPem: string
  readonly adminKeyPem: Redacted.Redacted<string>
  /** User name of the restricted user: authenticated, bound to no role. */
  readonly restrictedUser: string
  /** Bearer token of the restricted user. */
  readonly restrictedUserToken: Redacted.Redacted<string>
  /** The temporary directory holding certificates, data, logs and the kubeconfig; removed on close. */
  readonly dir: string
  /** The processes started, with their pids (each leads its own process group). */
  readonly processes: ReadonlyArray<{ readonly name: string; readonly pid: number; readonly logFile: string }>
  /**
   * Stops kube-apiserver (SIGTERM, as a rolling update of the control plane would) and starts it again on the
   * same address with the same flags and etcd, then waits until it is ready: for tests of what clients do
   * while the API server is gone. Its watch cache starts afresh, as after a real restart.
   */
  readonly restartApiServer: Effect.Effect<void, EnvtestError>
}

/**
 * The user name of the restricted (RBAC-less) token user.
 *
 * @since 0.1.0
 * @category constants
 */
export const restrictedUser = "kubefx-restricted"

/**
 * A response from {@link request}: the status and the body, parsed as JSON when it is JSON.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  readonly status: number
  readonly body: unknown
}

const scriptDefault = fileURLToPath(new URL("../scripts/envtest-assets.sh", import.meta.url))
const binaries = ["etcd", "kube-apiserver", "kube-controller-manager"] as const

const hasBinaries = (dir: string): boolean =>
  binaries.every((name) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

const howToGet = "Run `npx kubefx-envtest-assets` (@kubefx/envtest's scripts/envtest-assets.sh) once (it builds them with Go into ~/.cache/kubefx/envtest), " +
  "or set KUBEBUILDER_ASSETS to a directory holding etcd, kube-apiserver and kube-controller-manager."

const fail = (reason: EnvtestError["reason"], message: string) => new EnvtestError({ reason, message })

/** Finds the binaries: the explicit option, else the lookup script (which honours KUBEBUILDER_ASSETS). */
const locateAssets = (options: Options): Effect.Effect<string, EnvtestError> => {
  if (options.assetsDir !== undefined) {
    const dir = options.assetsDir
    return hasBinaries(dir)
      ? Effect.succeed(dir)
      : Effect.fail(fail("BinariesNotFound", `assetsDir ${dir} lacks one of ${binaries.join(", ")}. ${howToGet}`))
  }
  const script = options.assetsScript ?? scriptDefault
  const args = [script, ...(options.build === true ? [] : ["--no-build"])]
  return Effect.callback<string, EnvtestError>((resume) => {
    const child = execFile("bash", args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const dir = stdout.trim().split("\n").pop() ?? ""
      if (error === null && dir !== "" && hasBinaries(dir)) resume(Effect.succeed(dir))
      else {
        const detail = String(stderr).trim().split("\n").slice(-4).join(" | ")
        resume(Effect.fail(fail("BinariesNotFound", `no envtest binaries (${script}: ${detail}). ${howToGet}`)))
      }
    })
    return Effect.sync(() => child.kill("SIGTERM"))
  })
}

/**
 * A free TCP port on 127.0.0.1 (asked of the kernel; free at the time of asking). Another process may take
 * it before etcd or kube-apiserver binds it, so their starts go through `retryPortClash`.
 */
const freePort: Effect.Effect<number, EnvtestError> = Effect.callback((resume) => {
  const server = net.createServer()
  server.once("error", (error) => resume(Effect.fail(fail("ProcessFailed", `cannot find a free port: ${error.message}`))))
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const tempDir = (baseDir: string): Effect.Effect<string, EnvtestError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const dir = fs.mkdtempSync(path.join(baseDir, "kubefx-envtest-"))
        // removed at exit or on SIGTERM/SIGINT too, should the scope never close
        Proc.trackDir(dir)
        return dir
      },
      catch: (e) => fail("FileSystem", `cannot create a temporary directory in ${baseDir}: ${(e as Error).message}`)
    }),
    // runs after every process of the envtest has been stopped (finalizers run in reverse order)
    (dir) =>
      Effect.sync(() => {
        fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
        Proc.releaseDir(dir)
      })
  )

const writeFile = (file: string, content: string) =>
  Effect.try({
    try: () => fs.writeFileSync(file, content, { mode: 0o600 }),
    catch: (e) => fail("FileSystem", `cannot write ${file}: ${(e as Error).message}`)
  })

const spawn = (dir: string, name: string, command: string, args: ReadonlyArray<string>, logName = name) => {
  // etcd reads ETCD_* variables as flags; an inherited one must not reconfigure the test server.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCD_")))
  return Proc.spawnProcess(name, command, args, { logFile: path.join(dir, `${logName}.log`), cwd: dir, env }).pipe(
    Effect.mapError((e) => fail("ProcessFailed", e.message))
  )
}

/** Starts a process that is stopped (with its whole group) when the scope closes. */
const startProcess = (dir: string, name: string, command: string, args: ReadonlyArray<string>, grace: Duration.Input) =>
  Effect.acquireRelease(spawn(dir, name, command, args), (proc) => Proc.stopProcess(proc, grace))

/** Whether `proc` ended because a port it was given had been taken in the meantime. */
const portClash = (proc: Proc.ManagedProcess): boolean =>
  proc.exited() !== undefined && Ports.isPortClash(Proc.tailFile(proc.logFile, 30))

/** Starts again, with new ports, a process whose port was taken between choosing and binding it. */
const retryPortClash = <A, R>(start: (attempt: number) => Effect.Effect<A, EnvtestError, R>) =>
  Ports.retrying(start, (error) => error.reason === "PortTaken")

const describeExit = (proc: Proc.ManagedProcess): string => {
  const exit = proc.exited()
  if (exit === undefined) return `${proc.name} is still running`
  return `${proc.name} exited (${exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`})`
}

/**
 * Repeats `probe` every 250 ms until it yields a value, failing early when `proc` exits and with
 * `NotReady` (and the log tail) when `timeout` passes.
 */
const waitFor = <A>(
  proc: Proc.ManagedProcess,
  what: string,
  timeout: Duration.Input,
  probe: Effect.Effect<Option.Option<A>, never>
): Effect.Effect<A, EnvtestError> => {
  const withLog = (text: string) => `${text}. Last lines of ${proc.logFile}:\n${Proc.tailFile(proc.logFile, 30)}`
  const loop: Effect.Effect<A, EnvtestError> = Effect.suspend(() =>
    proc.exited() !== undefined
      ? Effect.fail(fail(
        portClash(proc) ? "PortTaken" : "ProcessFailed",
        withLog(`${describeExit(proc)} while waiting for ${what}`)
      ))
      : probe.pipe(
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () => Effect.sleep(Duration.millis(250)).pipe(Effect.andThen(loop))
        }))
      )
  )
  return loop.pipe(Effect.timeoutOrElse({
    duration: timeout,
    orElse: () =>
      Effect.fail(fail("NotReady", withLog(`${what} not ready within ${Duration.format(Duration.fromInputUnsafe(timeout))}; ${describeExit(proc)}`)))
  }))
}

const okBody = (expect: (res: Http.RawResponse) => boolean, send: Effect.Effect<Http.RawResponse, Error>) =>
  send.pipe(
    Effect.map((res) => expect(res) ? Option.some(res) : Option.none()),
    Effect.orElseSucceed(() => Option.none<Http.RawResponse>())
  )

const startEtcd = (assets: string, dir: string, grace: Duration.Input, timeout: Duration.Input) =>
  retryPortClash((attempt) => Effect.gen(function*() {
    const clientPort = yield* freePort
    const peerPort = yield* freePort
    const client = `http://127.0.0.1:${clientPort}`
    const peer = `http://127.0.0.1:${peerPort}`
    // a new data directory and log per attempt: the failed one may have recorded the old peer URL
    const suffix = attempt === 0 ? "" : `-${attempt + 1}`
    const etcd = yield* Effect.acquireRelease(
      spawn(dir, "etcd", path.join(assets, "etcd"), [
      "--name=envtest",
      `--data-dir=${path.join(dir, `etcd-data${suffix}`)}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=envtest=${peer}`,
      "--initial-cluster-state=new",
      // a test database need not survive a power cut
      "--unsafe-no-fsync=true",
      "--log-level=warn"
    ], `etcd${suffix}`),
      (proc) => Proc.stopProcess(proc, grace)
    )
    yield* waitFor(etcd, "etcd", timeout,
      okBody((res) => res.status === 200, Http.send(new URL("/health", client), { method: "GET", credentials: {}, timeoutMs: 2000 })))
    return { etcd, client }
  }))

const apiServerArgs = (
  dir: string,
  certs: Certs.Certs,
  etcdUrl: string,
  port: number,
  extra: ReadonlyArray<string>
): Array<string> => [
  `--etcd-servers=${etcdUrl}`,
  "--bind-address=127.0.0.1",
  "--advertise-address=127.0.0.1",
  `--secure-port=${port}`,
  `--cert-dir=${path.join(dir, "apiserver-certs")}`,
  `--tls-cert-file=${certs.servingCert}`,
  `--tls-private-key-file=${certs.servingKey}`,
  `--client-ca-file=${certs.caCert}`,
  "--authorization-mode=RBAC",
  `--token-auth-file=${path.join(dir, "tokens.csv")}`,
  "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
  `--service-account-key-file=${certs.serviceAccountPub}`,
  `--service-account-signing-key-file=${certs.serviceAccountKey}`,
  "--service-cluster-ip-range=10.0.0.0/24",
  // no kubelet and no token controller: pods must not wait for a ServiceAccount token
  "--disable-admission-plugins=ServiceAccount",
  // 127.0.0.1 is not a valid Endpoints address; nothing routes to the `kubernetes` Service here
  "--endpoint-reconciler-type=none",
  "--allow-privileged=true",
  ...extra
]

/** A kubeconfig (JSON is valid YAML) with the admin certificate and the restricted token. */
const kubeconfig = (server: string, certs: Certs.Certs, token: string): string => {
  const b64 = (text: string) => Buffer.from(text).toString("base64")
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "envtest", cluster: { server, "certificate-authority-data": b64(certs.caPem) } }],
    users: [
      { name: "envtest-admin", user: { "client-certificate-data": b64(certs.adminCertPem), "client-key-data": b64(certs.adminKeyPem) } },
      { name: restrictedUser, user: { token } }
    ],
    contexts: [
      { name: "envtest", context: { cluster: "envtest", user: "envtest-admin", namespace: "default" } },
      { name: "envtest-restricted", context: { cluster: "envtest", user: restrictedUser, namespace: "default" } }
    ],
    "current-context": "envtest"
  }, null, 2)
}

const CrdManifest = Schema.Struct({
  metadata: Schema.Struct({ name: Schema.String }),
  spec: Schema.Struct({
    group: Schema.String,
    names: Schema.Struct({ plural: Schema.String }),
    versions: Schema.Array(Schema.Struct({ name: Schema.String, served: Schema.Boolean }))
  })
})

const CrdStatus = Schema.Struct({
  status: Schema.optionalKey(Schema.Struct({
    conditions: Schema.optionalKey(Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String })))
  }))
})

const parseBody = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Sends one request to the envtest API server, as the admin (client certificate, the default),
 * the restricted user (bearer token) or anonymously. A non-2xx status is a normal `Response`;
 * only a transport failure fails.
 *
 * @since 0.1.0
 * @category requests
 */
export const request = (
  env: Envtest,
  options: {
    readonly method?: string
    /** Path with query, e.g. `/api/v1/namespaces?limit=1`. */
    readonly path: string
    /** A JSON-serializable body. */
    readonly body?: unknown
    /** Defaults to `application/json`; e.g. `application/merge-patch+json` for a PATCH. */
    readonly contentType?: string
    readonly as?: "admin" | "restricted" | "anonymous"
    readonly timeout?: Duration.Input
  }
): Effect.Effect<Response, EnvtestError> => {
  const as = options.as ?? "admin"
  const credentials: Http.Credentials = as === "admin"
    ? { ca: env.caPem, cert: env.adminCertPem, key: Redacted.value(env.adminKeyPem) }
    : as === "restricted"
    ? { ca: env.caPem, token: Redacted.value(env.restrictedUserToken) }
    : { ca: env.caPem }
  const method = options.method ?? "GET"
  return Http.send(new URL(options.path, env.server), {
    method,
    credentials,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
    timeoutMs: Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? Duration.seconds(30)))
  }).pipe(
    Effect.map((res) => ({ status: res.status, body: parseBody(res.text) })),
    Effect.mapError((e) => fail("Request", `${method} ${options.path} failed: ${e.message}`))
  )
}

const installCrd = (env: Envtest, apiserver: Proc.ManagedProcess, manifest: unknown, timeout: Duration.Input) =>
  Effect.gen(function*() {
    const crd = yield* Schema.decodeUnknownEffect(CrdManifest)(manifest).pipe(
      Effect.mapError((e) => fail("InvalidCrd", `not a CustomResourceDefinition manifest: ${e.message}`))
    )
    const name = crd.metadata.name
    const created = yield* request(env, {
      method: "POST",
      path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      body: manifest
    })
    if (created.status !== 201) {
      const reason = (created.body as { message?: unknown } | null)?.message
      return yield* fail("InvalidCrd", `the API server refused CRD ${name} (${created.status}): ${String(reason ?? created.body)}`)
    }
    const established = request(env, { path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` }).pipe(
      Effect.map((res) => {
        const status = Schema.decodeUnknownOption(CrdStatus)(res.body)
        const conditions = Option.getOrUndefined(status)?.status?.conditions ?? []
        return conditions.some((c) => c.type === "Established" && c.status === "True") ? Option.some(true) : Option.none()
      }),
      Effect.orElseSucceed(() => Option.none<boolean>())
    )
    yield* waitFor(apiserver, `CRD ${name} to be Established`, timeout, established).pipe(
      Effect.mapError((e) => e.reason === "NotReady" ? fail("CrdNotEstablished", e.message) : e)
    )
    // Established can precede the handler serving the new paths; wait until each served version lists.
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      const listPath = `/apis/${crd.spec.group}/${version.name}/${crd.spec.names.plural}?limit=1`
      yield* waitFor(apiserver, `${listPath} to be served`, timeout,
        request(env, { path: listPath }).pipe(
          Effect.map((res) => res.status === 200 ? Option.some(true) : Option.none()),
          Effect.orElseSucceed(() => Option.none<boolean>())
        )).pipe(Effect.mapError((e) => e.reason === "NotReady" ? fail("CrdNotEstablished", e.message) : e))
    }
  })

/**
 * Starts etcd and kube-apiserver (and kube-controller-manager with `controllerManager: true`) on
 * loopback, waits until `/readyz` is ok, installs `crds` and waits until they are served. Closing the
 * scope stops every process and removes `dir`, on success, failure and interruption alike.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Envtest, EnvtestError, Scope.Scope> =>
  Effect.gen(function*() {
    const grace = options.stopGracePeriod ?? Duration.seconds(5)
    const startTimeout = options.startTimeout ?? Duration.seconds(120)
    const assets = yield* locateAssets(options)
    const dir = yield* tempDir(options.baseDir ?? os.tmpdir())
    const certs = yield* Certs.generate(dir).pipe(Effect.mapError((e) => fail("Certificates", e.message)))
    const token = randomBytes(24).toString("base64url")
    yield* writeFile(path.join(dir, "tokens.csv"), `${token},${restrictedUser},${restrictedUser}-uid\n`)

    const { etcd, client } = yield* startEtcd(assets, dir, grace, startTimeout)
    const apiserverCommand = path.join(assets, "kube-apiserver")
    const adminCredentials = { ca: certs.caPem, cert: certs.adminCertPem, key: certs.adminKeyPem }
    const ready = (proc: Proc.ManagedProcess, server: string) =>
      waitFor(proc, "kube-apiserver /readyz", startTimeout,
        okBody(
          (res) => res.status === 200 && res.text === "ok",
          Http.send(new URL("/readyz", server), { method: "GET", credentials: adminCredentials, timeoutMs: 5000 })
        ).pipe(Effect.map(Option.map(() => true))))
    const first = yield* retryPortClash((attempt) =>
      Effect.gen(function*() {
        const port = yield* freePort
        const server = `https://127.0.0.1:${port}`
        const args = apiServerArgs(dir, certs, client, port, options.apiServerArgs ?? [])
        const logName = attempt === 0 ? "kube-apiserver" : `kube-apiserver-try${attempt + 1}`
        const proc = yield* Effect.acquireRelease(
          spawn(dir, "kube-apiserver", apiserverCommand, args, logName),
          (started) => Proc.stopProcess(started, grace)
        )
        yield* ready(proc, server)
        return { proc, server, args }
      })
    )
    const { args: apiserverArgs, server } = first
    // The one running now: a restart replaces it, and the scope stops whichever runs at the end.
    let apiserver: Proc.ManagedProcess = first.proc
    yield* Effect.addFinalizer(() => Effect.suspend(() => Proc.stopProcess(apiserver, grace)))

    const kubeconfigPath = path.join(dir, "kubeconfig")
    yield* writeFile(kubeconfigPath, kubeconfig(server, certs, token))
    const processes = [etcd, apiserver].map(({ logFile, name, pid }) => ({ name, pid, logFile }))
    let restarts = 0
    const restartApiServer = Effect.gen(function*() {
      yield* Proc.stopProcess(apiserver, grace)
      apiserver = yield* spawn(dir, "kube-apiserver", apiserverCommand, apiserverArgs, `kube-apiserver-${++restarts}`)
      processes[1] = { name: apiserver.name, pid: apiserver.pid, logFile: apiserver.logFile }
      yield* ready(apiserver, server)
    })
    const env: Envtest = {
      server,
      kubeconfigPath,
      caPem: certs.caPem,
      adminCertPem: certs.adminCertPem,
      adminKeyPem: Redacted.make(certs.adminKeyPem, { label: "envtest admin key" }),
      restrictedUser,
      restrictedUserToken: Redacted.make(token, { label: "envtest restricted token" }),
      dir,
      processes,
      restartApiServer
    }

    // CRDs first: a garbage collector that starts before a type exists learns of it only at its next
    // discovery resync (~40 s), so owned custom objects would outlive their owners that long.
    for (const crd of options.crds ?? []) {
      yield* installCrd(env, apiserver, crd, options.crdTimeout ?? Duration.seconds(30))
    }
    if (options.controllerManager === true) {
      const manager = yield* startProcess(dir, "kube-controller-manager", path.join(assets, "kube-controller-manager"), [
        `--kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=false",
        `--service-account-private-key-file=${certs.serviceAccountKey}`,
        `--root-ca-file=${certs.caCert}`,
        "--controllers=*"
      ], grace)
      processes.push({ name: manager.name, pid: manager.pid, logFile: manager.logFile })
      yield* waitFor(manager, "kube-controller-manager", startTimeout,
        // the service-account controller creates `default` in every namespace once it runs
        request(env, { path: "/api/v1/namespaces/default/serviceaccounts/default" }).pipe(
          Effect.map((res) => res.status === 200 ? Option.some(true) : Option.none()),
          Effect.orElseSucceed(() => Option.none<boolean>())
        ))
    }

    return env
  })
