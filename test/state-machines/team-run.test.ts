/**
 * The definition CDK synthesises, executed with aws-local-stepfunctions. In-test handlers play
 * the Lambda functions and the runner (the real handlers are tested against it elsewhere):
 * they keep the dependency bookkeeping the contract asks of `dependencies`, so the tests show
 * the definition's flow — waits, gates, restarts, failures caught into Cleanup.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentItem,
  ALL_STATE_NAMES,
  APPROVAL_DENIED,
  type CleanupPayload,
  DEPENDENCY_FAILED,
  ecsStoppedTask,
  OUTPUTS_NOT_DELIVERED,
  type RecordAgentResultPayload,
  type RecordAgentResultResult,
  type StateName,
} from "../../state-machines/contract.ts";
import {
  executeLocally,
  runnerEnvironmentOf,
  StatesError,
  type TaskHandlers,
} from "../../state-machines/local.ts";
import { type AslDefinition, extractTeamRunDefinition, stateNamesOf } from "../../state-machines/synth.ts";
import { agentItem, DependencyBoard, fakePrepareResult } from "../support/state-machine-fakes.ts";

let definition: AslDefinition;
const visitedOverall = new Set<StateName>();

beforeAll(() => {
  definition = extractTeamRunDefinition({ compute: "ecs" });
}, 120_000);

afterAll(() => {
  const missed = ALL_STATE_NAMES.filter((s) => !visitedOverall.has(s));
  console.log(
    `state coverage: ${ALL_STATE_NAMES.length - missed.length}/${ALL_STATE_NAMES.length}` +
      (missed.length ? ` (not visited: ${missed.join(", ")})` : ""),
  );
});

interface Scenario {
  agents: AgentItem[];
  /** Exit behaviour per agent launch: true = exits 0; a string = fails with that cause. */
  run?: (agentName: string, attempt: number) => true | string;
  approve?: (gate: string) => boolean;
  failWorkspaceInit?: boolean;
  mode?: "coding" | "cowork";
  /** DeliverOutputs fails with this cause (cowork runs). */
  failDelivery?: string;
}

/** Handlers with the dependency semantics the contract requires of the real `dependencies`. */
function harness(s: Scenario) {
  const board = new DependencyBoard();
  const order: string[] = [];
  const calls: Record<string, unknown[]> = {};
  let cleanupPayload: CleanupPayload | undefined;
  const log = (state: string, input: unknown) => {
    calls[state] ??= [];
    calls[state].push(input);
  };
  const handlers: TaskHandlers = {
    Prepare: async (input) => {
      log("Prepare", input);
      return fakePrepareResult(input, s.agents, s.mode);
    },
    WorkspaceInit: async (input) => {
      log("WorkspaceInit", input);
      if (s.failWorkspaceInit)
        throw new StatesError("States.TaskFailed", "clone failed: repository not found");
      return ecsStoppedTask();
    },
    WaitForDependencies: (input) => {
      log("WaitForDependencies", input);
      return board.wait(input.dependsOn).then(() => ({}));
    },
    ApprovalGate: async (input) => {
      log("ApprovalGate", input);
      if (s.approve && !s.approve(input.gate))
        throw new StatesError(APPROVAL_DENIED, `gate ${input.gate} denied by U123`);
      return { approvedBy: "U123" };
    },
    RunAgent: async (input) => {
      log("RunAgent", input);
      const env = runnerEnvironmentOf(input);
      const name = env.SQUADRON_AGENT_NAME ?? "";
      const attempt = Number(env.SQUADRON_ATTEMPT);
      order.push(`${name}#${attempt}`);
      const verdict = s.run?.(name, attempt) ?? true;
      if (verdict !== true) throw new StatesError("States.TaskFailed", verdict);
      return ecsStoppedTask();
    },
    RecordAgentResult: async (input: RecordAgentResultPayload): Promise<RecordAgentResultResult> => {
      log("RecordAgentResult", input);
      const error = input.state.error;
      const restartable =
        error !== undefined && error.Error !== APPROVAL_DENIED && error.Error !== DEPENDENCY_FAILED;
      if (restartable && input.role === "teammate" && input.state.attempt < input.maxRestarts) {
        return {
          attempt: input.state.attempt + 1,
          outcome: "Failed",
          restart: true,
          reason: error?.Cause ?? "",
        };
      }
      const outcome = error ? "Failed" : "Succeeded";
      board.record(input.agentName, outcome);
      return { attempt: input.state.attempt, outcome, restart: false, reason: error?.Cause ?? "" };
    },
    Finalize: async (input) => {
      log("Finalize", input);
      return ecsStoppedTask();
    },
    DeliverOutputs: async (input) => {
      log("DeliverOutputs", input);
      if (s.failDelivery) throw new StatesError(OUTPUTS_NOT_DELIVERED, s.failDelivery);
      return { location: `s3://bucket/runs/default/team/${input.runId}/output/`, files: 2 };
    },
    Cleanup: async (input: CleanupPayload) => {
      log("Cleanup", input);
      cleanupPayload = input;
      return { phase: input.failure ? "Failed" : "Succeeded" };
    },
  };
  return { handlers, order, calls, cleanup: () => cleanupPayload };
}

async function run(s: Scenario) {
  const h = harness(s);
  const result = await executeLocally(
    definition,
    { runId: `run-${Math.random().toString(36).slice(2, 10)}`, namespace: "default", teamName: "team" },
    h.handlers,
  );
  for (const v of result.visited) visitedOverall.add(v);
  return { ...result, ...h };
}

describe("team-run definition (extracted from the synthesised template)", () => {
  it("lists every state of the contract, and nothing else", () => {
    expect(stateNamesOf(definition).sort()).toEqual([...ALL_STATE_NAMES].sort());
  });

  it("runs a 3-agent team with a dependency and a gate from Prepare to Cleanup", async () => {
    const r = await run({
      agents: [
        agentItem("lead"),
        agentItem("backend-api", { approvalGate: "spawn-backend-api" }),
        agentItem("test-coverage", { dependsOn: ["backend-api"] }),
      ],
    });
    expect(r.status).toBe("SUCCEEDED");
    expect(r.visited[0]).toBe("Prepare");
    expect(r.visited.slice(-3)).toEqual(["Cleanup", "CheckOutcome", "TeamRunSucceeded"]);
    for (const s of ["WorkspaceInit", "RunAgents", "WaitForDependencies", "ApprovalGate", "Finalize"]) {
      expect(r.visited).toContain(s);
    }
    // The dependant starts only after its dependency ran.
    expect(r.order.indexOf("test-coverage#0")).toBeGreaterThan(r.order.indexOf("backend-api#0"));
    expect(r.calls.ApprovalGate).toHaveLength(1);
    expect(r.calls.WaitForDependencies).toHaveLength(1);
    const launch = r.calls.RunAgent?.[0] as { TaskDefinition: string; Overrides: { Cpu: string } };
    expect(launch.TaskDefinition).toContain("task-definition/Squadron-runner");
    expect(launch.Overrides.Cpu).toBe("1024");
    const env = runnerEnvironmentOf(launch);
    expect(Object.keys(env).sort()).toEqual(
      [
        "SQUADRON_AGENT_NAME",
        "SQUADRON_ATTEMPT",
        "SQUADRON_BUCKET",
        "SQUADRON_MODE",
        "SQUADRON_RUN_ID",
        "SQUADRON_TABLE_NAME",
        "SQUADRON_TEAM_DIR",
      ].sort(),
    );
    expect(env.SQUADRON_MODE).toBe("agent");
    expect(env.SQUADRON_TEAM_DIR).toBe("/mnt/team");
    expect(runnerEnvironmentOf(r.calls.WorkspaceInit?.[0]).SQUADRON_MODE).toBe("init");
    expect(runnerEnvironmentOf(r.calls.Finalize?.[0]).SQUADRON_MODE).toBe("finalize");
    expect(r.cleanup()?.failure).toBeUndefined();
    expect(r.cleanup()?.agents?.map((a) => a.outcome)).toEqual(["Succeeded", "Succeeded", "Succeeded"]);
    // A coding run has no outputs to deliver: the Choice goes straight to Cleanup.
    expect(r.visited).toContain("DeliversOutputs");
    expect(r.visited).not.toContain("DeliverOutputs");
    // Transitions depend on the team's shape only.
    console.log(`3-agent run: ${r.transitions} state entries`);
  });

  it("delivers a cowork run's outputs after Finalize, through the outputs function only", async () => {
    const r = await run({ agents: [agentItem("lead"), agentItem("writer")], mode: "cowork" });
    expect(r.status).toBe("SUCCEEDED");
    const tail = r.visited.slice(r.visited.indexOf("Finalize"));
    expect(tail).toEqual([
      "Finalize",
      "DeliversOutputs",
      "DeliverOutputs",
      "Cleanup",
      "CheckOutcome",
      "TeamRunSucceeded",
    ]);
    const payload = r.calls.DeliverOutputs?.[0] as Record<string, unknown>;
    // The function derives the target from the run; the state gives it nothing else to trust.
    expect(Object.keys(payload).sort()).toEqual(["namespace", "runId", "teamName"]);
    expect(r.cleanup()?.outputs).toEqual({
      location: `s3://bucket/runs/default/team/${payload.runId}/output/`,
      files: 2,
    });
  });

  it("fails the run when the outputs cannot be delivered, through Cleanup with the reason", async () => {
    const r = await run({
      agents: [agentItem("lead")],
      mode: "cowork",
      failDelivery: "AccessDenied on s3://elsewhere/reports/",
    });
    expect(r.status).toBe("FAILED");
    expect(r.cleanup()?.failure).toEqual({
      Error: OUTPUTS_NOT_DELIVERED,
      Cause: "AccessDenied on s3://elsewhere/reports/",
    });
    expect(r.visited.at(-1)).toBe("TeamRunFailed");
  });

  it("catches a failing lead's RunAgent into Cleanup with the reason, and fails the execution", async () => {
    const r = await run({
      agents: [agentItem("lead"), agentItem("worker")],
      run: (a) => (a === "lead" ? "exit code 3" : true),
    });
    expect(r.status).toBe("FAILED");
    expect(r.error?.Error).toBe("LeadFailed");
    expect(r.visited).toContain("LeadFailed");
    expect(r.visited).toContain("Cleanup");
    expect(r.visited).not.toContain("Finalize");
    expect(r.cleanup()?.failure).toMatchObject({ Error: "LeadFailed" });
    expect(r.cleanup()?.failure?.Cause).toContain("exit code 3");
    expect(r.visited.at(-1)).toBe("TeamRunFailed");
  });

  it("catches a WorkspaceInit failure into Cleanup without starting agents", async () => {
    const r = await run({ agents: [agentItem("lead")], failWorkspaceInit: true });
    expect(r.status).toBe("FAILED");
    expect(r.visited).not.toContain("RunAgents");
    expect(r.cleanup()?.failure).toEqual({
      Error: "States.TaskFailed",
      Cause: "clone failed: repository not found",
    });
  });

  it("restarts a failing teammate up to maxRestarts, then records it failed and carries on", async () => {
    const r = await run({
      agents: [agentItem("lead"), agentItem("flaky", { maxRestarts: 2 })],
      run: (a) => (a === "flaky" ? "OOM killed" : true),
    });
    expect(r.status).toBe("SUCCEEDED");
    expect(r.order.filter((o) => o.startsWith("flaky#"))).toEqual(["flaky#0", "flaky#1", "flaky#2"]);
    expect(r.visited).toContain("TeammateFailed");
    const flaky = r.cleanup()?.agents?.find((a) => a.agentName === "flaky");
    expect(flaky).toMatchObject({ outcome: "Failed", attempts: 3, reason: "OOM killed" });
  });

  it("a teammate that recovers on restart succeeds", async () => {
    const r = await run({
      agents: [agentItem("lead"), agentItem("flaky", { maxRestarts: 3 })],
      run: (a, attempt) => (a === "flaky" && attempt === 0 ? "crashed" : true),
    });
    expect(r.status).toBe("SUCCEEDED");
    expect(r.cleanup()?.agents?.find((a) => a.agentName === "flaky")).toMatchObject({
      outcome: "Succeeded",
      attempts: 2,
    });
  });

  it("never restarts the lead, even when the handler asks for it", async () => {
    const h = harness({ agents: [agentItem("lead", { maxRestarts: 0 })], run: () => "boom" });
    const record = h.handlers.RecordAgentResult;
    h.handlers.RecordAgentResult = async (input, context) => ({
      ...((await record(input, context)) as RecordAgentResultResult),
      restart: true,
      outcome: "Failed",
    });
    const r = await executeLocally(
      definition,
      { runId: "r-lead", namespace: "default", teamName: "t" },
      h.handlers,
    );
    for (const v of r.visited) visitedOverall.add(v);
    expect(r.status).toBe("FAILED");
    expect(h.order).toEqual(["lead#0"]);
  });

  it("a denied gate fails that agent, and its dependants fail with DependencyFailed", async () => {
    const r = await run({
      agents: [
        agentItem("lead"),
        agentItem("backend-api", { approvalGate: "spawn-backend-api" }),
        agentItem("test-coverage", { dependsOn: ["backend-api"] }),
      ],
      approve: () => false,
    });
    expect(r.status).toBe("SUCCEEDED");
    const byName = Object.fromEntries((r.cleanup()?.agents ?? []).map((a) => [a.agentName, a]));
    expect(byName["backend-api"]).toMatchObject({ outcome: "Failed", attempts: 1 });
    expect(byName["backend-api"]?.reason).toContain("denied");
    expect(byName["test-coverage"]).toMatchObject({ outcome: "Failed" });
    expect(byName["test-coverage"]?.reason).toContain("dependency backend-api failed");
    expect(r.order).not.toContain("backend-api#0");
    expect(r.order).not.toContain("test-coverage#0");
  });

  it("has no Wait states and no loop other than the bounded restart", () => {
    const all = JSON.stringify(definition);
    expect(all).not.toContain('"Type":"Wait"');
    expect(all).toContain("arn:aws:states:::ecs:runTask.sync");
    expect(all).toContain("arn:aws:states:::lambda:invoke.waitForTaskToken");
    expect(all).not.toContain("JSONata");
  });
});
