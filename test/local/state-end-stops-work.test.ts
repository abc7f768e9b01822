/**
 * Local mode stops the work of a Task state that ended without it (issue 14, item 11): when a
 * container state times out its runner is stopped (as ECS stops a `.sync` task), and a token wait
 * whose state timed out is forgotten, so a late SendTaskSuccess resumes nothing. The state's end
 * is its `TaskContext.signal` (state-machines/local.ts aborts it at the state's timeout).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ControlDeps } from "../../core/control/deps.ts";
import { localPaths } from "../../local/paths.ts";
import type { ContainerLauncher, RunnerExit, RunnerLaunch } from "../../local/runner-process.ts";
import { LocalExecution, LocalStepFunctions } from "../../local/step-functions.ts";
import { bindTaskStates } from "../../local/task-bindings.ts";
import type { TeamRunExecutionInput } from "../../state-machines/contract.ts";
import { StatesError } from "../../state-machines/local.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const input = { runId: "run-timeout", namespace: "default", teamName: "t" } as TeamRunExecutionInput;

function sfn(): LocalStepFunctions {
  return new LocalStepFunctions({
    definition: { StartAt: "x", States: {} } as never,
    handlersFor: () => ({}) as never,
    maxConcurrentRuns: 1,
    onStatusChange: async () => {},
  });
}

/** A runner that keeps running until it is stopped, and says how it was stopped. */
function blockingLauncher() {
  const launches: Array<{ launch: RunnerLaunch; how?: "stop" | "kill" }> = [];
  const launcher: ContainerLauncher = (launch) => {
    const record: (typeof launches)[number] = { launch };
    launches.push(record);
    let exit!: (e: RunnerExit) => void;
    const exited = new Promise<RunnerExit>((resolve) => {
      exit = resolve;
    });
    launch.onSpawn?.(4242);
    return {
      exited,
      stop: () => {
        record.how = "stop";
        exit({ exitCode: null, signal: "SIGTERM", pid: 4242 });
        return exited;
      },
      kill: () => {
        record.how = "kill";
        exit({ exitCode: null, signal: "SIGKILL", pid: 4242 });
        return exited;
      },
    };
  };
  return { launcher, launches };
}

/** The states of one execution bound to `launcher`, in a data directory of their own. */
function containerStates(launcher: ContainerLauncher, execution: LocalExecution, logs: string[]) {
  const data = mkdtempSync(join(tmpdir(), "squadron-state-end-"));
  dirs.push(data);
  return bindTaskStates(
    {
      deps: {} as ControlDeps,
      sfn: sfn(),
      paths: localPaths(data),
      baseDir: data,
      runnerEnv: {},
      stopGraceMs: 100,
      launcher,
      log: (line) => logs.push(line),
    },
    execution,
  );
}

describe("the work of a state that ended without it", () => {
  it("stops a container whose state timed out", async () => {
    const { launcher, launches } = blockingLauncher();
    const logs: string[] = [];
    const handlers = containerStates(launcher, new LocalExecution(input, false), logs);
    const state = new AbortController();
    const init = handlers.WorkspaceInit({}, { state: "WorkspaceInit", signal: state.signal });
    init.catch(() => undefined);
    await new Promise<void>((resolve) => {
      const check = () => (launches.length > 0 ? resolve() : setImmediate(check));
      check();
    });
    expect(launches[0]?.how).toBeUndefined();
    state.abort(new StatesError("States.Timeout", "WorkspaceInit timed out after 90 s"));
    await expect(init).rejects.toThrow(/killed by SIGTERM/);
    expect(launches[0]?.how).toBe("stop");
    expect(logs.join("\n")).toMatch(
      /init: its state ended \(WorkspaceInit timed out after 90 s\); stopping the runner/,
    );
  });

  it("starts no container when its state ended while the container was being set up", async () => {
    const { launcher, launches } = blockingLauncher();
    const execution = new LocalExecution(input, false);
    const handlers = containerStates(launcher, execution, []);
    const state = new AbortController();
    // The state begins (it makes the runner's log directory first), and the run is stopped at once:
    // StopExecution has already stopped every process the run had, so a runner started now would
    // run the whole step after the team was Cancelled, stopped by nothing.
    const finalize = handlers.Finalize({}, { state: "Finalize", signal: state.signal });
    const why = new StatesError("Cancelled", "Cancelled by admin.");
    execution.controller.abort(why);
    state.abort(why);
    await expect(finalize).rejects.toThrow("The execution was stopped.");
    expect(launches).toEqual([]);
  });

  it("forgets a token wait whose state timed out: its wait ends with the timeout and a late success is ignored", async () => {
    const functions = sfn();
    const execution = new LocalExecution(input, false);
    const state = new AbortController();
    const { token, wait } = functions.registerToken(execution, "gate-review", state.signal);
    expect(execution.tokens.has(token)).toBe(true);
    state.abort(new StatesError("States.Timeout", "ApprovalGate timed out after 1 h"));
    await expect(wait).rejects.toThrow("ApprovalGate timed out after 1 h");
    expect(execution.tokens.has(token)).toBe(false);
    await functions.succeed(token, { approvedBy: "late" }); // nothing to resume, nothing thrown
  });
});
