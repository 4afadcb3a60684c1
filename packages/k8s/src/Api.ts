/**
 * Typed access to one resource type: the `Cluster` port's operations with objects decoded by (and
 * written through) a Schema, so users work with their own types instead of JSON.
 *
 * It runs on whatever `Cluster` is provided: the live `KubeCluster` or the testkit's fake.
 * Reads fail with `DecodeError` when an object does not match the Schema; writes encode with the
 * Schema first (`EncodeError` when that fails). A Schema drops keys it does not declare, so a
 * read-modify-`replace` through a narrow Schema loses fields others set: prefer `apply` or `patch`
 * for objects you share.
 *
 * @example
 * ```ts
 * const Widget = Resource.custom({
 *   group: "example.com", version: "v1", kind: "Widget", plural: "widgets",
 *   spec: Schema.Struct({ size: Schema.Int }), status: Schema.Struct({})
 * })
 * const Widgets = Api.custom(Widget)
 * const size = Effect.gen(function*() {
 *   const w = yield* Widgets.get({ namespace: "team", name: "w1" })
 *   return w.spec.size                                  // typed by Widget's spec Schema
 * })
 *
 * declare const MyDeploymentSchema: Schema.Codec<Builtin.Deployment, Resource.KubeObject>
 * const Deployments = Api.make(Builtin.Deployment, MyDeploymentSchema)
 * ```
 *
 * @since 0.1.0
 */
import { Cluster, type ClusterError, Resource } from "@kubefx/core"
import { Effect, Result, Schema, Stream } from "effect"
import * as Wire from "./internal/wire.ts"

/**
 * An object read from the cluster did not match the Schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  message: Schema.String,
  resource: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String)
}) {}

/**
 * A value could not be encoded with the Schema into a Kubernetes object (with apiVersion, kind and metadata).
 *
 * @since 0.1.0
 * @category errors
 */
export class EncodeError extends Schema.TaggedError<EncodeError>()("EncodeError", {
  message: Schema.String,
  resource: Schema.String
}) {}

/**
 * A watch event with a decoded object; bookmarks carry only a resourceVersion.
 *
 * @since 0.1.0
 * @category models
 */
export type TypedWatchEvent<A> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: A }
  | { readonly type: "BOOKMARK"; readonly object: Resource.KubeObject }

/**
 * One decoded page of a list.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedList<A> {
  readonly items: ReadonlyArray<A>
  readonly resourceVersion: string
  readonly continue?: string
}

/**
 * The operations of one type, typed by its Schema.
 *
 * @since 0.1.0
 * @category models
 */
export interface Api<A> {
  readonly type: Resource.ResourceType<any>
  readonly get: (address: Cluster.ObjectAddress) => Effect.Effect<A, ClusterError.ClusterError | DecodeError, Cluster.Cluster>
  readonly list: (options?: Cluster.ListOptions) => Effect.Effect<TypedList<A>, ClusterError.ClusterError | DecodeError, Cluster.Cluster>
  readonly watch: (
    options: Cluster.WatchOptions
  ) => Stream.Stream<TypedWatchEvent<A>, ClusterError.ClusterError | DecodeError, Cluster.Cluster>
  readonly create: (object: A, options?: Cluster.WriteOptions) => Effect.Effect<A, Failure, Cluster.Cluster>
  readonly replace: (object: A, options?: Cluster.WriteOptions) => Effect.Effect<A, Failure, Cluster.Cluster>
  readonly apply: (object: A, options: Cluster.ApplyOptions) => Effect.Effect<A, Failure, Cluster.Cluster>
  readonly patch: (
    address: Cluster.ObjectAddress,
    patch: Cluster.Patch,
    options?: Cluster.WriteOptions
  ) => Effect.Effect<A, ClusterError.ClusterError | DecodeError, Cluster.Cluster>
  readonly delete: (
    address: Cluster.ObjectAddress,
    options?: Cluster.DeleteOptions
  ) => Effect.Effect<A, ClusterError.ClusterError | DecodeError, Cluster.Cluster>
  readonly replaceStatus: (object: A, options?: Cluster.WriteOptions) => Effect.Effect<A, Failure, Cluster.Cluster>
  readonly patchStatus: (
    address: Cluster.ObjectAddress,
    patch: Cluster.Patch,
    options?: Cluster.WriteOptions
  ) => Effect.Effect<A, ClusterError.ClusterError | DecodeError, Cluster.Cluster>
}

/**
 * What a typed write can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure = ClusterError.ClusterError | DecodeError | EncodeError

const isKubeObject = Schema.is(Resource.KubeObjectSchema)

/**
 * Typed access to `type`, decoding with `schema` (which describes whole objects: apiVersion, kind,
 * metadata and the rest).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I>(type: Resource.ResourceType<any>, schema: Schema.Codec<A, I>): Api<A> => {
  const resource = Resource.typeKey(type)
  const decodeUnknown = Schema.decodeUnknownResult(schema)
  const encode = Schema.encodeResult(schema)

  const decode = (object: Resource.KubeObject): Effect.Effect<A, DecodeError> => {
    const result = decodeUnknown(object)
    if (Result.isSuccess(result)) return Effect.succeed(result.success)
    const { name, namespace } = object.metadata
    return Effect.fail(
      new DecodeError({
        resource,
        ...(namespace === undefined ? {} : { namespace }),
        ...(name === undefined ? {} : { name }),
        message: `decode ${resource} ${namespace === undefined ? "" : `${namespace}/`}${name ?? ""}: ${
          Wire.issueMessage(result.failure)
        }`
      })
    )
  }

  const toObject = (value: A): Effect.Effect<Resource.KubeObject, EncodeError> => {
    const result = encode(value)
    if (Result.isFailure(result)) {
      return Effect.fail(new EncodeError({ resource, message: `encode ${resource}: ${Wire.issueMessage(result.failure)}` }))
    }
    return isKubeObject(result.success)
      ? Effect.succeed(result.success)
      : Effect.fail(new EncodeError({ resource, message: `encode ${resource}: the Schema does not produce an object with apiVersion, kind and metadata` }))
  }

  const cluster = Effect.service(Cluster.Cluster)

  const write = (
    run: (c: Cluster.Cluster["Service"], object: Resource.KubeObject) => Effect.Effect<Resource.KubeObject, ClusterError.ClusterError>
  ) =>
  (value: A) =>
    Effect.flatMap(toObject(value), (object) => Effect.flatMap(cluster, (c) => run(c, object))).pipe(Effect.flatMap(decode))

  return {
    type,
    get: (address) => Effect.flatMap(cluster, (c) => c.get(type, address)).pipe(Effect.flatMap(decode)),
    list: (options) =>
      Effect.flatMap(cluster, (c) => c.list(type, options)).pipe(
        Effect.flatMap((page) =>
          Effect.map(Effect.forEach(page.items, decode), (items) => ({
            items,
            resourceVersion: page.resourceVersion,
            ...(page.continue === undefined ? {} : { continue: page.continue })
          }))
        )
      ),
    watch: (options) =>
      Stream.unwrap(Effect.map(cluster, (c) => c.watch(type, options))).pipe(
        Stream.mapEffect((event): Effect.Effect<TypedWatchEvent<A>, DecodeError> =>
          event.type === "BOOKMARK"
            ? Effect.succeed(event)
            : Effect.map(decode(event.object), (object) => ({ type: event.type, object }))
        )
      ),
    create: (value, options) => write((c, object) => c.create(type, object, options))(value),
    replace: (value, options) => write((c, object) => c.replace(type, object, options))(value),
    apply: (value, options) => write((c, object) => c.apply(type, object, options))(value),
    patch: (address, patch, options) =>
      Effect.flatMap(cluster, (c) => c.patch(type, address, patch, options)).pipe(Effect.flatMap(decode)),
    delete: (address, options) =>
      Effect.flatMap(cluster, (c) => c.delete(type, address, options)).pipe(Effect.flatMap(decode)),
    replaceStatus: (value, options) => write((c, object) => c.replaceStatus(type, object, options))(value),
    patchStatus: (address, patch, options) =>
      Effect.flatMap(cluster, (c) => c.patchStatus(type, address, patch, options)).pipe(Effect.flatMap(decode))
  }
}

/**
 * The Schema of a custom resource's objects: its spec and status Schemas inside the standard envelope;
 * other top-level keys are kept.
 *
 * @since 0.1.0
 * @category schemas
 */
export const customObjectSchema = <Spec, Status, SpecEncoded, StatusEncoded>(
  resource: Resource.CustomResource<Spec, Status, SpecEncoded, StatusEncoded>
): Schema.Codec<Resource.CustomObject<Spec, Status>, Resource.KubeObject> =>
  Schema.StructWithRest(
    Schema.Struct({
      apiVersion: Schema.String,
      kind: Schema.String,
      metadata: Resource.ObjectMetaSchema,
      spec: resource.spec,
      status: Schema.optionalKey(resource.status)
    }),
    [Schema.Record(Schema.String, Schema.Unknown)]
  ) as unknown as Schema.Codec<Resource.CustomObject<Spec, Status>, Resource.KubeObject>

/**
 * Typed access to a custom resource declared with `Resource.custom`, decoding spec and status with its Schemas.
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom = <Spec, Status, SpecEncoded, StatusEncoded>(
  resource: Resource.CustomResource<Spec, Status, SpecEncoded, StatusEncoded>
): Api<Resource.CustomObject<Spec, Status>> => make(resource, customObjectSchema(resource))
