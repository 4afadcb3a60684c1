/**
 * The garbage collector, as `kube-controller-manager`'s: an index of dependents by owner uid, kept
 * on every commit, and a work queue of objects (and namespaces) a change may have made collectable.
 * Running it deletes dependents whose owners are gone, orphans or deletes dependents of an owner
 * deleted with `orphan` / `foregroundDeletion`, and hands namespaces to the namespace controller.
 *
 * @internal
 */
import type { Cluster, Resource } from "@kubefx/core"
import { FOREGROUND, ORPHAN } from "./deletion.ts"
import type { ControllerWrites, Env, Json, Obj } from "./model.ts"
import { copy, objKey } from "./objects.ts"
import type { Registry } from "./registry.ts"
import type { HistoryEvent, Storage, Store } from "./storage.ts"

const refId = (storage: string, key: string) => `${storage}\u0000${key}`

const NAMESPACE = "ns\u0000"

/** @internal */
export class GarbageCollector {
  private readonly store: Store
  private readonly registry: Registry
  private readonly writes: ControllerWrites
  private readonly namespaceController: (name: string, env: Env) => void
  private readonly byUid = new Map<string, { storage: string; key: string }>()
  private readonly dependents = new Map<string, Set<string>>()
  private readonly queue: Array<string> = []
  private readonly queued = new Set<string>()
  private collecting = false

  constructor(
    store: Store,
    registry: Registry,
    writes: ControllerWrites,
    namespaceController: (name: string, env: Env) => void
  ) {
    this.store = store
    this.registry = registry
    this.writes = writes
    this.namespaceController = namespaceController
  }

  /** The commit listener: keeps the owner index and queues what the change may make collectable. */
  index(st: Storage, event: HistoryEvent): void {
    const key = event.key
    const next = event.type === "DELETED" ? undefined : event.object
    const prev = event.prev
    const id = refId(st.info.storage, key)
    for (const o of prev?.metadata.ownerReferences ?? []) this.dependents.get(o.uid)?.delete(id)
    if (prev?.metadata.uid !== undefined && next === undefined) this.byUid.delete(prev.metadata.uid)
    if (next !== undefined) {
      if (next.metadata.uid !== undefined) this.byUid.set(next.metadata.uid, { storage: st.info.storage, key })
      for (const o of next.metadata.ownerReferences ?? []) {
        let set = this.dependents.get(o.uid)
        if (set === undefined) this.dependents.set(o.uid, (set = new Set()))
        set.add(id)
      }
    }
    // Garbage collector triggers: what changed may make this object, its dependents, its owners
    // or its namespace collectable.
    const uid = (next ?? prev)?.metadata.uid
    this.enqueue(id)
    if (uid !== undefined) for (const d of this.dependents.get(uid) ?? []) this.enqueue(d)
    for (const o of [...(prev?.metadata.ownerReferences ?? []), ...(next?.metadata.ownerReferences ?? [])]) {
      const owner = this.byUid.get(o.uid)
      if (owner !== undefined) this.enqueue(refId(owner.storage, owner.key))
    }
    const ns = st.info.key === "v1/Namespace" ? (next ?? prev)?.metadata.name : (next ?? prev)?.metadata.namespace
    if (ns !== undefined && ns !== "") this.enqueue(`${NAMESPACE}${ns}`)
  }

  private enqueue(id: string): void {
    if (!this.queued.has(id)) {
      this.queued.add(id)
      this.queue.push(id)
    }
  }

  /** Runs the garbage collector (and the namespace controller) until nothing is left to do. */
  run(env: Env): void {
    if (this.collecting) return
    this.collecting = true
    try {
      let steps = 0
      while (this.queue.length > 0) {
        if (++steps > 1_000_000) throw new Error("FakeCluster garbage collector did not converge")
        const id = this.queue.shift()!
        this.queued.delete(id)
        if (id.startsWith(NAMESPACE)) this.namespaceController(id.slice(NAMESPACE.length), env)
        else {
          const found = this.lookup(id)
          if (found !== undefined) this.processItem(found.st, found.obj, env)
        }
      }
    } finally {
      this.collecting = false
    }
  }

  private lookup(id: string): { st: Storage; obj: Obj } | undefined {
    const sep = id.indexOf("\u0000")
    const st = this.store.byId(id.slice(0, sep))
    const obj = st?.objects.get(id.slice(sep + 1))
    return st !== undefined && obj !== undefined ? { st, obj } : undefined
  }

  private update(st: Storage, obj: Obj, next: Json, env: Env): void {
    this.writes.update(st.info, obj.metadata.namespace ?? "", obj.metadata.name!, next, obj, env)
  }

  private removeFinalizer(st: Storage, obj: Obj, finalizer: string, env: Env): void {
    const next: Json = copy(obj)
    next.metadata.finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer)
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers
    this.update(st, obj, next, env)
  }

  private dependentsOf(uid: string): Array<{ st: Storage; obj: Obj }> {
    const out: Array<{ st: Storage; obj: Obj }> = []
    for (const id of this.dependents.get(uid) ?? []) {
      const found = this.lookup(id)
      if (found !== undefined) out.push(found)
    }
    return out
  }

  private ownerState(dependent: Obj, ref: Resource.OwnerReference): "solid" | "dangling" | "waiting" | "unknown" {
    const info = this.registry.ownerType(ref)
    if (info === undefined) return "unknown"
    const depNs = dependent.metadata.namespace ?? ""
    // A cluster-scoped dependent cannot have a namespaced owner: the collector treats it as absent.
    if (info.type.namespaced && depNs === "") return "dangling"
    const owner = this.store.of(info).objects.get(objKey(info.type.namespaced ? depNs : "", ref.name))
    if (owner === undefined || owner.metadata.uid !== ref.uid) return "dangling"
    if (owner.metadata.deletionTimestamp !== undefined && (owner.metadata.finalizers ?? []).includes(FOREGROUND)) {
      return "waiting"
    }
    return "solid"
  }

  private processItem(st: Storage, obj: Obj, env: Env): void {
    const meta = obj.metadata
    const deleting = meta.deletionTimestamp !== undefined
    const finalizers = meta.finalizers ?? []
    if (deleting && finalizers.includes(ORPHAN)) {
      for (const dep of this.dependentsOf(meta.uid!)) {
        const next: Json = copy(dep.obj)
        next.metadata.ownerReferences = (dep.obj.metadata.ownerReferences ?? []).filter((o) => o.uid !== meta.uid)
        if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences
        this.update(dep.st, dep.obj, next, env)
      }
      this.removeFinalizer(st, st.objects.get(objKey(meta.namespace ?? "", meta.name!))!, ORPHAN, env)
      return
    }
    if (deleting && finalizers.includes(FOREGROUND)) {
      const deps = this.dependentsOf(meta.uid!)
      const blocking = deps.filter((d) =>
        (d.obj.metadata.ownerReferences ?? []).some((o) => o.uid === meta.uid && o.blockOwnerDeletion === true)
      )
      if (blocking.length === 0) {
        this.removeFinalizer(st, obj, FOREGROUND, env)
        return
      }
      for (const d of deps) this.enqueue(refId(d.st.info.storage, objKey(d.obj.metadata.namespace ?? "", d.obj.metadata.name!)))
      return
    }
    if (deleting) return
    const refs = meta.ownerReferences ?? []
    if (refs.length === 0) return
    const states = refs.map((r) => ({ ref: r, state: this.ownerState(obj, r) }))
    if (states.some((s) => s.state === "unknown")) return
    const solid = states.filter((s) => s.state === "solid")
    const waiting = states.filter((s) => s.state === "waiting")
    const dangling = states.filter((s) => s.state === "dangling")
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return
      const drop = new Set([...dangling, ...waiting].map((s) => s.ref.uid))
      const next: Json = copy(obj)
      next.metadata.ownerReferences = refs.filter((r) => !drop.has(r.uid))
      this.update(st, obj, next, env)
      return
    }
    const hasDependents = this.dependentsOf(meta.uid!).length > 0
    const policy: Cluster.DeleteOptions["propagationPolicy"] = waiting.length > 0 && hasDependents
      ? "Foreground"
      : finalizers.includes(ORPHAN)
      ? "Orphan"
      : finalizers.includes(FOREGROUND)
      ? "Foreground"
      : "Background"
    this.writes.delete(st.info, meta.namespace ?? "", meta.name!, { propagationPolicy: policy, preconditions: { uid: meta.uid! } }, env)
  }
}
