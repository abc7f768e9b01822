import { defaultPriceFn } from "./prices.ts";
import type {
  AgentAdapter,
  Invocation,
  OutputParser,
  PriceFn,
  ProgressEvent,
  TokenUsage,
  TurnErrorKind,
  TurnInput,
  TurnResult,
} from "./types.ts";
import { addUsage, ZERO_USAGE } from "./types.ts";

export interface ClaudeAdapterOptions {
  /** Path of the `claude` executable (or the scripted agent's shim). Defaults to `claude` on PATH. */
  executable?: string;
  /** Prices a turn whose stream ended before Claude reported its cost. */
  priceFn?: PriceFn;
}

/**
 * Claude Code, headless: `claude -p --output-format stream-json --verbose`. Every flag used here
 * is listed by `claude --help` (2.1.329) except `--max-turns`, which that version accepts but
 * hides (it is in the CLI's flag table and yields `error_max_turns` results).
 */
export function claudeAdapter(options: ClaudeAdapterOptions = {}): AgentAdapter {
  const priceFn = options.priceFn ?? defaultPriceFn;
  return {
    cli: "claude",
    buildInvocation: (input) => buildClaudeInvocation(input, options.executable ?? "claude"),
    createParser: (input) => new ClaudeStreamParser(input, priceFn),
  };
}

export function buildClaudeInvocation(input: TurnInput, executable: string): Invocation {
  const args = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--model",
    input.agent.model,
    "--permission-mode",
    input.agent.permissionMode,
  ];
  if (input.mcp) args.push("--mcp-config", input.mcp.path, "--strict-mcp-config");
  if (input.systemPromptAddition) args.push("--append-system-prompt", input.systemPromptAddition);
  if (input.remainingBudgetUsd !== undefined) {
    args.push("--max-budget-usd", formatUsd(Math.max(0, input.remainingBudgetUsd)));
  }
  const maxTurns = input.maxTurns ?? input.agent.maxTurns;
  if (maxTurns !== undefined) args.push("--max-turns", String(maxTurns));
  if (input.resumeSessionId) args.push("--resume", input.resumeSessionId);
  // `--mcp-config` takes several values: `--` ends the options so the prompt is never read as
  // one of them (or as a flag when it starts with "-").
  args.push("--", input.prompt);
  return {
    command: executable,
    args,
    env: { ...(input.mcp?.env ?? {}), ...(input.env ?? {}) },
    cwd: input.cwd,
  };
}

function formatUsd(n: number): string {
  return String(Math.floor(n * 10_000) / 10_000);
}

interface ClaudeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

interface ClaudeModelUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  costUSD?: number;
}

interface ClaudeResultLine {
  type: "result";
  subtype?: string;
  is_error?: boolean;
  result?: string;
  errors?: string[];
  session_id?: string;
  total_cost_usd?: number;
  usage?: ClaudeUsage;
  modelUsage?: Record<string, ClaudeModelUsage>;
}

const ERROR_KINDS: Record<string, TurnErrorKind> = {
  error_max_turns: "max_turns",
  error_max_budget_usd: "max_budget",
  error_during_execution: "execution",
};

function fromClaudeUsage(u: ClaudeUsage | undefined): TokenUsage {
  return {
    inputTokens: u?.input_tokens ?? 0,
    outputTokens: u?.output_tokens ?? 0,
    cacheReadTokens: u?.cache_read_input_tokens ?? 0,
    cacheWriteTokens: u?.cache_creation_input_tokens ?? 0,
  };
}

function fromModelUsage(u: ClaudeModelUsage): TokenUsage {
  return {
    inputTokens: u.inputTokens ?? 0,
    outputTokens: u.outputTokens ?? 0,
    cacheReadTokens: u.cacheReadInputTokens ?? 0,
    cacheWriteTokens: u.cacheCreationInputTokens ?? 0,
  };
}

/** Parses Claude Code's stream-json: `system`/`init`, `assistant`, `user`, and the final `result`. */
export class ClaudeStreamParser implements OutputParser {
  private sessionId = "";
  private model: string;
  /** Claude repeats a message's usage on every content block it streams: keep the last per id. */
  private readonly usageByMessage = new Map<string, { model: string; usage: TokenUsage }>();
  private result: ClaudeResultLine | undefined;
  private lastText = "";

  constructor(
    input: TurnInput,
    private readonly priceFn: PriceFn,
  ) {
    this.model = input.agent.model;
    this.sessionId = input.resumeSessionId ?? "";
  }

  push(line: string): ProgressEvent | undefined {
    const msg = parseJsonLine(line);
    if (!msg) return undefined;
    if (typeof msg.session_id === "string" && msg.session_id) this.sessionId = msg.session_id;
    switch (msg.type) {
      case "system": {
        if (msg.subtype !== "init") return undefined;
        if (typeof msg.model === "string") this.model = msg.model;
        return { ...this.snapshot(), kind: "init" };
      }
      case "assistant": {
        const message = msg.message as
          | { id?: string; model?: string; usage?: ClaudeUsage; content?: unknown[] }
          | undefined;
        if (!message) return undefined;
        const id = message.id ?? `anon-${this.usageByMessage.size}`;
        if (message.usage) {
          this.usageByMessage.set(id, {
            model: message.model ?? this.model,
            usage: fromClaudeUsage(message.usage),
          });
        }
        let kind = "assistant";
        let detail: string | undefined;
        for (const block of message.content ?? []) {
          const b = block as { type?: string; text?: string; name?: string };
          if (b.type === "text" && b.text) this.lastText = b.text;
          if (b.type === "tool_use") {
            kind = "tool_use";
            detail = b.name;
          }
        }
        return { ...this.snapshot(), kind, ...(detail ? { detail } : {}) };
      }
      case "user":
        return { ...this.snapshot(), kind: "tool_result" };
      case "result":
        this.result = msg as unknown as ClaudeResultLine;
        return undefined;
      default:
        return undefined;
    }
  }

  private streamedUsage(): TokenUsage {
    let total = ZERO_USAGE;
    for (const { usage } of this.usageByMessage.values()) total = addUsage(total, usage);
    return total;
  }

  private streamedCost(): number {
    let cost = 0;
    for (const { model, usage } of this.usageByMessage.values()) {
      cost += this.priceFn(model, usage).costUsd;
    }
    return cost;
  }

  snapshot(): ProgressEvent {
    return {
      ...this.streamedUsage(),
      sessionId: this.sessionId,
      model: this.model,
      costUsd: this.streamedCost(),
      kind: "snapshot",
    };
  }

  finish(exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }): TurnResult {
    const r = this.result;
    if (!r) {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const stderr = exit.stderrTail.trim();
      return {
        ...this.streamedUsage(),
        sessionId: this.sessionId,
        isError: true,
        errorKind: "crashed",
        resultText: `claude ${how} before its final result (stream truncated).${stderr ? ` stderr: ${stderr.slice(-1000)}` : ""}`,
        costUsd: this.streamedCost(),
        costSource: "price-table",
        model: this.model,
      };
    }
    const models = Object.entries(r.modelUsage ?? {});
    let usage: TokenUsage;
    if (models.length > 0) {
      usage = models.reduce((acc, [, u]) => addUsage(acc, fromModelUsage(u)), ZERO_USAGE);
    } else if (r.usage) {
      usage = fromClaudeUsage(r.usage);
    } else {
      usage = this.streamedUsage();
    }
    const model =
      this.model && models.some(([m]) => m === this.model)
        ? this.model
        : (models.sort((a, b) => (b[1].costUSD ?? 0) - (a[1].costUSD ?? 0))[0]?.[0] ?? this.model);
    const reported = typeof r.total_cost_usd === "number";
    const costUsd = reported
      ? (r.total_cost_usd as number)
      : models.length > 0
        ? models.reduce((sum, [m, u]) => sum + this.priceFn(m, fromModelUsage(u)).costUsd, 0)
        : this.priceFn(model, usage).costUsd;
    const isError = r.is_error === true || (r.subtype !== undefined && r.subtype !== "success");
    const errorKind = isError ? (ERROR_KINDS[r.subtype ?? ""] ?? "execution") : undefined;
    const resultText =
      typeof r.result === "string" && r.result
        ? r.result
        : r.errors && r.errors.length > 0
          ? r.errors.join("; ")
          : isError
            ? `claude ended the turn with ${r.subtype ?? "an error"}`
            : this.lastText;
    return {
      ...usage,
      sessionId: r.session_id ?? this.sessionId,
      isError,
      ...(errorKind ? { errorKind } : {}),
      resultText,
      costUsd,
      costSource: reported ? "reported" : "price-table",
      model,
    };
  }
}

/** Parses one JSON object line; CLIs print banners and warnings that are not JSON. */
export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(trimmed) as unknown;
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
