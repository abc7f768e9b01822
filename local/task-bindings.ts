/**
 * Every Task state of the team-run definition bound to what runs it in AWS: the same control-plane
 * domain functions the Lambdas call (prepare, dependencies, approvals, outputs, cleanup) and the runner's
 * entrypoint as a child process for the container states (WorkspaceInit, RunAgent, Finalize).
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { awaitApproval } from "../core/control/approvals.ts";
import { recordAgentResult, waitForDependencies } from "../core/control/dependencies.ts";
import type { ControlDeps } from "../core/control/deps.ts";
import { cleanupRun, prepareRun } from "../core/control/lifecycle.ts";
import { deliverRunOutputs } from "../core/control/run-outputs.ts";
import { recordEvent } from "../core/control/team-runs.ts";
import { LocalDirectoryStore } from "../core/run-files/object-store.ts";
import { normalEvent, warningEvent } from "../core/status/status.ts";
import type { AgentStatus } from "../core/status/types.ts";
import {
  type ApprovalGatePayload,
  type CleanupPayload,
  type DeliverOutputsPayload,
  ecsStoppedTask,
  type PreparePayload,
  type RecordAgentResultPayload,
  type RecordAgentResultResult,
  type RunnerMode,
  type WaitForDependenciesPayload,
} from "../state-machines/contract.ts";
import { runnerEnvironmentOf, StatesError, type TaskHandlers } from "../state-machines/local.ts";
import { type LocalPaths, runDir } from "./paths.ts";
import { type ContainerLauncher, logFileFor, spawnRunner } from "./runner-process.ts";
import type { LocalExecution, LocalStepFunctions } from "./step-functions.ts";

/** A runner process of a container state started or ended. */
export interface RunnerProcessEvent {
  runId: string;
  mode: RunnerMode;
  agent?: string;
  pid: number;
  phase: "started" | "exited";
  exitCode?: number | null;
}

export interface BindingContext {
  deps: ControlDeps;
  sfn: LocalStepFunctions;
  paths: LocalPaths;
  /** Working directory of runner processes (relative repository URLs resolve against it). */
  baseDir: string;
  /** The environment every runner process gets (store endpoint, object store, GitHub, timings). */
  runnerEnv: Record<string, string>;
  stopGraceMs: number;
  /** Starts the container states' processes; default: the runner's entrypoint as a child process. */
  launcher?: ContainerLauncher;
  /** Notified when a runner process starts and ends (benchmarks, progress). */
  onProcess?: (event: RunnerProcessEvent) => void;
  log(message: string): void;
}

const INIT_DONE = ".local-init-done";

function failureCause(exit: {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  result?: Record<string, unknown>;
}): string {
  const r = exit.result ?? {};
  const said = [r.error, r.message, r.reason].find((v) => typeof v === "string" && v !== "") as
    | string
    | undefined;
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode ?? "unknown"}`;
  return said ? `The runner ${how}: ${said}` : `The runner ${how}.`;
}

export function bindTaskStates(ctx: BindingContext, execution: LocalExecution): TaskHandlers {
  const { deps, sfn } = ctx;
  const dir = runDir(ctx.paths, execution.runId);
  const ref = { namespace: execution.input.namespace, name: execution.input.teamName };
  /** Replay: agents that had ended before this execution started; they are not run or recorded again. */
  const endedBefore = new Map<string, AgentStatus>();

  /**
   * The `.sync` container integration: resolves with the stopped task when the process exits 0.
   * When its state ends without it (the state's timeout), the container is stopped, as ECS stops
   * the task of a `.sync` state that timed out.
   */
  async function runContainer(signal: AbortSignal, mode: RunnerMode, agent?: string, attempt?: number) {
    const stillWanted = () => {
      if (execution.aborted) throw new StatesError("ExecutionAborted", "The execution was stopped.");
      signal.throwIfAborted();
    };
    stillWanted();
    const logFile = await logFileFor(ctx.paths.logs, execution.runId, agent ?? mode);
    // Again after the wait: a stop that came meanwhile has already stopped the run's processes and
    // would not see this one (nor would its state's signal, already aborted, call the listener
    // below), so the runner would do its whole step after the run was Cancelled. From here to the
    // listener nothing waits, so no stop can fall in between.
    stillWanted();
    const process = (ctx.launcher ?? spawnRunner)(
      {
        mode,
        runId: execution.runId,
        ...(agent ? { agent } : {}),
        ...(attempt !== undefined ? { attempt } : {}),
        cwd: ctx.baseDir,
        logFile,
        env: { ...ctx.runnerEnv, SQUADRON_TEAM_DIR: dir },
        onSpawn: (pid) =>
          ctx.onProcess?.({
            runId: execution.runId,
            mode,
            ...(agent ? { agent } : {}),
            pid,
            phase: "started",
          }),
      },
      ctx.stopGraceMs,
    );
    execution.processes.add(process);
    const stopOnStateEnd = () => {
      ctx.log(
        `[${execution.runId}] ${agent ?? mode}: its state ended (${String(signal.reason?.message ?? signal.reason)}); stopping the runner`,
      );
      void process.stop();
    };
    signal.addEventListener("abort", stopOnStateEnd, { once: true });
    const exit = await process.exited.finally(() => {
      execution.processes.delete(process);
      signal.removeEventListener("abort", stopOnStateEnd);
    });
    ctx.onProcess?.({
      runId: execution.runId,
      mode,
      ...(agent ? { agent } : {}),
      pid: exit.pid,
      phase: "exited",
      exitCode: exit.exitCode,
    });
    if (exit.exitCode !== 0) throw new StatesError("States.TaskFailed", failureCause(exit));
    return {
      exit,
      stopped: ecsStoppedTask(
        `arn:aws:ecs:us-east-1:123456789012:task/squadron-local/${execution.runId}-${agent ?? mode}-${exit.pid}`,
      ),
    };
  }

  return {
    Prepare: async (payload: PreparePayload) => {
      await mkdir(dir, { recursive: true });
      let startedAt = payload.startedAt;
      if (execution.replay) {
        // A resumed run keeps its deadline: it counts from the first start.
        const record = await deps.store.getRun(ref);
        startedAt = record.status.startedAt ?? startedAt;
        for (const [name, a] of Object.entries(record.status.agents)) {
          if (a.finishedAt && (a.phase === "Succeeded" || a.phase === "Failed")) endedBefore.set(name, a);
        }
      }
      return prepareRun(deps, { ...payload, startedAt }, { teamDir: dir });
    },

    WorkspaceInit: async (_parameters: unknown, { signal }) => {
      if (execution.replay && existsSync(join(dir, INIT_DONE))) return ecsStoppedTask();
      const { stopped } = await runContainer(signal, "init");
      await writeFile(join(dir, INIT_DONE), new Date().toISOString());
      return stopped;
    },

    WaitForDependencies: async (payload: WaitForDependenciesPayload, { signal }) => {
      const { token, wait } = sfn.registerToken(execution, `deps-${payload.agentName}`, signal);
      await waitForDependencies(deps, { ...payload, taskToken: token });
      return wait;
    },

    ApprovalGate: async (payload: ApprovalGatePayload, { signal }) => {
      const { token, wait } = sfn.registerToken(execution, `gate-${payload.gate}`, signal);
      await awaitApproval(deps, { ...payload, taskToken: token });
      return wait;
    },

    RunAgent: async (parameters: unknown, { signal }) => {
      const env = runnerEnvironmentOf(parameters);
      const agent = env.SQUADRON_AGENT_NAME as string;
      const attempt = Number(env.SQUADRON_ATTEMPT ?? "0");
      // Replay: an agent that ended before the restart is not launched again.
      const before = endedBefore.get(agent);
      if (before?.phase === "Succeeded") return ecsStoppedTask();
      if (before?.phase === "Failed") {
        throw new StatesError("States.TaskFailed", before.message ?? before.reason ?? "The agent failed.");
      }
      const { stopped } = await runContainer(signal, "agent", agent, attempt);
      return stopped;
    },

    RecordAgentResult: async (payload: RecordAgentResultPayload): Promise<RecordAgentResultResult> => {
      // Recorded before the restart: the same outcome again, without a second record.
      const before = endedBefore.get(payload.agentName);
      if (before?.phase === "Succeeded" && !payload.state.error) {
        return { attempt: payload.state.attempt, outcome: "Succeeded", restart: false, reason: "" };
      }
      if (before?.phase === "Failed" && payload.state.error) {
        const reason = before.message ?? before.reason ?? "";
        return { attempt: payload.state.attempt, outcome: "Failed", restart: false, reason };
      }
      return recordAgentResult(deps, payload);
    },

    Finalize: async (_parameters: unknown, { signal }) => {
      try {
        const { exit, stopped } = await runContainer(signal, "finalize");
        const r = exit.result ?? {};
        await writeFile(join(dir, "finalize-result.json"), JSON.stringify(r, null, 2));
        const parts = [
          typeof r.branch === "string" ? `branch ${r.branch}${r.pushed ? " (pushed)" : ""}` : undefined,
          typeof r.pullRequestUrl === "string" ? `pull request ${r.pullRequestUrl}` : undefined,
        ].filter(Boolean);
        await recordEvent(
          deps,
          { ...ref, runId: execution.runId },
          normalEvent(
            "Delivered",
            parts.length
              ? `Delivered: ${parts.join(", ")}.`
              : `Finalize finished (${String(r.action ?? "none")}).`,
          ),
        );
        return stopped;
      } catch (error) {
        if (!execution.aborted) {
          await recordEvent(
            deps,
            { ...ref, runId: execution.runId },
            warningEvent("FinalizeFailed", (error as Error).message),
          );
        }
        throw error;
      }
    },

    DeliverOutputs: async (payload: DeliverOutputsPayload, { signal }) =>
      deliverRunOutputs(
        {
          store: deps.store,
          objects: new LocalDirectoryStore(ctx.paths.objects),
          runsDir: ctx.paths.runs,
          ...(deps.logger ? { logger: deps.logger } : {}),
        },
        payload,
        { signal },
      ),

    Cleanup: async (payload: CleanupPayload) => cleanupRun(deps, payload),
  };
}
