import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LEAN_V8_FLAGS } from "../runner/lean-v8-flags.ts";
import type { RunnerMode } from "../state-machines/contract.ts";
import { trackRunnerLeftovers } from "./runner-leftovers.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const RUNNER_ENTRY = join(ROOT, "runner", "entrypoint.ts");
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface RunnerLaunch {
  mode: RunnerMode;
  runId: string;
  agent?: string;
  attempt?: number;
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Called with the pid as soon as the process runs (first-agent-process latency). */
  onSpawn?: (pid: number) => void;
}

export interface RunnerExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The runner's one-line JSON result on stdout, when it wrote one. */
  result?: Record<string, unknown>;
  pid: number;
}

/** What local mode needs of a container state's process: its exit, and a way to stop or kill it. */
export interface ContainerProcess {
  readonly exited: Promise<RunnerExit>;
  /** StopExecution: the process gets a chance to record the stop (SIGTERM, then SIGKILL). */
  stop(): Promise<RunnerExit>;
  /** Shutdown: gone at once, nothing recorded. */
  kill(): Promise<RunnerExit>;
}

/** Starts the process of a container state; tests inject a scripted stand-in for the runner. */
export type ContainerLauncher = (launch: RunnerLaunch, stopGraceMs: number) => ContainerProcess;

/**
 * V8 flags for a bundled runner process: runner/lean-v8-flags.ts says which and why. The agent
 * CLI is a process of its own and keeps V8's defaults. SQUADRON_RUNNER_V8_FLAGS replaces them
 * ("" for none).
 */
export const DEFAULT_RUNNER_V8_FLAGS: readonly string[] = LEAN_V8_FLAGS;

function runnerV8Flags(env: Record<string, string>): string[] {
  const named = env.SQUADRON_RUNNER_V8_FLAGS;
  if (named === undefined) return [...DEFAULT_RUNNER_V8_FLAGS];
  return named.split(/\s+/).filter((flag) => flag !== "");
}

export const spawnRunner: ContainerLauncher = (launch, stopGraceMs) => new RunnerProcess(launch, stopGraceMs);

/** One runner process in its own process group, so stopping it also stops the agent CLI and MCP server. */
export class RunnerProcess implements ContainerProcess {
  readonly exited: Promise<RunnerExit>;
  private readonly child: ChildProcess;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    launch: RunnerLaunch,
    private readonly stopGraceMs = 5_000,
  ) {
    const log = createWriteStream(launch.logFile, { flags: "a" });
    const leftovers = trackRunnerLeftovers();
    // SQUADRON_RUNNER_ENTRY: the bundled runner (runner/build.ts), which is what the container
    // image runs and what the local stack sets by default (local/runner-bundle.ts). Without it:
    // the sources through tsx. A relative entry is relative to the checkout.
    const entry = resolve(ROOT, launch.env.SQUADRON_RUNNER_ENTRY || RUNNER_ENTRY);
    const args = entry.endsWith(".ts")
      ? ["--import", TSX_LOADER, entry]
      : [...runnerV8Flags(launch.env), entry];
    this.child = spawn(process.execPath, args, {
      cwd: launch.cwd,
      env: {
        ...launch.env,
        ...leftovers.env,
        SQUADRON_MODE: launch.mode,
        SQUADRON_RUN_ID: launch.runId,
        ...(launch.agent ? { SQUADRON_AGENT_NAME: launch.agent } : {}),
        ...(launch.attempt !== undefined ? { SQUADRON_ATTEMPT: String(launch.attempt) } : {}),
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    this.child.stderr?.pipe(log, { end: false });
    this.exited = new Promise<RunnerExit>((resolve) => {
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
        if (this.killTimer) clearTimeout(this.killTimer);
        const line = stdout.trim().split("\n").pop() ?? "";
        let result: Record<string, unknown> | undefined;
        try {
          result = line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
        } catch {
          result = undefined;
        }
        log.end(
          `${JSON.stringify({ level: exitCode === 0 ? "INFO" : "WARN", message: "Runner exited", exitCode, signal, timestamp: new Date().toISOString(), service: "squadron-local" })}\n`,
        );
        resolve({ exitCode, signal, pid: this.child.pid ?? -1, ...(result ? { result } : {}) });
      };
      this.child.once("error", (error) => {
        log.write(
          `${JSON.stringify({ level: "ERROR", message: `Could not start the runner: ${error.message}` })}\n`,
        );
        finish(null, null);
      });
      // The runner has exited: whatever it left in its group (a CLI, an MCP server) goes too, and
      // so does every process it started in a group of its own (found by the runner's mark, since
      // a killed runner's children are no longer its children), with its temporary directory.
      this.child.once("exit", () => {
        if (this.child.pid !== undefined) signalGroup(this.child.pid, "SIGKILL");
        leftovers.sweep();
      });
      this.child.once("close", finish);
    });
    if (this.child.pid !== undefined) launch.onSpawn?.(this.child.pid);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * SIGKILL to the whole group at once: the stack is shutting down and the agent will be started
   * again at the next start, so nothing may record it as stopped meanwhile.
   */
  kill(): Promise<RunnerExit> {
    const pid = this.child.pid;
    if (pid !== undefined) killTree(pid);
    return this.exited;
  }

  /** SIGTERM to the whole group (the runner stops its CLI and records the stop), SIGKILL after the grace. */
  stop(): Promise<RunnerExit> {
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      signalGroup(pid, "SIGTERM");
      this.killTimer ??= setTimeout(() => killTree(pid), this.stopGraceMs);
      this.killTimer.unref();
    }
    return this.exited;
  }
}

/**
 * The process groups under a runner: its own, and those of the agent CLIs it starts detached (in
 * groups of their own, so it can stop them). Read from `ps` at the moment of the kill, because
 * once the runner is gone its children belong to init and cannot be found from it.
 */
export function descendantGroups(root: number): number[] {
  let table: Array<{ pid: number; ppid: number; pgid: number }>;
  try {
    table = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid="], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter((r) => r.length === 3 && r.every(Number.isFinite))
      .map(([pid, ppid, pgid]) => ({ pid: pid as number, ppid: ppid as number, pgid: pgid as number }));
  } catch {
    return [root];
  }
  const groups = new Set<number>([root]);
  const seen = new Set<number>([root]);
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of table) {
      if (p.ppid !== parent || seen.has(p.pid)) continue;
      seen.add(p.pid);
      groups.add(p.pgid);
      queue.push(p.pid);
    }
  }
  groups.delete(process.pid);
  groups.delete(0);
  groups.delete(1);
  return [...groups];
}

/** SIGKILL to the runner's group and every group of its descendants. */
function killTree(pid: number): void {
  for (const group of descendantGroups(pid)) signalGroup(group, "SIGKILL");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

export async function logFileFor(logsDir: string, runId: string, name: string): Promise<string> {
  const dir = join(logsDir, runId);
  await mkdir(dir, { recursive: true });
  return join(dir, `${name}.log`);
}
