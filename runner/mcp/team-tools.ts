import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { ProtocolError } from "../../core/team-protocol/errors.ts";
import { requireMember } from "../../core/team-protocol/members.ts";
import type { Team } from "../../core/team-protocol/team.ts";
import { type InboxMessage, TASK_STATUSES } from "../../core/team-protocol/types.ts";

export interface TeamToolsConfig {
  team: Team;
  /** The agent these tools act for (sender, claimer, inbox owner). */
  agent: string;
  runId?: string;
  version?: string;
}

export const TEAM_TOOL_NAMES = [
  "list_members",
  "send_message",
  "read_messages",
  "task_create",
  "task_list",
  "task_claim",
  "task_update",
  "finish",
] as const;

const taskStatus = z.enum(TASK_STATUSES);

/**
 * The team MCP server: the eight coordination tools over the shared team directory. Results
 * are one JSON **object** in one text block (lists are wrapped: `{members}`, `{messages}`,
 * `{tasks}`); refusals are `isError` results whose text says what to do.
 *
 * Why objects: Gemini CLI 0.61.0 rejects a tool result whose JSON is a bare array (issue 10,
 * point 12), and an object leaves room for fields such as counts without breaking callers.
 */
export function createTeamMcpServer({ team, agent, runId, version = "0.1.0" }: TeamToolsConfig): McpServer {
  const server = new McpServer(
    { name: "squadron-team", version },
    {
      instructions:
        `You are '${agent}' on a Squadron team${runId ? ` (run ${runId})` : ""}. Coordinate only through ` +
        "these tools: claim a task before working on it, mark it completed when done, message teammates " +
        "for what they need to know, and call finish with a summary when your work is complete.",
    },
  );

  /** Tools act as `agent`: refuse clearly if the server was started for someone not on the team. */
  const asMember = (action: () => Promise<unknown>) =>
    run(async () => {
      const config = await team.config();
      if (runId && config.runId !== runId) {
        throw new ProtocolError(
          `This team server was started for run ${runId}, but ${team.root} holds run ${config.runId}; ` +
            "the team directory is mounted wrongly, so stop and report it.",
          "invalid",
        );
      }
      requireMember(config, agent);
      return action();
    });

  server.registerTool(
    "list_members",
    {
      description: "List the team's members with their role, CLI, model, status and last heartbeat.",
      inputSchema: {},
    },
    () => run(async () => ({ members: await team.members() })),
  );

  server.registerTool(
    "send_message",
    {
      description:
        "Send a message to one teammate by name, or to every other member with to='*'. " +
        "Keep it self-contained: the recipient sees only this text (and the summary, if given).",
      inputSchema: {
        to: z.string().min(1).describe("A member name, or '*' for all other members."),
        text: z.string().describe("The message."),
        summary: z.string().optional().describe("A few words shown as a preview."),
      },
    },
    ({ to, text, summary }) =>
      asMember(async () => team.sendMessage({ from: agent, to, text, ...(summary ? { summary } : {}) })),
  );

  server.registerTool(
    "read_messages",
    {
      description: "Read your inbox. By default returns only unread messages and marks them read.",
      inputSchema: {
        unreadOnly: z.boolean().optional().describe("Only unread messages (default true)."),
        markRead: z.boolean().optional().describe("Mark the messages read (default true)."),
      },
    },
    async ({ unreadOnly, markRead }) => {
      // Read without marking, produce the result, and only then mark exactly the messages it
      // carries: a refusal or a failure on the way leaves them unread for the next read.
      let delivered: InboxMessage[] = [];
      const result = await asMember(async () => {
        delivered = await team.readMessages(agent, { unreadOnly: unreadOnly ?? true, markRead: false });
        return { messages: delivered };
      });
      if (result.isError || !(markRead ?? true) || delivered.length === 0) return result;
      try {
        await team.markMessagesRead(agent, delivered);
      } catch (error) {
        return failure(error);
      }
      return result;
    },
  );

  server.registerTool(
    "task_create",
    {
      description:
        "Add a task to the shared task list. Use blockedBy for tasks that must be completed first; " +
        "set owner to assign it to a member (only they can then claim it).",
      inputSchema: {
        subject: z.string().describe("A short imperative title."),
        description: z.string().optional().describe("What done looks like."),
        owner: z.string().optional().describe("The member to assign it to."),
        blockedBy: z.array(z.string()).optional().describe("Ids of tasks that must be completed first."),
      },
    },
    ({ subject, description, owner, blockedBy }) =>
      asMember(async () =>
        team.createTask({
          subject,
          ...(description !== undefined ? { description } : {}),
          ...(owner ? { owner } : {}),
          ...(blockedBy ? { blockedBy } : {}),
        }),
      ),
  );

  server.registerTool(
    "task_list",
    {
      description: "List tasks (deleted ones only when status='deleted'), optionally by status and owner.",
      inputSchema: {
        status: taskStatus.optional(),
        owner: z.string().optional(),
      },
    },
    ({ status, owner }) =>
      asMember(async () => ({
        tasks: await team.listTasks({ ...(status ? { status } : {}), ...(owner ? { owner } : {}) }),
      })),
  );

  server.registerTool(
    "task_claim",
    {
      description:
        "Claim a pending task: it becomes yours and in_progress. Refused if someone else has it or a " +
        "task it is blocked by is not completed yet.",
      inputSchema: { id: z.string().describe('The task id, e.g. "3".') },
    },
    ({ id }) => asMember(async () => team.claimTask(id, agent)),
  );

  server.registerTool(
    "task_update",
    {
      description:
        "Update a task's status, owner or description. Set status='completed' when done: that unblocks " +
        "the tasks waiting for it. Use owner='' to unassign.",
      inputSchema: {
        id: z.string().describe('The task id, e.g. "3".'),
        status: taskStatus.optional(),
        owner: z.string().optional(),
        description: z.string().optional(),
      },
    },
    ({ id, status, owner, description }) =>
      asMember(async () =>
        team.updateTask(id, {
          ...(status ? { status } : {}),
          ...(owner !== undefined ? { owner: owner || null } : {}),
          ...(description !== undefined ? { description } : {}),
        }),
      ),
  );

  server.registerTool(
    "finish",
    {
      description:
        "Record that your work is complete, with a summary of what you did and where the result is. " +
        "Call it once, as your last action.",
      inputSchema: { summary: z.string().describe("What you did, in a few sentences.") },
    },
    ({ summary }) =>
      asMember(async () => {
        const record = await team.finish(agent, summary);
        const me = await team.member(agent);
        const running = me.role === "lead" ? (await team.activeTeammates()).map((member) => member.name) : [];
        return running.length > 0
          ? {
              ...record,
              note: `Teammates still running: ${running.join(", ")}. The run ends after they end.`,
            }
          : record;
      }),
  );

  return server;
}

async function run(action: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    const value = await action();
    // Never a bare array or scalar (see above): wrap anything that is not a plain object.
    const body =
      value !== null && typeof value === "object" && !Array.isArray(value) ? value : { result: value };
    return { content: [{ type: "text", text: JSON.stringify(body, null, 2) }] };
  } catch (error) {
    return failure(error);
  }
}

function failure(error: unknown): CallToolResult {
  const text =
    error instanceof ProtocolError
      ? error.message
      : `The team tool failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`;
  return { isError: true, content: [{ type: "text", text }] };
}
