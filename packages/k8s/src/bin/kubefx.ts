/**
 * The `kubefx` command line.
 *
 * `kubefx manifests <module>` imports a module, finds the custom resources (`Resource.custom`) and operator
 * definitions (objects with `name`, `parent` and `children`) it exports, and prints their
 * CustomResourceDefinitions and RBAC (and, with `--image`, a Deployment) as YAML for `kubectl apply -f -`;
 * `--only crd|rbac|deployment` keeps one kind, e.g. to write each into a file of its own.
 *
 * Installed: `npx kubefx manifests ./src/operator.ts`. In this repository, from source:
 * `node --conditions=@kubefx/source packages/k8s/src/bin/kubefx.ts manifests <module>`.
 * The module is imported, so it should define things, not start the operator.
 *
 * @since 0.1.0
 */
import { Resource } from "@kubefx/core"
import { Cause, Data, Effect, Exit, Schema } from "effect"
import { mkdir, stat, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import * as Manifests from "../Manifests.ts"

const USAGE = `Usage: kubefx manifests <module> [options]

Prints the Kubernetes manifests for what <module> exports: a CustomResourceDefinition for each
custom resource (and each operator parent that is one), and least-privilege RBAC for each operator
definition (an object with name, parent and children).

Options:
  --export <name>     use only this export (repeatable)
  --only <kind>       only these manifests: crd, rbac or deployment (repeatable; default: all)
  --out <dir>         write one YAML file per CRD and per operator into <dir> instead of printing
  --namespace <ns>    the operator's namespace: its ServiceAccount, leader-election Role and
                      Deployment go there (default: default)
  --image <image>     also generate a Deployment running each operator from <image>
  --arg=<arg>         an argument of the Deployment's container (repeatable), e.g. --arg=--in-cluster
  --memory <limit>    the Deployment's memory limit (default 512Mi); V8's heap is bounded at 75% of it
  --leader-election   also grant leases for leader election
  --events            also grant creating events
  -h, --help          show this help
`

class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

const KINDS = ["crd", "rbac", "deployment"] as const
type Kind = typeof KINDS[number]

interface Args {
  readonly module: string
  readonly exports: ReadonlyArray<string>
  readonly only: ReadonlySet<Kind>
  readonly out: string | undefined
  readonly namespace: string
  readonly image: string | undefined
  readonly args: ReadonlyArray<string>
  readonly memory: string | undefined
  readonly leaderElection: boolean
  readonly events: boolean
}

const parse = (argv: ReadonlyArray<string>): Effect.Effect<Args | "help", CliError> =>
  Effect.try({
    try: () =>
      parseArgs({
        args: [...argv],
        allowPositionals: true,
        strict: true,
        options: {
          export: { type: "string", multiple: true },
          only: { type: "string", multiple: true },
          out: { type: "string" },
          namespace: { type: "string" },
          image: { type: "string" },
          arg: { type: "string", multiple: true },
          memory: { type: "string" },
          "leader-election": { type: "boolean" },
          events: { type: "boolean" },
          help: { type: "boolean", short: "h" }
        }
      }),
    catch: (e) => new CliError({ message: `${e instanceof Error ? e.message : String(e)}\n\n${USAGE}` })
  }).pipe(
    Effect.flatMap(({ positionals, values }): Effect.Effect<Args | "help", CliError> => {
      if (values.help === true) return Effect.succeed("help" as const)
      const [command, module, ...extra] = positionals
      if (command === undefined) return Effect.fail(new CliError({ message: `no command given\n\n${USAGE}` }))
      if (command !== "manifests") {
        return Effect.fail(new CliError({ message: `unknown command ${JSON.stringify(command)}\n\n${USAGE}` }))
      }
      if (module === undefined) return Effect.fail(new CliError({ message: `manifests needs a module path\n\n${USAGE}` }))
      if (extra.length > 0) {
        return Effect.fail(new CliError({ message: `unexpected arguments: ${extra.join(" ")}\n\n${USAGE}` }))
      }
      const only = values.only ?? []
      const unknownKind = only.find((k) => !(KINDS as ReadonlyArray<string>).includes(k))
      if (unknownKind !== undefined) {
        return Effect.fail(
          new CliError({ message: `--only ${JSON.stringify(unknownKind)}: one of ${KINDS.join(", ")}\n\n${USAGE}` })
        )
      }
      if (only.includes("deployment") && values.image === undefined) {
        return Effect.fail(new CliError({ message: `--only deployment needs --image\n\n${USAGE}` }))
      }
      if (values.arg !== undefined && values.image === undefined) {
        return Effect.fail(new CliError({ message: `--arg applies to the Deployment: add --image\n\n${USAGE}` }))
      }
      if (values.memory !== undefined && values.image === undefined) {
        return Effect.fail(new CliError({ message: `--memory applies to the Deployment: add --image\n\n${USAGE}` }))
      }
      return Effect.succeed({
        module,
        exports: values.export ?? [],
        only: new Set(only.length === 0 ? KINDS : only as ReadonlyArray<Kind>),
        out: values.out,
        namespace: values.namespace ?? "default",
        image: values.image,
        args: values.arg ?? [],
        memory: values.memory,
        leaderElection: values["leader-election"] === true,
        events: values.events === true
      })
    })
  )

const load = (path: string): Effect.Effect<Record<string, unknown>, CliError> => {
  const file = resolve(process.cwd(), path)
  return Effect.tryPromise({
    try: () => stat(file),
    catch: () => new CliError({ message: `module not found: ${file}` })
  }).pipe(
    Effect.flatMap((s) =>
      s.isFile() ? Effect.void : Effect.fail(new CliError({ message: `not a file: ${file}` }))
    ),
    Effect.flatMap(() =>
      Effect.tryPromise({
        try: () => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>,
        catch: (e) => new CliError({ message: `cannot import ${file}: ${e instanceof Error ? e.message : String(e)}` })
      })
    )
  )
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const isResourceType = (u: unknown): u is Resource.ResourceType =>
  isObject(u) &&
  typeof u.group === "string" &&
  typeof u.version === "string" &&
  typeof u.kind === "string" &&
  typeof u.plural === "string" &&
  typeof u.namespaced === "boolean"

const isCustomResource = (u: unknown): u is Resource.CustomResource<unknown, unknown> =>
  isResourceType(u) && Resource.isCustom(u) && Schema.isSchema((u as { status?: unknown }).status)

const isOperator = (u: unknown): u is Manifests.OperatorDefinition =>
  isObject(u) &&
  typeof u.name === "string" &&
  isResourceType(u.parent) &&
  Array.isArray(u.children) &&
  u.children.every((c) => isObject(c) && isResourceType(c.type) && typeof c.update === "string")

interface Found {
  readonly customResources: ReadonlyArray<Resource.CustomResource<unknown, unknown>>
  readonly operators: ReadonlyArray<Manifests.OperatorDefinition>
}

const discover = (mod: Record<string, unknown>, names: ReadonlyArray<string>, path: string): Effect.Effect<Found, CliError> =>
  Effect.suspend(() => {
    const customResources = new Set<Resource.CustomResource<unknown, unknown>>()
    const operators = new Set<Manifests.OperatorDefinition>()
    const available = Object.keys(mod).sort()
    const entries = names.length === 0 ? Object.entries(mod) : names.map((n) => [n, mod[n]] as const)
    for (const [name, value] of entries) {
      if (names.length > 0 && !(name in mod)) {
        return Effect.fail(
          new CliError({ message: `${path} has no export named ${name} (it exports: ${available.join(", ") || "nothing"})` })
        )
      }
      if (isCustomResource(value)) customResources.add(value)
      else if (isOperator(value)) operators.add(value)
      else if (names.length > 0) {
        return Effect.fail(
          new CliError({ message: `export ${name} of ${path} is neither a custom resource nor an operator definition` })
        )
      }
    }
    if (customResources.size === 0 && operators.size === 0) {
      return Effect.fail(
        new CliError({
          message: `${path} exports no custom resource (Resource.custom) and no operator definition ` +
            `(an object with name, parent and children); it exports: ${available.join(", ") || "nothing"}`
        })
      )
    }
    return Effect.succeed({ customResources: [...customResources], operators: [...operators] })
  })

interface Group {
  readonly file: string
  readonly objects: ReadonlyArray<object>
}

const generate = (found: Found, args: Args): Effect.Effect<ReadonlyArray<Group>, CliError | Manifests.ManifestError> =>
  Effect.gen(function*() {
    const types = new Set(found.customResources)
    for (const op of found.operators) if (isCustomResource(op.parent)) types.add(op.parent)
    const groups: Array<Group> = []
    const crds = new Map<string, string>()
    for (const type of args.only.has("crd") ? types : []) {
      const crd = yield* Manifests.crd(type)
      const yaml = Manifests.toYaml([crd])
      const seen = crds.get(crd.metadata.name)
      if (seen === yaml) continue
      if (seen !== undefined) {
        return yield* new CliError({
          message: `two different custom resources define ${crd.metadata.name}; export only one of them`
        })
      }
      crds.set(crd.metadata.name, yaml)
      groups.push({ file: `${crd.metadata.name}.crd.yaml`, objects: [crd] })
    }
    const operatorNames = new Set<string>()
    for (const op of found.operators) {
      if (operatorNames.has(op.name)) {
        return yield* new CliError({ message: `two operator definitions are named ${op.name}; their RBAC would collide` })
      }
      operatorNames.add(op.name)
      if (args.only.has("rbac")) {
        const options = { namespace: args.namespace, leaderElection: args.leaderElection, events: args.events }
        groups.push({ file: `${op.name}.rbac.yaml`, objects: yield* Manifests.rbac(op, options) })
      }
      if (args.image !== undefined && args.only.has("deployment")) {
        const deployment = yield* Manifests.deployment(op, {
          image: args.image,
          namespace: args.namespace,
          ...(args.args.length === 0 ? {} : { args: args.args }),
          ...(args.memory === undefined ? {} : { memoryLimit: args.memory })
        })
        groups.push({ file: `${op.name}.deployment.yaml`, objects: [deployment] })
      }
    }
    if (groups.length === 0) {
      return yield* new CliError({
        message: `nothing to generate: --only ${[...args.only].join(", ")} but ${args.module} exports ` +
          (found.operators.length === 0 ? "no operator definition" : "no custom resource")
      })
    }
    return groups
  })

const emit = (groups: ReadonlyArray<Group>, out: string | undefined): Effect.Effect<void, CliError> =>
  out === undefined
    ? Effect.sync(() => {
      process.stdout.write(Manifests.toYaml(groups.flatMap((g) => g.objects)))
    })
    : Effect.tryPromise({
      try: async () => {
        const dir = resolve(process.cwd(), out)
        await mkdir(dir, { recursive: true })
        for (const g of groups) {
          const file = join(dir, g.file)
          await writeFile(file, Manifests.toYaml(g.objects))
          process.stdout.write(`${file}\n`)
        }
      },
      catch: (e) => new CliError({ message: `cannot write to ${out}: ${e instanceof Error ? e.message : String(e)}` })
    })

const program = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const args = yield* parse(argv)
    if (args === "help") return yield* Effect.sync(() => void process.stdout.write(USAGE))
    const mod = yield* load(args.module)
    const found = yield* discover(mod, args.exports, args.module)
    yield* emit(yield* generate(found, args), args.out)
  })

const exit = await Effect.runPromiseExit(program(process.argv.slice(2)))
if (Exit.isFailure(exit)) {
  const error = Cause.squash(exit.cause)
  const typed = error instanceof CliError || error instanceof Manifests.ManifestError
  process.stderr.write(`kubefx: ${typed ? error.message : Cause.pretty(exit.cause)}\n`)
  process.exitCode = 1
}
