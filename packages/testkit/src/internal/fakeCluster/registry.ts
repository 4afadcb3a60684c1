/**
 * The type registry: which types the server serves (built-ins and installed CRDs), by type key and
 * by group and kind (how ownerReferences name their owner), and how a request addresses one.
 *
 * @internal
 */
import type { Resource } from "@kubefx/core"
import { ClusterError } from "@kubefx/core"
import type { TypeInfo } from "./types.ts"
import { errors, infoOf } from "./types.ts"

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "")

/** @internal */
export class Registry {
  private readonly types = new Map<string, TypeInfo>()
  private readonly byGroupKind = new Map<string, TypeInfo>()

  register(type: Resource.ResourceType<any>): TypeInfo {
    const info = infoOf(type)
    this.types.set(info.key, info)
    this.byGroupKind.set(`${type.group}/${type.kind}`, info)
    return info
  }

  /** A request for a type the server does not serve is a 404, as for an uninstalled CRD. */
  resolve(type: Resource.ResourceType<any>): TypeInfo {
    const info = this.types.get(`${type.apiVersion}/${type.kind}`)
    if (info === undefined || info.type.plural !== type.plural || info.type.namespaced !== type.namespaced) {
      throw new ClusterError.NotFound({
        message: `the server could not find the requested resource (${type.plural}${type.group === "" ? "" : `.${type.group}`})`,
        resource: `${type.apiVersion}/${type.kind}`
      })
    }
    return info
  }

  typeFor(type: Resource.ResourceType<any>): TypeInfo | undefined {
    return this.types.get(`${type.apiVersion}/${type.kind}`)
  }

  /** The type an ownerReference names (any version of its group and kind). */
  ownerType(ref: Resource.OwnerReference): TypeInfo | undefined {
    return this.byGroupKind.get(`${groupOf(ref.apiVersion)}/${ref.kind}`)
  }

  /** `v1/Namespace`, unless the cluster was built without it. */
  namespaceType(): TypeInfo | undefined {
    return this.types.get("v1/Namespace")
  }
}

/**
 * The namespace a request addresses: required for namespaced types, ignored for cluster-scoped ones.
 *
 * @internal
 */
export const scope = (info: TypeInfo, namespace: string | undefined, name?: string): string => {
  if (!info.type.namespaced) return ""
  if (namespace === undefined || namespace === "") {
    throw errors.badRequest(
      info,
      `a namespace is required to address ${info.qualifiedResource}${name ? ` "${name}"` : ""}: the type is namespaced`,
      name === undefined ? {} : { name }
    )
  }
  return namespace
}
