/**
 * Step Functions caps an execution's state (every state's input and output, a Map's collected
 * results included) at 256 KiB, and exceeding it fails the execution with
 * States.DataLimitExceeded, which no Catch handles: Cleanup would never run. This builds the
 * largest state a 100-agent team can produce (longest names, the most dependsOn entries
 * validation allows, every agent failing with the longest Cause Step Functions can hand
 * RecordAgentResult) through the real code (validation, agentItems, recordAgentResult's reason)
 * and checks the state after RunAgents, the largest one, stays under the limit.
 */
import { describe, expect, it } from "vitest";
import { boundedText } from "../../core/control/bounded-text.ts";
import { agentItems } from "../../core/control/lifecycle.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { MAX_DEPENDS_ON_ENTRIES } from "../../core/manifest/rules.ts";
import type { AgentOutcome, PrepareResult } from "../../state-machines/contract.ts";

const LIMIT = 256 * 1024;
const AGENTS = 100;
const name = (i: number) => `t${String(i).padStart(3, "0")}-${"a".repeat(58)}`; // 63: a DNS-1123 label's max

function worstTeamYaml(entries = MAX_DEPENDS_ON_ENTRIES): string {
  let budget = entries;
  const teammates = Array.from({ length: AGENTS - 1 }, (_, i) => {
    const deps = Array.from({ length: Math.min(i, budget) }, (_, j) => name(j));
    budget -= deps.length;
    return `  - name: ${name(i)}\n    prompt: p\n${deps.length ? `    dependsOn: [${deps.join(", ")}]\n` : ""}`;
  });
  return `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata: {name: ${"x".repeat(63)}, namespace: ${"n".repeat(63)}}
spec:
  workspace: {inputs: []}
  lead: {name: ${"l".repeat(63)}, prompt: p}
  lifecycle: {maxRestarts: 5, approvalGates: [${Array.from({ length: AGENTS - 1 }, (_, i) => `{event: spawn-${name(i)}}`).join(", ")}]}
  teammates:
${teammates.join("")}`;
}

describe("a 100-agent team's worst-case execution state", () => {
  it("validation refuses more dependsOn entries than the state can carry", () => {
    const over = worstTeamYaml(MAX_DEPENDS_ON_ENTRIES + 1);
    expect(() => parseTeam(over, { maxTeammates: AGENTS })).toThrow(/at most 1000 are allowed/);
  });

  it("stays under 256 KiB after RunAgents, every agent failed with the longest Cause", () => {
    const team = parseTeam(worstTeamYaml(), { maxTeammates: AGENTS });
    const agents = agentItems(team);
    expect(agents).toHaveLength(AGENTS);
    const prepared: PrepareResult = {
      run: {
        runId: `${"x".repeat(54)}-1a2b3c4d`,
        namespace: team.metadata.namespace,
        teamName: team.metadata.name,
        mode: "cowork",
        taskDefinitionArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/${"S".repeat(128)}-runner:123456`,
        accessPointId: "fsap-0123456789abcdef0",
        posixUid: 4_294_967_294,
        teamDir: "/mnt/team",
        deadline: "2030-01-01T00:00:00.000Z",
        timeoutSeconds: 31_536_000,
      } as PrepareResult["run"],
      agents,
    };
    // The longest Cause a Catch can hold is 32,768 characters; RecordAgentResult bounds what it
    // returns into the state (core/control/dependencies.ts).
    const cause = "C".repeat(32_768);
    const outcomes: AgentOutcome[] = agents.map((a) => ({
      agentName: a.name,
      role: a.role,
      outcome: "Failed",
      attempts: 6,
      reason: boundedText(`States.TaskFailed: ${cause}`),
    }));
    const state = {
      runId: prepared.run.runId,
      namespace: prepared.run.namespace,
      teamName: prepared.run.teamName,
      prepared,
      init: { taskArn: `arn:aws:ecs:us-east-1:123456789012:task/${"c".repeat(255)}/${"f".repeat(32)}` },
      agents: outcomes,
    };
    const bytes = Buffer.byteLength(JSON.stringify(state));
    console.log(
      `worst-case state after RunAgents, ${AGENTS} agents: ${bytes} bytes (${((bytes / LIMIT) * 100).toFixed(0)}% of 256 KiB)`,
    );
    expect(bytes).toBeLessThan(LIMIT);
  });
});
