/**
 * The fake API server: a thin front over its parts, wired together here.
 *
 * - `registry.ts`: the types served; `storage.ts`: objects, the resourceVersion and the watch history;
 * - `reads.ts` (get, paged list, with `continueTokens.ts`) and `watches.ts`;
 * - `writes.ts`: the write pipeline, with `admission.ts`, `validation.ts` and `patches.ts`;
 *   `deletion.ts`: deletes and finalizers;
 * - `garbageCollector.ts` and the namespace controller in `namespaces.ts`, which run after each
 *   write (or on demand, with `garbageCollection: "manual"`).
 *
 * Everything here is synchronous and runs to completion, so each request is atomic, as an etcd
 * transaction is. Failures are thrown as `ClusterError`s and turned into typed failures by the caller.
 *
 * @internal
 */
import type { Cluster, Resource } from "@kubefx/core"
import { deleteAt } from "./deletion.ts"
import { GarbageCollector } from "./garbageCollector.ts"
import type { ControllerWrites, Env, Obj, StateOptions, WriteFlags } from "./model.ts"
import { processNamespace, standardNamespaces } from "./namespaces.ts"
import { present } from "./objects.ts"
import * as Reads from "./reads.ts"
import { Registry, scope } from "./registry.ts"
import { Store } from "./storage.ts"
import type { TypeInfo } from "./types.ts"
import type { Sink } from "./watches.ts"
import { Watches } from "./watches.ts"
import { Writes } from "./writes.ts"

/** @internal */
export class State {
  readonly options: StateOptions
  private readonly store: Store
  private readonly registry = new Registry()
  private readonly watches: Watches
  private readonly gc: GarbageCollector
  private readonly writes: Writes
  private readonly afterWrite = (env: Env): void => {
    if (this.options.garbageCollection === "immediate") this.gc.run(env)
  }

  constructor(options: StateOptions, types: ReadonlyArray<Resource.ResourceType<any>>, env: Env) {
    this.options = options
    this.store = new Store(options.historyLimit)
    this.watches = new Watches(this.store)
    this.writes = new Writes(this.store, this.registry, {
      engine: options.engine,
      namespaces: options.namespaces,
      afterWrite: this.afterWrite
    })
    const controllers: ControllerWrites = {
      update: (info, ns, name, next, existing, env) => this.writes.controllerUpdate(info, ns, name, next, existing, env),
      delete: (info, ns, name, options, env) => void deleteAt(this.store, this.afterWrite, info, ns, name, options, env)
    }
    this.gc = new GarbageCollector(
      this.store,
      this.registry,
      controllers,
      (name, env) => processNamespace(this.registry, this.store, controllers, name, env)
    )
    // The collector indexes a commit before any watch hears of it.
    this.store.onCommit((st, event) => this.gc.index(st, event))
    this.store.onCommit((st, event) => this.watches.publish(st, event))
    for (const t of types) this.register(t)
    const ns = this.registry.namespaceType()
    if (ns !== undefined) {
      for (const name of standardNamespaces) {
        this.create(ns, { apiVersion: "v1", kind: "Namespace", metadata: { name } }, { fieldManager: "kube-apiserver", dryRun: false }, env)
      }
    }
  }

  /** The cluster's current resourceVersion. */
  get rv(): number {
    return this.store.rv
  }

  // --- types ----------------------------------------------------------------------------------

  register(type: Resource.ResourceType<any>): TypeInfo {
    const info = this.registry.register(type)
    this.store.ensure(info)
    return info
  }

  /** A request for a type the server does not serve is a 404, as for an uninstalled CRD. */
  resolve(type: Resource.ResourceType<any>): TypeInfo {
    return this.registry.resolve(type)
  }

  typeFor(type: Resource.ResourceType<any>): TypeInfo | undefined {
    return this.registry.typeFor(type)
  }

  // --- reads and watches ----------------------------------------------------------------------

  get(info: TypeInfo, namespace: string | undefined, name: string): Obj {
    return Reads.get(this.store, info, namespace, name)
  }

  list(info: TypeInfo, options: Cluster.ListOptions): Cluster.ObjectList {
    return Reads.list(this.store, info, options)
  }

  /** See `Watches.watch`: the events to replay, and the sink to `unwatch` later. */
  watch(
    info: TypeInfo,
    options: Cluster.WatchOptions,
    deliver: (event: Cluster.WatchEvent) => void
  ): { readonly replay: ReadonlyArray<Cluster.WatchEvent>; readonly sink: Sink } {
    return this.watches.watch(info, options, deliver)
  }

  unwatch(sink: Sink): void {
    this.watches.unwatch(sink)
  }

  // --- writes ---------------------------------------------------------------------------------

  create(info: TypeInfo, input: unknown, flags: WriteFlags, env: Env): Obj {
    return this.writes.create(info, input, flags, env)
  }

  replace(info: TypeInfo, input: unknown, flags: WriteFlags, env: Env, subresource: "status" | undefined): Obj {
    return this.writes.replace(info, input, flags, env, subresource)
  }

  patch(
    info: TypeInfo,
    namespace: string | undefined,
    name: string,
    patch: Cluster.Patch,
    flags: WriteFlags,
    env: Env,
    subresource: "status" | undefined
  ): Obj {
    return this.writes.patch(info, namespace, name, patch, flags, env, subresource)
  }

  apply(info: TypeInfo, input: unknown, options: { fieldManager: string; force: boolean; dryRun: boolean }, env: Env): Obj {
    return this.writes.apply(info, input, options, env)
  }

  delete(info: TypeInfo, namespace: string | undefined, name: string, options: Cluster.DeleteOptions, env: Env): Obj {
    return deleteAt(this.store, this.afterWrite, info, scope(info, namespace, name), name, options, env)
  }

  // --- test controls --------------------------------------------------------------------------

  /** Runs the garbage collector (and the namespace controller) until nothing is left to do. */
  collectGarbage(env: Env): void {
    this.gc.run(env)
  }

  /** Drops every retained event: resuming from an earlier version is then a 410. */
  compact(): void {
    this.store.compact()
  }

  /** Every stored object (copies), sorted by type, namespace and name. */
  snapshot(info: TypeInfo | undefined): ReadonlyArray<Obj> {
    const out: Array<Obj> = []
    const storages = info === undefined ? [...this.store.all()] : [this.store.of(info)]
    for (const st of storages.sort((a, b) => (a.info.storage < b.info.storage ? -1 : 1))) {
      for (const key of [...st.objects.keys()].sort()) {
        out.push(present(info ?? st.info, st.objects.get(key)!))
      }
    }
    return out
  }
}
