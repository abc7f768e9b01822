import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentSpec } from "../../core/manifest/types.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { codexAdapter } from "../../runner/adapters/codex.ts";
import { buildMcpConfig } from "../../runner/adapters/mcp-config.ts";
import { runTurn } from "../../runner/adapters/run-turn.ts";
import type { TurnInput } from "../../runner/adapters/types.ts";
import { teamServerLaunch } from "../../runner/mcp/launch.ts";
import { systemPromptAddition } from "../../runner/session/prompt.ts";
import { bundledRunner, coworkTeam } from "../runner/session/fixtures.ts";
import { openaiResponses } from "../support/model-api-stub/openai-responses.ts";
import { type ModelApiStub, startModelApiStub } from "../support/model-api-stub/server.ts";
import { DEFAULT_USAGE } from "../support/model-api-stub/team-play.ts";
import { CODEX_BIN, codexHome, codexStubEnv } from "./codex-env.ts";

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

    expect(result).toMatchObject({ isError: false, usageScope: "session" });
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
      expect(result.resultText).toBe(
        "the model API refused the key (HTTP 401): Incorrect API key provided: sk-squ***tub.",
      );
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
