import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentSpec } from "../../core/manifest/types.ts";
import { costUsd } from "../../core/prices/index.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { codexAdapter } from "../../runner/adapters/codex.ts";
import { buildMcpConfig } from "../../runner/adapters/mcp-config.ts";
import { runTurn } from "../../runner/adapters/run-turn.ts";
import type { TurnInput } from "../../runner/adapters/types.ts";
import { teamServerLaunch } from "../../runner/mcp/launch.ts";
import { systemPromptAddition } from "../../runner/session/prompt.ts";
import type { TestStack } from "../e2e/local-stack-harness.ts";
import { bundledRunner, coworkTeam } from "../runner/session/fixtures.ts";
import { openaiResponses } from "../support/model-api-stub/openai-responses.ts";
import { type ModelApiStub, startModelApiStub } from "../support/model-api-stub/server.ts";
import { DEFAULT_USAGE, readRole } from "../support/model-api-stub/team-play.ts";
import type { RecordedRequest, StubUsage } from "../support/model-api-stub/types.ts";
import { CODEX_BIN, codexHome, codexStubEnv, codexTarget } from "./codex-env.ts";
import { agentSpec, codingTeam, prepareRun, removePreparedRuns, runAgentSession } from "./harness.ts";
import { type LocalCliTeam, runTeamAndExpectDelivery, startLocalCliTeam } from "./local-team.ts";

// Every run directory any suite below prepared, once its CLIs have ended.
afterAll(removePreparedRuns);

/**
 * Codex CLI 0.169 (the pinned devDependency) driven by the model-API stub's OpenAI Responses
 * module: the real binary, the real team MCP server (bundled, as in the image), real files.
 */

const RUN_ID = "run-codex";

function codexAgent(name: string, role: "lead" | "teammate"): AgentSpec {
  return {
    name,
    role,
    model: "gpt-5-codex",
    prompt: role === "lead" ? "Have dev write dev.txt." : "Write dev.txt when asked.",
    cli: "codex",
    permissionMode: "acceptEdits",
    dependsOn: [],
    skills: [],
    mcpServers: [],
  };
}

const lead = codexAgent("lead", "lead");
const dev = codexAgent("dev", "teammate");
const team = coworkTeam(lead, [dev], "codex-crew");

async function gitRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "squadron-codex-repo-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir });
  git("init", "-q", "-b", "main");
  git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "init");
  return dir;
}

async function teamDir(): Promise<Team> {
  const protocol = new Team(await mkdtemp(join(tmpdir(), "squadron-codex-team-")));
  await protocol.init({
    teamName: team.metadata.name,
    runId: RUN_ID,
    members: [lead, dev].map((a) => ({ name: a.name, role: a.role, cli: a.cli, model: a.model })),
  });
  return protocol;
}

describe("codex 0.169 through the adapter, against the model-API stub", () => {
  let stub: ModelApiStub;
  let teamServerEntry: string;

  beforeAll(async () => {
    stub = await startModelApiStub({ protocols: [openaiResponses] });
    teamServerEntry = join(await bundledRunner(), "team-server.js");
  }, 120_000);
  afterAll(() => stub?.close());

  async function turnInput(agent: AgentSpec, protocol: Team, cwd: string): Promise<TurnInput> {
    const launch = teamServerLaunch({
      teamDir: protocol.root,
      agentName: agent.name,
      runId: RUN_ID,
      entry: teamServerEntry,
    });
    const built = buildMcpConfig({ teamServer: launch, servers: [], secretValues: {} });
    return {
      agent,
      prompt: agent.prompt,
      cwd,
      systemPromptAddition: systemPromptAddition(team, agent, RUN_ID),
      mcp: { path: "(overrides)", config: built.config, env: built.env },
      env: codexStubEnv(await codexHome(), stub.url),
    };
  }

  it("(a) a lead's headless turn calls the team tools, and they change tasks/ and team/inboxes/", async () => {
    const protocol = await teamDir();
    const input = await turnInput(lead, protocol, await gitRepo());
    const from = stub.requests.length;
    const result = await runTurn(codexAdapter({ executable: CODEX_BIN }), input);
    const requests = stub.requests.slice(from);

    // The first model request already offers the team tools (required = true: codex waited).
    expect(requests[0]?.conversation?.tools).toEqual(
      expect.arrayContaining(["mcp__team__task_create", "mcp__team__send_message", "mcp__team__finish"]),
    );
    expect(requests.map((r) => r.toolCall?.name)).toEqual([
      "mcp__team__task_create",
      "mcp__team__send_message",
      undefined,
    ]);
    // Each tool result codex sent back is the team server's answer, not a refusal.
    const results = requests.at(-1)?.conversation?.items.filter((i) => i.kind === "tool_result") ?? [];
    expect(results).toHaveLength(2);
    for (const r of results) expect(r).toMatchObject({ isError: false });
    expect(results[0]?.kind === "tool_result" && results[0].output).toContain('"subject": "Write dev.txt"');

    expect(result).toMatchObject({ isError: false, usageScope: "session", teamToolCalls: 2 });
    expect(result.deniedTools).toBeUndefined();
    expect(result.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    // Three model calls of the stub's default usage; input includes nothing cached.
    expect(result).toMatchObject({
      inputTokens: 3 * DEFAULT_USAGE.inputTokens,
      outputTokens: 3 * DEFAULT_USAGE.outputTokens,
      cacheReadTokens: 0,
    });

    expect(await readdir(join(protocol.root, "tasks"))).toContain("1.json");
    const task = JSON.parse(await readFile(join(protocol.root, "tasks", "1.json"), "utf8"));
    expect(task).toMatchObject({ subject: "Write dev.txt", owner: "dev", status: "pending" });
    const inbox = JSON.parse(await readFile(join(protocol.root, "team", "inboxes", "dev.json"), "utf8"));
    expect(inbox).toEqual([expect.objectContaining({ from: "lead", read: false })]);
    expect(inbox[0].text).toContain("write dev.txt");
  }, 120_000);

  it("(e) a model-API 401 fails the turn at once with errorKind auth and the API's reason", async () => {
    const protocol = await teamDir();
    const input = await turnInput(lead, protocol, await gitRepo());
    stub.setIntercept(() => ({
      error: { status: 401, message: "Incorrect API key provided: sk-squ***tub." },
    }));
    const from = stub.requests.length;
    const started = Date.now();
    try {
      const result = await runTurn(codexAdapter({ executable: CODEX_BIN }), input);
      expect(result).toMatchObject({ isError: true, errorKind: "auth" });
      expect(result.resultText).toBe("HTTP 401: Incorrect API key provided: sk-squ***tub.");
      // One request and one stream retry (stream_max_retries = 1), where codex's built-in
      // provider reconnects 5 times plus websocket attempts (13 requests, about 13 s).
      const refused = stub.requests.slice(from).filter((r) => r.status === 401);
      expect(refused).toHaveLength(2);
      console.log(`codex 401: failed after ${Date.now() - started} ms and ${refused.length} requests`);
    } finally {
      stub.setIntercept(undefined);
    }
  }, 120_000);
});

describe("codex 0.169 in the runner's session loop (the CLI-agnostic harness)", () => {
  it("(e) a model-API 401 fails the agent in its first turn with AuthFailed: no turn retries", async () => {
    const stub = await startModelApiStub({ protocols: [openaiResponses] });
    stub.setIntercept(() => ({
      error: { status: 401, message: "Incorrect API key provided: sk-squ***tub." },
    }));
    try {
      const harnessLead = agentSpec(codexTarget, "lead", "lead");
      const run = await prepareRun(codingTeam(harnessLead, [agentSpec(codexTarget, "dev", "teammate")]));
      const outcome = await runAgentSession(run, codexTarget, stub, harnessLead);
      expect(outcome).toMatchObject({ end: "failed", reason: "AuthFailed", turns: 1 });
      expect(outcome.message).toBe(
        "the model API refused the key: HTTP 401: Incorrect API key provided: sk-squ***tub.",
      );
      // One codex process, one request and its single stream retry: nothing retried the turn.
      expect(stub.requests.filter((r) => r.status === 401)).toHaveLength(2);
    } finally {
      await stub.close();
    }
  }, 120_000);
});

/**
 * Whole teams of codex agents on the local stack (coding mode, a local bare repository), every
 * agent a real codex process whose model is the stub's scripted team play.
 */
describe("a codex team on the local stack", () => {
  // Large per-reply usage, so a session total counted again per turn is off by dollars, not by
  // a fraction of a cent; a cached part, to check codex's `cached_input_tokens` is kept apart.
  const USAGE: StubUsage = {
    inputTokens: 60_000,
    outputTokens: 4_000,
    cacheReadTokens: 20_000,
    cacheWriteTokens: 0,
  };
  let team: LocalCliTeam;
  let stub: ModelApiStub;
  let t: TestStack;

  beforeAll(async () => {
    team = await startLocalCliTeam({
      target: codexTarget,
      stub: { protocols: [openaiResponses], play: { usage: USAGE } },
    });
    ({ stub, t } = team);
  }, 180_000);
  afterAll(() => team?.close());

  const manifest = (name: string) => team.manifest(name);
  const repliesOf = (from: number, agent: string) => team.repliesOf(from, agent);

  it("(b) lead + teammate reach Completed; the teammate commits its own file, merged into the delivered branch", async () => {
    // The teammate committed through codex's sandboxed shell tool, which could write the
    // worktree's git dirs.
    await runTeamAndExpectDelivery(team, "codex-team", "exec_command", 170_000);
  }, 200_000);

  describe("across a relaunch of the runners mid-turn", () => {
    let from = 0;
    let view: any;
    let leadThread: string | undefined;

    beforeAll(async () => {
      from = stub.requests.length;
      // Hold the first model call of the lead's second turn (it resumes on the teammate's message),
      // so the stack is stopped while that codex turn is in flight.
      let held: (() => void) | undefined;
      const holding = new Promise<void>((resolve) => {
        held = resolve;
      });
      let release: (() => void) | undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let holds = 0;
      stub.setIntercept(async ({ conversation }) => {
        const role = readRole(conversation?.system ?? "");
        const items = conversation?.items ?? [];
        const delegated = items.some((i) => i.kind === "tool_call" && i.name.endsWith("send_message"));
        if (role?.name === "lead" && delegated && items.at(-1)?.kind === "user_text" && holds++ === 0) {
          held?.();
          await released;
          // Whatever codex process asked is gone: answer nothing anyone is charged for.
          return { error: { status: 503, message: "stub: the runner was relaunched" } };
        }
        return undefined;
      });
      const created = await t.api("POST", "/api/namespaces/default/teams", manifest("codex-restart"));
      expect(created.status).toBe(201);
      await holding;
      leadThread = sessionHeader(repliesOf(from, "lead")[0]);
      await t.restart();
      release?.();
      view = (await t.follow("default", "codex-restart", undefined, 170_000)).view;
      stub.setIntercept(undefined);
    }, 400_000);

    it("(c) the relaunched lead resumes its codex thread and the team completes", () => {
      expect(view.phase).toBe("Completed");
      const lead = repliesOf(from, "lead");
      expect(leadThread).toMatch(/^[0-9a-f-]{36}$/);
      // Every model call of the lead, before and after the relaunch, is in the same codex thread,
      // and the calls after it still carry the first turn's delegation: resumed, not started over.
      expect(new Set(lead.map(sessionHeader))).toEqual(new Set([leadThread]));
      const last = lead.at(-1);
      expect(last?.toolCall?.name ?? last?.reply?.text).toBe("Done.");
      expect(
        last?.conversation?.items.some((i) => i.kind === "tool_call" && i.name.endsWith("task_create")),
      ).toBe(true);
    });

    it("(d) the team's cost is exactly what codex reported per process (delta of its cumulative totals)", () => {
      // What the model API charged is what codex counted: the sum of the usage of every answered
      // call. Squadron must arrive at the same tokens, and at the same dollars to the cent.
      let expectedUsd = 0;
      for (const [agent, status] of [
        ["lead", view.lead],
        ["dev", view.teammates[0]],
      ] as const) {
        const replies = repliesOf(from, agent);
        const n = replies.length;
        const tokens = {
          input: n * USAGE.inputTokens,
          output: n * USAGE.outputTokens,
          cacheRead: n * USAGE.cacheReadTokens,
          cacheWrite: 0,
        };
        expect({ agent, tokens: status.tokens }).toEqual({ agent, tokens });
        const usd = costUsd("gpt-5-codex", {
          inputTokens: tokens.input,
          outputTokens: tokens.output,
          cacheReadTokens: tokens.cacheRead,
        }).costUsd;
        expect(status.costUsd).toBeCloseTo(usd, 2);
        expectedUsd += usd;
      }
      console.log(
        `codex team cost: Squadron measured $${view.cost.usd}, codex reported $${expectedUsd.toFixed(6)}`,
      );
      expect(view.cost.usd).toBeCloseTo(expectedUsd, 2);
    });
  });
});

/** Codex sends its thread id as the `session-id` header of every model call. */
function sessionHeader(r: RecordedRequest | undefined): string | undefined {
  const v = r?.headers["session-id"];
  return Array.isArray(v) ? v[0] : v;
}
