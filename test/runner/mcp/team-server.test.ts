import { tmpdir } from "node:os";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Team } from "../../../core/team-protocol/team.ts";
import { teamServerLaunch } from "../../../runner/mcp/launch.ts";
import { TEAM_TOOL_NAMES } from "../../../runner/mcp/team-tools.ts";
import { demoTeam } from "../../team-protocol/fixtures/demo-team.ts";

let team: Team;
const clients: Client[] = [];

/** Starts the real server (node + tsx, as the CLI would) for `agent` and connects a client. */
async function connect(agent: string, runId = "run-7"): Promise<Client> {
  const launch = teamServerLaunch({ teamDir: team.root, agentName: agent, runId });
  const transport = new StdioClientTransport({
    command: launch.command,
    args: launch.args,
    env: { ...getDefaultEnvironment(), ...launch.env },
    cwd: tmpdir(), // not the repository: the launch command must not depend on the cwd
    stderr: "pipe",
  });
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return client;
}

interface ToolOutcome {
  isError: boolean;
  text: string;
  json: unknown;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolOutcome> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text: string }[];
  expect(content).toHaveLength(1);
  const text = content[0]!.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { isError: result.isError === true, text, json };
}

// biome-ignore lint/suspicious/noExplicitAny: results are parsed JSON, checked by the assertions that follow
async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const outcome = await call(client, name, args);
  expect(outcome.isError, outcome.text).toBe(false);
  // Every result is one JSON object: Gemini CLI's MCP client rejects a bare array (issue 10).
  expect(
    typeof outcome.json === "object" && outcome.json !== null && !Array.isArray(outcome.json),
    outcome.text,
  ).toBe(true);
  return outcome.json;
}

async function refused(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const outcome = await call(client, name, args);
  expect(outcome.isError).toBe(true);
  return outcome.text;
}

let lead: Client;
let backend: Client;

beforeAll(async () => {
  team = await demoTeam("run-7");
  [lead, backend] = await Promise.all([connect("lead"), connect("backend-api")]);
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

describe("team MCP server over stdio", () => {
  it("lists exactly the eight tools with input schemas", async () => {
    const { tools } = await lead.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TEAM_TOOL_NAMES].sort());
    const create = tools.find((tool) => tool.name === "task_create")!;
    expect(create.inputSchema.required).toEqual(["subject"]);
    expect(Object.keys(create.inputSchema.properties ?? {}).sort()).toEqual(
      ["blockedBy", "description", "owner", "subject"].sort(),
    );
  });

  it("list_members", async () => {
    const { members } = await ok(lead, "list_members");
    expect(members.map((member: { name: string }) => member.name)).toEqual([
      "lead",
      "backend-api",
      "frontend",
    ]);
    expect(members[2]).toMatchObject({
      role: "teammate",
      status: "pending",
      heartbeatAt: null,
      simulated: true,
    });
  });

  it("send_message and read_messages, to one member and to all", async () => {
    expect(
      await ok(lead, "send_message", { to: "backend-api", text: "Build the API", summary: "task" }),
    ).toMatchObject({ to: ["backend-api"] });
    expect((await ok(backend, "send_message", { to: "*", text: "On it" })).to).toEqual(["lead", "frontend"]);

    const { messages: unread } = await ok(backend, "read_messages");
    expect(unread).toEqual([
      { from: "lead", text: "Build the API", summary: "task", timestamp: expect.any(String), read: false },
    ]);
    expect(await ok(backend, "read_messages")).toEqual({ messages: [] });
    expect((await ok(backend, "read_messages", { unreadOnly: false })).messages).toHaveLength(1);
    expect((await ok(lead, "read_messages", { markRead: false })).messages).toHaveLength(1);
    expect((await ok(lead, "read_messages")).messages).toHaveLength(1);

    expect(await refused(lead, "send_message", { to: "x", text: "hi" })).toBe(
      "No member named 'x'; members are: lead, backend-api, frontend.",
    );
    expect(await refused(lead, "send_message", { to: "lead", text: "hi" })).toMatch(/yourself/);
    expect(await refused(lead, "send_message", { to: "frontend", text: "" })).toMatch(/text is empty/);
  });

  it("task_create, task_list, task_claim, task_update with blocking and its errors", async () => {
    const schema = await ok(lead, "task_create", { subject: "Design schema", description: "tables" });
    expect(schema).toMatchObject({ id: "1", status: "pending", owner: null, blocks: [], blockedBy: [] });
    const api = await ok(lead, "task_create", { subject: "Build API", blockedBy: ["1"] });
    const page = await ok(lead, "task_create", { subject: "Page", owner: "frontend" });
    expect(api.blockedBy).toEqual(["1"]);

    expect((await ok(backend, "task_list")).tasks.map((task: { id: string }) => task.id)).toEqual([
      "1",
      "2",
      "3",
    ]);
    expect(
      (await ok(backend, "task_list", { owner: "frontend" })).tasks.map((t: { id: string }) => t.id),
    ).toEqual(["3"]);

    expect(await refused(backend, "task_claim", { id: api.id })).toBe(
      "Task 2 is blocked by task 1, which is not completed yet.",
    );
    expect(await refused(backend, "task_claim", { id: page.id })).toBe(
      "Task 3 is assigned to frontend; only they can claim it.",
    );
    expect(await ok(backend, "task_claim", { id: "1" })).toMatchObject({
      owner: "backend-api",
      status: "in_progress",
    });
    expect(await refused(lead, "task_claim", { id: "1" })).toBe("Task 1 is already claimed by backend-api.");
    expect(await refused(lead, "task_claim", { id: "42" })).toMatch(/There is no task 42/);

    expect(await ok(backend, "task_update", { id: "1", status: "completed" })).toMatchObject({
      status: "completed",
    });
    expect(
      (await ok(backend, "task_list", { status: "pending" })).tasks.find((t: { id: string }) => t.id === "2"),
    ).toMatchObject({ blockedBy: [] });
    expect(await ok(backend, "task_claim", { id: "2" })).toMatchObject({ owner: "backend-api" });
    expect(await ok(lead, "task_update", { id: "3", owner: "", description: "any" })).toMatchObject({
      owner: null,
      description: "any",
    });
    expect(await refused(lead, "task_update", { id: "2", owner: "nobody" })).toMatch(
      /No member named 'nobody'/,
    );
    expect(await refused(lead, "task_update", { id: "2", status: "done" })).toMatch(/status/);
  });

  it("finish records the lifecycle and tells the lead who is still running", async () => {
    expect(await ok(backend, "finish", { summary: "API built." })).toMatchObject({
      agent: "backend-api",
      finished: { summary: "API built." },
    });
    expect((await team.member("backend-api")).status).toBe("finished");
    expect((await ok(lead, "finish", { summary: "Done." })).note).toBe(
      "Teammates still running: frontend. The run ends after they end.",
    );
    expect(await refused(backend, "finish", { summary: " " })).toMatch(/summary is empty/);
  });

  it("a server for an agent that is not on the team, or for another run, refuses every action", async () => {
    const [stranger, misplaced] = await Promise.all([connect("stranger"), connect("lead", "run-8")]);
    expect(await refused(misplaced, "task_list", {})).toMatch(
      /^This team server was started for run run-8, but .* holds run run-7/,
    );
    expect(await refused(stranger, "read_messages", {})).toBe(
      "No member named 'stranger'; members are: lead, backend-api, frontend.",
    );
    expect(await refused(stranger, "task_claim", { id: "3" })).toMatch(/No member named 'stranger'/);
    expect(await refused(stranger, "send_message", { to: "lead", text: "hi" })).toMatch(
      /No member named 'stranger'/,
    );
    expect(await refused(stranger, "task_create", { subject: "x" })).toMatch(/No member named 'stranger'/);
  });
});
