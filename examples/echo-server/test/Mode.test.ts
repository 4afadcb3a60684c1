import { describe, expect, it } from "@effect/vitest"
import * as Mode from "../src/Mode.ts"

const noEnv = {}

describe("Mode.parse", () => {
  it("runs the demo without a cluster option, and exits when settled only when asked", () => {
    expect(Mode.parse([], noEnv)).toStrictEqual({ _tag: "Demo", exitWhenSettled: false })
    expect(Mode.parse(["--exit-when-settled"], noEnv)).toStrictEqual({ _tag: "Demo", exitWhenSettled: true })
    // an empty KUBECONFIG is no kubeconfig, as for kubectl
    expect(Mode.parse([], { KUBECONFIG: "" })).toStrictEqual({ _tag: "Demo", exitWhenSettled: false })
  })

  it("runs against a real cluster with --kubeconfig, KUBECONFIG or --in-cluster", () => {
    expect(Mode.parse(["--kubeconfig", "/k/config", "--context", "prod"], noEnv)).toStrictEqual({
      _tag: "Live",
      source: "kubeconfig",
      kubeconfigPath: "/k/config",
      context: "prod"
    })
    expect(Mode.parse(["--kubeconfig=/k/config"], { KUBECONFIG: "/other" })).toStrictEqual({
      _tag: "Live",
      source: "kubeconfig",
      kubeconfigPath: "/k/config"
    })
    // KUBECONFIG itself is read by ClientConfig (merged as kubectl merges it)
    expect(Mode.parse([], { KUBECONFIG: "/a:/b" })).toStrictEqual({ _tag: "Live", source: "kubeconfig" })
    expect(Mode.parse(["--in-cluster", "--namespace", "team-a"], { KUBECONFIG: "/a" })).toStrictEqual({
      _tag: "Live",
      source: "in-cluster",
      namespace: "team-a"
    })
  })

  it("rejects combinations that cannot mean anything, naming the flag", () => {
    const message = (argv: ReadonlyArray<string>, env: Record<string, string> = noEnv) => {
      const mode = Mode.parse(argv, env)
      if (mode._tag !== "Invalid") throw new Error(`expected Invalid, got ${mode._tag}`)
      return mode.message
    }
    expect(message(["--in-cluster", "--kubeconfig", "x"])).toContain("--in-cluster and --kubeconfig")
    expect(message(["--in-cluster", "--context", "x"])).toContain("--context")
    expect(message(["--context", "x"])).toContain("--context needs a kubeconfig")
    expect(message(["--namespace", "a"])).toContain("--namespace applies to a real cluster")
    expect(message(["--exit-when-settled"], { KUBECONFIG: "/k" })).toContain("demo only")
    expect(message(["--kubeconfig", "/k", "--namespace", "Team_A"])).toContain(`"Team_A" is not a namespace name`)
    expect(message(["--kubeconfig="])).toContain("--kubeconfig needs a path")
    expect(message(["--kubeconfg", "/k"])).toContain("--kubeconfg")
    expect(message(["extra"])).toContain("extra")
  })

  it("asks for help", () => {
    expect(Mode.parse(["--help"], noEnv)).toStrictEqual({ _tag: "Help" })
    expect(Mode.parse(["-h", "--kubeconfig", "/k"], noEnv)).toStrictEqual({ _tag: "Help" })
  })
})
