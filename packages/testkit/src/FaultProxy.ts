/**
 * A fault-injecting TCP proxy on loopback, for testing a client against network faults that an in-memory
 * fake cannot produce: stalls, lost packets, resets, latency, and half-open connections (a dead NAT
 * entry, a peer that vanished without a FIN). Put it between a client and any TCP server (a real
 * kube-apiserver from `@kubefx/envtest`, an echo server) and point the client at `127.0.0.1:<port>`.
 *
 * The proxy forwards raw bytes, so TLS runs end to end through it: the client must still verify the
 * server's certificate for the name it dials (`127.0.0.1`, which envtest's serving certificate carries).
 *
 * | control | connections open now | connections accepted while it lasts |
 * |---|---|---|
 * | `pause` | bytes (and FINs) held, not read: senders meet backpressure; delivered on `resume` / `heal` | connected to the target, held alike |
 * | `blackhole` | every byte read and dropped, both ways; never recover | read and dropped; never connected to the target |
 * | `halfOpen` | nothing read, nothing sent, no FIN, no RST: the client's socket stays open and silent; never recover | the same, from the start |
 * | `reset` | closed with an RST on both sides, at once | as the mode says (`reset` is an act, not a mode) |
 * | `delay(d)` | each chunk delivered `d` after it arrived, both ways, in order | the same |
 * | `heal` | held bytes flow; no delay | forwarded |
 *
 * Blackholed and half-open connections stay dead after `heal`, as they would on a real network (their
 * bytes are gone, or their path is): a client recovers by noticing and opening a new connection, which
 * is what these faults test. They end when their owner closes them, on `reset`, or with the scope.
 *
 * Socket I/O runs on the real clock: use it under `it.live`, with short timeouts.
 *
 * @example
 * ```ts
 * import { FaultProxy } from "@kubefx/testkit"
 * declare const apiServerPort: number
 *
 * it.live("a half-open connection is noticed", () =>
 *   Effect.gen(function*() {
 *     const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: apiServerPort } })
 *     const server = `https://127.0.0.1:${proxy.port}`   // give this to the client under test
 *     yield* proxy.halfOpen                              // the client's connections go silent
 *     // ... expect the client to notice ...
 *     yield* proxy.heal                                  // new connections work again
 *     const { accepted, open } = yield* proxy.stats
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import { Duration, Effect, Schema, type Scope } from "effect"
import { Connection, type Mode as ConnectionMode } from "./internal/faultProxy/connection.ts"

/**
 * What the proxy does with bytes and with connections it accepts; see the table in the module's doc.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = ConnectionMode

/**
 * Where the proxy forwards connections, and where it listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly target: { readonly host: string; readonly port: number }
  /** The address to listen on. Default `127.0.0.1`; the port is always one the kernel picks. */
  readonly host?: string
}

/**
 * Connections accepted since the proxy started, and those whose client side is still open (severed and
 * blackholed ones included).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly accepted: number
  readonly open: number
}

/**
 * A running proxy and its controls. Every control takes effect at once, for every connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultProxy {
  /** The address the proxy listens on. */
  readonly host: string
  readonly port: number
  readonly mode: Effect.Effect<Mode>
  readonly stats: Effect.Effect<Stats>
  /** Holds bytes both ways, keeping every connection (and accepting new ones). */
  readonly pause: Effect.Effect<void>
  /** Ends a `pause`: held bytes are delivered in order. Does nothing in another mode. */
  readonly resume: Effect.Effect<void>
  /** Accepts and reads, never forwards or answers: connections open now and new ones alike. */
  readonly blackhole: Effect.Effect<void>
  /** Stops forwarding and answering without FIN or RST on either side: what a dead NAT entry looks like. */
  readonly halfOpen: Effect.Effect<void>
  /** Back to forwarding without delay. Connections a blackhole or half-open state killed stay dead. */
  readonly heal: Effect.Effect<void>
  /** Closes every connection with an RST (both sides); the mode stays. */
  readonly reset: Effect.Effect<void>
  /** Adds this latency to every chunk, both ways, from now on (`Duration.zero` removes it). */
  readonly delay: (latency: Duration.Input) => Effect.Effect<void>
}

/**
 * The proxy could not listen.
 *
 * @since 0.1.0
 * @category errors
 */
export class FaultProxyError extends Schema.TaggedError<FaultProxyError>()("FaultProxyError", {
  message: Schema.String
}) {}

interface State {
  mode: Mode
  delayMs: number
  accepted: number
  readonly connections: Set<Connection>
}

const listen = (options: Options) =>
  Effect.callback<{ readonly server: net.Server; readonly state: State; readonly port: number }, FaultProxyError>(
    (resume) => {
      const state: State = { mode: "forwarding", delayMs: 0, accepted: 0, connections: new Set() }
      const controls = { mode: () => state.mode, delayMs: () => state.delayMs }
      // Half-closes are forwarded as they come, and sockets start paused until their connection decides.
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
        state.accepted++
        const connection = new Connection(client, options.target, controls, () => state.connections.delete(connection))
        state.connections.add(connection)
      })
      const host = options.host ?? "127.0.0.1"
      server.once("error", (error) =>
        resume(Effect.fail(new FaultProxyError({ message: `the fault proxy cannot listen on ${host}: ${error.message}` }))))
      server.listen(0, host, () => {
        server.on("error", () => {})
        resume(Effect.succeed({ server, state, port: (server.address() as net.AddressInfo).port }))
      })
      return Effect.sync(() => server.close())
    }
  )

const close = ({ server, state }: { readonly server: net.Server; readonly state: State }) =>
  Effect.callback<void>((resume) => {
    for (const connection of state.connections) connection.destroy()
    state.connections.clear()
    server.close(() => resume(Effect.void))
  })

/**
 * Starts a proxy on `127.0.0.1:<a free port>` that forwards to `target`; it stops, closing every
 * connection, when the scope closes. A connection the target refuses is reset.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<FaultProxy, FaultProxyError, Scope.Scope> =>
  Effect.map(Effect.acquireRelease(listen(options), close), ({ port, state }) => {
    const each = (f: (connection: Connection) => void) => {
      for (const connection of state.connections) f(connection)
    }
    const setMode = (mode: Mode, f: (connection: Connection) => void) =>
      Effect.sync(() => {
        state.mode = mode
        each(f)
      })
    return {
      host: options.host ?? "127.0.0.1",
      port,
      mode: Effect.sync(() => state.mode),
      stats: Effect.sync(() => ({ accepted: state.accepted, open: state.connections.size })),
      pause: setMode("paused", (c) => c.wake()),
      resume: Effect.suspend(() => state.mode === "paused" ? setMode("forwarding", (c) => c.wake()) : Effect.void),
      blackhole: setMode("blackhole", (c) => c.swallow()),
      halfOpen: setMode("halfOpen", (c) => c.sever()),
      heal: Effect.suspend(() => {
        state.delayMs = 0
        return setMode("forwarding", (c) => c.wake())
      }),
      reset: Effect.sync(() => {
        each((c) => c.reset())
        state.connections.clear()
      }),
      delay: (latency) =>
        Effect.sync(() => {
          state.delayMs = Duration.toMillis(Duration.fromInputUnsafe(latency))
          each((c) => c.wake())
        })
    }
  })
