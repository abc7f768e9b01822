import type { ServerResponse } from "node:http";
import { type Exchange, type ProtocolModule, sse } from "./server.ts";
import { bareTeamToolName } from "./team-play.ts";
import type { ConcreteToolCall, Conversation, ConversationItem, ModelAction, ModelReply } from "./types.ts";

/**
 * The Anthropic Messages API as Claude Code 2.1.329 calls it through `ANTHROPIC_BASE_URL`:
 * `POST /v1/messages` (streamed with `stream: true`, or a plain JSON answer), `POST
 * /v1/messages/count_tokens`. Event order of a streamed message, per the Messages streaming docs
 * (platform.claude.com/docs/en/build-with-claude/streaming): message_start → (content_block_start
 * → content_block_delta* → content_block_stop)* → message_delta (stop_reason, usage) → message_stop.
 * Tool calls are `tool_use` blocks whose input arrives as `input_json_delta` partial JSON.
 */
export const anthropicMessages: ProtocolModule = {
  name: "anthropic-messages",
  matches: (method, path) => method === "POST" && /^\/v1\/messages(\/count_tokens)?$/.test(path),
  async handle(ex: Exchange): Promise<void> {
    const body = (ex.body ?? {}) as AnthropicRequest;
    if (ex.path.endsWith("/count_tokens")) {
      json(ex.res, 200, { input_tokens: Math.ceil(JSON.stringify(body).length / 4) });
      return;
    }
    const conversation = readConversation(body);
    const answered = await ex.answer(conversation);
    if ("error" in answered) {
      json(ex.res, answered.error.status, anthropicError(answered.error.status, answered.error.message));
      return;
    }
    const { reply } = answered;
    const toolCall = reply.action
      ? toolCallFor(reply.action, conversation, ex.nextId("toolu_stub"))
      : undefined;
    ex.record.toolCall = toolCall;
    const content: AnthropicBlock[] = [];
    if (reply.text || !toolCall) content.push({ type: "text", text: reply.text || "OK." });
    if (toolCall)
      content.push({ type: "tool_use", id: toolCall.id, name: toolCall.name, input: toolCall.input });
    const message = {
      id: ex.nextId("msg_stub"),
      type: "message",
      role: "assistant",
      model: body.model ?? "unknown",
      stop_reason: toolCall ? "tool_use" : "end_turn",
      stop_sequence: null,
      usage: usageOf(reply),
    };
    if (body.stream) streamMessage(ex.res, message, content);
    else json(ex.res, 200, { ...message, content });
  },
};

interface AnthropicRequest {
  model?: string;
  stream?: boolean;
  system?: string | Array<{ type: string; text?: string }>;
  tools?: Array<{ name?: string; type?: string }>;
  messages?: Array<{ role: "user" | "assistant"; content: string | AnthropicBlock[] }>;
}

type AnthropicBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | {
      type: "tool_result";
      tool_use_id: string;
      content?: string | Array<{ type: string; text?: string }>;
      is_error?: boolean;
    }
  | { type: string; [key: string]: unknown };

/** The request as a protocol-neutral conversation (exported for unit tests). */
export function readConversation(body: AnthropicRequest): Conversation {
  const system =
    typeof body.system === "string" ? body.system : (body.system ?? []).map((b) => b.text ?? "").join("\n");
  const items: ConversationItem[] = [];
  for (const message of body.messages ?? []) {
    const blocks: AnthropicBlock[] =
      typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    for (const block of blocks) {
      if (block.type === "text" && typeof block.text === "string") {
        // Claude Code wraps context in <system-reminder> text blocks of the user message: not the user speaking.
        if (message.role === "user" && block.text.trimStart().startsWith("<system-reminder>")) continue;
        items.push({ kind: message.role === "user" ? "user_text" : "assistant_text", text: block.text });
      } else if (block.type === "tool_use") {
        const b = block as { id: string; name: string; input: unknown };
        items.push({ kind: "tool_call", id: b.id, name: b.name, input: b.input });
      } else if (block.type === "tool_result") {
        const b = block as { tool_use_id: string; content?: unknown; is_error?: boolean };
        items.push({
          kind: "tool_result",
          id: b.tool_use_id,
          output: resultText(b.content),
          isError: b.is_error === true,
        });
      }
    }
  }
  const cwd = /Primary working directory: ([^\\"\n]+)/.exec(JSON.stringify(body))?.[1]?.trim();
  return {
    ...(cwd ? { cwd } : {}),
    model: body.model ?? "",
    system,
    tools: (body.tools ?? []).flatMap((t) => (t.name ? [t.name] : [])),
    items,
  };
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((c) => (c && typeof c === "object" && "text" in c ? String(c.text) : "")).join("\n");
  }
  return "";
}

/** Claude Code names MCP tools `mcp__<server>__<tool>` and its shell tool `Bash`. */
function toolCallFor(action: ModelAction, conversation: Conversation, id: string): ConcreteToolCall {
  if (action.kind === "write") {
    const file_path = conversation.cwd
      ? `${conversation.cwd.replace(/\/$/, "")}/${action.path}`
      : action.path;
    return { id, name: "Write", input: { file_path, content: action.content } };
  }
  if (action.kind === "shell") {
    return { id, name: "Bash", input: { command: action.command, description: "Write and commit my file" } };
  }
  const name =
    conversation.tools.find((t) => t.startsWith("mcp__team__") && bareTeamToolName(t) === action.tool) ??
    `mcp__team__${action.tool}`;
  return { id, name, input: action.input };
}

function usageOf(reply: ModelReply) {
  return {
    input_tokens: reply.usage.inputTokens,
    output_tokens: reply.usage.outputTokens,
    cache_read_input_tokens: reply.usage.cacheReadTokens,
    cache_creation_input_tokens: reply.usage.cacheWriteTokens,
  };
}

function streamMessage(
  res: ServerResponse,
  message: Record<string, unknown> & { usage: ReturnType<typeof usageOf> },
  content: AnthropicBlock[],
): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const { usage } = message;
  sse(res, "message_start", {
    type: "message_start",
    message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
  });
  content.forEach((block, index) => {
    if (block.type === "text") {
      sse(res, "content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "text", text: "" },
      });
      sse(res, "content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "text_delta", text: block.text },
      });
    } else {
      const b = block as { id: string; name: string; input: unknown };
      sse(res, "content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: b.id, name: b.name, input: {} },
      });
      sse(res, "content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "input_json_delta", partial_json: JSON.stringify(b.input) },
      });
    }
    sse(res, "content_block_stop", { type: "content_block_stop", index });
  });
  sse(res, "message_delta", {
    type: "message_delta",
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  sse(res, "message_stop", { type: "message_stop" });
  res.end();
}

/** Anthropic's error body: `{"type":"error","error":{"type":"authentication_error","message":...}}`. */
export function anthropicError(status: number, message: string) {
  const type =
    status === 401
      ? "authentication_error"
      : status === 403
        ? "permission_error"
        : status === 429
          ? "rate_limit_error"
          : status >= 500
            ? "api_error"
            : "invalid_request_error";
  return { type: "error", error: { type, message } };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
