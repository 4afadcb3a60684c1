/**
 * External state the operator keeps in step with the cluster: a directory of echo-server URLs (think DNS
 * records or a service catalogue). `sync` registers each server; `finalize` removes the entry before the
 * EchoServer is deleted, which is what finalizers are for.
 *
 * The in-memory layer stands in for a real catalogue; an operator would provide its own client here.
 */
import { Context, Effect, Layer } from "effect"

export class Directory extends Context.Service<Directory, {
  readonly register: (name: string, url: string) => Effect.Effect<void>
  readonly unregister: (name: string) => Effect.Effect<void>
  readonly entries: Effect.Effect<ReadonlyMap<string, string>>
}>()("@kubefx/example-echo-server/Directory") {
  static readonly layerMemory: Layer.Layer<Directory> = Layer.sync(Directory, () => {
    const entries = new Map<string, string>()
    return {
      register: (name, url) =>
        Effect.suspend(() => {
          if (entries.get(name) === url) return Effect.void
          entries.set(name, url)
          return Effect.logInfo(`directory: registered ${name} → ${url}`)
        }),
      unregister: (name) =>
        Effect.suspend(() => {
          if (!entries.delete(name)) return Effect.void
          return Effect.logInfo(`directory: removed ${name}`)
        }),
      entries: Effect.sync(() => new Map(entries))
    }
  })
}
