/**
 * The fault proxy between node:net clients and an echo server on loopback, on the real clock. Every wait
 * is bounded (`until` gives up after 3 s), and silence is checked over a short window.
 */
import { assert, describe, it } from "@effect/vitest"
import * as net from "node:net"
import { Effect, type Scope } from "effect"
import { FaultProxy } from "../src/index.ts"

/** An echo server that also records what it received and how its connections ended. */
interface Echo {
  readonly port: number
  readonly received: () => string
  readonly connections: () => number
  /** Server-side sockets closed so far, and how: "end" (a FIN came), "reset" (ECONNRESET), "close". */
  readonly closes: Array<string>
}

const echoServer: Effect.Effect<Echo, never, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<{ readonly server: net.Server; readonly sockets: Set<net.Socket>; readonly echo: Echo }>((resume) => {
    let received = ""
    let connections = 0
    const closes: Array<string> = []
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      connections++
      sockets.add(socket)
      let how = "close"
      socket.on("data", (chunk) => {
        received += chunk.toString()
        socket.write(chunk)
      })
      socket.on("end", () => {
        how = "end"
      })
      socket.on("error", (error: NodeJS.ErrnoException) => {
        how = error.code === "ECONNRESET" ? "reset" : error.code ?? "error"
      })
      socket.on("close", () => {
        sockets.delete(socket)
        closes.push(how)
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        server,
        sockets,
        echo: {
          port: (server.address() as net.AddressInfo).port,
          received: () => received,
          connections: () => connections,
          closes
        }
      })))
  }),
  ({ server, sockets }) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      for (const socket of sockets) socket.destroy()
    })
).pipe(Effect.map(({ echo }) => echo))

/** A client connection through the proxy, with what it received and how it ended. */
interface Client {
  readonly socket: net.Socket
  readonly received: () => string
  /** `undefined` while open; else "end", "reset" or another error code. */
  readonly ended: () => string | undefined
  readonly send: (text: string) => void
}

const connect = (port: number): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Client>((resume) => {
      let received = ""
      let ended: string | undefined
      const socket = net.connect({ host: "127.0.0.1", port })
      socket.on("data", (chunk) => {
        received += chunk.toString()
      })
      socket.on("end", () => {
        ended ??= "end"
      })
      socket.on("error", (error: NodeJS.ErrnoException) => {
        ended ??= error.code === "ECONNRESET" ? "reset" : error.code ?? "error"
      })
      socket.on("close", () => {
        ended ??= "close"
      })
      socket.once("connect", () =>
        resume(Effect.succeed({
          socket,
          received: () => received,
          ended: () => ended,
          send: (text) => {
            socket.write(text)
          }
        })))
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

/** Waits (real time) until `check` holds; fails after 3 s. */
const until = (what: string, check: () => boolean) =>
  Effect.gen(function*() {
    for (let waited = 0; !check(); waited += 10) {
      if (waited > 3000) return yield* Effect.die(new Error(`timed out waiting until ${what}`))
      yield* Effect.sleep("10 millis")
    }
  })

/** Holds `check` over a quiet window: for things that must not happen. */
const never = (what: string, check: () => boolean, window = 200) =>
  Effect.gen(function*() {
    for (let waited = 0; waited < window; waited += 10) {
      assert.isFalse(check(), what)
      yield* Effect.sleep("10 millis")
    }
  })

const setup = Effect.gen(function*() {
  const echo = yield* echoServer
  const proxy = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
  return { echo, proxy }
})

describe("FaultProxy", () => {
  it.live("forwards both ways on 127.0.0.1, and counts connections accepted and open", () =>
    Effect.gen(function*() {
      const { echo, proxy } = yield* setup
      assert.strictEqual(proxy.host, "127.0.0.1")
      assert.notStrictEqual(proxy.port, echo.port)
      const a = yield* connect(proxy.port)
      const b = yield* connect(proxy.port)
      a.send("hello")
      b.send("world")
      yield* until("both echoed", () => a.received() === "hello" && b.received() === "world")
      assert.deepStrictEqual(yield* proxy.stats, { accepted: 2, open: 2 })
      assert.strictEqual(yield* proxy.mode, "forwarding")
      // A clean close goes through as FINs, both ways.
      a.socket.end()
      yield* until("a closed", () => a.ended() !== undefined)
      assert.strictEqual(a.ended(), "end")
      yield* until("the server saw a's FIN", () => echo.closes.length === 1)
      assert.deepStrictEqual(echo.closes, ["end"])
      yield* until("a counted closed", () => Effect.runSync(proxy.stats).open === 1)
    }))

  it.live("pause holds bytes and keeps connections; resume delivers them in order", () =>
    Effect.gen(function*() {
      const { echo, proxy } = yield* setup
      const a = yield* connect(proxy.port)
      a.send("1")
      yield* until("echoed", () => a.received() === "1")
      yield* proxy.pause
      a.send("2")
      a.send("3")
      const b = yield* connect(proxy.port) // accepted while paused, held alike
      b.send("x")
      yield* never("nothing is forwarded while paused", () => echo.received() !== "1" || a.received() !== "1")
      assert.isUndefined(a.ended())
      yield* proxy.resume
      yield* until("held bytes delivered", () => a.received() === "123" && b.received() === "x")
      assert.strictEqual(yield* proxy.mode, "forwarding")
      assert.strictEqual(echo.connections(), 2)
    }))

  it.live("blackhole: connections open and new are read, never forwarded or answered; heal serves new ones", () =>
    Effect.gen(function*() {
      const { echo, proxy } = yield* setup
      const a = yield* connect(proxy.port)
      a.send("before")
      yield* until("echoed", () => a.received() === "before")
      yield* proxy.blackhole
      a.send("lost")
      const b = yield* connect(proxy.port)
      b.send("lost too")
      yield* never("nothing reaches the server or comes back", () =>
        echo.received() !== "before" || a.received() !== "before" || b.received() !== "")
      assert.isUndefined(a.ended(), "no FIN, no RST")
      assert.isUndefined(b.ended())
      assert.strictEqual(echo.connections(), 1, "b was never connected to the target")
      yield* proxy.heal
      const c = yield* connect(proxy.port)
      c.send("after")
      yield* until("a new connection works", () => c.received() === "after")
      a.send("still lost")
      yield* never("a blackholed connection stays dead", () => a.received() !== "before")
      assert.deepStrictEqual(yield* proxy.stats, { accepted: 3, open: 3 })
    }))

  it.live("halfOpen: silence without FIN or RST on either side; only new connections recover", () =>
    Effect.gen(function*() {
      const { echo, proxy } = yield* setup
      const a = yield* connect(proxy.port)
      a.send("ping")
      yield* until("echoed", () => a.received() === "ping")
      yield* proxy.halfOpen
      assert.strictEqual(yield* proxy.mode, "halfOpen")
      a.send("into the void")
      const b = yield* connect(proxy.port) // the handshake completes (the kernel does it), then silence
      b.send("hello?")
      yield* never("no byte, no FIN, no RST anywhere", () =>
        a.received() !== "ping" || a.ended() !== undefined || b.received() !== "" || b.ended() !== undefined ||
        echo.received() !== "ping" || echo.closes.length > 0)
      yield* proxy.heal
      a.send("again")
      const c = yield* connect(proxy.port)
      c.send("new")
      yield* until("a new connection works", () => c.received() === "new")
      yield* never("the severed connection stays silent", () => a.received() !== "ping" || a.ended() !== undefined)
      assert.deepStrictEqual(yield* proxy.stats, { accepted: 3, open: 3 })
      // reset ends even severed connections, on both sides
      yield* proxy.reset
      yield* until("every client was reset", () => [a, b, c].every((x) => x.ended() === "reset"))
      yield* until("the server saw its two connections reset", () => echo.closes.length === 2)
      assert.deepStrictEqual(echo.closes, ["reset", "reset"])
    }))

  it.live("reset closes every connection with an RST on both sides; new connections are forwarded", () =>
    Effect.gen(function*() {
      const { echo, proxy } = yield* setup
      const a = yield* connect(proxy.port)
      const b = yield* connect(proxy.port)
      a.send("a")
      b.send("b")
      yield* until("echoed", () => a.received() === "a" && b.received() === "b")
      yield* proxy.reset
      yield* until("both clients reset", () => a.ended() === "reset" && b.ended() === "reset")
      yield* until("both server sockets reset", () => echo.closes.length === 2)
      assert.deepStrictEqual(echo.closes, ["reset", "reset"])
      assert.strictEqual((yield* proxy.stats).open, 0)
      const c = yield* connect(proxy.port)
      c.send("c")
      yield* until("a new connection works", () => c.received() === "c")
    }))

  it.live("delay adds latency to every chunk, both ways, in order; heal removes it", () =>
    Effect.gen(function*() {
      const { proxy } = yield* setup
      const a = yield* connect(proxy.port)
      yield* proxy.delay("150 millis")
      const started = Date.now()
      a.send("x")
      yield* Effect.sleep("20 millis")
      a.send("y")
      yield* until("echoed", () => a.received() === "xy")
      const elapsed = Date.now() - started
      assert.isAtLeast(elapsed, 300, "150 ms out and 150 ms back")
      assert.isBelow(elapsed, 1500)
      yield* proxy.heal
      const healed = Date.now()
      a.send("z")
      yield* until("echoed", () => a.received() === "xyz")
      assert.isBelow(Date.now() - healed, 150)
    }))

  it.live("a connection the target refuses is reset; closing the scope closes the proxy and its connections", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const port = yield* Effect.scoped(Effect.gen(function*() {
        const inner = yield* FaultProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
        const a = yield* connect(inner.port)
        a.send("hi")
        yield* until("echoed", () => a.received() === "hi")
        return inner.port
      }))
      yield* until("the server saw the inner proxy's connection closed", () => echo.closes.length === 1)
      const refused = yield* Effect.callback<string>((resume) => {
        const socket = net.connect({ host: "127.0.0.1", port })
        socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code ?? "error")))
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed("connected"))
        })
      })
      assert.strictEqual(refused, "ECONNREFUSED", "the closed proxy no longer listens")
      // a proxy whose target is gone: the closed inner proxy's port
      const dangling = yield* FaultProxy.make({ target: { host: "127.0.0.1", port } })
      const b = yield* connect(dangling.port)
      yield* until("the client was reset", () => b.ended() === "reset")
      assert.deepStrictEqual(yield* dangling.stats, { accepted: 1, open: 0 })
    }))
})
