import { describe, expect, it } from "@effect/vitest"
import * as Builtin from "../src/Builtin.ts"
import type { KubeObject } from "../src/Resource.ts"
import * as Store from "../src/Store.ts"

const cm = (name: string, rv: string, owner?: string, uid = `uid-${name}`): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name,
    namespace: "ns",
    uid,
    resourceVersion: rv,
    ...(owner ? { ownerReferences: [{ apiVersion: "x/v1", kind: "P", name: "p", uid: owner, controller: true }] } : {})
  }
})

describe("Store", () => {
  it("indexes children by controller uid and re-indexes when the owner changes", () => {
    const s = Store.make()
    s.upsert(Builtin.ConfigMap, cm("a", "1", "o1"))
    s.upsert(Builtin.ConfigMap, cm("b", "2", "o1"))
    expect(s.childrenOf("o1").map((e) => e.object.metadata.name).sort()).toEqual(["a", "b"])
    s.upsert(Builtin.ConfigMap, cm("b", "3", "o2"))
    expect(s.childrenOf("o1").map((e) => e.object.metadata.name)).toEqual(["a"])
    expect(s.childrenOf("o2").map((e) => e.object.metadata.name)).toEqual(["b"])
    s.remove(Builtin.ConfigMap, cm("a", "4", "o1"))
    expect(s.childrenOf("o1")).toEqual([])
  })

  it("ignores an event at the stored resourceVersion or an older one (our own write already stored)", () => {
    const s = Store.make()
    expect(s.upsert(Builtin.ConfigMap, cm("a", "10"))).toBeDefined()
    expect(s.upsert(Builtin.ConfigMap, cm("a", "10"))).toBeUndefined()
    expect(s.upsert(Builtin.ConfigMap, cm("a", "9"))).toBeUndefined()
    expect(s.get(Builtin.ConfigMap, "ns/a")?.metadata.resourceVersion).toBe("10")
    expect(s.upsert(Builtin.ConfigMap, cm("a", "11"))?.previous?.metadata.resourceVersion).toBe("10")
  })

  it("a late deletion of an older incarnation does not remove the re-created object", () => {
    const s = Store.make()
    s.upsert(Builtin.ConfigMap, cm("a", "20", undefined, "new"))
    expect(s.remove(Builtin.ConfigMap, cm("a", "15", undefined, "old"))).toBeUndefined()
    expect(s.get(Builtin.ConfigMap, "ns/a")?.metadata.uid).toBe("new")
  })

  it("replaceAll reports deletions for objects that vanished while the watch was down", () => {
    const s = Store.make()
    s.upsert(Builtin.ConfigMap, cm("a", "1"))
    s.upsert(Builtin.ConfigMap, cm("b", "2"))
    const changes = s.replaceAll(Builtin.ConfigMap, [cm("b", "2"), cm("c", "5")])
    expect(changes.map((c) => [c.previous?.metadata.name, c.current?.metadata.name])).toEqual([["a", undefined], [undefined, "c"]])
    expect(s.list(Builtin.ConfigMap).map((o) => o.metadata.name).sort()).toEqual(["b", "c"])
  })
})

describe("Store memory", () => {
  it("keeps objects without managedFields (the engine never reads them)", () => {
    const s = Store.make()
    s.upsert(Builtin.ConfigMap, { ...cm("a", "1"), metadata: { ...cm("a", "1").metadata, managedFields: [{ manager: "m", fieldsV1: { "f:data": {} } }] } })
    expect(s.get(Builtin.ConfigMap, "ns/a")?.metadata.managedFields).toBeUndefined()
    expect(s.get(Builtin.ConfigMap, "ns/a")?.metadata.resourceVersion).toBe("1")
  })

  it("applyEvent: a relist of a namespaced watch replaces only that namespace; applied and deleted events pass through", () => {
    const s = Store.make()
    const inNs = (name: string, namespace: string, rv: string): KubeObject => ({ ...cm(name, rv), metadata: { ...cm(name, rv).metadata, namespace } })
    Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Restarted", objects: [inNs("a", "one", "1"), inNs("b", "one", "2")] }, "one")
    Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Restarted", objects: [inNs("c", "two", "3")] }, "two")
    // namespace one relists without b: b goes, two's objects stay
    const changes = Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Restarted", objects: [inNs("a", "one", "1")] }, "one")
    expect(changes.map((c) => [c.previous?.metadata.name, c.current?.metadata.name])).toEqual([["b", undefined]])
    expect(s.list(Builtin.ConfigMap).map((o) => o.metadata.name).sort()).toEqual(["a", "c"])
    // without a namespace, a relist is the whole type
    Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Restarted", objects: [inNs("c", "two", "3")] })
    expect(s.list(Builtin.ConfigMap).map((o) => o.metadata.name)).toEqual(["c"])
    expect(Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Applied", object: inNs("c", "two", "3") })).toEqual([])
    expect(Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Applied", object: inNs("c", "two", "4") })).toHaveLength(1)
    expect(Store.applyEvent(s, Builtin.ConfigMap, { _tag: "Deleted", object: inNs("c", "two", "5") })).toHaveLength(1)
    expect(s.size(Builtin.ConfigMap)).toBe(0)
  })

  it("a relist is the truth: after an etcd restore its older resourceVersions replace what was stored", () => {
    const s = Store.make()
    s.upsert(Builtin.ConfigMap, cm("a", "100"))
    s.upsert(Builtin.ConfigMap, cm("b", "101"))
    // A watch event older than what is stored is refused (the result of our own write came first) ...
    expect(s.upsert(Builtin.ConfigMap, cm("a", "90"))).toBeUndefined()
    // ... but a relist replaces everything, whatever its versions.
    const changes = s.replaceAll(Builtin.ConfigMap, [cm("a", "7"), cm("b", "8")])
    expect(changes).toHaveLength(2)
    expect(s.list(Builtin.ConfigMap).map((o) => o.metadata.resourceVersion).sort()).toEqual(["7", "8"])
    // and later events are judged against the relisted versions
    expect(s.upsert(Builtin.ConfigMap, cm("a", "9"))).toBeDefined()
  })

  it("remembers an object a watch reported gone with finalizers and no deletionTimestamp (it left the selection), not a deletion", () => {
    const s = Store.make()
    const held = (name: string, extra: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
      ...cm(name, "1"), metadata: { ...cm(name, "1").metadata, finalizers: ["kubefx.io/op"], ...extra }
    })
    s.upsert(Builtin.ConfigMap, held("left"))
    s.upsert(Builtin.ConfigMap, held("deleted"))
    s.remove(Builtin.ConfigMap, held("left"))
    // kube-apiserver's DELETED event for a deletion may still carry the finalizer whose removal ended it
    s.remove(Builtin.ConfigMap, held("deleted", { deletionTimestamp: "2026-12-02T14:00:00Z" }))
    expect(s.departed(Builtin.ConfigMap, "ns/left")?.metadata.name).toBe("left")
    expect(s.departed(Builtin.ConfigMap, "ns/deleted")).toBeUndefined()
    s.upsert(Builtin.ConfigMap, held("left"))
    expect(s.departed(Builtin.ConfigMap, "ns/left")).toBeUndefined()
  })
})
