import { readFile, rename, writeFile } from "node:fs/promises";
import type { ControlDeps } from "../core/control/deps.ts";
import { announceEnd, finishRun, releaseRunResources } from "../core/control/lifecycle.ts";
import { recordEvent } from "../core/control/team-runs.ts";
import { isTerminalTeamPhase } from "../core/status/phases.ts";
import { normalEvent, warningEvent } from "../core/status/status.ts";
import { NotFoundError } from "../core/store/errors.ts";
import type { TeamRunRecord } from "../core/store/items.ts";
import type { TeamRunExecutionInput } from "../state-machines/contract.ts";

/**
 * `executions.json`: the executions in progress, rewritten whenever one starts or ends. After a
 * clean shutdown or a crash alike, it names every run the next start must resume or fail.
 */
export class ExecutionJournal {
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  async read(): Promise<TeamRunExecutionInput[]> {
    try {
      const parsed = JSON.parse(await readFile(this.path, "utf8")) as { active?: TeamRunExecutionInput[] };
      return Array.isArray(parsed.active) ? parsed.active : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new Error(`cannot read ${this.path}: ${(error as Error).message}`);
    }
  }

  /** Writes are serialised; the last one wins. */
  write(active: TeamRunExecutionInput[]): Promise<void> {
    const body = `${JSON.stringify({ active, updatedAt: new Date().toISOString() }, null, 2)}\n`;
    this.writing = this.writing.then(async () => {
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, body);
      await rename(temp, this.path);
    });
    return this.writing;
  }
}

const RUNNING_AGENT_PHASES = new Set(["Starting", "Running"]);

export type RecoveryDecision = { resume: true; relaunch: string[] } | { resume: false; reason: string };

/**
 * An interrupted run is executed again from the start, and every step it had already taken is
 * replayed without repeating work: finished agents are skipped, waits (dependencies, approvals)
 * are entered again with new tokens, a decided gate resumes at once. Agents whose process was
 * running are launched again in their workspace, as a container restart would be (their commits,
 * tasks and messages are on disk, and the runner resumes the agent's CLI session from
 * team/sessions/<agent>.json). A run whose record is no longer
 * consistent (an agent stopped while the run goes on) cannot be replayed and is failed.
 */
export function recoveryDecision(record: TeamRunRecord): RecoveryDecision {
  const stopped = Object.entries(record.status.agents)
    .filter(([, a]) => a.phase === "Stopped")
    .map(([name]) => name);
  if (stopped.length > 0) {
    return {
      resume: false,
      reason: `${stopped.join(", ")} ${stopped.length === 1 ? "was" : "were"} stopped while the run went on, so it cannot be replayed`,
    };
  }
  const relaunch = Object.entries(record.status.agents)
    .filter(([, a]) => RUNNING_AGENT_PHASES.has(a.phase))
    .map(([name]) => name);
  return { resume: true, relaunch };
}

export interface RecoveryReport {
  resumed: string[];
  failed: Array<{ runId: string; reason: string }>;
}

/** At start: resume or fail every run the journal lists. */
export async function recoverInterruptedRuns(
  deps: Pick<ControlDeps, "store" | "runs" | "workspaces" | "deadlines" | "notifier" | "logger">,
  interrupted: TeamRunExecutionInput[],
  resume: (input: TeamRunExecutionInput) => void,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { resumed: [], failed: [] };
  for (const input of interrupted) {
    const ref = { namespace: input.namespace, name: input.teamName };
    let record: TeamRunRecord;
    try {
      record = await deps.store.getRun(ref);
    } catch (error) {
      if (error instanceof NotFoundError) continue;
      throw error;
    }
    if (record.runId !== input.runId || isTerminalTeamPhase(record.status.phase)) continue;
    const decision = recoveryDecision(record);
    const runRef = { ...ref, runId: input.runId };
    if (decision.resume) {
      const n = decision.relaunch.length;
      const again = n
        ? ` ${decision.relaunch.join(", ")} ${n === 1 ? "was" : "were"} running and ${n === 1 ? "is" : "are"} started again in ${n === 1 ? "its" : "their"} workspace.`
        : "";
      await recordEvent(
        deps,
        runRef,
        normalEvent("Resumed", `The local stack restarted; the run continues where it stopped.${again}`),
      );
      resume(input);
      report.resumed.push(input.runId);
      continue;
    }
    const message = `Interrupted: ${decision.reason}.`;
    const { record: ended, claimed } = await finishRun(deps, ref, "Failed", "Interrupted", message);
    if (claimed) await announceEnd(deps, ended);
    await releaseRunResources(deps, input.runId).catch(() => undefined);
    report.failed.push({ runId: input.runId, reason: message });
  }
  return report;
}

/** Marks the runs a shutdown interrupted, so their history says what happened. */
export async function markInterrupted(
  deps: Pick<ControlDeps, "store" | "logger">,
  interrupted: TeamRunExecutionInput[],
): Promise<void> {
  for (const input of interrupted) {
    await recordEvent(
      deps,
      { namespace: input.namespace, name: input.teamName, runId: input.runId },
      warningEvent(
        "LocalStackStopped",
        "The local stack stopped while this run was in progress; the next start resumes it or fails it with the reason.",
      ),
    );
  }
}
