/**
 * Echoes: the watch events of a reconcile's own writes. The API server sends a write's watch event and its answer
 * independently, and the event often arrives first; queued at once, it would run the parent again only to find
 * nothing to do (about one reconcile in ten on a real server). So changes for a parent being reconciled are held,
 * its writes are journalled, and when the reconcile ends the parent is queued again only if a held change is not
 * an echo of one of its writes: another writer's change still gets its reconcile, and an echo costs none.
 */
import type * as Reconciler from "../../Reconciler.ts"
import type { KubeObject, ResourceType } from "../../Resource.ts"
import { keyOf, refOf, typeKey } from "../../Resource.ts"
import type { Change } from "../../Store.ts"
import * as Trigger from "../../Trigger.ts"

export interface Echoes {
  /** The key's reconcile starts: hold its changes, journal its writes. */
  readonly begin: (key: string) => void
  /** Holds `change` for `key` if `key` is being reconciled (true), else leaves it to the caller to queue. */
  readonly hold: (key: string, change: Change) => boolean
  /** The key's reconcile ended: whether a held change was not an echo of its writes (queue it again). */
  readonly end: (key: string) => boolean
  /** Journals a write of any running reconcile (the observer the Reconciler is given). */
  readonly observer: Reconciler.WriteObserver
}

interface Turn {
  readonly held: Array<Change>
  readonly wrote: Set<string>
}

const id = (type: ResourceType, object: KubeObject, version: string) => `${typeKey(type)}|${keyOf(refOf(object))}|${version}`

/** A change is an echo when its new state is one a write answered with, or its deletion one we made. */
const echoId = (change: Change): string | undefined => {
  if (change.current !== undefined) {
    const rv = change.current.metadata.resourceVersion
    return rv === undefined ? undefined : id(change.type, change.current, rv)
  }
  const uid = change.previous?.metadata.uid
  return change.previous === undefined || uid === undefined ? undefined : id(change.type, change.previous, `deleted:${uid}`)
}

export const make = (parentType: ResourceType): Echoes => {
  const turns = new Map<string, Turn>()
  return {
    begin: (key) => void turns.set(key, { held: [], wrote: new Set() }),
    hold: (key, change) => {
      const turn = turns.get(key)
      if (turn === undefined) return false
      turn.held.push(change)
      return true
    },
    end: (key) => {
      const turn = turns.get(key)
      turns.delete(key)
      if (turn === undefined) return false
      return turn.held.some((change) => {
        const echo = echoId(change)
        return echo === undefined || !turn.wrote.has(echo)
      })
    },
    observer: {
      wrote: (kind, type, object) => {
        if (turns.size === 0) return
        // A deletion echoes as DELETED, or as MODIFIED (deletionTimestamp set) while finalizers hold the object.
        const versions = [object.metadata.resourceVersion, kind === "delete" ? `deleted:${object.metadata.uid ?? ""}` : undefined]
        // The parent's own writes, or a child's: journalled for whichever running reconcile the change maps to.
        const keys = typeKey(type) === typeKey(parentType)
          ? [keyOf(refOf(object))]
          : Trigger.keysFor(parentType, { type, previous: undefined, current: object })
        for (const key of keys) {
          const turn = turns.get(key)
          for (const v of versions) if (turn !== undefined && v !== undefined) turn.wrote.add(id(type, object, v))
        }
      }
    }
  }
}
