/**
 * Local mode: how fast a team starts, what the control plane adds per agent, and 50 teams of
 * 4 scripted agents submitted at once on this machine. The stack runs in this process with a
 * temporary data directory; teams are submitted over HTTP like `squadron apply` does.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { type LocalStack, type ProcessEvent, startLocalStack } from "../local/stack.ts";
import { type BenchFigure, type Benchmark, percentile } from "./figure.ts";

const TERMINAL = new Set(["Completed", "Failed", "TimedOut", "BudgetExceeded", "Cancelled"]);
const RUNNER_ENV = {
  SQUADRON_POLL_INTERVAL_MS: "100",
  SQUADRON_HEARTBEAT_MS: "2000",
  SQUADRON_USAGE_REPORT_MS: "500",
  SQUADRON_IDLE_GRACE_MS: "10000",
  SQUADRON_LEAD_FINISH_GRACE_MS: "3000",
  SQUADRON_STOP_GRACE_MS: "1000",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

function bareRepo(root: string): string {
  const seed = join(root, "seed");
  const bare = join(root, "origin.git");
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, {
      cwd,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "b",
        GIT_AUTHOR_EMAIL: "b@b",
        GIT_COMMITTER_NAME: "b",
        GIT_COMMITTER_EMAIL: "b@b",
      },
      stdio: "ignore",
    });
  execFileSync("mkdir", ["-p", seed]);
  git(root, "init", "-q", "--bare", "-b", "main", bare);
  git(seed, "init", "-q", "-b", "main");
  execFileSync("sh", ["-c", "echo '# bench' > README.md"], { cwd: seed });
  git(seed, "add", "README.md");
  git(seed, "commit", "-q", "-m", "initial");
  git(seed, "push", "-q", bare, "main:main");
  return bare;
}

/** lead + (agents-1) scripted teammates with the default scripts (tasks, commits, messages). */
function team(name: string, repo: string, agents: number) {
  return stringify({
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name },
    spec: {
      repository: { url: repo, branch: "main" },
      lead: { cli: "scripted", prompt: "Coordinate." },
      teammates: Array.from({ length: agents - 1 }, (_, i) => ({
        name: `mate-${i + 1}`,
        cli: "scripted",
        prompt: "Work.",
      })),
      lifecycle: { timeout: "20m", onComplete: "none" },
    },
  });
}

async function api(stack: LocalStack, method: string, path: string, body?: string) {
  const res = await fetch(`${stack.endpoint}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.token}`,
      ...(body ? { "content-type": "application/yaml" } : {}),
    },
    ...(body ? { body } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
}

async function waitEnded(stack: LocalStack, names: string[], timeoutMs: number): Promise<Map<string, any>> {
  const ended = new Map<string, any>();
  const end = Date.now() + timeoutMs;
  while (ended.size < names.length && Date.now() < end) {
    const res = await api(stack, "GET", "/api/namespaces/default/teams?limit=100");
    for (const row of res.body?.items ?? [])
      if (names.includes(row.name) && TERMINAL.has(row.phase)) ended.set(row.name, row);
    if (ended.size < names.length) await new Promise((r) => setTimeout(r, 500));
  }
  return ended;
}

/** Milliseconds of [start, end] not covered by any interval. */
function uncovered(start: number, end: number, intervals: Array<[number, number]>): number {
  const sorted = intervals
    .map(([a, b]) => [Math.max(a, start), Math.min(b, end)] as [number, number])
    .filter(([a, b]) => b > a);
  sorted.sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let cursor = start;
  for (const [a, b] of sorted) {
    if (b <= cursor) continue;
    covered += b - Math.max(a, cursor);
    cursor = b;
  }
  return end - start - covered;
}

const bench: Benchmark = async () => {
  const root = mkdtempSync(join(tmpdir(), "squadron-bench-local-"));
  const repo = bareRepo(root);
  const stack = await startLocalStack({
    dataDir: join(root, "data"),
    port: 0,
    cacheDir: join(process.cwd(), ".cache", "local-definition"),
    maxConcurrentRuns: 8,
    runnerEnv: RUNNER_ENV,
    stopGraceMs: 1000,
  });
  const events: ProcessEvent[] = [];
  stack.events.on("process", (e: ProcessEvent) => events.push(e));
  const figures: BenchFigure[] = [];
  try {
    // 1. apply → first agent process, one team at a time (an idle stack).
    const toAgent: number[] = [];
    const toRunner: number[] = [];
    const overheadPerAgent: number[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `latency-${i}`;
      const t0 = performance.now();
      const created = await api(stack, "POST", "/api/namespaces/default/teams", team(name, repo, 4));
      if (created.status !== 201)
        throw new Error(`apply failed: ${created.status} ${JSON.stringify(created.body)}`);
      const runId = created.body.runId as string;
      const ended = await waitEnded(stack, [name], 120_000);
      const t1 = performance.now();
      const mine = events.filter((e) => e.runId === runId);
      const firstAgent = mine.find((e) => e.mode === "agent" && e.phase === "started");
      const firstRunner = mine.find((e) => e.phase === "started");
      if (firstAgent) toAgent.push(firstAgent.at - t0);
      if (firstRunner) toRunner.push(firstRunner.at - t0);
      // Control-plane time: the part of the run during which no runner process was alive.
      const intervals: Array<[number, number]> = [];
      for (const s of mine.filter((e) => e.phase === "started")) {
        const exit = mine.find((e) => e.phase === "exited" && e.pid === s.pid);
        intervals.push([s.at, exit?.at ?? t1]);
      }
      if (ended.get(name)?.phase === "Completed") overheadPerAgent.push(uncovered(t0, t1, intervals) / 4);
    }
    figures.push(
      {
        name: "local.apply-to-first-agent-process.p50",
        value: Math.round(percentile(toAgent, 50)),
        unit: "ms",
        target: 2000,
        better: "lower",
        note: `${toAgent.length} teams of 4, idle stack; includes Prepare and the init runner (git clone)`,
      },
      {
        name: "local.apply-to-first-runner-process.p50",
        value: Math.round(percentile(toRunner, 50)),
        unit: "ms",
        better: "lower",
        note: "the init runner (WorkspaceInit) starting",
      },
      {
        name: "local.control-plane-overhead-per-agent.p50",
        value: Math.round(percentile(overheadPerAgent, 50)),
        unit: "ms",
        better: "lower",
        note: "run time with no runner process alive, divided by 4 agents (scripted, uncontended)",
      },
    );

    // 2. 50 teams of 4 scripted agents at once.
    const names = Array.from({ length: 50 }, (_, i) => `scale-${String(i).padStart(2, "0")}`);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 250);
    const t0 = performance.now();
    const submitted = await Promise.all(
      names.map((n) => api(stack, "POST", "/api/namespaces/default/teams", team(n, repo, 4))),
    );
    const submitErrors = submitted.filter((r) => r.status !== 201).length;
    const submitMs = performance.now() - t0;
    const ended = await waitEnded(stack, names, 20 * 60_000);
    const total = performance.now() - t0;
    clearInterval(sampler);
    const notCompleted = names.filter((n) => ended.get(n)?.phase !== "Completed");
    const runIds = new Set(submitted.map((r) => r.body?.runId));
    const agentProcesses = events.filter(
      (e) => runIds.has(e.runId) && e.mode === "agent" && e.phase === "started",
    ).length;
    figures.push(
      {
        name: "local.scale.50x4.total",
        value: Math.round(total / 100) / 10,
        unit: "s",
        better: "lower",
        note: `50 teams × 4 scripted agents submitted at once, 8 runs at a time; ${agentProcesses} agent processes`,
      },
      {
        name: "local.scale.50x4.submit",
        value: Math.round(submitMs),
        unit: "ms",
        better: "lower",
        note: "50 concurrent HTTP applies",
      },
      {
        name: "local.scale.50x4.peak-rss",
        value: Math.round(peakRss / 1024 / 1024),
        unit: "MiB",
        better: "lower",
        note: "the stack process (API, state machines, dynalite); runner processes are separate",
      },
      {
        name: "local.scale.50x4.errors",
        value: submitErrors + notCompleted.length,
        unit: "count",
        target: 0,
        better: "lower",
        note: notCompleted.length
          ? `not completed: ${notCompleted.slice(0, 5).join(", ")}`
          : "every team Completed",
      },
    );
  } finally {
    await stack.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return figures;
};

export default bench;
