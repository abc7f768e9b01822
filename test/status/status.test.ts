import { describe, expect, it } from "vitest";
import {
  initialStatus,
  normalEvent,
  readyLabel,
  summarize,
  tasksLabel,
  totalCost,
  warningEvent,
} from "../../core/status/index.ts";
import { sampleTeam } from "./sample-team.ts";

describe("initial status", () => {
  it("starts every agent and gate pending with zero usage", () => {
    const status = initialStatus(sampleTeam());
    expect(status.phase).toBe("Pending");
    expect(Object.keys(status.agents)).toEqual(["lead", "backend", "tests"]);
    expect(status.agents.backend).toEqual({
      phase: "Pending",
      cli: "codex",
      restarts: 0,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0,
    });
    expect(status.gates).toEqual({ "spawn-tests": { state: "Pending" } });
    expect(status.tasks).toEqual({ total: 0, done: 0 });
    expect(status.budgetWarned).toBe(false);
  });
});

describe("derived figures", () => {
  it("count running plus succeeded agents as ready, like kagents", () => {
    const status = initialStatus(sampleTeam());
    expect(readyLabel(status)).toBe("0/3");
    status.agents.lead!.phase = "Running";
    status.agents.backend!.phase = "Succeeded";
    status.agents.tests!.phase = "Failed";
    expect(readyLabel(status)).toBe("2/3");
    status.agents.tests!.phase = "Starting";
    expect(readyLabel(status)).toBe("2/3");
  });

  it("summarise tasks and cost", () => {
    const status = initialStatus(sampleTeam());
    status.tasks = { total: 5, done: 2 };
    status.agents.lead!.costUsd = 1.25;
    status.agents.tests!.costUsd = 0.5;
    status.totalCostUsd = totalCost(status);
    expect(tasksLabel(status)).toBe("2/5");
    expect(summarize(status)).toEqual({ phase: "Pending", ready: "0/3", tasks: 5, done: 2, costUsd: 1.75 });
  });
});

describe("events", () => {
  it("carry type, reason, message, time and agent", () => {
    const time = new Date("2026-11-21T10:00:00Z");
    expect(normalEvent("AgentStarted", "Agent lead started", { agent: "lead", time })).toEqual({
      type: "Normal",
      reason: "AgentStarted",
      message: "Agent lead started",
      time: "2026-11-21T10:00:00.000Z",
      agent: "lead",
    });
    const warning = warningEvent("BudgetWarning", "80% of the budget is spent");
    expect(warning.type).toBe("Warning");
    expect(warning).not.toHaveProperty("agent");
    expect(Number.isNaN(Date.parse(warning.time))).toBe(false);
  });
});

describe("status.pipeline (kagents v0.8), derived from the teammates' phases and the gates", () => {
  it("names the current stage and each stage's phase, ready count and times", async () => {
    const { pipelineStatus } = await import("../../core/status/pipeline-status.ts");
    const spec = {
      pipeline: {
        stages: [
          {
            name: "build",
            teammates: ["a", "b"],
            dependsOn: [],
            fan: "parallel" as const,
            approvalRequired: false,
          },
          {
            name: "ship",
            teammates: ["c"],
            dependsOn: ["build"],
            fan: "merge" as const,
            approvalRequired: true,
          },
        ],
      },
    };
    const agent = (phase: string, startedAt?: string, finishedAt?: string) =>
      ({
        phase,
        cli: "claude",
        restarts: 0,
        ...(startedAt ? { startedAt } : {}),
        ...(finishedAt ? { finishedAt } : {}),
      }) as never;
    const status = {
      phase: "Running",
      agents: {
        a: agent("Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z"),
        b: agent("Running", "2026-01-01T00:00:02Z"),
        c: agent("WaitingForDependencies"),
      },
      gates: { "stage-ship": { state: "Pending" } },
      tasks: { total: 0, done: 0 },
      totalCostUsd: 0,
      budgetWarned: false,
    } as never;
    expect(pipelineStatus(spec, status)).toEqual({
      currentStage: "build",
      stages: [
        {
          name: "build",
          phase: "Running",
          teammates: ["a", "b"],
          dependsOn: [],
          fan: "parallel",
          approvalRequired: false,
          gate: null,
          gateState: null,
          ready: "2/2",
          startedAt: "2026-01-01T00:00:01Z",
          completedAt: null,
        },
        {
          name: "ship",
          phase: "Pending",
          teammates: ["c"],
          dependsOn: ["build"],
          fan: "merge",
          approvalRequired: true,
          gate: "stage-ship",
          gateState: "Pending",
          ready: "0/1",
          startedAt: null,
          completedAt: null,
        },
      ],
    });
    expect(pipelineStatus({}, status)).toBeNull();
  });
});
