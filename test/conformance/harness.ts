/**
 * Conformance harness: real agent CLIs (the pinned devDependencies) against the local model-API
 * stub, with the team MCP server from the bundled runner (runner/build.ts, as in the image).
 * CLI-agnostic: a `CliTarget` says how to point one CLI at the stub; codex and gemini add theirs.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import type { AgentPhase } from "../../core/status/phases.ts";
import type { UsageDelta } from "../../core/status/types.ts";
import { type UsageCharge, usageBetween } from "../../core/store/usage-charge.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { adapterFor } from "../../runner/adapters/index.ts";
import type { AgentAdapter, TurnMcp } from "../../runner/adapters/types.ts";
import type { RunnerTimings } from "../../runner/config/env.ts";
import { teamServerLaunch } from "../../runner/mcp/launch.ts";
import type { AgentStateSink, PhaseDetails } from "../../runner/reporting/store-sink.ts";
import { runSession, type SessionOutcome } from "../../runner/session/loop.ts";
import { bundledRunner, coworkTeam } from "../runner/session/fixtures.ts";
import { geminiStubEnv } from "../support/model-api-stub/gemini.ts";
import type { ModelApiStub } from "../support/model-api-stub/index.ts";

export const REPO_ROOT = new URL("../../", import.meta.url).pathname;
export const BIN = join(REPO_ROOT, "node_modules", ".bin");

/** How to run one CLI against the stub. */
export interface CliTarget {
  cli: AgentSpec["cli"];
  /** The pinned executable in node_modules/.bin. */
  executable: string;
  /** A model id the CLI knows and prices. */
  model: string;
  /** Environment that points the CLI at the stub, with no telemetry or update checks. */
  env(stub: ModelApiStub, home: string): Record<string, string>;
}

export const claudeTarget: CliTarget = {
  cli: "claude",
  executable: join(BIN, "claude"),
  model: "claude-sonnet-4-5",
  env: (stub, home) => ({
    ANTHROPIC_BASE_URL: stub.url,
    ANTHROPIC_API_KEY: "sk-ant-stub-key",
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, ".claude"),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
  }),
};

/** Gemini CLI: the stub's Gemini API by GOOGLE_GEMINI_BASE_URL and an API key (see gemini.ts). */
export const geminiTarget: CliTarget = {
  cli: "gemini",
  executable: join(BIN, "gemini"),
  model: "gemini-2.5-flash",
  env: (s, home) => ({ ...geminiStubEnv({ url: s.url, requests: [], close: async () => {} }), HOME: home }),
};

export function agentSpec(
  target: CliTarget,
  name: string,
  role: "lead" | "teammate",
  extra: Partial<AgentSpec> = {},
): AgentSpec {
  return {
    name,
    role,
    model: target.model,
    prompt: role === "lead" ? "Have dev write dev.txt, then finish." : "Do the task the lead gives you.",
    cli: target.cli,
    permissionMode: "acceptEdits",
    dependsOn: [],
    skills: [],
    mcpServers: [],
    ...extra,
  };
}

/** A coding-mode team (the repository is prepared by `prepareRun`, not cloned). */
export function codingTeam(lead: AgentSpec, teammates: AgentSpec[], name = "conf"): AgentTeam {
  const { workspace: _cowork, ...spec } = coworkTeam(lead, teammates, name).spec;
  return {
    ...coworkTeam(lead, teammates, name),
    spec: {
      ...spec,
      mode: "coding",
      repository: { url: "file:///unused", branch: "main" },
    } as AgentTeam["spec"],
  };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
}

export interface ConformanceRun {
  dir: string;
  team: Team;
  spec: AgentTeam;
  runId: string;
  /** Working directory per agent: the lead in the main checkout, teammates in their worktrees. */
  cwd: Record<string, string>;
  /** Each agent's HOME (the CLI's config and session transcripts live there). */
  home: Record<string, string>;
  mcp(agent: string): Promise<TurnMcp>;
}

const preparedDirs = new Set<string>();

/** Deletes every run directory prepareRun made (suites call it when their CLIs have ended). */
export async function removePreparedRuns(): Promise<void> {
  const dirs = [...preparedDirs];
  preparedDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A run directory: team files, a git checkout with one worktree and branch per teammate. */
export async function prepareRun(spec: AgentTeam, runId = "conf-run"): Promise<ConformanceRun> {
  const dir = await mkdtemp(join(tmpdir(), "squadron-conformance-"));
  preparedDirs.add(dir);
  const team = new Team(join(dir, "team"));
  const agents = [spec.spec.lead, ...spec.spec.teammates];
  await team.init({
    teamName: spec.metadata.name,
    runId,
    members: agents.map((a) => ({ name: a.name, role: a.role, cli: a.cli, model: a.model })),
  });
  const repo = join(dir, "repo");
  await mkdir(repo, { recursive: true });
  git(repo, "init", "-q", "-b", "main");
  await writeFile(join(repo, "README.md"), "# conformance\n");
  git(repo, "-c", "user.name=fixture", "-c", "user.email=fixture@example.com", "add", "README.md");
  git(repo, "-c", "user.name=fixture", "-c", "user.email=fixture@example.com", "commit", "-q", "-m", "init");
  const cwd: Record<string, string> = { [spec.spec.lead.name]: repo };
  const home: Record<string, string> = {};
  for (const mate of spec.spec.teammates) {
    const wt = join(dir, "worktrees", mate.name);
    git(repo, "worktree", "add", "-q", "-b", `squadron/${mate.name}`, wt);
    cwd[mate.name] = wt;
  }
  for (const a of agents) {
    home[a.name] = join(dir, "home", a.name);
    await mkdir(home[a.name] as string, { recursive: true });
  }
  const outdir = await bundledRunner();
  return {
    dir,
    team,
    spec,
    runId,
    cwd,
    home,
    mcp: async (agent) => {
      const launch = teamServerLaunch({
        teamDir: team.root,
        agentName: agent,
        runId,
        entry: join(outdir, "team-server.js"),
      });
      const path = join(dir, `mcp-${agent}.json`);
      const config = { mcpServers: { team: { type: "stdio" as const, ...launch } } };
      await writeFile(path, JSON.stringify(config));
      return { path, config, env: {} };
    },
  };
}

/** Git identity of an agent, as the runner's agent setup gives it (commits carry the agent's name). */
export function gitIdentity(agent: string): Record<string, string> {
  const email = `${agent}@squadron.local`;
  return {
    GIT_AUTHOR_NAME: agent,
    GIT_AUTHOR_EMAIL: email,
    GIT_COMMITTER_NAME: agent,
    GIT_COMMITTER_EMAIL: email,
  };
}

/** A store stand-in that keeps every usage delta and Warning, so tests can add them up. */
export class RecordingSink implements AgentStateSink {
  readonly usage: UsageDelta[] = [];
  readonly warnings: Array<{ reason: string; message: string }> = [];
  readonly phases: Array<{ phase: AgentPhase; details?: PhaseDetails }> = [];
  async chargeUsage({ before, after }: UsageCharge) {
    this.usage.push(usageBetween(before, after));
    return undefined;
  }
  async heartbeat() {}
  async setPhase(phase: AgentPhase, details?: PhaseDetails) {
    this.phases.push({ phase, ...(details ? { details } : {}) });
  }
  async runCostUsd() {
    return undefined;
  }
  async warn(reason: string, message: string) {
    this.warnings.push({ reason, message });
  }
  get costUsd(): number {
    return this.usage.reduce((s, d) => s + d.costUsd, 0);
  }
}

export const conformanceTimings = (overrides: Partial<RunnerTimings> = {}): RunnerTimings => ({
  pollIntervalMs: 50,
  heartbeatMs: 500,
  usageReportMs: 200,
  idleGraceMs: 20_000,
  leadFinishGraceMs: 20_000,
  staleHeartbeatMs: 60_000,
  stopGraceMs: 2000,
  maxSessionTurns: 8,
  ...overrides,
});

/** Runs one agent's session loop (the runner's agent mode, in process) with the real CLI. */
export async function runAgentSession(
  run: ConformanceRun,
  target: CliTarget,
  stub: ModelApiStub,
  agent: AgentSpec,
  options: {
    sink?: RecordingSink;
    budgetUsd?: number;
    signal?: AbortSignal;
    adapter?: AgentAdapter;
    timings?: RunnerTimings;
  } = {},
): Promise<SessionOutcome & { sink: RecordingSink }> {
  const sink = options.sink ?? new RecordingSink();
  const outcome = await runSession({
    team: run.team,
    spec: run.spec,
    agent,
    runId: run.runId,
    cwd: run.cwd[agent.name] as string,
    adapter: options.adapter ?? adapterFor(target.cli, { executable: target.executable }),
    mcp: await run.mcp(agent.name),
    cliEnv: { ...target.env(stub, run.home[agent.name] as string), ...gitIdentity(agent.name) },
    sink,
    timings: options.timings ?? conformanceTimings(),
    ...(options.budgetUsd !== undefined ? { budgetUsd: options.budgetUsd } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...outcome, sink };
}

export { git };
