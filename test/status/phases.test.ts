import { describe, expect, it } from "vitest";
import {
  AGENT_PHASES,
  AGENT_TRANSITIONS,
  assertTransition,
  canTransition,
  InvalidTransitionError,
  isTerminalTeamPhase,
  TEAM_PHASES,
  TEAM_TRANSITIONS,
} from "../../core/status/index.ts";

describe("team phase transitions", () => {
  it("follow the happy path", () => {
    const path = ["Pending", "Initializing", "Running", "Finalizing", "Completed"] as const;
    for (let i = 1; i < path.length; i++) {
      expect(canTransition("team", path[i - 1]!, path[i]!)).toBe(true);
    }
  });

  it("allow exactly the table's edges and self-transitions", () => {
    const allowed: string[] = [];
    for (const from of TEAM_PHASES) {
      for (const to of TEAM_PHASES) {
        if (from !== to && canTransition("team", from, to)) allowed.push(`${from}>${to}`);
      }
    }
    expect(allowed.sort()).toEqual(
      [
        "Pending>Initializing",
        "Pending>Failed",
        "Pending>Cancelled",
        "Initializing>Running",
        "Initializing>Failed",
        "Initializing>TimedOut",
        "Initializing>Cancelled",
        "Running>Finalizing",
        "Running>Failed",
        "Running>TimedOut",
        "Running>BudgetExceeded",
        "Running>Cancelled",
        "Finalizing>Completed",
        "Finalizing>Failed",
        "Finalizing>TimedOut",
        "Finalizing>BudgetExceeded",
        "Finalizing>Cancelled",
      ].sort(),
    );
    for (const phase of TEAM_PHASES) expect(canTransition("team", phase, phase)).toBe(true);
  });

  it("never leave a terminal phase", () => {
    const terminal = TEAM_PHASES.filter(isTerminalTeamPhase);
    expect(terminal).toEqual(["Completed", "Failed", "TimedOut", "BudgetExceeded", "Cancelled"]);
    for (const from of terminal) {
      expect(TEAM_TRANSITIONS[from]).toEqual([]);
      expect(() => assertTransition({ kind: "team" }, from, "Running")).toThrow(
        `Cannot move team run from ${from} to Running: ${from} is terminal.`,
      );
    }
  });

  it("explain a refused edge with the allowed targets", () => {
    let error: unknown;
    try {
      assertTransition({ kind: "team" }, "Pending", "Completed");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect((error as Error).message).toBe(
      "Cannot move team run from Pending to Completed: from Pending it may go to Initializing, Failed, Cancelled.",
    );
  });

  it("reject unknown phase names", () => {
    expect(() => assertTransition({ kind: "team" }, "Running", "Exploded")).toThrow(InvalidTransitionError);
  });
});

describe("agent phase transitions", () => {
  it("cover the dependency, approval and restart paths", () => {
    expect(canTransition("agent", "Pending", "WaitingForDependencies")).toBe(true);
    expect(canTransition("agent", "WaitingForDependencies", "PendingApproval")).toBe(true);
    expect(canTransition("agent", "PendingApproval", "Starting")).toBe(true);
    expect(canTransition("agent", "Starting", "Running")).toBe(true);
    expect(canTransition("agent", "Running", "Succeeded")).toBe(true);
    expect(canTransition("agent", "Failed", "Starting")).toBe(true);
    expect(canTransition("agent", "Succeeded", "Running")).toBe(false);
    expect(canTransition("agent", "Stopped", "Starting")).toBe(false);
    expect(canTransition("agent", "Pending", "Running")).toBe(false);
  });

  it("have a table entry for every phase, naming only known phases", () => {
    for (const from of AGENT_PHASES) {
      for (const to of AGENT_TRANSITIONS[from]) expect(AGENT_PHASES).toContain(to);
    }
  });

  it("name the agent in the error", () => {
    expect(() => assertTransition({ kind: "agent", agent: "security" }, "Succeeded", "Running")).toThrow(
      'Cannot move agent "security" from Succeeded to Running: Succeeded is terminal.',
    );
  });
});
