/**
 * Just enough API-server behavior for CRUD round trips over the wire: objects by path, resourceVersions,
 * AlreadyExists / NotFound / Conflict, merge patches, the status subresource, paged lists (items without
 * apiVersion/kind, as the real server sends them) and delete answering with the object.
 */
import type * as http from "node:http"
import { type Handler, json, type Recorded, status } from "./LoopbackApiServer.ts"

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown>; [key: string]: unknown }

const route = /^\/(api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/

const kinds: Record<string, { kind: string; apiVersion: string }> = {
  configmaps: { kind: "ConfigMap", apiVersion: "v1" },
  namespaces: { kind: "Namespace", apiVersion: "v1" },
  widgets: { kind: "Widget", apiVersion: "example.com/v1" }
}

const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as object) } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

export interface MiniApi {
  readonly handler: Handler
  readonly objects: Map<string, Obj>
}

export const make = (): MiniApi => {
  const objects = new Map<string, Obj>()
  let rv = 100
  const handler = (req: Recorded, res: http.ServerResponse) => {
    const m = route.exec(req.path)
    if (m === null) return json(res, 404, status(404, "NotFound", "the server could not find the requested resource"))
    const [, gv, ns, plural, name, sub] = m as unknown as [string, string, string | undefined, string, string | undefined, string | undefined]
    const info = kinds[plural!]
    if (info === undefined) return json(res, 404, status(404, "NotFound", "the server could not find the requested resource"))
    // cluster-scoped namespaces: /api/v1/namespaces/<name> parses as ns=undefined, plural=namespaces, name
    const key = `${gv}/${ns ?? ""}/${plural}/${name ?? ""}`
    const notFound = () =>
      json(res, 404, status(404, "NotFound", `${plural} "${name}" not found`, { name, kind: plural }))
    const body = req.body === "" ? undefined : JSON.parse(req.body)
    const stamp = (o: Obj): Obj => ({ ...o, metadata: { ...o.metadata, resourceVersion: String(++rv) } })

    if (name === undefined) {
      if (req.method === "GET") {
        const prefix = `${gv}/${ns ?? ""}/${plural}/`
        const all = [...objects.entries()].filter(([k]) => ns === undefined || k.startsWith(prefix)).map(([, o]) => o)
        const limit = Number(req.query.get("limit") ?? "0")
        const from = Number(req.query.get("continue") ?? "0")
        const page = limit > 0 ? all.slice(from, from + limit) : all.slice(from)
        const next = limit > 0 && from + limit < all.length ? String(from + limit) : undefined
        return json(res, 200, {
          kind: `${info.kind}List`,
          apiVersion: info.apiVersion,
          metadata: { resourceVersion: String(rv), ...(next === undefined ? {} : { continue: next }) },
          items: page.map(({ apiVersion: _a, kind: _k, ...rest }) => rest)
        })
      }
      if (req.method === "POST") {
        const objName = body.metadata.name as string
        const objKey = `${gv}/${ns ?? ""}/${plural}/${objName}`
        if (objects.has(objKey)) {
          return json(res, 409, status(409, "AlreadyExists", `${plural} "${objName}" already exists`, { name: objName }))
        }
        const created = stamp({ ...body, metadata: { ...body.metadata, ...(ns ? { namespace: ns } : {}), uid: `uid-${objName}` } })
        objects.set(objKey, created)
        return json(res, 201, created)
      }
    }
    const current = objects.get(key)
    switch (req.method) {
      case "GET":
        return current === undefined ? notFound() : json(res, 200, current)
      case "PUT": {
        if (current === undefined) return notFound()
        const expected = body.metadata?.resourceVersion
        if (expected !== undefined && expected !== current.metadata.resourceVersion) {
          return json(res, 409, status(409, "Conflict", `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified`))
        }
        const next = sub === "status" ? { ...current, status: body.status } : { ...body, status: current.status }
        const updated = stamp(next as Obj)
        objects.set(key, updated)
        return json(res, 200, updated)
      }
      case "PATCH": {
        if (current === undefined) return notFound()
        const patched = mergePatch(current, sub === "status" ? { status: body.status } : body) as Obj
        const updated = stamp(patched)
        objects.set(key, updated)
        return json(res, 200, updated)
      }
      case "DELETE": {
        if (current === undefined) return notFound()
        objects.delete(key)
        return json(res, 200, current)
      }
    }
    return json(res, 405, status(405, "MethodNotAllowed", "method not allowed"))
  }
  return { handler, objects }
}
