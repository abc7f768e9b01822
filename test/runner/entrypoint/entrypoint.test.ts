import { randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Team } from "../../../core/team-protocol/team.ts";
import { readRunnerConfig } from "../../../runner/config/env.ts";
import { ConfigError } from "../../../runner/config/exit-codes.ts";
import {
  bundledRunner,
  coworkTeam,
  initRunDir,
  scriptedAgent,
  startRunner,
  storeOnOwnTable,
  writeRunManifest,
} from "../session/fixtures.ts";

const FAKE_CLI = fileURLToPath(new URL("../../fixtures/cli/fake-cli.mjs", import.meta.url));
const CLAUDE_SUCCESS = fileURLToPath(new URL("../../fixtures/cli/claude/success.jsonl", import.meta.url));
const SOURCE_ENTRY = fileURLToPath(new URL("../../../runner/entrypoint.ts", import.meta.url));

describe("runner configuration", () => {
  it("needs only the mode, the run id and (agent mode) the agent name; the rest has defaults", () => {
    const config = readRunnerConfig({
      SQUADRON_MODE: "agent",
      SQUADRON_RUN_ID: "r1",
      SQUADRON_AGENT_NAME: "dev",
      SQUADRON_TEAM_DIR: "/mnt/run",
    });
    expect(config).toMatchObject({
      mode: "agent",
      runId: "r1",
      agentName: "dev",
      attempt: 0,
      teamDir: "/mnt/run",
      manifestLocation: "/mnt/run/run.json",
      timings: { pollIntervalMs: 200, heartbeatMs: 5000, maxSessionTurns: 50 },
    });
    expect(config.tableName).toBeUndefined();
  });

  it("takes the mode from the first argument and the manifest from S3 when only a bucket has it", () => {
    const config = readRunnerConfig(
      { SQUADRON_RUN_ID: "r2", SQUADRON_TEAM_DIR: "/nonexistent/run", SQUADRON_BUCKET: "squadron-b" },
      ["finalize"],
    );
    expect(config.mode).toBe("finalize");
    expect(config.manifestLocation).toBe("s3://squadron-b/run-manifests/r2.json");
  });

  it("fails at once, naming the Secret, when the EKS runner Secret is missing (its envFrom is optional)", () => {
    const base = { SQUADRON_MODE: "init", SQUADRON_RUN_ID: "r1", SQUADRON_TEAM_DIR: "/mnt/team" };
    expect(() => readRunnerConfig({ ...base, SQUADRON_RUNNER_SECRET_NAME: "squadron-runner" })).toThrow(
      /The Kubernetes Secret "squadron-runner" is missing/,
    );
    expect(
      readRunnerConfig({
        ...base,
        SQUADRON_RUNNER_SECRET_NAME: "squadron-runner",
        SQUADRON_RUNNER_SECRET: "squadron-runner",
      }).mode,
    ).toBe("init");
    // ECS (and local mode) set no Secret name: nothing to check.
    expect(readRunnerConfig(base).mode).toBe("init");
  });

  it.each([
    [{}, /No mode/],
    [{ SQUADRON_MODE: "deploy" }, /Unknown mode "deploy"/],
    [{ SQUADRON_MODE: "init" }, /SQUADRON_RUN_ID is not set/],
    [{ SQUADRON_MODE: "agent", SQUADRON_RUN_ID: "r" }, /SQUADRON_AGENT_NAME is not set/],
    [{ SQUADRON_MODE: "init", SQUADRON_RUN_ID: "r" }, /SQUADRON_TEAM_DIR is not set/],
    [
      {
        SQUADRON_MODE: "init",
        SQUADRON_RUN_ID: "r",
        SQUADRON_TEAM_DIR: "/x",
        SQUADRON_POLL_INTERVAL_MS: "fast",
      },
      /SQUADRON_POLL_INTERVAL_MS must be a positive integer/,
    ],
  ])("refuses %j with a clear message", (env, message) => {
    expect(() => readRunnerConfig(env)).toThrow(ConfigError);
    expect(() => readRunnerConfig(env)).toThrow(message);
  });
});

describe("runner entrypoint as a process", () => {
  const endpoint = inject("dynamoDbLocalEndpoint");
  const { client, tableName, store, createTable } = storeOnOwnTable(endpoint, "squadron-runner");
  const dirs: string[] = [];
  let dist: string;
  beforeAll(async () => {
    [dist] = await Promise.all([bundledRunner(), createTable()]);
  });
  afterAll(async () => {
    client.destroy();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  const baseEnv = (dir: string, runId: string, agent?: string) => ({
    SQUADRON_MODE: "agent",
    SQUADRON_RUN_ID: runId,
    ...(agent ? { SQUADRON_AGENT_NAME: agent } : {}),
    SQUADRON_TEAM_DIR: dir,
    SQUADRON_TABLE_NAME: tableName,
    SQUADRON_DYNAMODB_ENDPOINT: endpoint,
    SQUADRON_POLL_INTERVAL_MS: "50",
    SQUADRON_HEARTBEAT_MS: "300",
    SQUADRON_USAGE_REPORT_MS: "200",
    SQUADRON_STOP_GRACE_MS: "2000",
  });

  it("exits 2 with a one-line JSON result for a configuration problem", async () => {
    const { dir } = await initRunDir(coworkTeam(scriptedAgent("lead", "lead"), []), "r-config");
    dirs.push(dir);
    const missing = await startRunner(SOURCE_ENTRY, { SQUADRON_MODE: "agent", SQUADRON_RUN_ID: "r-config" })
      .result;
    expect(missing.code).toBe(2);
    expect(missing.result).toMatchObject({
      ok: false,
      exitCode: 2,
      error: expect.stringContaining("SQUADRON_AGENT_NAME"),
    });
    expect(missing.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(missing.stderr.trim().split("\n")[0] ?? "{}")).toMatchObject({
      level: "ERROR",
      runId: "r-config",
    });

    await writeRunManifest(dir, "r-config", coworkTeam(scriptedAgent("lead", "lead"), []));
    const unknown = await startRunner(join(dist, "entrypoint.js"), baseEnv(dir, "r-config", "ghost")).result;
    expect(unknown.code).toBe(2);
    expect(unknown.result.error).toMatch(/no such agent; its agents are: lead/);

    const otherRun = await startRunner(join(dist, "entrypoint.js"), baseEnv(dir, "r-other", "lead")).result;
    expect(otherRun.code).toBe(2);
    expect(otherRun.result.error).toMatch(/belongs to run r-config, but SQUADRON_RUN_ID is r-other/);
  });

  it("runs an agent, reports measured usage, heartbeat and phase to DynamoDB, and exits 0", async () => {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const lead = scriptedAgent("lead", "lead", [
      { call: "list_members" },
      { usage: { inputTokens: 1200, outputTokens: 300, costUsd: 0.12 } },
      { sleepMs: 700 },
      { usage: { inputTokens: 800, outputTokens: 100, costUsd: 0.08 } },
      { call: "finish", args: { summary: "Shipped." } },
    ]);
    const team = coworkTeam(lead, [], `solo-${runId}`);
    await store.createRun(team, { runId });
    const { dir } = await initRunDir(team, runId);
    dirs.push(dir);
    await writeRunManifest(dir, runId, team);
    const run = await startRunner(join(dist, "entrypoint.js"), baseEnv(dir, runId, "lead")).result;
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toMatchObject({
      ok: true,
      mode: "agent",
      agent: "lead",
      end: "finished",
      turns: 1,
      exitCode: 0,
    });
    expect(run.result.costUsd).toBeCloseTo(0.2, 6);
    const record = await store.getRun(team.metadata);
    expect(record.status.agents.lead).toMatchObject({
      phase: "Succeeded",
      reason: "Finished",
      message: "Shipped.",
      inputTokens: 2000,
      outputTokens: 400,
    });
    expect(record.status.agents.lead?.costUsd).toBeCloseTo(0.2, 6);
    expect(record.status.totalCostUsd).toBeCloseTo(0.2, 6);
    expect(record.status.agents.lead?.heartbeatAt).toBeDefined();
    // Every log line is JSON on stderr with the run and agent keys.
    for (const line of run.stderr.trim().split("\n")) {
      expect(JSON.parse(line)).toMatchObject({ runId, agent: "lead" });
    }
  });

  it("on SIGTERM interrupts the CLI (SIGINT first), records the agent as Stopped and exits 3", async () => {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const team = coworkTeam(
      scriptedAgent("lead", "lead"),
      [scriptedAgent("dev", "teammate", undefined, { cli: "claude" })],
      `stop-${runId}`,
    );
    await store.createRun(team, { runId });
    const { dir } = await initRunDir(team, runId);
    dirs.push(dir);
    await writeRunManifest(dir, runId, team);
    const record = join(dir, "fake-cli.jsonl");
    const runner = startRunner(join(dist, "entrypoint.js"), {
      ...baseEnv(dir, runId, "dev"),
      SQUADRON_AGENT_EXECUTABLE: FAKE_CLI,
      FAKE_CLI_FIXTURE: CLAUDE_SUCCESS,
      FAKE_CLI_MODE: "hang-after:3",
      FAKE_CLI_RECORD: record,
    });
    const protocol = new Team(dir);
    const deadline = Date.now() + 15_000;
    while ((await readFile(record, "utf8").catch(() => "")) === "" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    runner.kill("SIGTERM");
    const run = await runner.result;
    expect(run.code, run.stderr).toBe(3);
    expect(run.result).toMatchObject({
      ok: false,
      end: "stopped",
      exitCode: 3,
      message: "Stopped by SIGTERM after 1 turn(s).",
    });
    const lines = (await readFile(record, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]?.argv).toEqual(
      expect.arrayContaining(["-p", "--output-format", "stream-json", "--mcp-config"]),
    );
    expect(lines.find((l) => l.signal)?.signal).toBe("SIGINT");
    expect((await protocol.member("dev")).status).toBe("stopped");
    const stored = await store.getRun(team.metadata);
    expect(stored.status.agents.dev).toMatchObject({ phase: "Stopped", reason: "Stopped", exitCode: 3 });
  });
});
