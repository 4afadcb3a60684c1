/**
 * The echo-server operator against the operator laws (see `@kubefx/testkit` Laws): random histories of
 * EchoServers (specs generated from the EchoServer Schema), child tampering and API faults.
 */
import { describe, it } from "@effect/vitest"
import { Laws } from "@kubefx/testkit"
import { Directory } from "../src/Directory.ts"
import { EchoOperator } from "../src/operator.ts"

describe("echo-server operator laws", () => {
  for (const law of Laws.allLaws) {
    it.effect(law, () => Laws.check(EchoOperator, { provide: Directory.layerMemory, laws: [law], runs: 15 }), 120_000)
  }
})
