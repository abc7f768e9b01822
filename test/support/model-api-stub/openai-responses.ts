import type { ServerResponse } from "node:http";
import { type Exchange, type ProtocolModule, sse } from "./server.ts";
import { bareTeamToolName } from "./team-play.ts";
import type { ConcreteToolCall, Conversation, ConversationItem, ModelAction, ModelReply } from "./types.ts";

/**
 * The OpenAI Responses API as Codex CLI 0.169 calls it through a custom model provider
 * (`wire_api = "responses"`, `base_url = <stub>/v1`): `POST /v1/responses` with `stream: true`,
 * answered with server-sent events. What codex reads (codex-rs/codex-api/src/sse/responses.rs,
 * process_sse): `response.created`, `response.output_item.added` / `.done` carrying a
 * `ResponseItem` (`message` with `output_text` parts, or `function_call` with `call_id`, `name`,
 * `arguments` as a JSON string and, for an MCP tool, its `namespace`), `response.output_text.delta`,
 * and `response.completed` whose `response.usage` is `{input_tokens, input_tokens_details:
 * {cached_tokens}, output_tokens, output_tokens_details: {reasoning_tokens}, total_tokens}`. A
 * stream that ends without `response.completed` is an error to codex.
 *
 * Recorded from the real binary against this stub: codex 0.169 sends no `instructions`; its base
 * prompt and permissions arrive as `developer` messages in `input`, and context it adds itself as
 * `user` messages starting with `<environment_context>` and the like. MCP tools are offered as
 * `{"type": "namespace", "name": "mcp__team", "tools": [{"type": "function", "name": "task_create"}, …]}`,
 * and the model calls one with `{"type": "function_call", "namespace": "mcp__team", "name":
 * "task_create"}`. The shell tool is the function `exec_command` with `{"cmd": "…"}`.
 */
export const openaiResponses: ProtocolModule = {
  name: "openai-responses",
  matches: (method, path) => method === "POST" && /^(\/v1)?\/responses$/.test(path),
  async handle(ex: Exchange): Promise<void> {
    const body = (ex.body ?? {}) as ResponsesRequest;
    const conversation = readConversation(body);
    const answered = await ex.answer(conversation);
    if ("error" in answered) {
      json(ex.res, answered.error.status, openaiError(answered.error.status, answered.error.message));
      return;
    }
    const { reply } = answered;
    const toolCall = reply.action
      ? toolCallFor(reply.action, conversation, ex.nextId("call_stub"))
      : undefined;
    ex.record.toolCall = toolCall;
    const output: ResponsesOutputItem[] = [];
    if (reply.text || !toolCall) {
      output.push({
        type: "message",
        id: ex.nextId("msg_stub"),
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: reply.text || "OK.", annotations: [] }],
      });
    }
    if (toolCall) output.push(functionCallItem(toolCall, ex.nextId("fc_stub")));
    streamResponse(ex.res, ex.nextId("resp_stub"), body.model ?? "unknown", output, reply);
  },
};

interface ResponsesRequest {
  model?: string;
  stream?: boolean;
  instructions?: string;
  input?: ResponsesInputItem[] | string;
  tools?: ResponsesTool[];
}

interface ResponsesTool {
  type?: string;
  name?: string;
  tools?: ResponsesTool[];
}

type ResponsesInputItem =
  | { type?: "message"; role: string; content: string | Array<{ type: string; text?: string }> }
  | { type: "function_call"; call_id: string; name: string; namespace?: string; arguments?: string }
  | { type: "function_call_output"; call_id: string; output: unknown }
  | { type: string; [key: string]: unknown };

type ResponsesOutputItem = Record<string, unknown> & { type: string };

/** Codex's own context messages in the user role: not the user speaking. */
const CONTEXT_MESSAGE = /^\s*<(environment_context|user_instructions|permissions instructions|turn_aborted)/;

/**
 * The request as a protocol-neutral conversation (exported for unit tests). Squadron gives codex
 * its system-prompt addition in front of the first prompt (codex has no flag to append to the
 * system prompt: runner/adapters/codex.ts withSystemPrompt), so `system` holds the instructions,
 * the developer messages and that first real user message, where the scripted model reads its role.
 */
export function readConversation(body: ResponsesRequest): Conversation {
  const system: string[] = body.instructions ? [body.instructions] : [];
  const items: ConversationItem[] = [];
  const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : (body.input ?? []);
  let firstUser = true;
  let cwd: string | undefined;
  for (const raw of input) {
    const item = raw as ResponsesInputItem;
    if (item.type === "function_call") {
      const call = item as { call_id: string; name: string; namespace?: string; arguments?: string };
      items.push({
        kind: "tool_call",
        id: call.call_id,
        name: call.namespace ? `${call.namespace}__${call.name}` : call.name,
        input: parseArguments(call.arguments),
      });
      continue;
    }
    if (item.type === "function_call_output") {
      const out = item as { call_id: string; output: unknown };
      const text = outputText(out.output);
      items.push({ kind: "tool_result", id: out.call_id, output: text, isError: isCodexToolError(text) });
      continue;
    }
    if ((item.type === undefined || item.type === "message") && "role" in item) {
      const text = messageText((item as { content: unknown }).content);
      if (item.role === "developer" || item.role === "system") {
        system.push(text);
      } else if (item.role === "user") {
        if (CONTEXT_MESSAGE.test(text)) {
          cwd ??= /<cwd>([^<]+)<\/cwd>/.exec(text)?.[1];
          continue;
        }
        if (firstUser) system.push(text);
        firstUser = false;
        items.push({ kind: "user_text", text });
      } else if (item.role === "assistant") {
        items.push({ kind: "assistant_text", text });
      }
    }
  }
  return {
    model: body.model ?? "",
    system: system.join("\n"),
    tools: toolNames(body.tools ?? []),
    items,
    ...(cwd ? { cwd } : {}),
  };
}

/** Function tools by name; a namespace's tools as `<namespace>__<tool>` (mcp__team__task_create). */
function toolNames(tools: ResponsesTool[], prefix = ""): string[] {
  return tools.flatMap((t) => {
    if (t.type === "namespace" && t.name) return toolNames(t.tools ?? [], `${prefix}${t.name}__`);
    return t.name ? [`${prefix}${t.name}`] : [];
  });
}

function parseArguments(args: string | undefined): unknown {
  try {
    return args ? JSON.parse(args) : {};
  } catch {
    return args;
  }
}

function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((c) => (c && typeof c === "object" && "text" in c ? String(c.text) : "")).join("\n");
  }
  return "";
}

function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (output && typeof output === "object" && "content" in output) return messageText(output.content);
  return messageText(output);
}

/** Codex reports a refused or failed MCP call to the model as text; these are its wordings. */
function isCodexToolError(text: string): boolean {
  return /MCP tool call requires approval|^tool call error|unknown MCP server|err: /im.test(text);
}

/**
 * Codex offers MCP tools in a namespace and its shell as `exec_command`. A file is written with
 * `apply_patch` when the request offers it; codex 0.169 offers it only for models it has metadata
 * for (not the stub's), so otherwise the model writes the file through the shell, as it would.
 */
function toolCallFor(action: ModelAction, conversation: Conversation, id: string): ConcreteToolCall {
  if (action.kind === "write") {
    if (conversation.tools.includes("apply_patch")) {
      const lines = action.content
        .replace(/\n$/, "")
        .split("\n")
        .map((l) => `+${l}`);
      const patch = ["*** Begin Patch", `*** Add File: ${action.path}`, ...lines, "*** End Patch", ""].join(
        "\n",
      );
      return { id, name: "apply_patch", input: { input: patch } };
    }
    return {
      id,
      name: "exec_command",
      input: { cmd: `printf %s ${shellQuote(action.content)} > ${shellQuote(action.path)}`, login: false },
    };
  }
  if (action.kind === "shell")
    return { id, name: "exec_command", input: { cmd: action.command, login: false } };
  const team = action.tool;
  const name =
    conversation.tools.find((t) => t.startsWith("mcp__team__") && bareTeamToolName(t) === team) ??
    `mcp__team__${team}`;
  return { id, name, input: action.input };
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function functionCallItem(call: ConcreteToolCall, itemId: string): ResponsesOutputItem {
  const split = /^(mcp__[A-Za-z0-9_-]+?)__([A-Za-z0-9_-]+)$/.exec(call.name);
  return {
    type: "function_call",
    id: itemId,
    status: "completed",
    call_id: call.id,
    ...(split ? { namespace: split[1], name: split[2] } : { name: call.name }),
    arguments: JSON.stringify(call.input),
  };
}

/**
 * Responses usage: `input_tokens` includes the cached part (`input_tokens_details.cached_tokens`).
 * The API has no cache-write count (OpenAI does not charge cache writes apart), so a reply's
 * `cacheWriteTokens` are reported as plain input.
 */
export function responsesUsage(reply: ModelReply) {
  const u = reply.usage;
  const input = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheReadTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + u.outputTokens,
  };
}

function streamResponse(
  res: ServerResponse,
  id: string,
  model: string,
  output: ResponsesOutputItem[],
  reply: ModelReply,
): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const response = {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    model,
    status: "in_progress",
  };
  let seq = 0;
  const send = (data: Record<string, unknown> & { type: string }) =>
    sse(res, data.type, { ...data, sequence_number: seq++ });
  send({ type: "response.created", response: { ...response, output: [] } });
  output.forEach((item, outputIndex) => {
    send({
      type: "response.output_item.added",
      output_index: outputIndex,
      item: { ...item, status: "in_progress" },
    });
    if (item.type === "message") {
      const text = (item.content as Array<{ text: string }>)[0]?.text ?? "";
      send({
        type: "response.output_text.delta",
        item_id: item.id,
        output_index: outputIndex,
        content_index: 0,
        delta: text,
      });
    }
    send({ type: "response.output_item.done", output_index: outputIndex, item });
  });
  send({
    type: "response.completed",
    response: { ...response, status: "completed", output, usage: responsesUsage(reply) },
  });
  res.end();
}

/** OpenAI's error body: `{"error": {"message", "type", "code"}}` (401: invalid_api_key). */
export function openaiError(status: number, message: string) {
  const [type, code] =
    status === 401
      ? ["invalid_request_error", "invalid_api_key"]
      : status === 403
        ? ["invalid_request_error", "unsupported_country_region_territory"]
        : status === 429
          ? ["rate_limit_exceeded", "rate_limit_exceeded"]
          : status >= 500
            ? ["server_error", null]
            : ["invalid_request_error", null];
  return { error: { message, type, param: null, code } };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
