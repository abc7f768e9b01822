import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { costUsd } from "../../../core/prices/index.ts";
import { Team } from "../../../core/team-protocol/index.ts";
import { adapterFor } from "../../../runner/adapters/index.ts";
import {
  buildMcpConfig,
  type WrittenMcpConfig,
  writeMcpConfig,
} from "../../../runner/adapters/mcp-config.ts";
import { runTurn } from "../../../runner/adapters/run-turn.ts";
import type { ProgressEvent, TurnInput } from "../../../runner/adapters/types.ts";
import { teamServerLaunch } from "../../../runner/mcp/launch.ts";
import { defaultScript } from "../../../runner/scripted-agent/defaults.ts";
import { parseScript } from "../../../runner/scripted-agent/script.ts";

const adapter = adapterFor("scripted");
const written: WrittenMcpConfig[] = [];

interface Fixture {
  root: string;
  teamDir: string;
  team: Team;
}

async function newTeam(members: Array<{ name: string; role: "lead" | "teammate" }>): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), "squadron-scripted-"));
  const teamDir = join(root, "team-state");
  const team = new Team(teamDir);
  await team.init({
    teamName: "demo",
    runId: "run-1",
    members: members.map((m) => ({ ...m, cli: "scripted" as const, model: "sonnet", simulated: true })),
  });
  return { root, teamDir, team };
}

async function turnFor(
  fx: Fixture,
  name: string,
  role: "lead" | "teammate",
  extra: Partial<TurnInput> & { env?: Record<string, string> } = {},
): Promise<TurnInput> {
  const cwd = join(fx.root, "work", name);
  await mkdir(cwd, { recursive: true });
  const cfg = await writeMcpConfig(
    buildMcpConfig({
      teamServer: teamServerLaunch({ teamDir: fx.teamDir, agentName: name, runId: "run-1" }),
      servers: [],
      secretValues: {},
    }),
    fx.root,
  );
  written.push(cfg);
  return {
    agent: { name, model: "sonnet", permissionMode: "acceptEdits", prompt: "Work with the team" },
    prompt: "Work with the team",
    cwd,
    mcp: cfg.mcp,
    systemPromptAddition: `You are ${name} (${role}) on team demo.`,
    ...extra,
    env: {
      SQUADRON_AGENT_NAME: name,
      SQUADRON_AGENT_ROLE: role,
      SQUADRON_TEAM_MEMBERS: "lead,worker",
      SQUADRON_SCRIPTED_POLL_MS: "100",
      ...(extra.env ?? {}),
    },
  };
}

async function scriptFile(dir: string, steps: unknown[]): Promise<string> {
  const path = join(dir, `script-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, JSON.stringify(steps));
  return path;
}

afterAll(async () => {
  await Promise.all(written.map((w) => w.cleanup()));
});

describe("scripted agent through the real Claude adapter and the team MCP server", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await newTeam([
      { name: "lead", role: "lead" },
      { name: "worker", role: "teammate" },
    ]);
  });

  it("runs the default lead and teammate scripts to completion, with measured usage", async () => {
    const leadInput = await turnFor(fx, "lead", "lead");
    const workerInput = await turnFor(fx, "worker", "teammate");
    const git = (...args: string[]) => execFileSync("git", args, { cwd: workerInput.cwd, encoding: "utf8" });
    git("init", "-q", "-b", "main");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "base");

    const leadProgress: ProgressEvent[] = [];
    const [lead, worker] = await Promise.all([
      runTurn(adapter, leadInput, { onProgress: (e) => leadProgress.push(e), progressIntervalMs: 500 }),
      runTurn(adapter, workerInput),
    ]);

    expect(worker.resultText).toBe('Completed "Work for worker".');
    expect(worker).toMatchObject({
      isError: false,
      inputTokens: 1200,
      outputTokens: 400,
      costSource: "reported",
    });
    expect(worker.costUsd).toBeCloseTo(
      costUsd("sonnet", { inputTokens: 1200, outputTokens: 400 }).costUsd,
      9,
    );
    expect(lead).toMatchObject({ isError: false, inputTokens: 3500, outputTokens: 500, model: "sonnet" });
    expect(lead.resultText).toBe("All 1 tasks are completed by worker.");
    expect(lead.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(leadProgress.some((e) => e.kind === "tool_use" && e.detail === "mcp__team__task_create")).toBe(
      true,
    );
    expect(leadProgress.some((e) => e.inputTokens === 1500)).toBe(true);

    const tasks = await fx.team.listTasks();
    expect(tasks.map((t) => [t.subject, t.owner, t.status])).toEqual([
      ["Work for worker", "worker", "completed"],
    ]);
    expect(git("log", "--format=%s", "-1").trim()).toBe("worker: complete assigned task");
    expect(git("show", "HEAD:worker.md")).toContain("Task: Work for worker");
    const inbox = await fx.team.readMessages("lead", { unreadOnly: false, markRead: false });
    expect(inbox.map((m) => [m.from, m.text])).toContainEqual([
      "worker",
      'Finished "Work for worker": wrote worker.md.',
    ]);
    const members = await fx.team.members();
    expect(members.map((m) => m.status)).toEqual(["finished", "finished"]);
  }, 60_000);
});

describe("scripted agent: turns, errors and stops", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await newTeam([
      { name: "lead", role: "lead" },
      { name: "solo", role: "teammate" },
    ]);
  });

  it("ends a turn with endTurn and continues the script on --resume", async () => {
    const script = await scriptFile(fx.root, [
      { usage: { inputTokens: 10, outputTokens: 5, costUsd: 0.5 } },
      { call: "send_message", args: { to: "lead", text: "first turn" } },
      { say: "paused" },
      { endTurn: true },
      { usage: { inputTokens: 7, outputTokens: 3, cacheReadTokens: 100, costUsd: 0.25 } },
      { say: "second turn done" },
    ]);
    const input = await turnFor(fx, "solo", "teammate", { env: { SQUADRON_AGENT_SCRIPT: script } });
    const first = await runTurn(adapter, input);
    expect(first).toMatchObject({
      isError: false,
      resultText: "paused",
      costUsd: 0.5,
      inputTokens: 10,
      outputTokens: 5,
    });
    const second = await runTurn(adapter, {
      ...input,
      resumeSessionId: first.sessionId,
      prompt: "You have mail",
    });
    expect(second).toMatchObject({
      isError: false,
      sessionId: first.sessionId,
      resultText: "second turn done",
      costUsd: 0.25,
      inputTokens: 7,
      cacheReadTokens: 100,
    });
    const inbox = await fx.team.readMessages("lead", { unreadOnly: false, markRead: false });
    expect(inbox.filter((m) => m.text === "first turn")).toHaveLength(1);
  }, 30_000);

  it("keeps shell metacharacters in scope paths, names and task subjects as text (issue 14: 5)", async () => {
    const input = await turnFor(fx, "solo", "teammate");
    const home = join(fx.root, "home");
    await mkdir(home, { recursive: true });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: input.cwd, encoding: "utf8" });
    git("init", "-q", "-b", "main");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "base");
    const hostile = [
      "a';cd;touch pt-injected;'.md",
      "docs/o'reilly.md",
      'b";touch pt-injected;".md',
      "c$(touch pt-injected).md",
      "d`touch pt-injected`.md",
      "e|touch pt-injected&.md",
    ];
    for (const file of hostile) {
      await fx.team.createTask({
        subject: `x'; touch pt-injected; echo '$(touch pt-injected)`,
        description: "d",
        owner: "solo",
      });
      const steps = defaultScript({
        name: "solo",
        role: "teammate",
        members: ["lead", "solo"],
        coding: true,
        file,
      });
      const script = await scriptFile(fx.root, [
        ...steps.filter((s) => !("call" in s && s.call === "finish")),
        { exec: "echo {{task.subject}} > subject.txt" },
      ]);
      const result = await runTurn(adapter, {
        ...input,
        env: { ...input.env, HOME: home, SQUADRON_AGENT_SCRIPT: script },
      });
      expect(result.isError, `${file}: ${result.resultText}`).toBe(false);
      expect(git("show", `HEAD:${file}`)).toContain("# solo");
    }
    expect(existsSync(join(home, "pt-injected"))).toBe(false);
    expect(existsSync(join(input.cwd, "pt-injected"))).toBe(false);
    expect(readFileSync(join(input.cwd, "subject.txt"), "utf8").trim()).toBe(
      "x'; touch pt-injected; echo '$(touch pt-injected)",
    );
  }, 60_000);

  it("reports fail steps, tool errors, budget stops, crashes and unknown sessions", async () => {
    const run = async (steps: unknown[], extra: Partial<TurnInput> = {}) =>
      runTurn(
        adapter,
        await turnFor(fx, "solo", "teammate", {
          ...extra,
          env: { SQUADRON_AGENT_SCRIPT: await scriptFile(fx.root, steps) },
        }),
      );
    const [failed, toolError, budget, crashed] = await Promise.all([
      run([{ usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.01 } }, { fail: "cannot do this" }]),
      run([{ call: "task_claim", args: { id: "999" } }]),
      run([{ usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.5 } }, { say: "never" }], {
        remainingBudgetUsd: 0.1,
      }),
      run([{ usage: { inputTokens: 4, outputTokens: 2, costUsd: 0.01 } }, { exit: 7 }]),
    ]);
    expect(failed).toMatchObject({
      isError: true,
      errorKind: "execution",
      resultText: "cannot do this",
      costUsd: 0.01,
    });
    expect(toolError).toMatchObject({ isError: true, errorKind: "execution" });
    expect(toolError.resultText).toMatch(/^Tool task_claim failed: .*999/);
    expect(budget).toMatchObject({
      isError: true,
      errorKind: "max_budget",
      resultText: "Reached maximum budget ($0.1)",
    });
    expect(crashed).toMatchObject({
      isError: true,
      errorKind: "crashed",
      exitCode: 7,
      inputTokens: 4,
      outputTokens: 2,
    });
    const unknown = await runTurn(adapter, {
      ...(await turnFor(fx, "solo", "teammate")),
      resumeSessionId: "00000000-0000-4000-8000-000000000000",
    });
    expect(unknown.resultText).toBe(
      "No conversation found with session ID: 00000000-0000-4000-8000-000000000000",
    );
  }, 60_000);

  it("stops on SIGINT while waiting, and waits again when resumed", async () => {
    const script = await scriptFile(fx.root, [
      { waitFor: "message", timeoutMs: 30_000 },
      { say: "{{messages.0.text}}" },
    ]);
    const input = await turnFor(fx, "solo", "teammate", { env: { SQUADRON_AGENT_SCRIPT: script } });
    const controller = new AbortController();
    let sessionId = "";
    const stopped = await runTurn(adapter, input, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.kind === "init") {
          sessionId = e.sessionId;
          setTimeout(() => controller.abort(), 300);
        }
      },
    });
    expect(stopped).toMatchObject({ stopped: true, errorKind: "stopped", exitCode: 130, sessionId });
    await fx.team.sendMessage({ from: "lead", to: "solo", text: "go ahead" });
    const resumed = await runTurn(adapter, { ...input, resumeSessionId: sessionId });
    expect(resumed).toMatchObject({ isError: false, resultText: "go ahead" });
  }, 30_000);
});

describe("script schema", () => {
  it("accepts every step kind and rejects unknown ones with the path", () => {
    const steps = parseScript({
      steps: [
        { call: "task_list", args: { status: "pending" }, as: "tasks" },
        { waitFor: "task:Build API:completed", timeoutMs: 1000 },
        { waitFor: "all-tasks-completed" },
        { write: { path: "a.txt", content: "x" } },
        { exec: "git status" },
        { usage: { inputTokens: 1, outputTokens: 2 } },
        { sleepMs: 5 },
        { say: "hi" },
        { fail: "no" },
        { exit: 2 },
        { endTurn: true },
      ],
    });
    expect(steps).toHaveLength(11);
    expect(() => parseScript([{ say: "ok" }, { dance: true }])).toThrow(/Invalid scripted-agent script: 1/);
    expect(() => parseScript([{ waitFor: "task:x" }])).toThrow(/Invalid/);
  });
});
