/**
 * The CustomResourceDefinition of a custom resource: its names, scope, one served and stored version, the
 * status subresource, printer columns, and the `openAPIV3Schema` built from the `spec` and `status` Schemas.
 *
 * @internal
 */
import type { Resource } from "@kubefx/core"
import { Invalid } from "./invalid.ts"
import { finish, type JSONSchemaProps } from "./jsonSchemaProps.ts"
import { checkLabel, checkSubdomain } from "./names.ts"
import { structural } from "./structuralSchema.ts"

export interface CustomResourceColumnDefinition {
  readonly name: string
  readonly type: Resource.PrinterColumn["type"]
  readonly jsonPath: string
  readonly description?: string
  readonly priority?: number
}

export interface CustomResourceDefinitionNames {
  readonly plural: string
  readonly singular: string
  readonly kind: string
  readonly listKind: string
  readonly shortNames?: ReadonlyArray<string>
  readonly categories?: ReadonlyArray<string>
}

export interface CustomResourceDefinitionVersion {
  readonly name: string
  readonly served: boolean
  readonly storage: boolean
  readonly schema: { readonly openAPIV3Schema: JSONSchemaProps }
  readonly subresources: { readonly status: Record<string, never> }
  readonly additionalPrinterColumns: ReadonlyArray<CustomResourceColumnDefinition>
}

/** An `apiextensions.k8s.io/v1` CustomResourceDefinition, as `buildCrd` generates it. */
export interface CustomResourceDefinition extends Resource.KubeObject {
  readonly apiVersion: "apiextensions.k8s.io/v1"
  readonly kind: "CustomResourceDefinition"
  readonly metadata: {
    readonly name: string
    readonly labels?: Readonly<Record<string, string>>
    readonly annotations?: Readonly<Record<string, string>>
  }
  readonly spec: {
    readonly group: string
    readonly names: CustomResourceDefinitionNames
    readonly scope: "Namespaced" | "Cluster"
    readonly versions: ReadonlyArray<CustomResourceDefinitionVersion>
  }
}

export interface CrdOptions {
  /** Defaults to the kind in lower case. */
  readonly singular?: string
  /** Groups the type joins, e.g. `["all"]` so that `kubectl get all` lists it. */
  readonly categories?: ReadonlyArray<string>
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}

const COLUMN_TYPES = new Set(["string", "integer", "number", "boolean", "date"])

const AGE: CustomResourceColumnDefinition = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }

const printerColumns = (
  columns: ReadonlyArray<Resource.PrinterColumn>
): ReadonlyArray<CustomResourceColumnDefinition> => {
  const names = new Set<string>()
  const out = columns.map((c, i): CustomResourceColumnDefinition => {
    const path = `printerColumns[${i}]`
    if (c.name === "") throw new Invalid(path, "a printer column needs a name")
    if (names.has(c.name)) throw new Invalid(path, `two printer columns are named ${JSON.stringify(c.name)}`)
    names.add(c.name)
    if (!COLUMN_TYPES.has(c.type)) throw new Invalid(path, `unknown column type ${JSON.stringify(c.type)}`)
    if (!c.jsonPath.startsWith(".")) {
      throw new Invalid(path, `jsonPath ${JSON.stringify(c.jsonPath)} must start with "." (e.g. ".spec.replicas")`)
    }
    return {
      name: c.name,
      type: c.type,
      jsonPath: c.jsonPath,
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.priority !== undefined ? { priority: c.priority } : {})
    }
  })
  // a CRD that lists columns loses kubectl's default Age column unless it lists it too
  return names.has(AGE.name) ? out : [...out, AGE]
}

/** The `metadata.name` a CRD for the type must have: `<plural>.<group>`. */
export const crdName = (type: Resource.ResourceType): string => `${type.plural}.${type.group}`

export const buildCrd = <S, St, SE, StE>(
  type: Resource.CustomResource<S, St, SE, StE>,
  options: CrdOptions | undefined
): CustomResourceDefinition => {
  if (type.group === "" || !type.group.includes(".")) {
    throw new Invalid("group", `group ${JSON.stringify(type.group)} must be a domain with at least one dot (e.g. example.com)`)
  }
  checkSubdomain(type.group, "group", "group")
  checkLabel(type.version, "version", "version")
  checkLabel(type.plural, "plural", "plural")
  const singular = options?.singular ?? type.kind.toLowerCase()
  checkLabel(singular, "singular", "singular")
  if (!/^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$/.test(type.kind) || type.kind.length > 63) {
    throw new Invalid("kind", `kind ${JSON.stringify(type.kind)} must be alphanumeric and start with a letter`)
  }
  type.shortNames.forEach((s, i) => checkLabel(s, `shortNames[${i}]`, "short name"))
  options?.categories?.forEach((s, i) => checkLabel(s, `categories[${i}]`, "category"))
  const openAPIV3Schema: JSONSchemaProps = finish({
    type: "object",
    description: type.description,
    properties: {
      apiVersion: {
        type: "string",
        description: "APIVersion defines the versioned schema of this representation of an object."
      },
      kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
      metadata: { type: "object" },
      spec: structural(type.spec, "spec"),
      status: structural(type.status, "status")
    },
    required: ["spec"]
  })
  const metadata = {
    name: crdName(type),
    ...(options?.labels !== undefined ? { labels: options.labels } : {}),
    ...(options?.annotations !== undefined ? { annotations: options.annotations } : {})
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata,
    spec: {
      group: type.group,
      names: {
        plural: type.plural,
        singular,
        kind: type.kind,
        listKind: `${type.kind}List`,
        ...(type.shortNames.length > 0 ? { shortNames: type.shortNames } : {}),
        ...(options?.categories !== undefined && options.categories.length > 0 ? { categories: options.categories } : {})
      },
      scope: type.namespaced ? "Namespaced" : "Cluster",
      versions: [
        {
          name: type.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns(type.printerColumns)
        }
      ]
    }
  }
}
