/**
 * The write pipeline: create (with generated names), update (PUT), patch (merge, JSON, strategic)
 * and server-side apply all end in one create path and one update path, which apply the registry
 * strategy (server-owned metadata, status subresource, generation), validation, optimistic
 * concurrency, field ownership and the no-op check, then commit.
 *
 * @internal
 */
import type { Cluster } from "@kubefx/core"
import { ClusterError } from "@kubefx/core"
import { Result } from "effect"
import { jsonEqual } from "../json.ts"
import { decodeBody, generationChanged, validateCustomBody } from "./admission.ts"
import type { Engine, Env, Json, Obj, WriteFlags } from "./model.ts"
import { admitNamespace, namespaceStrategy } from "./namespaces.ts"
import { applyRejected, runPatch } from "./patches.ts"
import { copy, normalize, objKey, omit, present, rfc3339 } from "./objects.ts"
import type { Registry } from "./registry.ts"
import { scope } from "./registry.ts"
import type { Store } from "./storage.ts"
import { parseRv } from "./storage.ts"
import type { TypeInfo } from "./types.ts"
import { errors, fieldInvalid, fieldRequired } from "./types.ts"
import { validateMeta, validateMetaUpdate } from "./validation.ts"

const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

const uuid = (random: () => number): string => {
  const b = Array.from({ length: 16 }, () => Math.floor(random() * 256))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.map((x) => x.toString(16).padStart(2, "0")).join("")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

const statusSubresource = (info: TypeInfo) => info.type.statusSubresource

/** The etcd key the server names in storage errors. */
const storageKey = (info: TypeInfo, ns: string, name: string) =>
  `/registry/${info.isCustom ? `${info.type.group}/` : ""}${info.type.plural}/${ns === "" ? "" : `${ns}/`}${name}`

/** Equal but for the `time` of managedFields entries. */
const sameIgnoringTimestamps = (a: Obj, b: Obj): boolean => {
  const strip = (o: Obj) => ({
    ...o,
    metadata: {
      ...o.metadata,
      managedFields: (o.metadata.managedFields ?? []).map((m) => omit(m, "time"))
    }
  })
  return jsonEqual(strip(a), strip(b))
}

/** How an update goes: which part it writes, and what it checks and records. @internal */
export interface UpdateMode {
  readonly subresource: "status" | undefined
  /** PUT checks the body's uid as a precondition; PATCH leaves it to validation. */
  readonly uidPrecondition: boolean
  readonly recordManagedFields: boolean
}

/** @internal */
export interface WritesOptions {
  readonly engine: Engine
  readonly namespaces: "strict" | "lenient"
  /** Runs after every committed write (the garbage collector, when immediate). */
  readonly afterWrite: (env: Env) => void
}

/** The update the cluster's own controllers make: as `kube-controller-manager`, recording no managedFields. */
const controllerFlags: WriteFlags = { fieldManager: "kube-controller-manager", dryRun: false }
const controllerMode: UpdateMode = { subresource: undefined, uidPrecondition: false, recordManagedFields: false }

/** @internal */
export class Writes {
  private readonly store: Store
  private readonly registry: Registry
  private readonly options: WritesOptions

  constructor(store: Store, registry: Registry, options: WritesOptions) {
    this.store = store
    this.registry = registry
    this.options = options
  }

  create(info: TypeInfo, input: unknown, flags: WriteFlags, env: Env): Obj {
    const obj = decodeBody(info, input)
    const meta = obj.metadata
    const ns = scope(info, meta.namespace, meta.name)
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "") {
      // A plain storage error, not an API status: the server sends it without a reason.
      throw errors.server(info, 500, "", "resourceVersion should not be set on objects to be created")
    }
    const generated = (meta.name === undefined || meta.name === "") && typeof meta.generateName === "string" &&
      meta.generateName !== ""
    // As the server does with RetryGenerateName: a generated name that collides is drawn again.
    for (let attempt = 0;; attempt++) {
      const candidate = copy(obj)
      if (generated) {
        const suffix = Array.from({ length: 5 }, () => NAME_ALPHABET[Math.floor(env.random() * NAME_ALPHABET.length)]).join("")
        candidate.metadata.name = `${(meta.generateName as string).slice(0, 58)}${suffix}`
      }
      try {
        return this.createPrepared(info, ns, candidate, flags, env)
      } catch (e) {
        if (generated && e instanceof ClusterError.AlreadyExists && attempt < 7) continue
        throw e
      }
    }
  }

  /** The create path of POST, of PUT to a missing object (where allowed) and of apply. */
  private createPrepared(info: TypeInfo, ns: string, obj: Json, flags: WriteFlags, env: Env, recordFields = true): Obj {
    const meta = obj.metadata
    if (meta.name === undefined || meta.name === "") {
      throw errors.invalid(info, ns, "", [fieldRequired("metadata.name", "name or generateName is required")])
    }
    const name: string = meta.name
    if (info.type.namespaced) meta.namespace = ns
    else delete meta.namespace
    meta.uid = uuid(env.random)
    meta.creationTimestamp = rfc3339(env.now)
    delete meta.resourceVersion
    delete meta.deletionTimestamp
    delete meta.deletionGracePeriodSeconds
    if (info.generation === "none") delete meta.generation
    else meta.generation = 1
    if (statusSubresource(info) && info.key !== "v1/Namespace") delete obj.status
    namespaceStrategy(info, obj, true)
    const errs = [...validateMeta(info, meta), ...validateCustomBody(info, obj, ["spec"])]
    if (errs.length > 0) throw errors.invalid(info, ns, name, errs)
    const st = this.store.of(info)
    const key = objKey(ns, name)
    const existing = st.objects.get(key)
    if (existing !== undefined) throw errors.alreadyExists(info, ns, name, existing.metadata.deletionTimestamp !== undefined)
    admitNamespace(this.registry, this.store, this.options.namespaces, info, ns, name)
    const time = rfc3339(env.now)
    const withFields = recordFields
      ? this.options.engine.recordUpdate(undefined, obj, { manager: flags.fieldManager, time, subresource: undefined, info })
      : obj
    if (flags.dryRun) return present(info, withFields)
    const stored = this.store.commit(st, key, "ADDED", withFields, undefined)
    this.options.afterWrite(env)
    return present(info, stored)
  }

  /**
   * The shared update path of PUT, PATCH and apply: `next` is the full desired object, already
   * checked for apiVersion/kind. `subresource` limits the write to `status`.
   */
  private updatePrepared(
    info: TypeInfo,
    ns: string,
    name: string,
    next: Json,
    existing: Obj,
    flags: WriteFlags,
    env: Env,
    options: UpdateMode
  ): Obj {
    const st = this.store.of(info)
    const key = objKey(ns, name)
    const meta = next.metadata
    if (options.uidPrecondition && meta.uid !== undefined && meta.uid !== "" && meta.uid !== existing.metadata.uid) {
      throw errors.conflict(
        info,
        ns,
        name,
        `StorageError: invalid object, Code: 4, Key: ${storageKey(info, ns, name)}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${existing.metadata.uid}`
      )
    }
    const rv = meta.resourceVersion
    if (rv === undefined || rv === "") {
      if (!info.allowUnconditionalUpdate) {
        // This one error names the resource, not the kind (a quirk of the registry's update path).
        throw errors.invalid(info, ns, name, [fieldInvalid("metadata.resourceVersion", 0, "must be specified for an update")], info.qualifiedResource)
      }
    } else if (parseRv(info, String(rv)) !== Number(existing.metadata.resourceVersion)) {
      throw errors.conflict(info, ns, name, "the object has been modified; please apply your changes to the latest version and try again")
    }
    let candidate: Json
    if (options.subresource === "status") {
      // Status writes take only `status` from the body (and the managedFields it carries).
      candidate = copy(existing)
      if (next.status === undefined) delete candidate.status
      else candidate.status = next.status
      if (next.metadata.managedFields !== undefined) candidate.metadata.managedFields = next.metadata.managedFields
    } else {
      candidate = next
      if (statusSubresource(info)) {
        if (existing.status === undefined) delete candidate.status
        else candidate.status = copy(existing.status)
      }
    }
    const cm = candidate.metadata
    const em = existing.metadata
    cm.namespace = em.namespace
    if (!info.type.namespaced) delete cm.namespace
    cm.name = em.name
    if (cm.uid === undefined || cm.uid === "") cm.uid = em.uid
    cm.creationTimestamp = em.creationTimestamp
    if (em.deletionTimestamp !== undefined) cm.deletionTimestamp = em.deletionTimestamp
    else delete cm.deletionTimestamp
    if (em.deletionGracePeriodSeconds !== undefined) cm.deletionGracePeriodSeconds = em.deletionGracePeriodSeconds
    else delete cm.deletionGracePeriodSeconds
    if (em.generation === undefined) delete cm.generation
    else cm.generation = em.generation
    cm.resourceVersion = em.resourceVersion
    namespaceStrategy(info, candidate, false)
    const errs = [
      ...validateMetaUpdate(info, cm, em),
      ...validateCustomBody(info, candidate, options.subresource === "status" ? ["status"] : ["spec"])
    ]
    if (errs.length > 0) throw errors.invalid(info, ns, name, errs)
    if (options.subresource === undefined && em.generation !== undefined && generationChanged(info, existing, candidate)) {
      cm.generation = em.generation + 1
    }
    let result: Obj = candidate
    if (options.recordManagedFields) {
      result = this.options.engine.recordUpdate(existing, candidate, {
        manager: flags.fieldManager,
        time: rfc3339(env.now),
        subresource: options.subresource,
        info
      })
    }
    // Changes that only touch managedFields timestamps are no change (IgnoreManagedFieldsTimestampsTransformer).
    if (sameIgnoringTimestamps(existing, result)) return present(info, existing)
    if (em.deletionTimestamp !== undefined && (result.metadata.finalizers ?? []).length === 0) {
      // The last finalizer is gone: the update deletes the object; the caller gets the updated body.
      if (!flags.dryRun) {
        this.store.commit(st, key, "DELETED", undefined, existing)
        this.options.afterWrite(env)
      }
      return present(info, result)
    }
    if (flags.dryRun) return present(info, result)
    const stored = this.store.commit(st, key, "MODIFIED", result, existing)
    this.options.afterWrite(env)
    return present(info, stored)
  }

  replace(info: TypeInfo, input: unknown, flags: WriteFlags, env: Env, subresource: "status" | undefined): Obj {
    const obj = decodeBody(info, input)
    const name = obj.metadata.name
    const ns = scope(info, obj.metadata.namespace, name)
    if (typeof name !== "string" || name === "") {
      throw errors.badRequest(info, "name is required: the object's metadata.name addresses it")
    }
    const existing = this.store.of(info).objects.get(objKey(ns, name))
    if (existing === undefined) {
      if (info.allowCreateOnUpdate && subresource === undefined) {
        const fresh = { ...obj, metadata: { ...obj.metadata } }
        delete fresh.metadata.resourceVersion
        return this.createPrepared(info, ns, fresh, flags, env)
      }
      throw errors.notFound(info, ns, name)
    }
    return this.updatePrepared(info, ns, name, obj, existing, flags, env, {
      subresource,
      uidPrecondition: true,
      recordManagedFields: true
    })
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
    const ns = scope(info, namespace, name)
    const existing = this.store.of(info).objects.get(objKey(ns, name))
    if (existing === undefined) throw errors.notFound(info, ns, name)
    const patched = runPatch(this.options.engine, info, ns, name, present(info, existing), patch)
    const obj = decodeBody(info, patched)
    if (obj.metadata.name !== name) {
      throw errors.badRequest(info, `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`)
    }
    if (info.type.namespaced && obj.metadata.namespace !== ns) {
      throw errors.badRequest(info, "the namespace of the provided object does not match the namespace sent on the request")
    }
    return this.updatePrepared(info, ns, name, obj, existing, flags, env, {
      subresource,
      uidPrecondition: false,
      recordManagedFields: true
    })
  }

  apply(info: TypeInfo, input: unknown, options: { fieldManager: string; force: boolean; dryRun: boolean }, env: Env): Obj {
    const body = input as Json
    if (body?.apiVersion !== info.type.apiVersion || body?.kind !== info.type.kind) {
      // The apply patcher decodes into the type's Go struct and names what it got instead.
      const apiVersion = String(body?.apiVersion ?? "")
      const gv = apiVersion.includes("/") ? apiVersion : `/${apiVersion}`
      throw errors.badRequest(info, `invalid object type: ${gv}, Kind=${String(body?.kind ?? "")}`)
    }
    const obj = decodeBody(info, input)
    const name = obj.metadata.name
    const ns = scope(info, obj.metadata.namespace, name)
    if (typeof name !== "string" || name === "") {
      throw errors.badRequest(info, "name is required: the object's metadata.name addresses it")
    }
    if (options.fieldManager === "") {
      throw new ClusterError.Invalid({
        message: `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
        status: 422,
        resource: info.key,
        causes: [{ field: "fieldManager", reason: "FieldValueRequired", message: "Required value: is required for apply patch" }]
      })
    }
    const existing = this.store.of(info).objects.get(objKey(ns, name))
    const time = rfc3339(env.now)
    const flags: WriteFlags = { fieldManager: options.fieldManager, dryRun: options.dryRun }
    const applyTo = (live: Obj | undefined): Json => {
      const r = this.options.engine.apply(live === undefined ? undefined : present(info, live), obj, {
        manager: options.fieldManager,
        force: options.force,
        time,
        info
      })
      if (Result.isFailure(r)) return applyRejected(info, ns, name, r.failure)
      return normalize(r.success)
    }
    if (existing === undefined) {
      // Creating by apply ignores a resourceVersion in the applied configuration.
      const created = applyTo(undefined)
      delete created.metadata.resourceVersion
      return this.createPrepared(info, ns, created, flags, env, false)
    }
    const result = applyTo(existing)
    // A resourceVersion in the applied configuration is a precondition on the live object.
    const rv = obj.metadata.resourceVersion
    result.metadata.resourceVersion = rv !== undefined && rv !== "" ? rv : existing.metadata.resourceVersion
    return this.updatePrepared(info, ns, name, result, existing, flags, env, {
      subresource: undefined,
      uidPrecondition: false,
      recordManagedFields: false
    })
  }

  /** An update by the cluster's own controllers (garbage collector, namespace controller). */
  controllerUpdate(info: TypeInfo, ns: string, name: string, next: Json, existing: Obj, env: Env): void {
    this.updatePrepared(info, ns, name, next, existing, controllerFlags, env, controllerMode)
  }
}
