/**
 * Kubeconfig files: decoding (YAML or JSON, through a `Schema`), locating (`KUBECONFIG`,
 * `~/.kube/config`), merging several files the way kubectl does, and picking a context.
 *
 * Why not `@kubernetes/client-node`'s `KubeConfig`: importing it costs 75–85 MiB of RSS (js-yaml
 * alone, used here, costs about 4 MiB); it merges `KUBECONFIG` differently from kubectl (a name defined
 * in two files is an error instead of "first file wins", and the *last* file's current-context wins);
 * it reports problems as untyped exceptions that do not say which file or field is at fault; and it
 * keeps tokens as plain strings. Here secrets are decoded straight into `Redacted`.
 *
 * @since 0.1.0
 */
import * as yaml from "js-yaml"
import { Config, Effect, FileSystem, Option, Schema, SchemaIssue } from "effect"
import * as os from "node:os"
import * as nodePath from "node:path"
import { ConfigError } from "./ClientConfigError.ts"
import { ExecConfig, Flag, Secret, Text } from "./ExecCredential.ts"
import { exists, readText } from "./internal/files.ts"

const opt = Schema.optionalKey

/**
 * `clusters[].cluster`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Cluster = Schema.Struct({
  server: opt(Text),
  "certificate-authority": opt(Text),
  "certificate-authority-data": opt(Text),
  "insecure-skip-tls-verify": opt(Flag),
  "tls-server-name": opt(Text),
  /** May carry credentials (`http://user:password@proxy:3128`): decoded into `Redacted`, like a token. */
  "proxy-url": opt(Secret),
  "disable-compression": opt(Flag),
  extensions: opt(Schema.Array(Schema.Struct({ name: Text, extension: opt(Schema.Unknown) })))
})

/**
 * @since 0.1.0
 * @category models
 */
export type Cluster = typeof Cluster.Type

/**
 * `contexts[].context`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Context = Schema.Struct({
  cluster: opt(Text),
  user: opt(Text),
  namespace: opt(Text)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Context = typeof Context.Type

/**
 * `users[].user["auth-provider"]`. The config map holds tokens, so every value is `Redacted`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AuthProvider = Schema.Struct({
  name: Text,
  config: opt(Schema.Record(Schema.String, Secret))
})

/**
 * `users[].user`: every way kubectl authenticates. Tokens, passwords and keys are `Redacted`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const User = Schema.Struct({
  "client-certificate": opt(Text),
  "client-certificate-data": opt(Text),
  "client-key": opt(Text),
  "client-key-data": opt(Secret),
  token: opt(Secret),
  tokenFile: opt(Text),
  as: opt(Text),
  "as-uid": opt(Text),
  "as-groups": opt(Schema.Array(Text)),
  "as-user-extra": opt(Schema.Record(Schema.String, Schema.Array(Text))),
  username: opt(Text),
  password: opt(Secret),
  "auth-provider": opt(AuthProvider),
  exec: opt(ExecConfig)
})

/**
 * @since 0.1.0
 * @category models
 */
export type User = typeof User.Type

/**
 * A kubeconfig file (`kind: Config`). Unknown fields are ignored, as kubectl does.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Kubeconfig = Schema.Struct({
  apiVersion: opt(Text),
  kind: opt(Text),
  "current-context": opt(Text),
  clusters: opt(Schema.Array(Schema.Struct({ name: Text, cluster: opt(Cluster) }))),
  contexts: opt(Schema.Array(Schema.Struct({ name: Text, context: opt(Context) }))),
  users: opt(Schema.Array(Schema.Struct({ name: Text, user: opt(User) })))
})

/**
 * @since 0.1.0
 * @category models
 */
export type Kubeconfig = typeof Kubeconfig.Type

/**
 * Where a kubeconfig came from. `dir` resolves its relative file references; `undefined` means the
 * config was given as data without a base directory, and then it may not refer to files at all.
 *
 * @since 0.1.0
 * @category models
 */
export interface Origin {
  /** A file path, or a label such as `kubeconfig data`. */
  readonly source: string
  readonly dir: string | undefined
  /** Read from a file the user keeps (as opposed to data handed to the program). */
  readonly isFile: boolean
  /** The file's absolute path, when it is one (refreshed OIDC tokens are written back there). */
  readonly path?: string | undefined
}

/**
 * One decoded kubeconfig and its origin.
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded {
  readonly config: Kubeconfig
  readonly origin: Origin
}

/**
 * A named cluster, context or user and the file that defined it (it wins over later files).
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry<A> {
  readonly name: string
  readonly value: A
  readonly origin: Origin
}

/**
 * Several kubeconfigs merged.
 *
 * @since 0.1.0
 * @category models
 */
export interface Merged {
  /** The files (or data labels) merged, in order. */
  readonly sources: ReadonlyArray<string>
  readonly currentContext: string | undefined
  readonly clusters: ReadonlyMap<string, Entry<Cluster>>
  readonly contexts: ReadonlyMap<string, Entry<Context>>
  readonly users: ReadonlyMap<string, Entry<User>>
}

/** YAML 1.2 failsafe plus null and booleans: numbers stay text, so `token: 0123` keeps its zero. */
const yamlSchema = yaml.FAILSAFE_SCHEMA.withTags(yaml.nullCoreTag, yaml.boolCoreTag)

/**
 * The most nodes a document may expand to through aliases: 4 times its distinct nodes, and at least
 * 10 000. A real kubeconfig uses few aliases, if any; a "billion laughs" document of 400 bytes expands to
 * hundreds of millions of nodes, which walking (or decoding) would never finish.
 */
const expansionLimit = (distinct: number) => Math.max(10_000, 4 * distinct)

/**
 * js-yaml resolves an alias to the same object as its anchor, so a parsed document is a graph: shared
 * (`*a` used many times) or even cyclic (`&a [*a]`). Counts the nodes of the tree it stands for, each
 * shared node once per use, stopping at `limit`; `undefined` for a cycle.
 */
const expandedSize = (root: unknown): { readonly expanded: number | undefined; readonly limit: number } => {
  const sizes = new Map<object, number>()
  const open = new Set<object>()
  // nodes as written: each container once, with its scalars (a document without aliases: all of them)
  let distinct = 0
  const visit = (node: unknown): number | undefined => {
    if (typeof node !== "object" || node === null) return 1
    const known = sizes.get(node)
    if (known !== undefined) return known
    if (open.has(node)) return undefined
    open.add(node)
    let size = 1
    distinct++
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child !== "object" || child === null) distinct++
      const part = visit(child)
      if (part === undefined) return undefined
      // capped, so a deep chain of aliases cannot overflow to Infinity
      size = Math.min(size + part, Number.MAX_SAFE_INTEGER)
    }
    open.delete(node)
    sizes.set(node, size)
    return size
  }
  const expanded = visit(root)
  return { expanded, limit: expansionLimit(distinct) }
}

/** kubectl treats `key: null` and `key:` as unset. */
const dropNulls = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.filter((item) => item !== null).map(dropNulls)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      if (item !== null) out[key] = dropNulls(item)
    }
    return out
  }
  return value
}

/** `users[0].user.token` → `users[alice].user.token`, using the entry's name when it has one. */
const renderPath = (input: unknown, path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  let node: unknown = input
  for (const key of path) {
    if (typeof key === "number") {
      const item = Array.isArray(node) ? node[key] : undefined
      const name = typeof item === "object" && item !== null ? (item as { name?: unknown }).name : undefined
      out += typeof name === "string" ? `[${name}]` : `[${key}]`
    } else {
      out += `${out === "" ? "" : "."}${String(key)}`
    }
    node = typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined
  }
  return out
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Decodes an already parsed kubeconfig (an object from YAML or JSON). The message of a failure names
 * the source and the field, e.g. `/home/me/.kube/config: users[alice].user.exec.command: Missing key`;
 * it never quotes a value. A document whose aliases expand beyond a small bound, or are cyclic, is refused
 * (reason `DocumentTooComplex`) before anything walks it.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown, source: string): Effect.Effect<Kubeconfig, ConfigError> => {
  const { expanded, limit } = expandedSize(input)
  if (expanded === undefined || expanded > limit) {
    return Effect.fail(
      new ConfigError({
        message: expanded === undefined
          ? `${source}: refusing a kubeconfig whose YAML aliases refer to themselves`
          : `${source}: refusing a kubeconfig whose YAML aliases expand to ${expanded} nodes (at most ${limit}): ` +
            "no kubeconfig needs that many; this is the shape of a \"billion laughs\" document",
        source,
        reason: { _tag: "DocumentTooComplex", limit, ...(expanded === undefined ? {} : { expandedNodes: expanded }) }
      })
    )
  }
  const cleaned = dropNulls(input ?? {})
  if (typeof cleaned !== "object" || Array.isArray(cleaned)) {
    return Effect.fail(new ConfigError({ message: `${source}: a kubeconfig must be a mapping`, source }))
  }
  return Schema.decodeUnknownEffect(Kubeconfig)(cleaned).pipe(
    Effect.mapError((error) => {
      const issues = formatIssues(error.issue).issues
      const first = issues[0]
      const where = first === undefined ? "" : renderPath(cleaned, (first.path ?? []).map((p) => (typeof p === "object" ? p.key : p)))
      const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""
      return new ConfigError({
        message: `${source}: ${where === "" ? "" : `${where}: `}${first?.message ?? "invalid kubeconfig"}${more}`,
        source: where === "" ? source : `${source}: ${where}`
      })
    })
  )
}

/**
 * Parses kubeconfig text (YAML or JSON) and decodes it. An empty file is an empty config, as in kubectl.
 * A syntax error names the line and column but never quotes the text around it.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string, source: string): Effect.Effect<Kubeconfig, ConfigError> =>
  Effect.suspend(() => {
    if (text.trim() === "") return Effect.succeed({})
    let document: unknown
    try {
      document = yaml.load(text, { schema: yamlSchema })
    } catch (error) {
      const mark = error instanceof yaml.YAMLException && error.mark !== undefined
        ? ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}`
        : ""
      const reason = error instanceof yaml.YAMLException ? error.reason : "unreadable YAML"
      return Effect.fail(new ConfigError({ message: `${source}: not valid YAML${mark}: ${reason}`, source }))
    }
    return decode(document, source)
  })

const resolve = (dir: string, file: string | undefined): string | undefined =>
  file === undefined || file === "" || nodePath.isAbsolute(file) ? file : nodePath.resolve(dir, file)

/** kubectl resolves an exec command against the kubeconfig's directory only when it is a path. */
const resolveCommand = (dir: string, command: string): string =>
  command.includes("/") || command.includes(nodePath.sep) ? resolve(dir, command)! : command

const withPath = <A extends object, K extends keyof A>(value: A, key: K, path: string | undefined): A =>
  path === undefined || path === value[key] ? value : { ...value, [key]: path }

/**
 * Makes a config's file references absolute against `dir`, as kubectl does for each file before it
 * merges: `certificate-authority`, `client-certificate`, `client-key`, `tokenFile` and an exec
 * `command` that contains a path separator.
 *
 * @since 0.1.0
 * @category paths
 */
export const resolvePaths = (config: Kubeconfig, dir: string): Kubeconfig => ({
  ...config,
  ...(config.clusters !== undefined ?
    {
      clusters: config.clusters.map((named) =>
        named.cluster === undefined ? named : {
          ...named,
          cluster: withPath(
            named.cluster,
            "certificate-authority",
            resolve(dir, named.cluster["certificate-authority"])
          )
        }
      )
    } :
    {}),
  ...(config.users !== undefined ?
    {
      users: config.users.map((named) => {
        const user = named.user
        if (user === undefined) return named
        let resolved = withPath(user, "client-certificate", resolve(dir, user["client-certificate"]))
        resolved = withPath(resolved, "client-key", resolve(dir, user["client-key"]))
        resolved = withPath(resolved, "tokenFile", resolve(dir, user.tokenFile))
        if (user.exec !== undefined) {
          resolved = { ...resolved, exec: { ...user.exec, command: resolveCommand(dir, user.exec.command) } }
        }
        return { ...named, user: resolved }
      })
    } :
    {})
})

/**
 * Reads one kubeconfig file and resolves its relative paths against its directory.
 *
 * @since 0.1.0
 * @category loading
 */
export const readFile = (path: string): Effect.Effect<Loaded, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const absolute = nodePath.resolve(path)
    const text = yield* readText(absolute).pipe(
      Effect.mapError((message) => new ConfigError({ message: `kubeconfig ${message}`, source: path }))
    )
    const config = yield* parse(text, path)
    const dir = nodePath.dirname(absolute)
    return { config: resolvePaths(config, dir), origin: { source: path, dir, isFile: true, path: absolute } }
  })

/**
 * A kubeconfig handed to the program as text or as an object. With `baseDir` its relative file
 * references resolve there; without one it may not refer to files at all (see `Origin`).
 *
 * @since 0.1.0
 * @category loading
 */
export const fromData = (
  data: string | object,
  options?: { readonly baseDir?: string | undefined; readonly source?: string | undefined }
): Effect.Effect<Loaded, ConfigError> => {
  const source = options?.source ?? "kubeconfig data"
  const dir = options?.baseDir === undefined ? undefined : nodePath.resolve(options.baseDir)
  return Effect.map(
    typeof data === "string" ? parse(data, source) : decode(data, source),
    (config) => ({
      config: dir === undefined ? config : resolvePaths(config, dir),
      origin: { source, dir, isFile: false }
    })
  )
}

/**
 * Merges kubeconfigs like kubectl: for clusters, contexts and users the first file to define a name
 * wins (within a file, the first entry); `current-context` comes from the first file that sets it.
 *
 * @since 0.1.0
 * @category merging
 */
export const merge = (loaded: ReadonlyArray<Loaded>): Merged => {
  const clusters = new Map<string, Entry<Cluster>>()
  const contexts = new Map<string, Entry<Context>>()
  const users = new Map<string, Entry<User>>()
  let currentContext: string | undefined
  for (const { config, origin } of loaded) {
    const current = config["current-context"]
    if (currentContext === undefined && current !== undefined && current !== "") currentContext = current
    for (const named of config.clusters ?? []) {
      if (!clusters.has(named.name)) clusters.set(named.name, { name: named.name, value: named.cluster ?? {}, origin })
    }
    for (const named of config.contexts ?? []) {
      if (!contexts.has(named.name)) contexts.set(named.name, { name: named.name, value: named.context ?? {}, origin })
    }
    for (const named of config.users ?? []) {
      if (!users.has(named.name)) users.set(named.name, { name: named.name, value: named.user ?? {}, origin })
    }
  }
  return { sources: loaded.map((one) => one.origin.source), currentContext, clusters, contexts, users }
}

/**
 * The files kubectl would read: the entries of `KUBECONFIG` (split on `:`, `;` on Windows; empty
 * entries and repeats dropped) or `~/.kube/config`. Reads the environment through `Config`.
 *
 * @since 0.1.0
 * @category loading
 */
export const defaultPaths: Effect.Effect<
  { readonly paths: ReadonlyArray<string>; readonly fromEnv: boolean },
  ConfigError
> = Effect.gen(function*() {
  const env = yield* Config.option(Config.String("KUBECONFIG"))
  if (Option.isSome(env) && env.value.trim() !== "") {
    const paths = [...new Set(env.value.split(nodePath.delimiter).map((p) => p.trim()).filter((p) => p !== ""))]
    if (paths.length > 0) return { paths, fromEnv: true }
  }
  const home = yield* Config.option(Config.String("HOME"))
  const dir = Option.isSome(home) && home.value !== "" ? home.value : os.homedir()
  return { paths: [nodePath.join(dir, ".kube", "config")], fromEnv: false }
}).pipe(
  Effect.mapError((error) =>
    new ConfigError({ message: `cannot read KUBECONFIG or HOME: ${error.message}`, source: "environment" })
  )
)

/**
 * Reads and merges kubeconfig files. Explicit `paths` must all exist. Otherwise the `KUBECONFIG`
 * entries are read, skipping missing ones as kubectl does (at least one must exist), or
 * `~/.kube/config`, which must exist.
 *
 * @since 0.1.0
 * @category loading
 */
export const load = (
  options?: { readonly paths?: ReadonlyArray<string> | undefined }
): Effect.Effect<Merged, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    if (options?.paths !== undefined) {
      if (options.paths.length === 0) {
        return yield* new ConfigError({ message: "no kubeconfig paths given", source: "paths" })
      }
      return merge(yield* Effect.forEach(options.paths, readFile))
    }
    const { fromEnv, paths } = yield* defaultPaths
    const present: Array<string> = []
    for (const path of paths) {
      if (!fromEnv || (yield* exists(path))) present.push(path)
    }
    if (present.length === 0) {
      return yield* new ConfigError({
        message: `no kubeconfig found: none of the KUBECONFIG files exist (${paths.join(", ")})`,
        source: `KUBECONFIG=${paths.join(nodePath.delimiter)}`
      })
    }
    return merge(yield* Effect.forEach(present, readFile))
  })

/**
 * The chosen context with its cluster and user.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selected {
  readonly context: Entry<Context>
  readonly cluster: Entry<Cluster>
  /** `undefined` for a context without a user (anonymous requests). */
  readonly user: Entry<User> | undefined
  /** The context's namespace, when it sets one. */
  readonly namespace: string | undefined
}

/**
 * Where an entry is, for messages: `/home/me/.kube/config: users[alice]`.
 *
 * @since 0.1.0
 * @category selecting
 */
export const locate = (entry: Entry<unknown>, kind: "clusters" | "contexts" | "users"): string =>
  `${entry.origin.source}: ${kind}[${entry.name}]`

const at = locate

/**
 * Picks `context` or else the current context, and looks up its cluster and user. Each failure names
 * the files searched and the context, cluster or user that is missing.
 *
 * @since 0.1.0
 * @category selecting
 */
export const select = (merged: Merged, context?: string | undefined): Effect.Effect<Selected, ConfigError> =>
  Effect.gen(function*() {
    const files = merged.sources.join(", ")
    const fail = (message: string, source: string) => Effect.fail(new ConfigError({ message, source }))
    const known = (map: ReadonlyMap<string, unknown>) =>
      map.size === 0 ? "none defined" : `defined: ${[...map.keys()].join(", ")}`
    const name = context !== undefined && context !== "" ? context : merged.currentContext
    if (name === undefined) {
      return yield* fail(`${files}: no current-context is set and no context was chosen (${known(merged.contexts)})`, files)
    }
    const entry = merged.contexts.get(name)
    if (entry === undefined) {
      return yield* fail(`${files}: context "${name}" not found (${known(merged.contexts)})`, files)
    }
    const clusterName = entry.value.cluster
    if (clusterName === undefined || clusterName === "") {
      return yield* fail(`${at(entry, "contexts")}: context has no cluster`, at(entry, "contexts"))
    }
    const cluster = merged.clusters.get(clusterName)
    if (cluster === undefined) {
      return yield* fail(
        `${at(entry, "contexts")}: cluster "${clusterName}" not found in ${files} (${known(merged.clusters)})`,
        `${at(entry, "contexts")}.cluster`
      )
    }
    const userName = entry.value.user
    let user: Entry<User> | undefined
    if (userName !== undefined && userName !== "") {
      user = merged.users.get(userName)
      if (user === undefined) {
        return yield* fail(
          `${at(entry, "contexts")}: user "${userName}" not found in ${files} (${known(merged.users)})`,
          `${at(entry, "contexts")}.user`
        )
      }
    }
    const namespace = entry.value.namespace
    return { context: entry, cluster, user, namespace: namespace === "" ? undefined : namespace }
  })

/**
 * The label of a field in messages, e.g. `/home/me/.kube/config: users[alice].client-key`.
 *
 * @since 0.1.0
 * @category selecting
 */
export const fieldOf = (entry: Entry<unknown>, kind: "clusters" | "contexts" | "users", field: string): string =>
  `${at(entry, kind)}.${field}`
