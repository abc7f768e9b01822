import { randomUUID } from "node:crypto";

/** Usage of one model in Claude's result line. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  costUSD: number;
}

/**
 * Writes Claude Code's stream-json (the shapes of Claude Code 2.1.x, see docs/adapters.md), one
 * JSON object per line on stdout.
 */
export class StreamJsonWriter {
  private messageCount = 0;

  constructor(
    readonly sessionId: string,
    private readonly model: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  private emit(obj: Record<string, unknown>): void {
    this.write(`${JSON.stringify({ ...obj, session_id: this.sessionId, uuid: randomUUID() })}\n`);
  }

  init(fields: {
    cwd: string;
    tools: string[];
    mcpServers: Array<{ name: string; status: string }>;
    permissionMode: string;
  }): void {
    this.emit({
      type: "system",
      subtype: "init",
      cwd: fields.cwd,
      tools: fields.tools,
      mcp_servers: fields.mcpServers,
      model: this.model,
      permissionMode: fields.permissionMode,
      slash_commands: [],
      apiKeySource: "none",
      claude_code_version: "scripted",
      output_style: "default",
      agents: [],
    });
  }

  /** One assistant message; `usage` is what this API call consumed. */
  assistant(
    content: unknown[],
    usage?: { input: number; output: number; cacheRead: number; cacheWrite: number },
  ): void {
    this.messageCount += 1;
    this.emit({
      type: "assistant",
      message: {
        id: `msg_scripted_${this.sessionId.slice(0, 8)}_${this.messageCount}`,
        type: "message",
        role: "assistant",
        model: this.model,
        content,
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage?.input ?? 0,
          cache_creation_input_tokens: usage?.cacheWrite ?? 0,
          cache_read_input_tokens: usage?.cacheRead ?? 0,
          output_tokens: usage?.output ?? 0,
          service_tier: "standard",
        },
      },
      parent_tool_use_id: null,
    });
  }

  toolUse(id: string, name: string, input: unknown): void {
    this.assistant([{ type: "tool_use", id, name, input }]);
  }

  toolResult(id: string, text: string, isError: boolean): void {
    this.emit({
      type: "user",
      message: {
        role: "user",
        content: [
          {
            tool_use_id: id,
            type: "tool_result",
            content: [{ type: "text", text }],
            ...(isError ? { is_error: true } : {}),
          },
        ],
      },
      parent_tool_use_id: null,
    });
  }

  result(fields: {
    subtype: "success" | "error_during_execution" | "error_max_budget_usd" | "error_max_turns";
    resultText: string;
    numTurns: number;
    durationMs: number;
    usage: ModelUsage;
  }): void {
    const u = fields.usage;
    const used = Object.values(u).some((n) => n > 0);
    const isError = fields.subtype !== "success";
    this.emit({
      type: "result",
      subtype: fields.subtype,
      is_error: isError,
      duration_ms: fields.durationMs,
      duration_api_ms: 0,
      num_turns: fields.numTurns,
      // Claude puts the answer in `result` on success and the reasons in `errors` otherwise.
      ...(isError ? { errors: [fields.resultText] } : { result: fields.resultText }),
      stop_reason: isError ? null : "end_turn",
      total_cost_usd: u.costUSD,
      usage: {
        input_tokens: u.inputTokens,
        cache_creation_input_tokens: u.cacheCreationInputTokens,
        cache_read_input_tokens: u.cacheReadInputTokens,
        output_tokens: u.outputTokens,
        service_tier: "standard",
      },
      modelUsage: {
        [this.model]: { ...u, webSearchRequests: 0, contextWindow: 200000, maxOutputTokens: 64000 },
      },
      // Claude Code 2.1.329 (the pinned CLI) reports the turn's own usage here, `{}` when the turn
      // made no model call (runner/adapters/claude.ts). The scripted agent's figures are its
      // process's, i.e. the turn's: without this field the adapter read them as session totals,
      // and a resumed scripted session was charged the difference between two turns.
      model_usage_since_last_result: used
        ? { [this.model]: { ...u, webSearchRequests: 0, contextWindow: 200000, maxOutputTokens: 64000 } }
        : {},
      permission_denials: [],
    });
  }
}
