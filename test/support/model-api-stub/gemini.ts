/**
 * The Gemini API side of the model-API stub: what Gemini CLI 0.61.0 calls when
 * `GOOGLE_GEMINI_BASE_URL` points at us, in the Gemini API's own shapes.
 *
 * - `POST /v1beta/models/<model>:streamGenerateContent?alt=sse`: request
 *   `{contents: [{role, parts: [{text} | {functionCall: {name, args}} | {functionResponse: {name, response}}]}],
 *   systemInstruction: {parts: [{text}]}, tools: [{functionDeclarations: [{name, …}]}]}`; answer: SSE
 *   frames `data: <GenerateContentResponse>` (no `[DONE]` sentinel: the stream ending ends the
 *   response), the last one carrying `usageMetadata` `{promptTokenCount, candidatesTokenCount,
 *   totalTokenCount, cachedContentTokenCount?}` (https://ai.google.dev/api/generate-content).
 * - `:generateContent` (one JSON GenerateContentResponse) and `:countTokens` (`{totalTokens}`), which
 *   the CLI uses for side calls.
 * - Errors: `{"error": {"code", "message", "status"}}` with the HTTP status, as Google's APIs answer
 *   (401 UNAUTHENTICATED for a bad key, 403 PERMISSION_DENIED).
 *
 * `geminiApi` (at the end) is the protocol module for the shared stub server and its scripted team
 * player; `startGeminiStub` is a standalone server for tests that script the model themselves.
 *
 * Requests were checked against what the real 0.61.0 binary sends (recorded by this stub: the
 * `x-goog-api-key` header, `contents` with the history on `--resume`, MCP tools declared as
 * `mcp_<server>_<tool>`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Exchange, ProtocolModule } from "./server.ts";
import { bareTeamToolName } from "./team-play.ts";
import type { ConcreteToolCall, Conversation, ConversationItem, ModelAction } from "./types.ts";

export interface GeminiPart {
  text?: string;
  functionCall?: { name: string; args?: Record<string, unknown> };
  functionResponse?: { name: string; response?: Record<string, unknown> };
}
export interface GeminiContent {
  role?: string;
  parts?: GeminiPart[];
}
export interface GeminiRequestBody {
  contents?: GeminiContent[];
  systemInstruction?: { parts?: GeminiPart[] };
  tools?: Array<{ functionDeclarations?: Array<{ name: string }> }>;
}

/** One request as the stub saw it. */
export interface RecordedGeminiRequest {
  method: "streamGenerateContent" | "generateContent" | "countTokens" | string;
  model: string;
  apiKey: string | undefined;
  body: GeminiRequestBody;
}

/** What the scripted model answers: tool calls, text, or an API error. */
export interface StubReply {
  text?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown> }>;
  /** Token counts reported in `usageMetadata` (defaults: 100 in, 10 out). */
  usage?: { input: number; output: number; cached?: number };
  error?: { httpStatus: number; status: string; message: string };
}

export type GeminiModel = (request: RecordedGeminiRequest) => StubReply;

/** The function names offered to the model (team tools appear as `mcp_team_<tool>`). */
export function declaredTools(body: GeminiRequestBody): string[] {
  return (body.tools ?? []).flatMap((t) => (t.functionDeclarations ?? []).map((d) => d.name));
}

/** Every functionResponse in the conversation so far, oldest first. */
export function functionResponses(
  body: GeminiRequestBody,
): Array<{ name: string; response: Record<string, unknown> }> {
  return (body.contents ?? []).flatMap((c) =>
    (c.parts ?? [])
      .filter((p) => p.functionResponse)
      .map((p) => ({ name: p.functionResponse?.name ?? "", response: p.functionResponse?.response ?? {} })),
  );
}

/** All text of the conversation (system instruction and user/model text parts). */
export function conversationText(body: GeminiRequestBody): string {
  const system = (body.systemInstruction?.parts ?? []).map((p) => p.text ?? "").join("\n");
  const turns = (body.contents ?? []).flatMap((c) => (c.parts ?? []).map((p) => p.text ?? ""));
  return [system, ...turns].join("\n");
}

export function usageMetadata(usage: StubReply["usage"]): Record<string, number> {
  const input = usage?.input ?? 100;
  const output = usage?.output ?? 10;
  return {
    promptTokenCount: input,
    candidatesTokenCount: output,
    totalTokenCount: input + output,
    ...(usage?.cached ? { cachedContentTokenCount: usage.cached } : {}),
  };
}

/** A GenerateContentResponse for `reply` (tool calls become functionCall parts). */
export function generateContentResponse(reply: StubReply, model: string): Record<string, unknown> {
  const parts: GeminiPart[] = [
    ...(reply.text ? [{ text: reply.text }] : []),
    ...(reply.toolCalls ?? []).map((c) => ({ functionCall: { name: c.name, args: c.args } })),
  ];
  return {
    candidates: [
      {
        content: { role: "model", parts: parts.length ? parts : [{ text: "" }] },
        finishReason: "STOP",
        index: 0,
      },
    ],
    usageMetadata: usageMetadata(reply.usage),
    modelVersion: model,
    responseId: `stub-${Math.random().toString(36).slice(2, 10)}`,
  };
}

/** Parses `/v1beta/models/<model>:<method>`; undefined for any other path. */
export function parseGeminiPath(url: string): { model: string; method: string } | undefined {
  const m = /^\/v1(?:beta|alpha)?\/models\/([^:/?]+):([A-Za-z]+)/.exec(url);
  return m?.[1] && m[2] ? { model: decodeURIComponent(m[1]), method: m[2] } : undefined;
}

/** Answers one Gemini API request; returns false when the path is not a Gemini API path. */
export async function handleGeminiRequest(
  req: IncomingMessage,
  res: ServerResponse,
  rawBody: string,
  model: GeminiModel,
  record: (request: RecordedGeminiRequest) => void,
): Promise<boolean> {
  const route = parseGeminiPath(req.url ?? "");
  if (!route) return false;
  let body: GeminiRequestBody = {};
  try {
    body = rawBody ? (JSON.parse(rawBody) as GeminiRequestBody) : {};
  } catch {
    sendError(res, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    return true;
  }
  const header = req.headers["x-goog-api-key"];
  const request: RecordedGeminiRequest = {
    method: route.method,
    model: route.model,
    apiKey: Array.isArray(header) ? header[0] : header,
    body,
  };
  record(request);
  if (route.method === "countTokens") {
    const chars = JSON.stringify(body.contents ?? []).length;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ totalTokens: Math.ceil(chars / 4) }));
    return true;
  }
  const reply = model(request);
  if (reply.error) {
    sendError(res, reply.error.httpStatus, reply.error.status, reply.error.message);
    return true;
  }
  const response = generateContentResponse(reply, route.model);
  if (route.method === "streamGenerateContent") {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(`data: ${JSON.stringify(response)}\r\n\r\n`);
  } else {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(response));
  }
  return true;
}

function sendError(res: ServerResponse, httpStatus: number, status: string, message: string): void {
  res.writeHead(httpStatus, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { code: httpStatus, message, status } }));
}

export interface GeminiStub {
  /** Base URL for `GOOGLE_GEMINI_BASE_URL`. */
  url: string;
  requests: RecordedGeminiRequest[];
  close(): Promise<void>;
}

/** A standalone stub server on 127.0.0.1 (a free port) answering with `model`. */
export async function startGeminiStub(model: GeminiModel): Promise<GeminiStub> {
  const requests: RecordedGeminiRequest[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      raw += chunk;
    });
    req.on("end", () => {
      handleGeminiRequest(req, res, raw, model, (r) => requests.push(r))
        .then((handled) => {
          if (!handled) sendError(res, 404, "NOT_FOUND", `The stub does not serve ${req.method} ${req.url}.`);
        })
        .catch((error: unknown) => sendError(res, 500, "INTERNAL", String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Environment that points Gemini CLI at the stub with API-key auth and nothing else reaching out. */
export function geminiStubEnv(stub: GeminiStub, apiKey = "stub-gemini-key"): Record<string, string> {
  return {
    GOOGLE_GEMINI_BASE_URL: stub.url,
    GEMINI_API_KEY: apiKey,
    // Nothing from the developer's machine may select another auth or endpoint.
    GOOGLE_API_KEY: "",
    GOOGLE_GENAI_USE_VERTEXAI: "",
    GOOGLE_GENAI_USE_GCA: "",
    GOOGLE_CLOUD_PROJECT: "",
  };
}

// ---------------------------------------------------------------------------------------------
// The protocol module for the shared stub server (server.ts) and its scripted team player.

/** Google's status name for an HTTP error code, as its APIs put it in `error.status`. */
export function googleStatus(httpStatus: number): string {
  if (httpStatus === 400) return "INVALID_ARGUMENT";
  if (httpStatus === 401) return "UNAUTHENTICATED";
  if (httpStatus === 403) return "PERMISSION_DENIED";
  if (httpStatus === 404) return "NOT_FOUND";
  if (httpStatus === 429) return "RESOURCE_EXHAUSTED";
  if (httpStatus === 503) return "UNAVAILABLE";
  return "INTERNAL";
}

/** Gemini CLI names MCP tools `mcp_<server>_<tool>`; the team player reads Claude's `mcp__<server>__<tool>`. */
const GEMINI_TEAM_PREFIX = "mcp_team_";
const neutralName = (name: string) =>
  name.startsWith(GEMINI_TEAM_PREFIX) ? `mcp__team__${name.slice(GEMINI_TEAM_PREFIX.length)}` : name;

/**
 * The request as a protocol-neutral conversation. Gemini's functionCall parts carry no id (the
 * CLI may add one), so calls get positional ids and each functionResponse answers the oldest
 * open call of its name. Squadron's role text reaches Gemini in the first prompt (the CLI has no
 * append-system-prompt flag), so user text counts as system text for the team player.
 */
export function readGeminiConversation(model: string, body: GeminiRequestBody): Conversation {
  const items: ConversationItem[] = [];
  const open: Array<{ id: string; name: string }> = [];
  let calls = 0;
  const userTexts: string[] = [];
  for (const content of body.contents ?? []) {
    for (const part of content.parts ?? []) {
      if (typeof part.text === "string" && part.text) {
        if (content.role === "model") items.push({ kind: "assistant_text", text: part.text });
        else {
          items.push({ kind: "user_text", text: part.text });
          userTexts.push(part.text);
        }
      } else if (part.functionCall) {
        const id = `call_${++calls}`;
        const name = neutralName(part.functionCall.name);
        open.push({ id, name });
        items.push({ kind: "tool_call", id, name, input: part.functionCall.args ?? {} });
      } else if (part.functionResponse) {
        const name = neutralName(part.functionResponse.name);
        const at = open.findIndex((c) => c.name === name || c.name.endsWith(`__${name}`));
        const call = at >= 0 ? open.splice(at, 1)[0] : undefined;
        const response = part.functionResponse.response ?? {};
        items.push({
          kind: "tool_result",
          id: call?.id ?? `call_unmatched_${name}`,
          output: typeof response.output === "string" ? response.output : JSON.stringify(response),
          isError: "error" in response,
        });
      }
    }
  }
  const system = (body.systemInstruction?.parts ?? []).map((p) => p.text ?? "").join("\n");
  return {
    model,
    system: [system, ...userTexts].join("\n"),
    tools: declaredTools(body).map(neutralName),
    items,
  };
}

/**
 * A neutral action as Gemini's function calls: team tools by their `mcp_team_` name, a file write
 * as write_file (allowed in auto_edit), shell as run_shell_command (in auto_edit only the git
 * commands the adapter allows run unconfirmed).
 */
export function geminiToolCalls(
  action: ModelAction,
  conversation: Conversation,
  id: string,
): ConcreteToolCall[] {
  if (action.kind === "write") {
    return [{ id, name: "write_file", input: { file_path: action.path, content: action.content } }];
  }
  if (action.kind === "shell") {
    return [
      { id, name: "run_shell_command", input: { command: action.command, description: "Commit my file" } },
    ];
  }
  const tool = action.tool;
  const offered = conversation.tools.find((t) => bareTeamToolName(t) === tool);
  const name = offered ? offered.replace(/^mcp__team__/, GEMINI_TEAM_PREFIX) : `${GEMINI_TEAM_PREFIX}${tool}`;
  return [{ id, name, input: action.input }];
}

/** The Gemini API for `startModelApiStub({protocols: [geminiApi]})`. */
export const geminiApi: ProtocolModule = {
  name: "gemini-generate-content",
  matches: (method, path) => method === "POST" && parseGeminiPath(path) !== undefined,
  async handle(ex: Exchange): Promise<void> {
    const route = parseGeminiPath(ex.path) as { model: string; method: string };
    const body = (ex.body ?? {}) as GeminiRequestBody;
    const send = (status: number, value: unknown) => {
      ex.res.writeHead(status, { "content-type": "application/json" });
      ex.res.end(JSON.stringify(value));
    };
    if (route.method === "countTokens") {
      send(200, { totalTokens: Math.ceil(JSON.stringify(body.contents ?? []).length / 4) });
      return;
    }
    const conversation = readGeminiConversation(route.model, body);
    const answered = await ex.answer(conversation);
    if ("error" in answered) {
      const { status, message } = answered.error;
      send(status, { error: { code: status, message, status: googleStatus(status) } });
      return;
    }
    const { reply } = answered;
    const calls = reply.action ? geminiToolCalls(reply.action, conversation, ex.nextId("call_stub")) : [];
    const call = calls.at(-1);
    ex.record.toolCall = call;
    const response = generateContentResponse(
      {
        ...(reply.text || !call ? { text: reply.text || "OK." } : {}),
        ...(call ? { toolCalls: calls.map((c) => ({ name: c.name, args: c.input })) } : {}),
        usage: {
          // promptTokenCount includes the cached tokens (usageMetadata docs).
          input: reply.usage.inputTokens + reply.usage.cacheReadTokens,
          output: reply.usage.outputTokens,
          cached: reply.usage.cacheReadTokens,
        },
      },
      route.model,
    );
    if (route.method === "streamGenerateContent") {
      ex.res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      ex.res.end(`data: ${JSON.stringify(response)}\r\n\r\n`);
    } else {
      send(200, response);
    }
  },
};
