import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { AgentTeam, ScriptStep } from "../../../core/manifest/types.ts";
import { Team } from "../../../core/team-protocol/team.ts";
import { readSessionRecord } from "../../../runner/session/session-record.ts";
import {
  bundledRunner,
  coworkTeam,
  initRunDir,
  scriptedAgent,
  startRunner,
  storeOnOwnTable,
  writeRunManifest,
} from "../session/fixtures.ts";

/**
 * A proxy in front of DynamoDB Local that stops the first usage charge (an UpdateItem of the
 * run's usage totals) for the test to kill the runner on: `hold` never forwards it (the runner
 * dies before its charge reaches the store), `apply` forwards it and keeps the answer (the
 * store applied it; the runner dies before it hears). Every other request passes through.
 */
async function chargeStoppingProxy(endpoint: string, mode: "hold" | "apply") {
  let stopped: ((how: string) => void) | undefined;
  const charged = new Promise<string>((resolve) => {
    stopped = resolve;
  });
  let first = true;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => {});
    res.on("error", () => {});
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const charge =
        String(req.headers["x-amz-target"]).endsWith(".UpdateItem") && body.includes("usageTotal#");
      const stop = charge && first;
      if (stop) first = false;
      if (stop && mode === "hold") {
        stopped?.("held");
        return;
      }
      const upstream = request(
        `${endpoint}${req.url ?? "/"}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          if (stop) {
            answer.resume();
            answer.on("end", () => stopped?.(`applied (HTTP ${answer.statusCode})`));
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Resolves once the first charge was held or applied. */
    charged,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Runner processes against DynamoDB Local: the lead's runner keeps the run's task counts in the
 * store, and a runner started again after a crash resumes the agent's session and charges the run
 * exactly the usage its CLI reported.
 */
describe("runner state kept across the run and across relaunches", () => {
  const endpoint = inject("dynamoDbLocalEndpoint");
  const { client, tableName, store, createTable } = storeOnOwnTable(endpoint, "squadron-relaunch");
  const dirs: string[] = [];
  let entry: string;
  beforeAll(async () => {
    const [dist] = await Promise.all([bundledRunner(), createTable()]);
    entry = join(dist, "entrypoint.js");
  });
  afterAll(async () => {
    client.destroy();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  const env = (dir: string, runId: string, agent: string) => ({
    SQUADRON_MODE: "agent",
    SQUADRON_RUN_ID: runId,
    SQUADRON_AGENT_NAME: agent,
    SQUADRON_TEAM_DIR: dir,
    SQUADRON_TABLE_NAME: tableName,
    SQUADRON_DYNAMODB_ENDPOINT: endpoint,
    SQUADRON_POLL_INTERVAL_MS: "50",
    SQUADRON_HEARTBEAT_MS: "200",
    SQUADRON_USAGE_REPORT_MS: "200",
    SQUADRON_STOP_GRACE_MS: "2000",
    SQUADRON_SCRIPTED_POLL_MS: "50",
  });

  async function setUp(team: AgentTeam, runId: string) {
    await store.createRun(team, { runId });
    const { dir, protocol } = await initRunDir(team, runId);
    dirs.push(dir);
    await writeRunManifest(dir, runId, team);
    return { dir, protocol };
  }

  /**
   * A run of a scripted lead beside a teammate "dev" whose runner is not started, which keeps the
   * lead waiting between its turns.
   */
  async function leadBesideIdleMate(name: string, runId: string, script: ScriptStep[]) {
    const team = coworkTeam(scriptedAgent("lead", "lead", script), [scriptedAgent("dev", "teammate")], name);
    return { team, ...(await setUp(team, runId)) };
  }

  /** Starts the lead's runner and waits for the end of its first turn. */
  async function leadUntilIdle(dir: string, runId: string, protocol: Team) {
    const runner = startRunner(entry, env(dir, runId, "lead"));
    await until(
      async () => (await protocol.member("lead")).status === "idle",
      "the lead's first turn to end",
    );
    return runner;
  }

  async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("the lead's runner keeps status.tasks current as scripted agents create, delete and complete tasks", async () => {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const lead = scriptedAgent("lead", "lead", [
      { call: "task_create", args: { subject: "Write A", owner: "dev" } },
      { call: "task_create", args: { subject: "Write B", owner: "dev" } },
      { call: "task_create", args: { subject: "Scrap" } },
      { call: "task_update", args: { id: "3", status: "deleted" } },
      { waitFor: "task:Write B:completed", timeoutMs: 20_000 },
      { call: "finish", args: { summary: "Both written." } },
    ]);
    const work = (n: number) => [
      { waitFor: "assigned-task" as const, as: `t${n}`, timeoutMs: 20_000 },
      { call: "task_claim", args: { id: `{{t${n}.id}}` } },
      { sleepMs: 600 },
      { call: "task_update", args: { id: `{{t${n}.id}}`, status: "completed" } },
    ];
    const dev = scriptedAgent("dev", "teammate", [
      ...work(1),
      ...work(2),
      { call: "finish", args: { summary: "Done." } },
    ]);
    const team = coworkTeam(lead, [dev], `counts-${runId}`);
    const { dir } = await setUp(team, runId);

    const seen: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const { total, done } = (await store.getRun(team.metadata)).status.tasks;
        if (seen.at(-1) !== `${total}/${done}`) seen.push(`${total}/${done}`);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const leadRun = startRunner(entry, env(dir, runId, "lead"));
    const devRun = startRunner(entry, env(dir, runId, "dev"));
    const [leadResult, devResult] = await Promise.all([leadRun.result, devRun.result]);
    watching = false;
    await watcher;
    expect(leadResult.code, leadResult.stderr).toBe(0);
    expect(devResult.code, devResult.stderr).toBe(0);

    const record = await store.getRun(team.metadata);
    // The deleted task is not counted; both others were completed.
    expect(record.status.tasks).toEqual({ total: 2, done: 2 });
    // Along the way, while the teammate worked: two tasks, not all done yet.
    expect(seen).toContain("2/0");
    expect(seen).toContain("2/1");
    expect(seen.at(-1)).toBe("2/2");
  });

  it("a runner started again after a crash resumes the agent's CLI session instead of starting over", async () => {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const { team, dir, protocol } = await leadBesideIdleMate(`resume-${runId}`, runId, [
      { call: "task_create", args: { subject: "Only once" } },
      { endTurn: true },
      { call: "task_create", args: { subject: "After the restart" } },
      { call: "finish", args: { summary: "Done after a restart." } },
    ]);

    const first = await leadUntilIdle(dir, runId, protocol);
    const before = await readSessionRecord(dir, "lead");
    expect(before).toMatchObject({ agent: "lead", runId, cli: "scripted", turns: 1 });
    expect(before?.ended).toBeUndefined();
    first.kill("SIGKILL");
    const crashed = await first.result;
    expect(crashed.code).toBeNull();
    expect((await protocol.listTasks()).map((t) => t.subject)).toEqual(["Only once"]);

    await protocol.updateMember("dev", { status: "stopped" });
    const second = await startRunner(entry, env(dir, runId, "lead")).result;
    expect(second.code, second.stderr).toBe(0);
    expect(second.result).toMatchObject({
      ok: true,
      end: "finished",
      turns: 1,
      sessionId: before?.sessionId,
    });
    expect(second.stderr).toContain("Resuming the session an earlier runner of this agent started");
    // The script went on from where the first runner's session stopped: nothing ran twice.
    expect((await protocol.listTasks()).map((t) => t.subject)).toEqual(["Only once", "After the restart"]);
    expect(await readSessionRecord(dir, "lead")).toMatchObject({
      sessionId: before?.sessionId,
      turns: 2,
      ended: { end: "finished", reason: "Finished" },
    });
    const stored = await store.getRun(team.metadata);
    expect(stored.status.agents.lead).toMatchObject({ phase: "Succeeded", message: "Done after a restart." });
    expect(stored.status.tasks).toEqual({ total: 2, done: 0 });

    // Started once more, the finished agent runs no turn.
    const third = await startRunner(entry, env(dir, runId, "lead")).result;
    expect(third.code, third.stderr).toBe(0);
    expect(third.result).toMatchObject({ end: "finished", turns: 0 });
    expect(await protocol.listTasks()).toHaveLength(2);
  });

  it.each([
    ["before its charge reached the store", "hold"],
    ["right after its charge was applied, before the answer", "apply"],
  ] as const)(
    "a runner killed %s is relaunched and the run is charged exactly the CLI's usage",
    async (_, mode) => {
      const runId = `run-${randomUUID().slice(0, 8)}`;
      const { team, dir, protocol } = await leadBesideIdleMate(`charge-${mode}-${runId}`, runId, [
        { usage: { inputTokens: 1000, outputTokens: 100, costUsd: 0.25 } },
        { endTurn: true },
        { usage: { inputTokens: 400, outputTokens: 40, costUsd: 0.1 } },
        { call: "finish", args: { summary: "Charged once." } },
      ]);
      const proxy = await chargeStoppingProxy(endpoint, mode);
      try {
        // No periodic report while the turn streams: the first usage write is the turn's charge.
        const first = startRunner(entry, {
          ...env(dir, runId, "lead"),
          SQUADRON_DYNAMODB_ENDPOINT: proxy.endpoint,
          SQUADRON_USAGE_REPORT_MS: "600000",
        });
        expect(await proxy.charged).toBe(mode === "hold" ? "held" : "applied (HTTP 200)");
        first.kill("SIGKILL");
        expect((await first.result).code).toBeNull();
      } finally {
        proxy.close();
      }
      const charged = (await store.getRun(team.metadata)).status.agents.lead;
      expect(charged?.costUsd).toBe(mode === "hold" ? 0 : 0.25);

      await protocol.updateMember("dev", { status: "stopped" });
      const second = await startRunner(entry, env(dir, runId, "lead")).result;
      expect(second.code, second.stderr).toBe(0);
      expect(second.result).toMatchObject({ ok: true, end: "finished", turns: 1 });
      expect(second.stderr).toContain("Resuming the session an earlier runner of this agent started");
      // The CLI reported 1000/100 tokens for $0.25, then 400/40 for $0.10: that, once.
      const record = await store.getRun(team.metadata);
      expect(record.status.agents.lead).toMatchObject({
        inputTokens: 1400,
        outputTokens: 140,
        costUsd: 0.35,
      });
      expect(record.status.totalCostUsd).toBe(0.35);
    },
  );

  it("starts a new session, told about the restart, when the CLI no longer has the old one", async () => {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const { dir, protocol } = await leadBesideIdleMate(`fresh-${runId}`, runId, [
      { call: "task_create", args: { subject: "Plan" } },
      { endTurn: true },
      { call: "finish", args: { summary: "Finished in a new session." } },
    ]);
    const first = await leadUntilIdle(dir, runId, protocol);
    const before = await readSessionRecord(dir, "lead");
    first.kill("SIGKILL");
    await first.result;
    // As in a new container: the CLI's own session store is gone.
    await rm(join(dir, "workspace", ".squadron-scripted"), { recursive: true, force: true });

    await protocol.updateMember("dev", { status: "stopped" });
    const second = await startRunner(entry, env(dir, runId, "lead")).result;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain("The CLI could not resume the earlier session");
    const after = await readSessionRecord(dir, "lead");
    expect(after?.sessionId).toBeDefined();
    expect(after?.sessionId).not.toBe(before?.sessionId);
    expect(second.result).toMatchObject({ end: "finished", sessionId: after?.sessionId });
    // A new session starts its script from the top (a real model reads the tasks first).
    expect((await new Team(dir).listTasks()).map((t) => t.subject)).toEqual(["Plan", "Plan"]);
  });
});
