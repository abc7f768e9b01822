import { dirname, join } from "node:path";
import type { PermissionMode } from "../../core/manifest/types.ts";
import { withSystemPrompt } from "./codex.ts";
import { defaultPriceFn } from "./prices.ts";
import type {
  AgentAdapter,
  Invocation,
  McpConfigFile,
  OutputParser,
  PriceFn,
  ProgressEvent,
  TokenUsage,
  TurnInput,
  TurnResult,
} from "./types.ts";
import { addUsage, ZERO_USAGE } from "./types.ts";

export interface GeminiAdapterOptions {
  executable?: string;
  priceFn?: PriceFn;
}

/**
 * Gemini CLI: `gemini -p <prompt> --output-format json` prints one JSON object at the end
 * (`session_id`, `response`, `stats.models.<model>.tokens`, `error`). No cost is reported: cost
 * comes from the price table. MCP servers reach Gemini through a settings file pointed to by
 * `GEMINI_CLI_SYSTEM_SETTINGS_PATH`, in Gemini's own shape (`httpUrl` for streamable HTTP).
 */
export function geminiAdapter(options: GeminiAdapterOptions = {}): AgentAdapter {
  const priceFn = options.priceFn ?? defaultPriceFn;
  return {
    cli: "gemini",
    buildInvocation: (input) => buildGeminiInvocation(input, options.executable ?? "gemini"),
    createParser: (input) => new GeminiJsonParser(input, priceFn),
  };
}

const APPROVAL: Record<PermissionMode, string> = {
  plan: "plan",
  manual: "default",
  acceptEdits: "auto_edit",
  auto: "auto_edit",
  dontAsk: "yolo",
  bypassPermissions: "yolo",
};

export function geminiSettings(config: McpConfigFile): { mcpServers: Record<string, unknown> } {
  const mcpServers: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(config.mcpServers)) {
    if (s.type === "stdio") {
      mcpServers[name] = { command: s.command, args: s.args, ...(s.env ? { env: s.env } : {}) };
    } else {
      // Gemini expands ${VAR} in settings values, so secret placeholders stay placeholders.
      mcpServers[name] = {
        [s.type === "http" ? "httpUrl" : "url"]: s.url,
        ...(s.headers ? { headers: s.headers } : {}),
      };
    }
  }
  return { mcpServers };
}

export function buildGeminiInvocation(input: TurnInput, executable: string): Invocation {
  const args = [
    "--output-format",
    "json",
    "--model",
    input.agent.model,
    "--approval-mode",
    APPROVAL[input.agent.permissionMode],
  ];
  if (input.resumeSessionId) args.push("--resume", input.resumeSessionId);
  args.push("--prompt", withSystemPrompt(input));
  const env: Record<string, string> = { ...(input.mcp?.env ?? {}), ...(input.env ?? {}) };
  const files: Invocation["files"] = [];
  if (input.mcp) {
    const path = join(dirname(input.mcp.path), "gemini-system-settings.json");
    files.push({ path, content: `${JSON.stringify(geminiSettings(input.mcp.config), null, 2)}\n` });
    env.GEMINI_CLI_SYSTEM_SETTINGS_PATH = path;
  }
  return { command: executable, args, env, cwd: input.cwd, files };
}

interface GeminiTokens {
  prompt?: number;
  candidates?: number;
  cached?: number;
  thoughts?: number;
}

interface GeminiOutput {
  session_id?: string;
  response?: string;
  stats?: { models?: Record<string, { tokens?: GeminiTokens }> };
  error?: { type?: string; message?: string; code?: string | number };
}

/** `prompt` includes the cached tokens; thoughts are billed as output. */
function fromGeminiTokens(t: GeminiTokens | undefined): TokenUsage {
  const prompt = t?.prompt ?? 0;
  const cached = Math.min(t?.cached ?? 0, prompt);
  return {
    inputTokens: prompt - cached,
    outputTokens: (t?.candidates ?? 0) + (t?.thoughts ?? 0),
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}

export class GeminiJsonParser implements OutputParser {
  private readonly lines: string[] = [];
  private readonly model: string;
  private readonly sessionId: string;

  constructor(
    input: TurnInput,
    private readonly priceFn: PriceFn,
  ) {
    this.model = input.agent.model;
    this.sessionId = input.resumeSessionId ?? "";
  }

  push(line: string): ProgressEvent | undefined {
    this.lines.push(line);
    return undefined;
  }

  snapshot(): ProgressEvent {
    // Gemini's JSON mode reports usage only at the end of the turn.
    return { ...ZERO_USAGE, sessionId: this.sessionId, model: this.model, costUsd: 0, kind: "snapshot" };
  }

  private parse(): GeminiOutput | undefined {
    const text = this.lines.join("\n");
    const start = text.indexOf("{");
    const end = text.lastIndexOf("}");
    if (start < 0 || end < start) return undefined;
    try {
      return JSON.parse(text.slice(start, end + 1)) as GeminiOutput;
    } catch {
      return undefined;
    }
  }

  finish(exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }): TurnResult {
    const out = this.parse();
    if (!out) {
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const stderr = exit.stderrTail.trim().slice(-1000);
      return {
        ...ZERO_USAGE,
        sessionId: this.sessionId,
        isError: true,
        errorKind: "crashed",
        resultText: `gemini ${how} without its JSON result (stream truncated).${stderr ? ` stderr: ${stderr}` : ""}`,
        costUsd: 0,
        costSource: "price-table",
        model: this.model,
      };
    }
    const models = Object.entries(out.stats?.models ?? {}).map(
      ([m, s]) => [m, fromGeminiTokens(s.tokens)] as [string, TokenUsage],
    );
    const usage = models.reduce((acc, [, u]) => addUsage(acc, u), ZERO_USAGE);
    const costUsd = models.reduce((sum, [m, u]) => sum + this.priceFn(m, u).costUsd, 0);
    const main = models.sort((a, b) => b[1].outputTokens - a[1].outputTokens)[0]?.[0] ?? this.model;
    const isError = out.error !== undefined || exit.code !== 0;
    return {
      ...usage,
      sessionId: out.session_id ?? this.sessionId,
      isError,
      ...(isError ? { errorKind: "execution" as const } : {}),
      resultText: out.error
        ? `${out.error.type ?? "Error"}: ${out.error.message ?? "gemini reported an error"}`
        : isError
          ? `gemini exited with code ${exit.code}`
          : (out.response ?? ""),
      costUsd,
      costSource: "price-table",
      model: main,
    };
  }
}
