/**
 * Task timeouts in local executions (issue 14, item 11): every Task state gets the timeout it has
 * in AWS — the run's `timeoutSeconds` for the container and wait states (TimeoutSecondsPath),
 * none for the Lambda states — never aws-local-stepfunctions' 60 s default; a state that times out
 * fails naming itself, and its work is told to stop. The definition is CDK's (synthesised, cached
 * like local mode caches it); the clock is vitest's fake one, so no test waits a minute.
 */
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { loadTeamRunDefinition } from "../../local/definition.ts";
import { ecsStoppedTask, type RecordAgentResultPayload } from "../../state-machines/contract.ts";
import {
  executeLocally,
  forLocalInterpreter,
  type LocalExecution,
  type TaskContext,
  type TaskHandlers,
  taskTimeouts,
} from "../../state-machines/local.ts";
import type { AslDefinition } from "../../state-machines/synth.ts";
import { agentItem, fakePrepareResult } from "../support/state-machine-fakes.ts";

let definition: AslDefinition;

beforeAll(async () => {
  ({ definition } = await loadTeamRunDefinition(join(process.cwd(), ".cache", "local-definition")));
  // Loaded now, with real I/O, so under the fake clock an execution is only promises and timers.
  await import("aws-local-stepfunctions");
}, 180_000);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});

afterEach(() => {
  vi.useRealTimers();
});

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A one-agent run whose states all succeed at once unless a test overrides one. */
function handlers(mode: "coding" | "cowork", timeoutSeconds: number, overrides: Partial<TaskHandlers> = {}) {
  const contexts: Record<string, TaskContext> = {};
  const base: TaskHandlers = {
    Prepare: async (input) => {
      const prepared = fakePrepareResult(input, [agentItem("lead")], mode);
      prepared.run.timeoutSeconds = timeoutSeconds;
      return prepared;
    },
    WorkspaceInit: async () => ecsStoppedTask(),
    WaitForDependencies: async () => ({}),
    ApprovalGate: async () => ({}),
    RunAgent: async () => ecsStoppedTask(),
    RecordAgentResult: async (input: RecordAgentResultPayload) => ({
      attempt: input.state.attempt,
      outcome: input.state.error ? "Failed" : "Succeeded",
      restart: false,
      reason: input.state.error?.Cause ?? "",
    }),
    Finalize: async () => ecsStoppedTask(),
    DeliverOutputs: async () => ({ location: "objects/out/", files: 1 }),
    Cleanup: async (input) => ({ phase: input.failure ? "Failed" : "Succeeded" }),
    ...overrides,
  };
  const recorded = Object.fromEntries(
    Object.entries(base).map(([name, fn]) => [
      name,
      (input: unknown, context: TaskContext) => {
        contexts[name] = context;
        return fn(input, context);
      },
    ]),
  ) as TaskHandlers;
  return { handlers: recorded, contexts };
}

/** Runs the fake clock forward in small steps until `done` (the interpreter schedules its own work). */
async function advanceUntil(done: () => boolean, limitMs: number): Promise<number> {
  let elapsed = 0;
  while (!done() && elapsed < limitMs) {
    await vi.advanceTimersByTimeAsync(100);
    elapsed += 100;
  }
  return elapsed;
}

describe("local Task timeouts", () => {
  it("gives a Task with no timeout in AWS none locally: DeliverOutputs may run longer than 60 s", async () => {
    const copy = deferred<{ location: string; files: number }>();
    let copying = false;
    const h = handlers("cowork", 3600, {
      DeliverOutputs: async () => {
        copying = true;
        return copy.promise;
      },
    });
    let result: LocalExecution | undefined;
    const running = executeLocally(
      definition,
      { runId: "long-copy", namespace: "default", teamName: "t" },
      h.handlers,
    );
    void running.then((r) => {
      result = r;
    });
    await advanceUntil(() => copying, 10_000);
    expect(copying).toBe(true);
    // Ten minutes of copying: the interpreter's default would have failed the state at 60 s.
    await advanceUntil(() => result !== undefined, 10 * 60_000);
    expect(result).toBeUndefined();
    expect(h.contexts.DeliverOutputs?.signal.aborted).toBe(false);
    copy.resolve({ location: "objects/out/", files: 200_000 });
    await advanceUntil(() => result !== undefined, 10_000);
    expect(result?.status).toBe("SUCCEEDED");
    expect(result?.visited).toContain("DeliverOutputs");
  });

  it("fails a Task at its AWS timeout (the run's timeoutSeconds), naming the state, and stops its work", async () => {
    let stoppedWork: unknown;
    let cloning = false;
    const h = handlers("coding", 90, {
      // A clone that never ends; it stops when told to.
      WorkspaceInit: (_input, { signal }) =>
        new Promise((_, reject) => {
          cloning = true;
          signal.addEventListener("abort", () => {
            stoppedWork = signal.reason;
            reject(signal.reason);
          });
        }),
    });
    let result: LocalExecution | undefined;
    void executeLocally(
      definition,
      { runId: "slow-init", namespace: "default", teamName: "t" },
      h.handlers,
    ).then((r) => {
      result = r;
    });
    await advanceUntil(() => cloning, 10_000);
    expect(cloning).toBe(true);
    const elapsed = await advanceUntil(() => result !== undefined, 5 * 60_000);
    expect(result?.status).toBe("FAILED");
    // 90 s from Prepare's run.timeoutSeconds (TimeoutSecondsPath), not 60 s and not never.
    expect(elapsed).toBeGreaterThanOrEqual(89_900);
    expect(elapsed).toBeLessThan(91_000);
    expect(result?.error?.Error).toBe("States.Timeout");
    expect(result?.error?.Cause).toMatch(/^WorkspaceInit timed out after 90 s/);
    expect(result?.visited).toContain("Cleanup");
    expect(h.contexts.WorkspaceInit?.signal.aborted).toBe(true);
    expect((stoppedWork as Error | undefined)?.name).toBe("States.Timeout");
  });

  it("applies the same rule to every Task of the deployed definition", () => {
    const aws = taskTimeouts(definition);
    const local = taskTimeouts(forLocalInterpreter(definition));
    for (const [state, timeout] of aws) {
      // What AWS has: the container and wait states are bounded by the run, the Lambda states are not.
      if (["WorkspaceInit", "RunAgent", "Finalize", "WaitForDependencies", "ApprovalGate"].includes(state))
        expect(timeout, state).toEqual({ path: expect.stringMatching(/\.timeoutSeconds$/) });
      else expect(timeout, state).toBeUndefined();
      // The interpreter never applies a timeout of its own (the bound function's wrapper does).
      expect(local.get(state), state).toEqual({ seconds: 2_000_000 });
    }
    expect(aws.size).toBe(9);
  });
});
