import type { PermissionMode } from "../../core/manifest/types.ts";
import { parseJsonLine } from "./claude.ts";
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

export interface CodexAdapterOptions {
  executable?: string;
  priceFn?: PriceFn;
}

/**
 * OpenAI Codex CLI: `codex exec --json` (JSONL thread events), resumed with
 * `codex exec resume <thread_id>`. Codex reports tokens, never cost: cost comes from the price
 * table. Options that are not `exec` flags (sandbox, approvals, MCP servers) go in as `-c`
 * config overrides, which the top-level `codex` command takes before the subcommand.
 */
export function codexAdapter(options: CodexAdapterOptions = {}): AgentAdapter {
  const priceFn = options.priceFn ?? defaultPriceFn;
  return {
    cli: "codex",
    buildInvocation: (input) => buildCodexInvocation(input, options.executable ?? "codex"),
    createParser: (input) => new CodexJsonlParser(input, priceFn),
  };
}

const SANDBOX: Record<PermissionMode, string> = {
  plan: "read-only",
  manual: "workspace-write",
  acceptEdits: "workspace-write",
  auto: "workspace-write",
  dontAsk: "workspace-write",
  bypassPermissions: "danger-full-access",
};

/** TOML basic strings, arrays and inline tables are close enough to JSON to build them from it. */
function toml(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toml).join(", ")}]`;
  if (value && typeof value === "object") {
    const parts = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} = ${toml(v)}`);
    return `{ ${parts.join(", ")} }`;
  }
  return String(value);
}

const PLACEHOLDER = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export function codexMcpOverrides(config: McpConfigFile): string[] {
  const out: string[] = [];
  for (const [name, server] of Object.entries(config.mcpServers)) {
    const key = `mcp_servers.${JSON.stringify(name)}`;
    if (server.type === "stdio") {
      out.push("-c", `${key}.command=${toml(server.command)}`);
      out.push("-c", `${key}.args=${toml(server.args)}`);
      if (server.env) out.push("-c", `${key}.env=${toml(server.env)}`);
      continue;
    }
    out.push("-c", `${key}.url=${toml(server.url)}`);
    // Codex reads a header's value from a named variable (env_http_headers), so `${VAR}`
    // placeholders keep the secret out of argv as they keep it out of Claude's file.
    const fromEnv: Record<string, string> = {};
    const literal: Record<string, string> = {};
    for (const [header, value] of Object.entries(server.headers ?? {})) {
      const m = PLACEHOLDER.exec(value);
      if (m?.[1]) fromEnv[header] = m[1];
      else literal[header] = value;
    }
    if (Object.keys(fromEnv).length) out.push("-c", `${key}.env_http_headers=${toml(fromEnv)}`);
    if (Object.keys(literal).length) out.push("-c", `${key}.http_headers=${toml(literal)}`);
  }
  return out;
}

export function buildCodexInvocation(input: TurnInput, executable: string): Invocation {
  const args = [
    "-c",
    `approval_policy=${toml("never")}`,
    "-c",
    `sandbox_mode=${toml(SANDBOX[input.agent.permissionMode])}`,
  ];
  if (input.mcp) args.push(...codexMcpOverrides(input.mcp.config));
  args.push("exec", "--json", "--skip-git-repo-check", "--model", input.agent.model);
  if (input.resumeSessionId) args.push("resume", input.resumeSessionId);
  args.push("--", withSystemPrompt(input));
  return {
    command: executable,
    args,
    env: { ...(input.mcp?.env ?? {}), ...(input.env ?? {}) },
    cwd: input.cwd,
  };
}

/** CLIs without an append-system-prompt flag get the addition in front of the first prompt. */
export function withSystemPrompt(input: TurnInput): string {
  if (!input.systemPromptAddition || input.resumeSessionId) return input.prompt;
  return `${input.systemPromptAddition}\n\n${input.prompt}`;
}

interface CodexUsage {
  input_tokens?: number;
  cached_input_tokens?: number;
  output_tokens?: number;
}

/** `input_tokens` includes the cached part; Squadron counts them apart, as Claude does. */
function fromCodexUsage(u: CodexUsage | undefined): TokenUsage {
  const input = u?.input_tokens ?? 0;
  const cached = Math.min(u?.cached_input_tokens ?? 0, input);
  return {
    inputTokens: input - cached,
    outputTokens: u?.output_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}

export class CodexJsonlParser implements OutputParser {
  private sessionId: string;
  private readonly model: string;
  private usage: TokenUsage = ZERO_USAGE;
  private completed = false;
  private failure: string | undefined;
  private lastError: string | undefined;
  private lastMessage = "";

  constructor(
    input: TurnInput,
    private readonly priceFn: PriceFn,
  ) {
    this.sessionId = input.resumeSessionId ?? "";
    this.model = input.agent.model;
  }

  push(line: string): ProgressEvent | undefined {
    const ev = parseJsonLine(line);
    if (!ev) return undefined;
    switch (ev.type) {
      case "thread.started":
        if (typeof ev.thread_id === "string") this.sessionId = ev.thread_id;
        return { ...this.snapshot(), kind: "init" };
      case "turn.completed":
        this.completed = true;
        this.usage = addUsage(this.usage, fromCodexUsage(ev.usage as CodexUsage));
        return { ...this.snapshot(), kind: "turn" };
      case "turn.failed": {
        const err = ev.error as { message?: string } | undefined;
        this.failure = err?.message ?? "turn failed";
        return { ...this.snapshot(), kind: "turn_failed", detail: this.failure };
      }
      case "error":
        if (typeof ev.message === "string") this.lastError = ev.message;
        return undefined;
      case "item.started":
      case "item.completed": {
        const item = ev.item as { type?: string; text?: string; tool?: string; command?: string };
        if (ev.type === "item.completed" && item?.type === "agent_message" && item.text) {
          this.lastMessage = item.text;
        }
        if (
          ev.type === "item.started" &&
          (item?.type === "mcp_tool_call" || item?.type === "command_execution")
        ) {
          return { ...this.snapshot(), kind: "tool_use", detail: item.tool ?? item.command };
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  snapshot(): ProgressEvent {
    return {
      ...this.usage,
      sessionId: this.sessionId,
      model: this.model,
      costUsd: this.priceFn(this.model, this.usage).costUsd,
      kind: "snapshot",
    };
  }

  finish(exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }): TurnResult {
    const base = {
      ...this.usage,
      sessionId: this.sessionId,
      costUsd: this.priceFn(this.model, this.usage).costUsd,
      costSource: "price-table" as const,
      model: this.model,
    };
    if (this.failure !== undefined) {
      return { ...base, isError: true, errorKind: "execution", resultText: this.failure };
    }
    if (this.completed && exit.code === 0) {
      return { ...base, isError: false, resultText: this.lastMessage };
    }
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const why = this.lastError ?? exit.stderrTail.trim().slice(-1000);
    return {
      ...base,
      isError: true,
      errorKind: this.completed ? "execution" : "crashed",
      resultText: `codex ${how}${this.completed ? "" : " before the turn completed (stream truncated)"}.${why ? ` ${why}` : ""}`,
    };
  }
}
