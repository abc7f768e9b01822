/**
 * Protocol-neutral shapes of the model-API stub. A protocol module (Anthropic Messages, OpenAI
 * Responses, Gemini streamGenerateContent) turns a request body into a `Conversation`, asks the
 * scripted model (`team-play.ts`) for a `ModelReply`, and writes that reply in its own wire format.
 */

/** One item of a conversation, in order, whatever the wire format. */
export type ConversationItem =
  | { kind: "user_text"; text: string }
  | { kind: "assistant_text"; text: string }
  | { kind: "tool_call"; id: string; name: string; input: unknown }
  | { kind: "tool_result"; id: string; output: string; isError: boolean };

export interface Conversation {
  model: string;
  /** The whole system prompt / instructions, joined. */
  system: string;
  /** Names of the tools the request offers, exactly as the CLI named them. */
  tools: string[];
  items: ConversationItem[];
  /** The agent's working directory when the CLI tells the model (Claude: "Primary working directory"). */
  cwd?: string;
}

/** What the scripted model wants to do next, before a protocol names the tools its way. */
export type ModelAction =
  /** Call a tool of the team MCP server by its bare name (task_create, send_message, ...). */
  | { kind: "team"; tool: string; input: Record<string, unknown> }
  /** Run a shell command in the agent's working directory (Claude: Bash; Codex: shell; Gemini: run_shell_command). */
  | { kind: "shell"; command: string }
  /** Write a file, path relative to the working directory (Claude: Write; Codex: apply_patch; Gemini: write_file). */
  | { kind: "write"; path: string; content: string };

export interface ModelReply {
  /** Text said before (or instead of) the tool calls. */
  text: string;
  /** At most one action per reply keeps every CLI's loop simple and the record readable. */
  action?: ModelAction;
  usage: StubUsage;
}

export interface StubUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** A tool call as a protocol module emits it, after mapping a `ModelAction` to a tool of the request. */
export interface ConcreteToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
}

/** One HTTP request the stub received, and what it answered. */
export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  protocol: string;
  status: number;
  /** The conversation the protocol module read, when the request was a model call. */
  conversation?: Conversation;
  reply?: ModelReply;
  toolCall?: ConcreteToolCall;
}

/** A test's say over one request before the scripted model answers it. */
export type Intercept =
  | undefined
  /** Answer with this HTTP error (the protocol module shapes the body, e.g. 401 authentication_error). */
  | { error: { status: number; message: string } }
  /** Use this reply instead of the scripted model's. */
  | { reply: ModelReply };

export interface InterceptContext {
  protocol: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  conversation?: Conversation;
  /** How many model calls (not counting this one) the stub has answered so far. */
  modelCalls: number;
}
