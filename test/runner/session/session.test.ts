import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentSpec, AgentTeam } from "../../../core/manifest/types.ts";
import type { UsageDelta } from "../../../core/status/types.ts";
import { usageBetween } from "../../../core/store/usage-charge.ts";
import type { Team } from "../../../core/team-protocol/team.ts";
import { adapterFor } from "../../../runner/adapters/index.ts";
import type { TurnInput } from "../../../runner/adapters/types.ts";
import type { RunnerTimings } from "../../../runner/config/env.ts";
import type { AgentStateSink } from "../../../runner/reporting/store-sink.ts";
import { NoStoreSink } from "../../../runner/reporting/store-sink.ts";
import { prepareAgentSetup } from "../../../runner/session/agent-setup.ts";
import { runSession, type SessionOutcome } from "../../../runner/session/loop.ts";
import { RUNNER_SENDER } from "../../../runner/session/prompt.ts";
import { bundledRunner, coworkTeam, initRunDir, scriptedAgent, testTimings } from "./fixtures.ts";

const RUN = "run-session";
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

interface Started {
  outcome: Promise<SessionOutcome>;
  inputs: TurnInput[];
  protocol: Team;
  dir: string;
}

/** Waits for the lead's `finish`, then 300 ms more, and says whether the session ended by then. */
async function endedRightAfterLeadFinished(s: Started): Promise<boolean> {
  let settled = false;
  void s.outcome.then(() => {
    settled = true;
  });
  await until(async () => (await s.protocol.lifecycle("lead")).finished !== null);
  await new Promise((r) => setTimeout(r, 300));
  return settled;
}

async function start(
  team: AgentTeam,
  agent: AgentSpec,
  options: {
    timings?: Partial<RunnerTimings>;
    sink?: AgentStateSink;
    signal?: AbortSignal;
    budgetUsd?: number;
    prepare?: (protocol: Team) => Promise<void>;
    /** Run the TypeScript sources through tsx instead of the bundle. */
    source?: boolean;
  } = {},
): Promise<Started> {
  const { dir, protocol } = await initRunDir(team, RUN);
  dirs.push(dir);
  await options.prepare?.(protocol);
  const dist = options.source ? undefined : await bundledRunner();
  const setup = await prepareAgentSetup({
    team,
    agent,
    runId: RUN,
    teamDir: dir,
    env: process.env,
    ...(dist ? { teamServerEntry: join(dist, "team-server.js") } : {}),
  });
  const inputs: TurnInput[] = [];
  const outcome = runSession({
    team: protocol,
    spec: team,
    agent,
    runId: RUN,
    cwd: join(dir, "workspace"),
    adapter: adapterFor("scripted", dist ? { executable: join(dist, "scripted-claude") } : {}),
    mcp: setup.mcp,
    cliEnv: setup.cliEnv,
    sink: options.sink ?? new NoStoreSink(),
    timings: testTimings(options.timings),
    ...(options.budgetUsd !== undefined ? { budgetUsd: options.budgetUsd } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onTurnStart: (_turn, input) => inputs.push(input),
  }).finally(() => setup.cleanup());
  return { outcome, inputs, protocol, dir };
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("session loop with the scripted agent, the Claude adapter and the team MCP server", () => {
  it("runs one turn from the TypeScript sources, measures usage and ends when the agent calls finish", async () => {
    const lead = scriptedAgent("lead", "lead", [
      { call: "list_members" },
      { usage: { inputTokens: 1000, outputTokens: 100, costUsd: 0.05 } },
      { say: "Done." },
      { call: "finish", args: { summary: "All done." } },
    ]);
    const s = await start(coworkTeam(lead, []), lead, { source: true });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({
      end: "finished",
      ok: true,
      reason: "Finished",
      message: "All done.",
      turns: 1,
    });
    expect(outcome.usage).toMatchObject({ inputTokens: 1000, outputTokens: 100 });
    expect(outcome.usage.costUsd).toBeCloseTo(0.05, 6);
    expect((await s.protocol.member("lead")).status).toBe("finished");
    // The system prompt names the role and the team tools; the first prompt is the agent's own.
    expect(s.inputs[0]?.prompt).toBe(lead.prompt);
    expect(s.inputs[0]?.systemPromptAddition).toContain("You are **lead**, the lead");
    expect(s.inputs[0]?.systemPromptAddition).toContain("`finish`");
  });

  it("resumes the same session when a message arrives after a turn", async () => {
    const mate = scriptedAgent("dev", "teammate", [
      { say: "Waiting for instructions." },
      { endTurn: true },
      { call: "read_messages", as: "inbox" },
      { usage: { inputTokens: 10, outputTokens: 5, costUsd: 0.01 } },
      { call: "finish", args: { summary: "Got {{inbox.messages.0.text}}" } },
    ]);
    const lead = scriptedAgent("lead", "lead");
    const s = await start(coworkTeam(lead, [mate]), mate);
    await until(async () => (await s.protocol.member("dev")).status === "idle");
    await s.protocol.sendMessage({ from: "lead", to: "dev", text: "build it" });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "finished", turns: 2, message: "Got build it" });
    expect(s.inputs).toHaveLength(2);
    expect(s.inputs[1]?.resumeSessionId).toBe(outcome.sessionId);
    expect(s.inputs[1]?.prompt).toContain("1 new message from lead");
  });

  it("wakes a teammate for a task assigned to it", async () => {
    const mate = scriptedAgent("dev", "teammate", [
      { endTurn: true },
      { call: "task_list", as: "tasks" },
      { call: "task_claim", args: { id: "{{tasks.tasks.0.id}}" } },
      { call: "task_update", args: { id: "{{tasks.tasks.0.id}}", status: "completed" } },
      { call: "finish", args: { summary: "did {{tasks.tasks.0.subject}}" } },
    ]);
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate);
    await until(async () => (await s.protocol.member("dev")).status === "idle");
    await s.protocol.createTask({ subject: "Write docs", owner: "dev" });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "finished", message: "did Write docs" });
    expect(s.inputs[1]?.prompt).toContain('#1 "Write docs"');
  });
});

describe("teammate stop rules", () => {
  it("stops an idle teammate with no open task and no unread message after the grace", async () => {
    const mate = scriptedAgent("dev", "teammate", [{ say: "Nothing for me." }]);
    const started = Date.now();
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate, {
      timings: { idleGraceMs: 400 },
    });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "idle", ok: true, reason: "Idle", turns: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect((await s.protocol.member("dev")).status).toBe("stopped");
  });

  it("reminds a teammate that idles with an open task instead of stopping it", async () => {
    const mate = scriptedAgent("dev", "teammate", [
      { call: "task_claim", args: { id: "1" } },
      { endTurn: true },
      { call: "task_update", args: { id: "1", status: "completed" } },
      { call: "finish", args: { summary: "completed after the reminder" } },
    ]);
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate, {
      timings: { idleGraceMs: 300 },
      prepare: async (p) => {
        await p.createTask({ subject: "Ship", owner: "dev" });
      },
    });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "finished", turns: 2 });
    expect(s.inputs[1]?.prompt).toContain('You still own open tasks: #1 "Ship" (in_progress)');
  });

  it("stops a teammate on the lead's shutdown request", async () => {
    const mate = scriptedAgent("dev", "teammate", [{ say: "Idle." }]);
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate);
    await until(async () => (await s.protocol.member("dev")).status === "idle");
    await s.protocol.requestShutdown({ from: "lead", to: "dev", reason: "all tasks done" });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({
      end: "shutdown",
      ok: true,
      reason: "ShutdownRequested",
      message: "Stopped on lead's shutdown request: all tasks done",
      turns: 1,
    });
    expect((await s.protocol.member("dev")).status).toBe("stopped");
  });
});

describe("lead rules", () => {
  it("tells the lead when every teammate has ended, then resumes it to finish", async () => {
    const lead = scriptedAgent("lead", "lead", [
      { say: "Tasks handed out." },
      { endTurn: true },
      { call: "read_messages", as: "inbox" },
      { call: "finish", args: { summary: "{{inbox.messages.0.from}}: {{inbox.messages.0.text}}" } },
    ]);
    const s = await start(coworkTeam(lead, [scriptedAgent("dev", "teammate")]), lead);
    await until(async () => (await s.protocol.member("lead")).status === "idle");
    // Still waiting for the teammate: no message yet.
    expect(await s.protocol.readInbox("lead")).toHaveLength(0);
    await s.protocol.updateMember("dev", { status: "finished" });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "finished", turns: 2 });
    expect(outcome.message).toMatch(
      new RegExp(`^${RUNNER_SENDER}: Every teammate has ended: dev \\(finished\\)`),
    );
  });

  it("finishes for a lead that ends its turn without finish after the team ended", async () => {
    const lead = scriptedAgent("lead", "lead", [{ say: "I think we are done." }]);
    const s = await start(coworkTeam(lead, [scriptedAgent("dev", "teammate")]), lead, {
      timings: { leadFinishGraceMs: 300 },
      prepare: (p) => p.updateMember("dev", { status: "stopped" }).then(() => {}),
    });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({
      end: "finished-by-runner",
      ok: true,
      reason: "FinishedByRunner",
      turns: 2,
    });
    const lifecycle = await s.protocol.lifecycle("lead");
    expect(lifecycle.finished?.summary).toContain("Finished by the runner");
    expect((await s.protocol.member("lead")).status).toBe("finished");
  });

  it("fails a lead whose CLI crashed and never called finish, naming the crash (issue 14: 13)", async () => {
    const lead = scriptedAgent("lead", "lead", [{ say: "working" }, { exit: 5 }]);
    const s = await start(coworkTeam(lead, [scriptedAgent("dev", "teammate")]), lead, {
      timings: { leadFinishGraceMs: 300 },
      prepare: (p) => p.updateMember("dev", { status: "stopped" }).then(() => {}),
    });
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "failed", ok: false, reason: "CliCrashed" });
    expect(outcome.message).toMatch(/crashed .*never called finish/);
  });

  it("counts a teammate that never started as ended once the control plane has ended it", async () => {
    const lead = scriptedAgent("lead", "lead", [{ call: "finish", args: { summary: "done" } }]);
    // The teammate's gate was denied: its runner never ran, so the team files still say pending.
    const ended: string[] = [];
    const sink: AgentStateSink = Object.assign(new NoStoreSink(), {
      endedAgents: async () => [...ended],
    });
    const s = await start(coworkTeam(lead, [scriptedAgent("dev", "teammate")]), lead, { sink });
    expect(await endedRightAfterLeadFinished(s)).toBe(false);
    expect((await s.protocol.member("dev")).status).toBe("pending");
    ended.push("dev");
    expect(await s.outcome).toMatchObject({ end: "finished", message: "done" });
  });

  it("keeps a lead that finished early alive until its teammates end", async () => {
    const lead = scriptedAgent("lead", "lead", [{ call: "finish", args: { summary: "early" } }]);
    const s = await start(coworkTeam(lead, [scriptedAgent("dev", "teammate")]), lead);
    expect(await endedRightAfterLeadFinished(s)).toBe(false);
    await s.protocol.updateMember("dev", { status: "failed" });
    expect(await s.outcome).toMatchObject({ end: "finished", message: "early" });
  });
});

describe("caps and budget", () => {
  it("resumes after a failed turn, and fails after the session's turn cap", async () => {
    const mate = scriptedAgent("dev", "teammate", [
      { fail: "tool broke" },
      { fail: "again" },
      { fail: "and again" },
    ]);
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate, {
      timings: { maxSessionTurns: 2 },
    });
    expect(await s.outcome).toMatchObject({ end: "failed", ok: false, reason: "MaxTurnsReached", turns: 2 });
    expect(s.inputs[1]?.prompt).toContain("Your previous turn ended with an error: tool broke");
    expect((await s.protocol.member("dev")).status).toBe("failed");
  });

  it("fails after three failed turns in a row", async () => {
    const mate = scriptedAgent("dev", "teammate", [
      { fail: "a" },
      { fail: "b" },
      { fail: "c" },
      { fail: "d" },
    ]);
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate);
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({ end: "failed", reason: "TurnFailed", turns: 3 });
    expect(outcome.message).toContain("3 turn(s) in a row failed; the last: c");
  });

  it("passes the remaining budget to the CLI and stops when it is spent", async () => {
    const lead = scriptedAgent("lead", "lead", [
      { usage: { inputTokens: 10, outputTokens: 10, costUsd: 0.3 } },
      { usage: { inputTokens: 10, outputTokens: 10, costUsd: 0.3 } },
      { call: "finish", args: { summary: "never reached" } },
    ]);
    const s = await start(coworkTeam(lead, []), lead, { budgetUsd: 0.5 });
    const outcome = await s.outcome;
    expect(s.inputs[0]?.remainingBudgetUsd).toBe(0.5);
    expect(outcome).toMatchObject({ end: "failed", reason: "BudgetExceeded" });
    expect(outcome.usage.costUsd).toBeCloseTo(0.6, 6);
  });
});

describe("stopping", () => {
  it("aborting during a turn interrupts the CLI and records the agent as stopped", async () => {
    const controller = new AbortController();
    const phases: string[] = [];
    const sink: AgentStateSink = {
      ...new NoStoreSink(),
      chargeUsage: async () => undefined,
      heartbeat: async () => {},
      runCostUsd: async () => undefined,
      setPhase: async (phase, details) => {
        phases.push(`${phase}:${details?.reason ?? ""}`);
      },
    };
    const mate = scriptedAgent("dev", "teammate", [
      { usage: { inputTokens: 100, outputTokens: 10, costUsd: 0.02 } },
      { waitFor: "message", timeoutMs: 30_000 },
    ]);
    const s = await start(coworkTeam(scriptedAgent("lead", "lead"), [mate]), mate, {
      signal: controller.signal,
      sink,
    });
    await until(async () => (await s.protocol.member("dev")).status === "active");
    await new Promise((r) => setTimeout(r, 1500));
    controller.abort("SIGTERM");
    const outcome = await s.outcome;
    expect(outcome).toMatchObject({
      end: "stopped",
      ok: false,
      reason: "Stopped",
      message: "Stopped by SIGTERM after 1 turn(s).",
    });
    // The scripted agent exits 130 when it got SIGINT, as Claude Code does.
    expect(outcome.lastResult).toMatchObject({ stopped: true, exitCode: 130 });
    expect(phases).toEqual(["Running:", "Stopped:Stopped"]);
    expect((await s.protocol.member("dev")).status).toBe("stopped");
  });
});

describe("usage reporting", () => {
  it("sends usage deltas while a turn streams, adding up to the turn's total", async () => {
    const calls: { at: number; delta: UsageDelta }[] = [];
    const sink: AgentStateSink = {
      chargeUsage: async ({ before, after }) => {
        calls.push({ at: Date.now(), delta: usageBetween(before, after) });
        return undefined;
      },
      heartbeat: async () => {},
      setPhase: async () => {},
      runCostUsd: async () => undefined,
    };
    const lead = scriptedAgent("lead", "lead", [
      { usage: { inputTokens: 500, outputTokens: 50, costUsd: 0.1 } },
      { sleepMs: 1200 },
      { usage: { inputTokens: 300, outputTokens: 30, costUsd: 0.05 } },
      { call: "finish", args: { summary: "ok" } },
    ]);
    const s = await start(coworkTeam(lead, []), lead, { sink });
    const outcome = await s.outcome;
    const ended = Date.now();
    expect(calls.length).toBeGreaterThanOrEqual(2);
    // The first delta went out while the agent was still sleeping mid-turn.
    expect(calls[0]?.delta.inputTokens).toBe(500);
    expect(ended - (calls[0]?.at ?? ended)).toBeGreaterThan(700);
    const sum = calls.reduce((a, c) => a + c.delta.costUsd, 0);
    expect(sum).toBeCloseTo(0.15, 6);
    expect(calls.reduce((a, c) => a + c.delta.inputTokens, 0)).toBe(800);
    expect(outcome.usage.inputTokens).toBe(800);
  });
});
