/**
 * Claude Code 2.1.329 (the pinned devDependency) against the model-API stub: the Anthropic
 * Messages API on 127.0.0.1, a scripted model playing lead and teammate. See docs/adapters.md.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERMISSION_MODES } from "../../core/manifest/types.ts";
import { costUsd } from "../../core/prices/index.ts";
import { claudeAdapter } from "../../runner/adapters/claude.ts";
import { runTurn } from "../../runner/adapters/run-turn.ts";
import {
  anthropicMessages,
  type Conversation,
  DEFAULT_USAGE,
  type ModelApiStub,
  playTeam,
  readRole,
  startModelApiStub,
} from "../support/model-api-stub/index.ts";
import {
  agentSpec,
  codingTeam,
  git,
  gitIdentity,
  prepareRun,
  RecordingSink,
  removePreparedRuns,
  runAgentSession,
  claudeTarget as target,
} from "./harness.ts";
import { type LocalCliTeam, runTeamAndExpectDelivery, startLocalCliTeam } from "./local-team.ts";

let stub: ModelApiStub;
beforeAll(async () => {
  stub = await startModelApiStub({ protocols: [anthropicMessages] });
});
afterAll(async () => {
  await stub?.close();
  await removePreparedRuns();
});

const adapter = claudeAdapter({ executable: target.executable });
const lead = agentSpec(target, "lead", "lead");
const dev = agentSpec(target, "dev", "teammate");

/** Model calls of the stub since `from` that were made for `agent` (read from the system prompt). */
function callsFor(agent: string, from = 0) {
  return stub.requests.slice(from).filter((r) => r.conversation?.system.includes(`You are **${agent}**`));
}

describe("Claude Code conformance: one headless turn through the adapter", () => {
  it.each(PERMISSION_MODES)(
    "permissionMode %s: the team tools run (not denied) and change tasks/ and team/inboxes/",
    async (permissionMode) => {
      const run = await prepareRun(codingTeam({ ...lead, permissionMode }, [dev]));
      const from = stub.requests.length;
      const { systemPromptAddition } = await import("../../runner/session/prompt.ts");
      const result = await runTurn(adapter, {
        agent: { ...lead, permissionMode },
        prompt: lead.prompt,
        cwd: run.cwd.lead as string,
        mcp: await run.mcp("lead"),
        systemPromptAddition: systemPromptAddition(run.spec, lead, run.runId),
        env: { ...target.env(stub, run.home.lead as string), ...gitIdentity("lead") },
        coding: true,
      });
      expect(result.resultText).not.toMatch(/denied|haven't granted/);
      expect(result.isError, result.resultText).toBe(false);
      expect(result.deniedTools ?? []).toEqual([]);
      expect(result.teamToolCalls).toBe(2);
      // ENABLE_TOOL_SEARCH=false: the first request already offers the team tools themselves.
      const first = callsFor("lead", from)[0];
      expect(first?.conversation?.tools).toContain("mcp__team__task_create");
      const task = JSON.parse(await readFile(join(run.team.root, "tasks", "1.json"), "utf8"));
      expect(task).toMatchObject({ subject: "Write dev.txt", owner: "dev" });
      const inbox = JSON.parse(await readFile(join(run.team.root, "team", "inboxes", "dev.json"), "utf8"));
      expect(inbox).toEqual([expect.objectContaining({ from: "lead", read: false })]);
      if (permissionMode === "plan") expect(result.warnings?.[0]).toMatch(/runs in manual mode/);
      if (permissionMode === "bypassPermissions" && process.getuid?.() === 0) {
        expect(result.warnings?.[0]).toMatch(/cannot be used as root/);
      }
    },
    120_000,
  );

  it("a denied team tool makes the turn an error that names the tool", async () => {
    const run = await prepareRun(codingTeam(lead, [dev]));
    const { systemPromptAddition } = await import("../../runner/session/prompt.ts");
    // The Squadron allow rules removed: what every turn looked like before they were added.
    const bare = {
      ...adapter,
      buildInvocation: (input: Parameters<typeof adapter.buildInvocation>[0]) => {
        const inv = adapter.buildInvocation(input);
        const i = inv.args.indexOf("--allowedTools");
        return { ...inv, args: [...inv.args.slice(0, i), ...inv.args.slice(i + 2)] };
      },
    };
    const result = await runTurn(bare, {
      agent: lead,
      prompt: lead.prompt,
      cwd: run.cwd.lead as string,
      mcp: await run.mcp("lead"),
      systemPromptAddition: systemPromptAddition(run.spec, lead, run.runId),
      env: target.env(stub, run.home.lead as string),
    });
    expect(result.isError).toBe(true);
    expect(result.deniedTools).toContain("mcp__team__task_create");
    expect(result.resultText).toMatch(/Team tools could not be used.*mcp__team__task_create/);
    expect(existsSync(join(run.team.root, "tasks", "1.json"))).toBe(false);
  }, 120_000);
});

describe("Claude Code conformance: a whole team", () => {
  it("lead and teammate finish; the teammate commits its file itself; cost equals what claude reported", async () => {
    const run = await prepareRun(codingTeam(lead, [dev]));
    const from = stub.requests.length;
    const [l, d] = await Promise.all([
      runAgentSession(run, target, stub, lead),
      runAgentSession(run, target, stub, dev),
    ]);
    expect(d.end, d.message).toBe("finished");
    expect(l.end, l.message).toBe("finished");
    expect(l.turns).toBeGreaterThanOrEqual(2); // the lead was resumed: session-cumulative figures matter
    // The teammate's own commit, with its identity, on its branch.
    const log = git(run.cwd.dev as string, "log", "-1", "--format=%an <%ae>|%s", "--", "dev.txt");
    expect(log).toBe("dev <dev@squadron.local>|dev: add dev.txt");
    expect(git(run.cwd.dev as string, "status", "--porcelain")).toBe("");
    // Measured cost = what the model charged, priced the way claude prices it, to the cent.
    const charged = (agent: string) =>
      callsFor(agent, from)
        .filter((r) => r.reply && r.status === 200)
        .reduce(
          (sum, r) => sum + costUsd(target.model, (r.reply as NonNullable<typeof r.reply>).usage).costUsd,
          0,
        );
    for (const [agent, outcome] of [
      ["lead", l],
      ["dev", d],
    ] as const) {
      expect(outcome.sink.warnings).toEqual([]);
      expect(outcome.usage.costUsd).toBeCloseTo(charged(agent), 6);
      expect(outcome.sink.costUsd).toBeCloseTo(charged(agent), 2);
    }
  }, 120_000);
});

describe("Claude Code conformance: failures", () => {
  it("a model-API 401 fails the agent within seconds with a clear reason", async () => {
    const run = await prepareRun(codingTeam(lead, [dev]));
    stub.setIntercept(() => ({ error: { status: 401, message: "invalid x-api-key" } }));
    try {
      const started = Date.now();
      const outcome = await runAgentSession(run, target, stub, lead);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(outcome.end).toBe("failed");
      expect(outcome.reason).toBe("AuthFailed");
      expect(outcome.message).toMatch(/^the model API refused the key/);
      expect(outcome.turns).toBe(1);
    } finally {
      stub.setIntercept(undefined);
    }
  }, 120_000);

  it("--max-budget-usd stops the turn and the agent fails with BudgetExceeded and claude's reason", async () => {
    const run = await prepareRun(codingTeam(lead, [dev]));
    // Every reply costs $3.15 at claude-sonnet-4-5's price: the first one crosses a $1 budget.
    const usage = { inputTokens: 1_000_000, outputTokens: 10_000, cacheReadTokens: 0, cacheWriteTokens: 0 };
    stub.setIntercept(({ conversation }) =>
      conversation ? { reply: playTeam(conversation, { usage }) } : undefined,
    );
    try {
      const outcome = await runAgentSession(run, target, stub, lead, { budgetUsd: 1 });
      expect(outcome.end).toBe("failed");
      expect(outcome.reason).toBe("BudgetExceeded");
      expect(outcome.lastResult?.errorKind).toBe("max_budget");
      expect(outcome.message).toMatch(/budget/i);
      expect(outcome.usage.costUsd).toBeGreaterThanOrEqual(3.15);
    } finally {
      stub.setIntercept(undefined);
    }
  }, 120_000);
});

describe("Claude Code conformance: a runner relaunched mid-turn", () => {
  it("resumes the session, the team completes, and the cost equals what the model charged", async () => {
    const run = await prepareRun(codingTeam(lead, [dev]));
    const from = stub.requests.length;
    let leadCalls = 0;
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const relaunch = new AbortController();
    stub.setIntercept(async ({ conversation }) => {
      if (!conversation?.system.includes("You are **lead**")) return undefined;
      leadCalls++;
      if (leadCalls !== 2) return undefined;
      // The lead's second model call is in flight when its runner is stopped (ECS stop, crash).
      relaunch.abort("relaunch");
      await held;
      return { error: { status: 529, message: "connection gone" } };
    });
    try {
      const mate = runAgentSession(run, target, stub, dev);
      const first = await runAgentSession(run, target, stub, lead, { signal: relaunch.signal });
      release();
      expect(first.end).toBe("stopped");
      const second = await runAgentSession(run, target, stub, lead);
      const d = await mate;
      expect(second.resumedSessionId).toBe(first.sessionId);
      expect(second.sessionId).toBe(first.sessionId);
      expect(second.end, second.message).toBe("finished");
      if (process.env.CONFORMANCE_DEBUG) {
        for (const r of callsFor("dev", from))
          console.log(
            r.status,
            JSON.stringify(r.reply)?.slice(0, 200),
            JSON.stringify(r.conversation?.items.at(-1))?.slice(0, 300),
          );
      }
      expect(d.end, d.message).toBe("finished");
      expect(git(run.cwd.dev as string, "log", "-1", "--format=%an", "--", "dev.txt")).toBe("dev");
      const charged = callsFor("lead", from)
        .filter((r) => r.reply && r.status === 200)
        .reduce(
          (sum, r) => sum + costUsd(target.model, (r.reply as NonNullable<typeof r.reply>).usage).costUsd,
          0,
        );
      const measured = first.sink.costUsd + second.sink.costUsd;
      expect(Math.round(measured * 100)).toBe(Math.round(charged * 100));
      expect(first.usage.costUsd + second.usage.costUsd).toBeCloseTo(charged, 6);
    } finally {
      release();
      stub.setIntercept(undefined);
    }
  }, 150_000);
});

describe("a claude team on the local stack", () => {
  let team: LocalCliTeam;
  beforeAll(async () => {
    team = await startLocalCliTeam({ target, stub: { protocols: [anthropicMessages] } });
  }, 180_000);
  afterAll(() => team?.close());

  it("(b) lead + teammate reach Completed; the teammate commits its own file, merged into the delivered branch", async () => {
    await runTeamAndExpectDelivery(team, "claude-team", "Bash", 120_000);
  }, 150_000);

  it("(f) the lead's claude stops at --max-budget-usd: the team ends BudgetExceeded with claude's reason", async () => {
    // Every reply to the lead costs $1.503 at claude-sonnet-4-5's price, almost all of it output:
    // mid-message claude's stream-json shows only message_start's usage, so the runner's streamed
    // estimate stays far below $1 and it is claude's own cap that stops the lead's first turn.
    const heavy = { inputTokens: 1_000, outputTokens: 100_000, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const usage = (c: Conversation) => (readRole(c.system)?.name === "lead" ? heavy : DEFAULT_USAGE);
    team.stub.setIntercept(({ conversation }) =>
      conversation ? { reply: playTeam(conversation, { usage }) } : undefined,
    );
    try {
      const created = await team.t.api(
        "POST",
        "/api/namespaces/default/teams",
        team.manifest("claude-budget", { budgetLimit: "1" }),
      );
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const { view } = await team.t.follow("default", "claude-budget", undefined, 120_000);
      expect(view.phase, view.message).toBe("BudgetExceeded");
      expect(view.lead.simulated).toBe(false);
      // claude's own words, on the lead, survive the run being ended by the charge they explain.
      expect(view.events).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            type: "Warning",
            reason: "BudgetExceeded",
            agent: "lead",
            message: expect.stringMatching(/^claude stopped lead .*: Reached maximum budget \(\$1\)$/),
          }),
        ]),
      );
      expect(view.cost.usd).toBeGreaterThanOrEqual(1.5);
    } finally {
      team.stub.setIntercept(undefined);
    }
  }, 150_000);
});
