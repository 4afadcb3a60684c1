/**
 * Storage and the watch history: objects per storage (one per group and plural, shared by every
 * version, as in etcd), one global resourceVersion counter, and a bounded event history per storage
 * (the watch cache) from which watches resume and paged lists are served consistently.
 *
 * @internal
 */
import type { EventType, Obj } from "./model.ts"
import { withRv } from "./objects.ts"
import type { TypeInfo } from "./types.ts"
import { errors } from "./types.ts"

/** One committed change; `prev` is the object before it (absent for ADDED). @internal */
export interface HistoryEvent {
  readonly rv: number
  readonly type: EventType
  readonly key: string
  readonly object: Obj
  readonly prev: Obj | undefined
}

/** @internal */
export interface Storage {
  readonly info: TypeInfo
  readonly objects: Map<string, Obj>
  events: Array<HistoryEvent>
  /** Watches and continues from a resourceVersion below this are gone (410). */
  horizon: number
}

/** Called after every commit, in registration order (the garbage collector's index, then watches). @internal */
export type CommitListener = (st: Storage, event: HistoryEvent) => void

/** A resourceVersion parameter: a decimal number, else a 400. @internal */
export const parseRv = (info: TypeInfo | undefined, rv: string): number => {
  if (!/^\d+$/.test(rv)) throw errors.badRequest(info, `invalid resource version "${rv}"`)
  return Number(rv)
}

/** @internal */
export class Store {
  /** The cluster's resourceVersion: the version of the last commit. */
  rv = 0
  private readonly historyLimit: number
  private readonly storages = new Map<string, Storage>()
  private readonly listeners: Array<CommitListener> = []

  constructor(historyLimit: number) {
    this.historyLimit = historyLimit
  }

  /** Creates the storage of a type on first registration; versions of one resource share it. */
  ensure(info: TypeInfo): void {
    if (!this.storages.has(info.storage)) {
      this.storages.set(info.storage, { info, objects: new Map(), events: [], horizon: 0 })
    }
  }

  of(info: TypeInfo): Storage {
    return this.storages.get(info.storage)!
  }

  byId(storage: string): Storage | undefined {
    return this.storages.get(storage)
  }

  /** Every storage, in registration order. */
  all(): IterableIterator<Storage> {
    return this.storages.values()
  }

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener)
  }

  /** Stores (or removes) one object under the next resourceVersion and records the event. */
  commit(st: Storage, key: string, type: EventType, next: Obj | undefined, prev: Obj | undefined): Obj {
    const rv = ++this.rv
    let stored: Obj
    if (type === "DELETED") {
      stored = withRv(prev!, rv)
      st.objects.delete(key)
    } else {
      stored = withRv(next!, rv)
      st.objects.set(key, stored)
    }
    const event: HistoryEvent = { rv, type, key, object: stored, prev }
    st.events.push(event)
    while (st.events.length > this.historyLimit) {
      st.horizon = st.events.shift()!.rv
    }
    for (const listener of this.listeners) listener(st, event)
    return stored
  }

  /** The objects of a storage as they were at `rv`, rebuilt by undoing the retained history. */
  snapshotAt(st: Storage, rv: number): Map<string, Obj> {
    const objects = new Map(st.objects)
    for (let i = st.events.length - 1; i >= 0; i--) {
      const e = st.events[i]!
      if (e.rv <= rv) break
      if (e.type === "ADDED") objects.delete(e.key)
      else objects.set(e.key, e.prev!)
    }
    return objects
  }

  /** Drops every retained event: resuming from an earlier version is then a 410. */
  compact(): void {
    for (const st of this.storages.values()) {
      st.events = []
      st.horizon = this.rv
    }
  }
}
