/**
 * A stand-in for the runner container behind local mode's container states (WorkspaceInit,
 * RunAgent, Finalize): each launch follows a script the test writes per team and agent —
 * exit with a code, report usage, block until stopped — and every start, exit and stop is
 * logged in order. No process is spawned: the runner's own path is covered by test/e2e.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type {
  ContainerLauncher,
  ContainerProcess,
  RunnerExit,
  RunnerLaunch,
} from "../../local/runner-process.ts";

/** What one launch does. Without `block` it exits with `exitCode` (default 0) after `delayMs`. */
export interface LaunchStep {
  delayMs?: number;
  /** USD written to the store, one usage report each, before exiting or blocking. */
  usageUsd?: number[];
  exitCode?: number;
  /** Keeps running until StopExecution stops it (or the stack kills it). */
  block?: boolean;
  /** The runner's one-line JSON result (Finalize reports what it delivered). */
  result?: Record<string, unknown>;
  /** Files the launch writes, relative to the run's team directory (e.g. cowork outputs). */
  files?: Record<string, string>;
}

/** Per agent (or `init` / `finalize`): one step for every attempt, or a list by attempt (the last repeats). */
export type TeamScript = Record<string, LaunchStep | LaunchStep[]>;

export interface LaunchRecord {
  runId: string;
  /** Agent name, or the mode for init and finalize. */
  name: string;
  attempt: number;
  mode: RunnerLaunch["mode"];
  pid: number;
  exit?: RunnerExit;
  /** Stopped by StopExecution (SIGTERM) or killed at shutdown (SIGKILL). */
  stoppedBy?: "SIGTERM" | "SIGKILL";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The run id is `<team name>-<8 hex>` (core/control/team-runs.ts newRunId). */
export function teamNameOf(runId: string): string {
  return runId.replace(/-[0-9a-f]{8}$/, "");
}

export class ScriptedLauncher {
  readonly launches: LaunchRecord[] = [];
  /** `start <name>#<attempt>` / `exit <name>#<attempt> <code|signal>`, in the order they happened. */
  readonly log: string[] = [];
  private readonly scripts = new Map<string, TeamScript>();
  private readonly listeners: Array<() => void> = [];
  private nextPid = 700_000;

  constructor(private readonly writeUsage: (runId: string, agent: string, usd: number) => Promise<void>) {}

  /** The script of every run of team `name` (register it before creating the team). */
  script(name: string, script: TeamScript): void {
    this.scripts.set(name, script);
  }

  readonly launcher: ContainerLauncher = (launch) => this.start(launch);

  of(runId: string): LaunchRecord[] {
    return this.launches.filter((l) => l.runId === runId);
  }

  /** Launch labels of a run in start order, e.g. `backend-api#0`. */
  started(runId: string): string[] {
    return this.of(runId).map((l) => `${l.name}#${l.attempt}`);
  }

  /** Resolves when a launch matching `predicate` exists (or rejects after `timeoutMs`). */
  async waitFor(predicate: (l: LaunchRecord) => boolean, timeoutMs = 10_000): Promise<LaunchRecord> {
    const found = () => this.launches.find(predicate);
    const deadline = Date.now() + timeoutMs;
    while (!found()) {
      if (Date.now() > deadline)
        throw new Error(`no such launch after ${timeoutMs} ms; launched: ${this.log.join(", ")}`);
      await new Promise<void>((resolve) => {
        this.listeners.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return found() as LaunchRecord;
  }

  private notify(): void {
    for (const l of this.listeners.splice(0)) l();
  }

  private stepFor(launch: RunnerLaunch): LaunchStep {
    const name = launch.agent ?? launch.mode;
    const script = this.scripts.get(teamNameOf(launch.runId));
    if (!script) throw new Error(`no launch script for run ${launch.runId}`);
    const entry = script[name] ?? {};
    if (!Array.isArray(entry)) return entry;
    return entry[Math.min(launch.attempt ?? 0, entry.length - 1)] ?? {};
  }

  private start(launch: RunnerLaunch): ContainerProcess {
    const step = this.stepFor(launch);
    const record: LaunchRecord = {
      runId: launch.runId,
      name: launch.agent ?? launch.mode,
      attempt: launch.attempt ?? 0,
      mode: launch.mode,
      pid: this.nextPid++,
    };
    const label = `${record.name}#${record.attempt}`;
    this.launches.push(record);
    this.log.push(`start ${label}`);
    launch.onSpawn?.(record.pid);
    this.notify();

    let stop!: (signal: "SIGTERM" | "SIGKILL") => void;
    const stopped = new Promise<"SIGTERM" | "SIGKILL">((resolve) => {
      stop = resolve;
    });
    const exited = (async (): Promise<RunnerExit> => {
      const run = (async () => {
        if (step.delayMs) await sleep(step.delayMs);
        for (const [file, content] of Object.entries(step.files ?? {})) {
          const target = join(launch.env.SQUADRON_TEAM_DIR ?? "", file);
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, content);
        }
        for (const usd of step.usageUsd ?? []) await this.writeUsage(launch.runId, record.name, usd);
        if (step.block) await new Promise(() => {});
        return step.exitCode ?? 0;
      })().catch((error: unknown) => {
        // A runner whose usage report fails exits non-zero, as the real one does.
        this.log.push(`error ${label} ${(error as Error).message}`);
        return 1;
      });
      const outcome = await Promise.race([run, stopped]);
      const exit: RunnerExit =
        typeof outcome === "number"
          ? {
              exitCode: outcome,
              signal: null,
              pid: record.pid,
              ...(step.result ? { result: step.result } : {}),
            }
          : { exitCode: null, signal: outcome, pid: record.pid };
      if (typeof outcome !== "number") record.stoppedBy = outcome;
      record.exit = exit;
      this.log.push(`exit ${label} ${exit.exitCode ?? exit.signal}`);
      this.notify();
      return exit;
    })();
    return {
      exited,
      stop: () => {
        if (!record.exit) stop("SIGTERM");
        return exited;
      },
      kill: () => {
        if (!record.exit) stop("SIGKILL");
        return exited;
      },
    };
  }
}
