import type { Conversation, ConversationItem, ModelAction, ModelReply, StubUsage } from "./types.ts";

/**
 * The stub's scripted "model": plays a Squadron lead or teammate by reading what any agent CLI
 * sends (the system prompt Squadron appends, the tools offered, the tool results so far). It is
 * stateless: every decision is derived from the conversation, so resumed sessions, relaunched
 * runners and retried requests all get the answer a real model would give at that point.
 *
 * Lead:     task_create (owner = first teammate) → send_message → end turn; on a later turn
 *           read_messages → finish once the teammate reported or ended.
 * Teammate: task_list → task_claim → write <name>.txt → shell (git add, git commit) →
 *           task_update completed → send_message to the lead → finish.
 * Anything else (title generation, a request without the team tools): a short text answer.
 */

export interface TeamPlayOptions {
  /** Usage reported for every model reply (default: 1000 in, 50 out, no cache). */
  usage?: StubUsage | ((conversation: Conversation) => StubUsage);
}

export const DEFAULT_USAGE: StubUsage = {
  inputTokens: 1000,
  outputTokens: 50,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};

/** Bare team-tool name of a tool as a CLI exposes it: `mcp__team__task_create` → `task_create`. */
export function bareTeamToolName(name: string): string | undefined {
  const m =
    /(?:^|__|\.|:)(send_message|read_messages|list_members|task_create|task_list|task_claim|task_update|finish)$/.exec(
      name,
    );
  return m?.[1];
}

export interface Role {
  role: "lead" | "teammate";
  name: string;
  lead?: string;
  teammates: string[];
}

/** Reads Squadron's system-prompt addition (runner/session/prompt.ts) to learn who is playing. */
export function readRole(system: string): Role | undefined {
  const who = /You are \*\*([^*]+)\*\*, the (lead|a teammate) of the agent team/.exec(system);
  if (!who) return undefined;
  const teammates: string[] = [];
  let lead: string | undefined;
  for (const m of system.matchAll(/^- ([a-z0-9-]+) \((lead|teammate), /gm)) {
    if (m[2] === "teammate") teammates.push(m[1] as string);
    else lead = m[1];
  }
  return {
    role: who[2] === "lead" ? "lead" : "teammate",
    name: who[1] as string,
    ...(lead ? { lead } : {}),
    teammates,
  };
}

export function playTeam(conversation: Conversation, options: TeamPlayOptions = {}): ModelReply {
  const usage =
    typeof options.usage === "function" ? options.usage(conversation) : (options.usage ?? DEFAULT_USAGE);
  const say = (text: string, action?: ModelAction): ModelReply => ({
    text,
    ...(action ? { action } : {}),
    usage,
  });
  const role = readRole(conversation.system);
  const teamTools = new Set(conversation.tools.map(bareTeamToolName).filter((n): n is string => !!n));
  if (!role) return say("OK.");
  if (!teamTools.has("finish")) {
    return say(
      `I cannot coordinate: no team tools were offered (tools: ${conversation.tools.join(", ") || "none"}).`,
    );
  }
  const items = conversation.items;
  const last = items.at(-1);
  if (last?.kind === "tool_result" && last.isError) {
    return say(`A tool call failed, so I stop this turn: ${last.output.slice(0, 300)}`);
  }
  const calls = callsOf(items);
  const called = (tool: string) => calls.some((c) => c.tool === tool);
  const team = (tool: string, input: Record<string, unknown>) => say("", { kind: "team", tool, input });
  if (called("finish")) return say("Done.");

  if (role.role === "lead") {
    const mate = role.teammates[0];
    if (!mate) return team("finish", { summary: "No teammates: nothing to delegate." });
    if (!called("task_create")) {
      return team("task_create", {
        subject: `Write ${mate}.txt`,
        description: `Create ${mate}.txt with one line and commit it.`,
        owner: mate,
      });
    }
    if (!called("send_message")) {
      return team("send_message", { to: mate, text: `Please do task 1: write ${mate}.txt and commit it.` });
    }
    // After the delegation the lead waits; each later turn starts with a user message.
    const sinceUser = callsSinceLastUserText(items);
    if (sinceUser.length === 0 && lastUserTextIndex(items) > lastIndexOf(items, "send_message")) {
      return team("read_messages", {});
    }
    const lastCall = sinceUser.at(-1);
    if (lastCall?.tool === "read_messages") {
      const after = lastIndexOf(items, "send_message");
      const heard = [...resultsOf(items, "read_messages"), ...userTexts(items.slice(after + 1))].join("\n");
      if (/\bdone\b|\bended\b|has finished/i.test(heard)) {
        return team("finish", { summary: `${mate} wrote and committed ${mate}.txt.` });
      }
    }
    return say("Waiting for my teammate.");
  }

  // Teammate.
  if (!called("task_list")) return team("task_list", {});
  const taskId = /"id"\s*:\s*"(\d+)"/.exec(resultsOf(items, "task_list").join("\n"))?.[1];
  if (!taskId) {
    // Woken again (a task or message arrived since the last look): look again.
    if (lastUserTextIndex(items) > lastIndexOf(items, "task_list")) return team("task_list", {});
    return say("No task for me yet.");
  }
  if (!called("task_claim")) return team("task_claim", { id: taskId });
  const file = `${role.name}.txt`;
  const otherCalls = calls.filter((c) => c.tool === "shell").length;
  if (otherCalls === 0) return say("", { kind: "write", path: file, content: `written by ${role.name}\n` });
  if (otherCalls === 1) {
    return say("", {
      kind: "shell",
      command: `git add ${file} && git commit -q -m '${role.name}: add ${file}'`,
    });
  }
  if (!called("task_update")) return team("task_update", { id: taskId, status: "completed" });
  if (!called("send_message")) {
    return team("send_message", { to: role.lead ?? "lead", text: `done: task ${taskId} is committed.` });
  }
  return team("finish", { summary: `Wrote and committed ${role.name}.txt (task ${taskId}).` });
}

interface Call {
  id: string;
  /** Bare team tool name, or "shell" for any other tool. */
  tool: string;
  index: number;
}

function callsOf(items: ConversationItem[]): Call[] {
  const out: Call[] = [];
  items.forEach((item, index) => {
    if (item.kind === "tool_call")
      out.push({ id: item.id, tool: bareTeamToolName(item.name) ?? "shell", index });
  });
  return out;
}

function lastUserTextIndex(items: ConversationItem[]): number {
  for (let i = items.length - 1; i >= 0; i--) if (items[i]?.kind === "user_text") return i;
  return -1;
}

function lastIndexOf(items: ConversationItem[], tool: string): number {
  const c = callsOf(items).filter((x) => x.tool === tool);
  return c.at(-1)?.index ?? -1;
}

function callsSinceLastUserText(items: ConversationItem[]): Call[] {
  const from = lastUserTextIndex(items);
  return callsOf(items).filter((c) => c.index > from);
}

function resultsOf(items: ConversationItem[], tool: string): string[] {
  const ids = new Set(
    callsOf(items)
      .filter((c) => c.tool === tool)
      .map((c) => c.id),
  );
  return items.flatMap((i) => (i.kind === "tool_result" && ids.has(i.id) ? [i.output] : []));
}

function userTexts(items: ConversationItem[]): string[] {
  return items.flatMap((i) => (i.kind === "user_text" ? [i.text] : []));
}
