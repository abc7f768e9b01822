/**
 * Gemini CLI conformance: the real pinned binary (node_modules/.bin/gemini, 0.61.0) driven by the
 * model-API stub's Gemini protocol, through Squadron's adapter and team MCP server.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { costUsd } from "../../core/prices/index.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { geminiAdapter } from "../../runner/adapters/gemini.ts";
import { adapterFor } from "../../runner/adapters/index.ts";
import { buildMcpConfig, writeMcpConfig } from "../../runner/adapters/mcp-config.ts";
import { runTurn } from "../../runner/adapters/run-turn.ts";
import type { TurnInput } from "../../runner/adapters/types.ts";
import { teamServerLaunch } from "../../runner/mcp/launch.ts";
import {
  declaredTools,
  functionResponses,
  type GeminiModel,
  type GeminiStub,
  geminiApi,
  geminiStubEnv,
  startGeminiStub,
} from "../support/model-api-stub/gemini.ts";
import { type ModelApiStub, startModelApiStub } from "../support/model-api-stub/server.ts";
import {
  agentSpec,
  type ConformanceRun,
  codingTeam,
  geminiTarget,
  git,
  prepareRun,
  removePreparedRuns,
  runAgentSession,
} from "./harness.ts";
import { type LocalCliTeam, runTeamAndExpectDelivery, startLocalCliTeam } from "./local-team.ts";

const GEMINI = fileURLToPath(new URL("../../node_modules/.bin/gemini", import.meta.url));
const MODEL = "gemini-2.5-flash";

let root: string;
const stubs: GeminiStub[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "squadron-gemini-conformance-"));
});
afterAll(async () => {
  await Promise.all(stubs.map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
  await removePreparedRuns();
});

async function stub(model: GeminiModel): Promise<GeminiStub> {
  const s = await startGeminiStub(model);
  stubs.push(s);
  return s;
}

/** A team of lead + dev in `dir`, and one turn input for `agent` with the team MCP server. */
async function teamTurn(dir: string, agent: string, s: GeminiStub) {
  const team = new Team(join(dir, "run"));
  await team.init({
    teamName: "gemini-team",
    runId: "run-g1",
    members: [
      { name: "lead", role: "lead", cli: "gemini", model: MODEL },
      { name: "dev", role: "teammate", cli: "gemini", model: MODEL },
    ],
  });
  const cwd = join(dir, "work");
  await mkdir(cwd, { recursive: true });
  const launch = teamServerLaunch({ teamDir: team.root, agentName: agent, runId: "run-g1" });
  const written = await writeMcpConfig(
    buildMcpConfig({ teamServer: launch, servers: [], secretValues: {} }),
    dir,
  );
  const home = join(dir, "gemini-home");
  const input: TurnInput = {
    agent: { name: agent, model: MODEL, permissionMode: "acceptEdits", prompt: "Coordinate the team." },
    prompt: "Coordinate the team.",
    cwd,
    mcp: written.mcp,
    // HOME too: nothing may read or write the developer's own ~/.gemini.
    env: { ...geminiStubEnv(s), HOME: join(dir, "home") },
  };
  return { team, input, home, cleanup: written.cleanup };
}

/** Calls `steps` one per model request (the next after each functionResponse), then answers text. */
function scripted(steps: Array<{ name: string; args: Record<string, unknown> }>, done: string): GeminiModel {
  return (request) => {
    const answered = functionResponses(request.body).length;
    const step = steps[answered];
    return step ? { toolCalls: [step], usage: { input: 500, output: 20 } } : { text: done };
  };
}

describe("Gemini CLI 0.61.0 against the model-API stub", () => {
  it("(a) one headless turn: team-tool calls succeed and change tasks/ and team/inboxes/", async () => {
    const dir = await mkdtemp(join(root, "a-"));
    const steps = [
      { name: "mcp_team_list_members", args: {} },
      { name: "mcp_team_task_create", args: { subject: "Write hello.txt", owner: "dev" } },
      { name: "mcp_team_send_message", args: { to: "dev", text: "Please take task 1." } },
      { name: "mcp_team_task_list", args: {} },
      { name: "mcp_team_read_messages", args: {} },
    ];
    const s = await stub(scripted(steps, "Lead turn done."));
    const { team, input, home, cleanup } = await teamTurn(dir, "lead", s);
    await team.sendMessage({ from: "dev", to: "lead", text: "Ready when you are." });

    const result = await runTurn(geminiAdapter({ executable: GEMINI, home }), input);
    await cleanup();

    expect(result, result.resultText).toMatchObject({ isError: false, resultText: "Lead turn done." });
    expect(result.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // The settings reached Gemini and the team server was trusted in auto_edit: tools offered.
    expect(declaredTools(s.requests[0]!.body)).toEqual(
      expect.arrayContaining(steps.map((step) => step.name)),
    );
    // Every call came back as a result, not an error (bare arrays used to be rejected).
    const responses = functionResponses(s.requests.at(-1)!.body);
    expect(responses.map((r) => r.name)).toEqual(steps.map((step) => step.name));
    for (const r of responses) expect(JSON.stringify(r.response), r.name).not.toMatch(/"error"/);
    expect(JSON.stringify(responses[0]!.response)).toContain('\\"members\\"');
    // read_messages delivered the message to the model, and only then was it marked read.
    expect(JSON.stringify(responses[4]!.response)).toContain("Ready when you are.");
    expect(await team.unreadCount("lead")).toBe(0);

    expect(await readdir(join(team.root, "tasks"))).toContain("1.json");
    expect(await team.getTask("1")).toMatchObject({ subject: "Write hello.txt", owner: "dev" });
    const inbox = JSON.parse(await readFile(join(team.root, "team", "inboxes", "dev.json"), "utf8"));
    expect(inbox).toEqual([
      expect.objectContaining({ from: "lead", text: "Please take task 1.", read: false }),
    ]);
    // The settings file (the turn's MCP config) is gone; the session stays for --resume.
    await expect(readFile(join(home, ".gemini", "settings.json"))).rejects.toThrow();
  }, 120_000);

  it("(a) a coding teammate in auto_edit (the default) writes and commits its file itself, then reports", async () => {
    const dir = await mkdtemp(join(root, "commit-"));
    const play = await startModelApiStub({ protocols: [geminiApi] });
    stubs.push({ url: play.url, requests: [], close: () => play.close() });
    const { team, input, home, cleanup } = await teamTurn(dir, "dev", {
      url: play.url,
      requests: [],
      close: async () => {},
    });
    await team.createTask({ subject: "Write dev.txt", owner: "dev" });
    const git = (...args: string[]) => execFileSync("git", args, { cwd: input.cwd, encoding: "utf8" });
    git("init", "-q");
    git(
      "-c",
      "user.name=setup",
      "-c",
      "user.email=setup@example.com",
      "commit",
      "-q",
      "--allow-empty",
      "-m",
      "init",
    );
    const identity = {
      GIT_AUTHOR_NAME: "dev",
      GIT_AUTHOR_EMAIL: "dev@squadron.local",
      GIT_COMMITTER_NAME: "dev",
      GIT_COMMITTER_EMAIL: "dev@squadron.local",
    };
    const result = await runTurn(geminiAdapter({ executable: GEMINI, home }), {
      ...input,
      // The team player reads who it is from Squadron's role text (runner/session/prompt.ts's opening).
      systemPromptAddition:
        'You are **dev**, the a teammate of the agent team "gemini-team" (run run-g1).\n\n- lead (lead, gemini-2.5-flash)\n',
      env: { ...input.env, ...identity },
    });
    await cleanup();
    expect(result, result.resultText).toMatchObject({ isError: false, resultText: "Done." });
    const calls = play.replies().map((r) => r.toolCall?.name);
    expect(calls).toEqual(
      expect.arrayContaining(["run_shell_command", "mcp_team_task_update", "mcp_team_finish"]),
    );
    for (const r of play.requests) {
      const last = r.conversation?.items.at(-1);
      if (last?.kind === "tool_result") expect(last.isError, last.output).toBe(false);
    }
    expect(git("log", "-1", "--format=%an %s").trim()).toBe("dev dev: add dev.txt");
    expect(git("show", "HEAD:dev.txt")).toBe("written by dev\n");
    expect(await team.getTask("1")).toMatchObject({ status: "completed", owner: "dev" });
    expect((await team.member("dev")).status).toBe("finished");
  }, 120_000);

  // 401 is covered through the session loop below; 403 here, at the adapter.
  for (const [httpStatus, status] of [[403, "PERMISSION_DENIED"]] as const) {
    it(`(e) a model-API ${httpStatus} fails the turn at once with errorKind auth and the API's reason`, async () => {
      const dir = await mkdtemp(join(root, `e${httpStatus}-`));
      const message = "API key not valid. Please pass a valid API key.";
      const s = await stub(() => ({ error: { httpStatus, status, message } }));
      const { input, home, cleanup } = await teamTurn(dir, "lead", s);
      const result = await runTurn(geminiAdapter({ executable: GEMINI, home }), input);
      await cleanup();
      expect(result).toMatchObject({ isError: true, errorKind: "auth" });
      expect(result.resultText).toContain(`Gemini API answered HTTP ${httpStatus}`);
      expect(result.resultText).toContain(message);
      // No retry loop inside the CLI: one request to the model, then the exit.
      expect(s.requests.filter((r) => r.method.endsWith("enerateContent"))).toHaveLength(1);
      // Gemini's error report (with the conversation) stayed in the private home, not in /tmp.
      expect((await readdir(join(home, "tmp"))).some((f) => f.startsWith("gemini-client-error"))).toBe(true);
    }, 90_000);
  }
});

// ---------------------------------------------------------------------------------------------
// Whole sessions through the runner's session loop (harness.ts), the scripted team player
// answering in the Gemini protocol.

const glead = agentSpec(geminiTarget, "lead", "lead");
const gdev = agentSpec(geminiTarget, "dev", "teammate");

/** The adapter as the runner builds it: Gemini's home beside the agent's HOME, kept across runners. */
const sessionAdapter = (run: ConformanceRun, agent: string) =>
  adapterFor("gemini", { executable: GEMINI, stateDir: join(run.home[agent] as string, "gemini-cli-home") });

const session = (
  run: ConformanceRun,
  play: ModelApiStub,
  agent: typeof glead,
  options: Parameters<typeof runAgentSession>[4] = {},
) =>
  runAgentSession(run, geminiTarget, play, agent, { adapter: sessionAdapter(run, agent.name), ...options });

/** What the stub charged `agent` since request `from`: its replies' usage × the price table. */
function charged(play: ModelApiStub, agent: string, from: number): number {
  return play.requests
    .slice(from)
    .filter((r) => r.reply && r.status === 200 && r.conversation?.system.includes(`You are **${agent}**`))
    .reduce((sum, r) => sum + costUsd(MODEL, (r.reply as NonNullable<typeof r.reply>).usage).costUsd, 0);
}

describe("Gemini CLI 0.61.0: a whole team through the runner's session loop", () => {
  let play: ModelApiStub;
  beforeAll(async () => {
    play = await startModelApiStub({ protocols: [geminiApi] });
  });
  afterAll(async () => {
    await play?.close();
  });

  it("(b)+(d) lead and teammate finish, the teammate commits as itself, cost = the CLI's tokens × prices", async () => {
    const run = await prepareRun(codingTeam(glead, [gdev], "gconf"));
    const from = play.requests.length;
    const [l, d] = await Promise.all([session(run, play, glead), session(run, play, gdev)]);
    expect(d.end, d.message).toBe("finished");
    expect(l.end, l.message).toBe("finished");
    expect(l.turns).toBeGreaterThanOrEqual(2); // the lead was resumed: per-process stats must not be re-added
    const log = git(run.cwd.dev as string, "log", "-1", "--format=%an <%ae>|%s", "--", "dev.txt");
    expect(log).toBe("dev <dev@squadron.local>|dev: add dev.txt");
    expect(git(run.cwd.dev as string, "status", "--porcelain")).toBe("");
    for (const [agent, outcome] of [
      ["lead", l],
      ["dev", d],
    ] as const) {
      expect(outcome.sink.warnings).toEqual([]);
      expect(charged(play, agent, from)).toBeGreaterThan(0);
      expect(outcome.usage.costUsd).toBeCloseTo(charged(play, agent, from), 6);
      expect(outcome.sink.costUsd).toBeCloseTo(charged(play, agent, from), 2);
    }
  }, 240_000);

  it("(c) a runner stopped mid-turn is relaunched and resumes the same Gemini session", async () => {
    const run = await prepareRun(codingTeam(glead, [gdev], "gresume"));
    const from = play.requests.length;
    const stop = new AbortController();
    // Stop the lead's runner while its first turn is under way (after task_create answered).
    play.setIntercept((ctx) => {
      const items = ctx.conversation?.items ?? [];
      if (
        ctx.conversation?.system.includes("You are **lead**") &&
        items.some((i) => i.kind === "tool_result")
      )
        stop.abort();
      return undefined;
    });
    let first: Awaited<ReturnType<typeof session>>;
    try {
      first = await session(run, play, glead, { signal: stop.signal });
    } finally {
      play.setIntercept(undefined);
    }
    expect(first.end, first.message).toBe("stopped");
    const record = JSON.parse(await readFile(join(run.team.root, "team", "sessions", "lead.json"), "utf8"));
    expect(record.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const relaunchedFrom = play.requests.length;
    const [l, d] = await Promise.all([session(run, play, glead), session(run, play, gdev)]);
    expect(l.end, l.message).toBe("finished");
    expect(d.end, d.message).toBe("finished");
    // The relaunched lead's first model call carried the earlier conversation (--resume).
    const resumedCall = play.requests
      .slice(relaunchedFrom)
      .find((r) => r.conversation?.system.includes("You are **lead**"));
    expect(
      resumedCall?.conversation?.items.some((i) => i.kind === "tool_call" && i.name.endsWith("task_create")),
    ).toBe(true);
    // Not started over: one task, not two.
    expect((await run.team.listTasks()).map((t) => t.subject)).toEqual(["Write dev.txt"]);
    expect(charged(play, "lead", from)).toBeGreaterThan(0);
  }, 240_000);

  it("(e) a model-API 401 fails the agent on its first turn with reason AuthFailed", async () => {
    const run = await prepareRun(codingTeam(glead, [gdev], "gauth"));
    play.setIntercept(() => ({
      error: { status: 401, message: "API key not valid. Please pass a valid API key." },
    }));
    try {
      const outcome = await session(run, play, glead);
      expect(outcome.end).toBe("failed");
      expect(outcome.reason).toBe("AuthFailed");
      expect(outcome.message).toMatch(
        /^the model API refused the key: Gemini API answered HTTP 401: UNAUTHENTICATED: API key not valid/,
      );
      expect(outcome.turns).toBe(1);
    } finally {
      play.setIntercept(undefined);
    }
  }, 90_000);
});

describe("a gemini team on the local stack", () => {
  let team: LocalCliTeam;
  beforeAll(async () => {
    team = await startLocalCliTeam({ target: geminiTarget, stub: { protocols: [geminiApi] } });
  }, 180_000);
  afterAll(() => team?.close());

  it("(b) lead + teammate reach Completed; the teammate commits its own file, merged into the delivered branch", async () => {
    await runTeamAndExpectDelivery(team, "gemini-team", "run_shell_command", 150_000);
  }, 180_000);
});
