import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentSpec, AgentTeam, ScriptStep } from "../../../core/manifest/types.ts";
import { createTable, TeamStore } from "../../../core/store/index.ts";
import { Team } from "../../../core/team-protocol/team.ts";
import type { RunnerTimings } from "../../../runner/config/env.ts";
import { localDynamoDbClient } from "../../support/dynamodb-local.ts";

/** A normalized agent spec (as the manifest parser produces it) driven by the scripted agent. */
export function scriptedAgent(
  name: string,
  role: "lead" | "teammate",
  script?: ScriptStep[],
  extra: Partial<AgentSpec> = {},
): AgentSpec {
  return {
    name,
    role,
    model: role === "lead" ? "claude-opus-4-6" : "claude-sonnet-4-5",
    prompt: `You are ${name}. Do your part.`,
    cli: "scripted",
    permissionMode: "acceptEdits",
    dependsOn: [],
    skills: [],
    mcpServers: [],
    ...(script ? { script } : {}),
    ...extra,
  };
}

export function coworkTeam(lead: AgentSpec, teammates: AgentSpec[], name = "crew"): AgentTeam {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, namespace: "default", labels: {}, annotations: {} },
    spec: {
      mode: "cowork",
      workspace: { inputs: [], output: { mountPath: "/workspace/output", size: "5Gi" } },
      auth: {},
      lead,
      teammates,
      coordination: { taskAssignment: "lead-assigns", peerMessaging: true },
      lifecycle: {
        timeout: "1h",
        timeoutSeconds: 3600,
        onComplete: "none",
        approvalGates: [],
        maxRestarts: 0,
      },
      observability: {},
    },
  };
}

/** Fast timings for tests; the production defaults are in runner/config/env.ts. */
export function testTimings(overrides: Partial<RunnerTimings> = {}): RunnerTimings {
  return {
    pollIntervalMs: 50,
    heartbeatMs: 500,
    usageReportMs: 200,
    idleGraceMs: 30_000,
    leadFinishGraceMs: 30_000,
    staleHeartbeatMs: 60_000,
    stopGraceMs: 2000,
    maxSessionTurns: 10,
    ...overrides,
  };
}

/** A run directory with team/config.json for `team` and the cowork workspace directory. */
export async function initRunDir(team: AgentTeam, runId: string): Promise<{ dir: string; protocol: Team }> {
  const dir = await mkdtemp(join(tmpdir(), "squadron-session-"));
  const protocol = new Team(dir);
  await protocol.init({
    teamName: team.metadata.name,
    runId,
    members: [team.spec.lead, ...team.spec.teammates].map((a) => ({
      name: a.name,
      role: a.role,
      cli: a.cli,
      model: a.model,
      simulated: true,
    })),
  });
  await mkdir(join(dir, "workspace"), { recursive: true });
  return { dir, protocol };
}

export async function writeRunManifest(dir: string, runId: string, team: AgentTeam, deadlineMs = 3_600_000) {
  const path = join(dir, "run.json");
  await writeFile(
    path,
    JSON.stringify({ runId, team, deadline: new Date(Date.now() + deadlineMs).toISOString() }),
  );
  return path;
}

let bundle: Promise<string> | undefined;
/**
 * The runner bundled as in the container image (runner/build.ts), built once per test file.
 * Tests spawn many agent CLIs and MCP servers; the bundle starts them in a fraction of tsx's time.
 */
export function bundledRunner(): Promise<string> {
  bundle ??= (async () => {
    const { buildRunner } = await import("../../../runner/build.ts");
    const outdir = await mkdtemp(join(tmpdir(), "squadron-runner-dist-"));
    await buildRunner({ outdir, sourcemap: false });
    return outdir;
  })();
  return bundle;
}

export interface RunnerProcess {
  pid: number;
  result: Promise<{ code: number | null; result: Record<string, unknown>; stdout: string; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts the runner entrypoint as a real process: the bundle by default, or the sources through tsx. */
export function startRunner(
  entry: string,
  env: Record<string, string>,
  options: { args?: string[] } = {},
): RunnerProcess {
  const args = entry.endsWith(".ts") ? ["--import", "tsx", entry] : [entry];
  const child = spawn(process.execPath, [...args, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const result = new Promise<{
    code: number | null;
    result: Record<string, unknown>;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    child.on("close", (code) => {
      const lines = stdout.trim().split("\n").filter(Boolean);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown>;
      } catch {
        parsed = { unparsable: stdout };
      }
      resolve({ code, result: parsed, stdout, stderr });
    });
  });
  return { pid: child.pid ?? 0, result, kill: (signal) => child.kill(signal) };
}

/**
 * A TeamStore on a table of its own (named `<prefix>-<8 hex>`) at a local store's endpoint;
 * `createTable()` makes the table (call it in beforeAll).
 */
export function storeOnOwnTable(endpoint: string, prefix: string) {
  const client = localDynamoDbClient(endpoint);
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  return {
    client,
    tableName,
    store: new TeamStore({ client, tableName }),
    createTable: () => createTable(client, tableName),
  };
}
