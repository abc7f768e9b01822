import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * What a local runner leaves behind when it dies without cleaning up (kill -9): the agent CLI and
 * MCP server it started in process groups of their own, which `ps` no longer links to the dead
 * runner, and the private temporary directories (`squadron-mcp-*`) it made. Each runner is
 * therefore started with a mark in its environment, which the processes it starts inherit, and
 * its own TMPDIR; when it exits, every process carrying the mark is killed with its group and the
 * directory is removed.
 */
export const RUNNER_MARK_VARIABLE = "SQUADRON_RUNNER_MARK";

export interface RunnerLeftovers {
  /** Added to the runner's environment. */
  env: Record<string, string>;
  /** Kills every process still carrying the mark (with its group) and removes the runner's TMPDIR. */
  sweep(): number;
}

export function trackRunnerLeftovers(): RunnerLeftovers {
  const mark = randomUUID();
  const tmp = mkdtempSync(join(tmpdir(), "squadron-runner-"));
  return {
    env: { [RUNNER_MARK_VARIABLE]: mark, TMPDIR: tmp },
    sweep: () => {
      const killed = killMarked(mark);
      rmSync(tmp, { recursive: true, force: true });
      return killed;
    },
  };
}

/**
 * SIGKILL to the group of every process whose environment holds `SQUADRON_RUNNER_MARK=<mark>`
 * (Linux /proc; elsewhere nothing is found and the process-group kill is all there is).
 * Answers how many processes carried the mark.
 */
export function killMarked(mark: string): number {
  return killProcessesWith(`${RUNNER_MARK_VARIABLE}=${mark}`);
}

/**
 * SIGKILL to the group of every process (not this one) whose environment holds the entry `needle`
 * (`NAME=value`); answers how many there were. A stack killed -9 leaves its runners, their CLIs
 * and MCP servers running (each in a group of its own): the next start finds them by the run
 * directory they were given (`SQUADRON_TEAM_DIR=<runDir>`, inherited by everything a runner
 * starts) and ends them before it relaunches their agents, so two CLIs never share one agent.
 */
export function killProcessesWith(needle: string): number {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  let found = 0;
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue; // gone, or another user's
    }
    if (!environ.split("\0").includes(needle)) continue;
    found += 1;
    const pgid = processGroupOf(pid);
    for (const target of pgid && pgid !== process.pid && pgid > 1 ? [-pgid, Number(pid)] : [Number(pid)]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  return found;
}

function processGroupOf(pid: string): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgid = Number(fields[2]);
    return Number.isInteger(pgid) ? pgid : undefined;
  } catch {
    return undefined;
  }
}
