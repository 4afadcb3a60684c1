/**
 * Generated histories: what happens to the parents (users), to their children (another writer) and to the API
 * server (faults) while the operator runs. Pure data and its generator; `world.ts` plays it.
 *
 * @internal
 */
import { Arbitrary, Schema } from "effect"

/** One step of a generated history. */
export type Step<Spec> =
  | { readonly op: "create"; readonly parent: number; readonly spec: Spec }
  | { readonly op: "update"; readonly parent: number; readonly spec: Spec }
  | { readonly op: "delete"; readonly parent: number }
  | { readonly op: "tamper"; readonly parent: number; readonly child: number; readonly how: "delete" | "strip" }
  | { readonly op: "advance"; readonly seconds: number }
  /** Let the operator catch up before the next step (without it, steps race the operator). */
  | { readonly op: "settle" }
  | { readonly op: "fault"; readonly fault: FaultStep }

/** A transient API failure, as the faults law injects it. */
export type FaultStep =
  | {
    readonly kind: "error"
    readonly verb: "create" | "apply" | "update" | "patch" | "delete" | "updateStatus" | "get" | "list"
    readonly error: "conflict" | "tooManyRequests" | "internalError" | "unavailable" | "timeout"
    readonly times: number
  }
  | { readonly kind: "dropWatches" }
  | { readonly kind: "compact" }
  | { readonly kind: "restart" }

/**
 * Every parent is created with its initial spec and the operator settles; then the steps play. Starting from a
 * converged state makes every tamper, update and fault hit something real.
 */
export interface History<Spec> {
  readonly initial: ReadonlyArray<Spec>
  readonly steps: ReadonlyArray<Step<Spec>>
}

const intBetween = (minimum: number, maximum: number) => Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))

const fault: Arbitrary.Arbitrary<FaultStep> = Arbitrary.flatMap(
  Arbitrary.schema(Schema.Literals(["error", "error", "error", "dropWatches", "compact", "restart"])),
  (k): Arbitrary.Arbitrary<FaultStep> =>
    k === "error"
      ? Arbitrary.map(
        Arbitrary.all({
          verb: Arbitrary.schema(Schema.Literals(["create", "apply", "update", "patch", "delete", "updateStatus", "get", "list"])),
          error: Arbitrary.schema(Schema.Literals(["conflict", "tooManyRequests", "internalError", "unavailable", "timeout"])),
          times: intBetween(1, 3)
        }),
        (e) => ({ kind: "error" as const, ...e })
      )
      : Arbitrary.Constant({ kind: k } as FaultStep)
)

const stepsArbitrary = <Spec>(
  spec: Arbitrary.Arbitrary<Spec>,
  parents: number,
  children: number,
  maxSteps: number,
  withFaults: boolean
): Arbitrary.Arbitrary<Array<Step<Spec>>> => {
  const parent = intBetween(0, parents - 1)
  const child = intBetween(0, Math.max(0, children - 1))
  const kind = Arbitrary.schema(
    Schema.Literals(
      withFaults
        ? ["create", "create", "update", "delete", "tamper", "tamper", "advance", "settle", "settle", "fault", "fault"]
        : ["create", "create", "update", "delete", "tamper", "tamper", "advance", "settle", "settle"]
    )
  )
  const step: Arbitrary.Arbitrary<Step<Spec>> = Arbitrary.flatMap(kind, (k): Arbitrary.Arbitrary<Step<Spec>> => {
    switch (k) {
      case "create":
      case "update":
        return Arbitrary.map(Arbitrary.all({ parent, spec }), ({ parent, spec }) => ({ op: k, parent, spec }))
      case "delete":
        return Arbitrary.map(parent, (p) => ({ op: "delete" as const, parent: p }))
      case "tamper":
        return Arbitrary.map(
          Arbitrary.all({ parent, child, how: Arbitrary.schema(Schema.Literals(["delete", "strip"])) }),
          ({ parent, child, how }) => ({ op: "tamper" as const, parent, child, how })
        )
      case "settle":
        return Arbitrary.Constant({ op: "settle" as const })
      case "advance":
        return Arbitrary.map(intBetween(0, 30), (seconds) => ({ op: "advance" as const, seconds }))
      default:
        return Arbitrary.map(fault, (f) => ({ op: "fault" as const, fault: f }))
    }
  })
  return Arbitrary.array(step, { minLength: 1, maxLength: maxSteps })
}

/** Histories over `parents` parents owning up to `children` children each; fault steps only for the faults law. */
export const historyArbitrary = <Spec>(
  spec: Arbitrary.Arbitrary<Spec>,
  parents: number,
  children: number,
  maxSteps: number,
  withFaults: boolean
): Arbitrary.Arbitrary<History<Spec>> =>
  Arbitrary.all({
    initial: Arbitrary.array(spec, { minLength: parents, maxLength: parents }),
    steps: stepsArbitrary(spec, parents, children, maxSteps, withFaults)
  })

/** One line per step, for a failure message. */
export const describeHistory = (h: History<unknown>): string =>
  [`initial specs: ${JSON.stringify(h.initial)}`, ...h.steps.map((s) => JSON.stringify(s))].join("\n  ")
