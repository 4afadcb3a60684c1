/**
 * One proxied TCP connection: the accepted client socket, the socket to the target, and a `Pipe` for each
 * direction. Everything here runs on Node's event loop and the real clock; the `FaultProxy` front only
 * tells connections what the proxy's mode is.
 *
 * @internal
 */
import * as net from "node:net"

/** What the proxy does with bytes (and with connections it accepts). */
export type Mode = "forwarding" | "paused" | "blackhole" | "halfOpen"

/** What every connection reads from the proxy when it decides what to do. */
export interface Controls {
  readonly mode: () => Mode
  readonly delayMs: () => number
}

/**
 * A connection's own fate. `live` follows the proxy's mode (forwarding or paused); the other two are final,
 * because the connection cannot be trusted again: `swallowed` (blackholed) lost bytes, `severed` (half-open)
 * stands for a path that no longer exists.
 */
export type Fate = "live" | "swallowed" | "severed"

/** Reading stops while this much is waiting out a delay, so a fast sender meets backpressure, not a growing buffer. */
const MAX_QUEUED_BYTES = 1 << 20

/** One direction: chunks wait out the delay in arrival order; reading stops while held, congested or full. */
class Pipe {
  /** `undefined` stands for the end of the stream (a FIN), delivered in order after the bytes before it. */
  private queue: Array<{ readonly chunk: Buffer | undefined; readonly due: number }> = []
  private queuedBytes = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private congested = false
  private readonly from: net.Socket
  private readonly to: net.Socket
  private readonly connection: Connection

  constructor(from: net.Socket, to: net.Socket, connection: Connection) {
    this.from = from
    this.to = to
    this.connection = connection
    from.on("data", (chunk: Buffer) => this.take(chunk))
    from.on("end", () => this.take(undefined))
    to.on("drain", () => {
      this.congested = false
      this.pump()
    })
  }

  private take(chunk: Buffer | undefined): void {
    const fate = this.connection.fate
    if (fate === "swallowed") {
      // Read and dropped; a side that finished is closed, without telling the other.
      if (chunk === undefined) this.from.destroy()
      return
    }
    if (fate === "severed") return
    this.queue.push({ chunk, due: Date.now() + this.connection.controls.delayMs() })
    this.queuedBytes += chunk?.length ?? 0
    this.pump()
  }

  /** Delivers what is due, schedules the rest, and decides whether to keep reading. */
  pump(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.connection.fate === "live" && this.connection.controls.mode() !== "paused") {
      while (this.queue.length > 0 && !this.congested) {
        const head = this.queue[0]!
        const wait = head.due - Date.now()
        if (wait > 0) {
          this.timer = setTimeout(() => this.pump(), wait)
          break
        }
        this.queue.shift()
        if (this.to.destroyed) continue
        if (head.chunk === undefined) this.to.end()
        else {
          this.queuedBytes -= head.chunk.length
          if (!this.to.write(head.chunk)) this.congested = true
        }
      }
    }
    this.updateReading()
  }

  /** Forgets what was waiting (a connection that leaves `live` never delivers it). */
  drop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
    this.queuedBytes = 0
    this.updateReading()
  }

  private updateReading(): void {
    if (this.from.destroyed) return
    const fate = this.connection.fate
    const read = fate === "swallowed" ||
      (fate === "live" && this.connection.controls.mode() !== "paused" && !this.congested &&
        this.queuedBytes < MAX_QUEUED_BYTES)
    if (read) this.from.resume()
    else this.from.pause()
  }
}

const resetSocket = (socket: net.Socket): void => {
  if (!socket.destroyed) socket.resetAndDestroy()
}

/**
 * A connection accepted by the proxy. A `live` one is connected to the target at once; a connection
 * accepted while the proxy blackholes or is half-open never is.
 */
export class Connection {
  fate: Fate
  readonly controls: Controls
  private readonly client: net.Socket
  private readonly upstream: net.Socket | undefined
  private readonly pipes: ReadonlyArray<Pipe>

  constructor(
    client: net.Socket,
    target: { readonly host: string; readonly port: number },
    controls: Controls,
    onClose: () => void
  ) {
    this.client = client
    this.controls = controls
    const mode = controls.mode()
    this.fate = mode === "blackhole" ? "swallowed" : mode === "halfOpen" ? "severed" : "live"
    client.on("error", () => {})
    client.once("close", onClose)
    if (this.fate !== "live") {
      // Never connected: one pipe only reads (and drops) or holds the client's side.
      this.upstream = undefined
      this.pipes = [new Pipe(client, client, this)]
      this.pipes[0]!.pump()
      return
    }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
    this.upstream = upstream
    upstream.on("error", () => {})
    // A live connection passes an abrupt close (an RST, a refused connect) on as an RST. A clean close needs
    // nothing: both FINs went through the pipes, and the other side closes by itself.
    const propagate = (other: net.Socket) => (hadError: boolean) => {
      if (this.fate === "live" && hadError) resetSocket(other)
    }
    client.once("close", propagate(upstream))
    upstream.once("close", propagate(client))
    this.pipes = [new Pipe(client, upstream, this), new Pipe(upstream, client, this)]
    for (const pipe of this.pipes) pipe.pump()
  }

  /** Blackholed: from now on every byte is read and dropped, both ways. */
  swallow(): void {
    if (this.fate !== "live") return
    this.fate = "swallowed"
    // Each pipe now reads its side and drops what it reads.
    for (const pipe of this.pipes) pipe.drop()
  }

  /** Half-open: nothing is read, nothing is written, no FIN and no RST, ever again. */
  sever(): void {
    if (this.fate === "severed") return
    this.fate = "severed"
    // Each pipe now stops reading its side.
    for (const pipe of this.pipes) pipe.drop()
  }

  /** The proxy's mode changed: held or delayed bytes may flow now. */
  wake(): void {
    for (const pipe of this.pipes) pipe.pump()
  }

  /** Both sockets closed with an RST. */
  reset(): void {
    resetSocket(this.client)
    if (this.upstream !== undefined) resetSocket(this.upstream)
  }

  destroy(): void {
    this.client.destroy()
    this.upstream?.destroy()
  }
}
