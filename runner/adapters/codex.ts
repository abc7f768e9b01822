import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { PermissionMode } from "../../core/manifest/types.ts";
import { parseJsonLine } from "./claude.ts";
import { type CliAdapterOptions, cliAdapter } from "./cli-adapter.ts";
import { TEAM_SERVER_NAME } from "./mcp-config.ts";
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
import { ZERO_USAGE } from "./types.ts";

export type CodexAdapterOptions = CliAdapterOptions;

/**
 * OpenAI Codex CLI: `codex exec --json` (JSONL thread events), resumed with
 * `codex exec resume <thread_id>`. Codex reports tokens, never cost: cost comes from the price
 * table. Options that are not `exec` flags (sandbox, approvals, MCP servers) go in as `-c`
 * config overrides, which the top-level `codex` command takes before the subcommand.
 */
export function codexAdapter(options: CodexAdapterOptions = {}): AgentAdapter {
  return cliAdapter("codex", options, {
    build: buildCodexInvocation,
    parse: (input, priceFn) => new CodexJsonlParser(input, priceFn),
  });
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
    const parts = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${tomlKey(k)} = ${toml(v)}`);
    return `{ ${parts.join(", ")} }`;
  }
  return String(value);
}

/** A bare TOML key where allowed, else a quoted one (inside an inline table quotes are parsed). */
function tomlKey(key: string): string {
  return BARE_KEY.test(key) ? key : JSON.stringify(key);
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const PLACEHOLDER = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Codex's `-c key=value` splits the key on "." and takes each part literally: quotes are not
 * TOML key syntax there (codex-rs/common/src/config_override.rs, apply_single_override), so
 * `mcp_servers."team".command` registers a server named `"team"`, quotes included. Each server
 * therefore goes in as ONE override whose value is an inline table, under a bare name; codex
 * itself accepts only `^[a-zA-Z0-9_-]+$` as an MCP server name.
 */
export function codexMcpOverrides(config: McpConfigFile): string[] {
  const out: string[] = [];
  for (const [name, server] of Object.entries(config.mcpServers)) {
    if (!BARE_KEY.test(name)) {
      throw new Error(
        `MCP server name "${name}" cannot be given to codex: it accepts only letters, digits, "_" and "-".`,
      );
    }
    const team = name === TEAM_SERVER_NAME;
    // Codex 0.169 config (codex-rs/config/src/mcp_types.rs, RawMcpServerConfig):
    // - `default_tools_approval_mode = "approve"`: the runner starts codex with
    //   approval_policy=never, under which an MCP tool call that needs approval fails with
    //   "MCP tool call requires approval, but approval policy is never". The team server is
    //   Squadron's own and the other servers are the ones the manifest gave this agent, so
    //   their tools are approved up front.
    // - `required = true` (team server only): `codex exec` waits for the server's startup and
    //   fails if it cannot start, instead of sending the first model request without the team
    //   tools (seen about one run in four). A manifest server stays optional, as for Claude.
    // - `startup_timeout_sec`: the default 10 s is short for a Node server on a busy host.
    const common = {
      default_tools_approval_mode: "approve",
      ...(team ? { required: true, startup_timeout_sec: 60 } : {}),
    };
    if (server.type === "stdio") {
      out.push(
        "-c",
        `mcp_servers.${name}=${toml({ command: server.command, args: server.args, env: server.env, ...common })}`,
      );
      continue;
    }
    // Codex reads a header's value from a named variable (env_http_headers), so `${VAR}`
    // placeholders keep the secret out of argv as they keep it out of Claude's file.
    const fromEnv: Record<string, string> = {};
    const literal: Record<string, string> = {};
    for (const [header, value] of Object.entries(server.headers ?? {})) {
      const m = PLACEHOLDER.exec(value);
      if (m?.[1]) fromEnv[header] = m[1];
      else literal[header] = value;
    }
    const table = {
      url: server.url,
      env_http_headers: Object.keys(fromEnv).length ? fromEnv : undefined,
      http_headers: Object.keys(literal).length ? literal : undefined,
      ...common,
    };
    out.push("-c", `mcp_servers.${name}=${toml(table)}`);
  }
  return out;
}

/** The model provider the runner defines for codex (see codexProviderOverrides). */
export const CODEX_PROVIDER_ID = "squadron-openai";
const OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * Codex's built-in `openai` provider retries a refused request for a long time (a 401 is retried
 * as a dropped stream, stream_max_retries = 5, plus websocket attempts: about 13 s and 13
 * requests against a stub), and built-in providers cannot be overridden ("Built-in providers
 * cannot be overridden", codex 0.169). So the runner defines its own OpenAI provider
 * (codex-rs/model-provider-info, ModelProviderInfo): the same Responses API over HTTP/SSE, the
 * key from OPENAI_API_KEY (or CODEX_API_KEY when only that one is set), `OPENAI_BASE_URL` when
 * set (a proxy, or the conformance tests' stub), and one stream retry, so a bad key fails the
 * turn in about a second. Transport errors and 5xx keep codex's default request retries.
 */
export function codexProviderOverrides(env: Record<string, string | undefined>): string[] {
  const envKey = !env.OPENAI_API_KEY && env.CODEX_API_KEY ? "CODEX_API_KEY" : "OPENAI_API_KEY";
  const provider = {
    // "OpenAI" keeps codex's OpenAI-only behaviour (e.g. remote compaction) for this provider.
    name: "OpenAI",
    base_url: env.OPENAI_BASE_URL || OPENAI_BASE_URL,
    env_key: envKey,
    wire_api: "responses",
    stream_max_retries: 1,
  };
  return [
    "-c",
    `model_provider=${toml(CODEX_PROVIDER_ID)}`,
    "-c",
    `model_providers.${CODEX_PROVIDER_ID}=${toml(provider)}`,
  ];
}

/**
 * The git directories a commit in `cwd` writes to. Codex's workspace-write sandbox keeps `.git`
 * read-only even inside a writable root (observed with 0.169: "Unable to create
 * '.git/index.lock': Read-only file system"), so no agent could commit. A worktree's `.git` is a
 * file naming its own git dir under the main repository's `.git/worktrees/`, and `commondir`
 * there names the main `.git` (objects and refs), which must be writable too. Read from the
 * files rather than by running git, so building the command line stays cheap and synchronous.
 */
export function gitDirsToWrite(cwd: string): string[] {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const dotGit = join(dir, ".git");
    const stat = statSync(dotGit, { throwIfNoEntry: false });
    if (stat?.isDirectory()) return [dotGit];
    if (stat?.isFile()) {
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, "utf8"));
      if (!m?.[1]) return [];
      const gitDir = resolve(dir, m[1].trim());
      const commonFile = join(gitDir, "commondir");
      const common = existsSync(commonFile)
        ? resolve(gitDir, readFileSync(commonFile, "utf8").trim())
        : undefined;
      return common && common !== gitDir ? [gitDir, common] : [gitDir];
    }
    if (dirname(dir) === dir) return [];
  }
}

export function buildCodexInvocation(input: TurnInput, executable: string): Invocation {
  const sandbox = SANDBOX[input.agent.permissionMode];
  const args = ["-c", `approval_policy=${toml("never")}`, "-c", `sandbox_mode=${toml(sandbox)}`];
  if (sandbox === "workspace-write") {
    const gitDirs = gitDirsToWrite(input.cwd);
    if (gitDirs.length) args.push("-c", `sandbox_workspace_write.writable_roots=${toml(gitDirs)}`);
  }
  args.push(...codexProviderOverrides({ ...process.env, ...input.env }));
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
  cache_write_input_tokens?: number;
  output_tokens?: number;
}

/**
 * `input_tokens` includes the cached reads and writes; Squadron counts them apart, as Claude
 * does. Reasoning tokens are part of `output_tokens` (OpenAI's Responses usage).
 */
function fromCodexUsage(u: CodexUsage | undefined): TokenUsage {
  const input = u?.input_tokens ?? 0;
  const cached = Math.min(u?.cached_input_tokens ?? 0, input);
  const written = Math.min(u?.cache_write_input_tokens ?? 0, input - cached);
  return {
    inputTokens: input - cached - written,
    outputTokens: u?.output_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: written,
  };
}

/** Codex's message for a refused request: "unexpected status 401 Unauthorized: <body>, url: …". */
const AUTH_STATUS = /\bstatus (401|403)\b/;

export function authFailureReason(message: string): string | undefined {
  const m = AUTH_STATUS.exec(message);
  if (!m) return undefined;
  const detail = message
    .replace(/^.*?\bstatus \d{3}[^:]*:\s*/, "")
    .replace(/,\s*url: \S+\s*$/, "")
    .trim();
  // The session loop says "the model API refused the key: " in front (runner/session/loop.ts).
  return `HTTP ${m[1]}${detail ? `: ${detail}` : ""}`;
}

interface CodexItem {
  type?: string;
  text?: string;
  server?: string;
  tool?: string;
  command?: string;
  status?: string;
  error?: { message?: string } | null;
}

export class CodexJsonlParser implements OutputParser {
  private sessionId: string;
  private readonly model: string;
  private usage: TokenUsage = ZERO_USAGE;
  private completed = false;
  private failure: string | undefined;
  private lastError: string | undefined;
  private lastMessage = "";
  /** Team-tool calls codex refused to make (e.g. "requires approval"): the turn is an error. */
  private readonly refusedTeamCalls: string[] = [];
  /** Tools codex refused to run, named as Claude names them (`mcp__<server>__<tool>`). */
  private readonly deniedTools = new Set<string>();
  /** Team-tool calls that ran (completed, or failed in the team server rather than being refused). */
  private teamToolCalls = 0;

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
        // Codex 0.169 reports the thread's totals here, not the turn's: a resumed thread's
        // `turn.completed.usage` includes every earlier turn (measured against the model-API
        // stub: 200 tokens after turn 1, 300 after a resumed turn of 100). The result says so
        // with usageScope "session"; the session loop subtracts the previous total.
        this.usage = fromCodexUsage(ev.usage as CodexUsage);
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
        const item = ev.item as CodexItem | undefined;
        if (ev.type === "item.completed" && item?.type === "agent_message" && item.text) {
          this.lastMessage = item.text;
        }
        if (ev.type === "item.completed" && item?.type === "mcp_tool_call") {
          const refused =
            item.status === "failed" && /approv|not allowed|denied/i.test(item.error?.message ?? "");
          if (refused) this.deniedTools.add(`mcp__${item.server}__${item.tool}`);
          if (item.server === TEAM_SERVER_NAME) {
            if (refused) this.refusedTeamCalls.push(`${item.tool}: ${item.error?.message}`);
            else this.teamToolCalls++;
          }
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

  /**
   * Progress carries no usage: codex reports none until `turn.completed`, and that figure is the
   * session's total (see push), which the result reports with its scope. Progress adds nothing
   * a budget could act on mid-turn, and reporting session totals as the turn's would overcount.
   */
  snapshot(): ProgressEvent {
    return {
      ...ZERO_USAGE,
      sessionId: this.sessionId,
      model: this.model,
      costUsd: 0,
      kind: "snapshot",
    };
  }

  finish(exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }): TurnResult {
    const base = {
      ...this.usage,
      sessionId: this.sessionId,
      costUsd: this.priceFn(this.model, this.usage).costUsd,
      costSource: "price-table" as const,
      usageScope: "session" as const,
      model: this.model,
      teamToolCalls: this.teamToolCalls,
      ...(this.deniedTools.size ? { deniedTools: [...this.deniedTools] } : {}),
    };
    const message = this.failure ?? this.lastError ?? exit.stderrTail;
    const auth = this.completed ? undefined : authFailureReason(message);
    if (auth) return { ...base, isError: true, errorKind: "auth", resultText: auth };
    if (this.failure !== undefined) {
      return { ...base, isError: true, errorKind: "execution", resultText: this.failure };
    }
    if (this.completed && exit.code === 0) {
      if (this.refusedTeamCalls.length) {
        return {
          ...base,
          isError: true,
          errorKind: "execution",
          resultText: `codex refused ${this.refusedTeamCalls.length} team-tool call(s): ${this.refusedTeamCalls.join("; ")}`,
        };
      }
      return { ...base, isError: false, resultText: this.lastMessage };
    }
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const why = this.lastError ?? errorLine(exit.stderrTail) ?? exit.stderrTail.trim().slice(-1000);
    return {
      ...base,
      isError: true,
      errorKind: this.completed ? "execution" : "crashed",
      resultText: `codex ${how}${this.completed ? "" : " before the turn completed (stream truncated)"}.${why ? ` ${why}` : ""}`,
    };
  }
}

/**
 * Codex's own error line from stderr. A fatal error prints `Error: …` followed by a Rust
 * backtrace (e.g. resuming a thread CODEX_HOME does not hold: "Error: thread/resume: thread/resume
 * failed: no rollout found for thread id …"); the backtrace says nothing to a user.
 */
export function errorLine(stderr: string): string | undefined {
  const lines = stderr.split("\n").filter((l) => l.startsWith("Error: "));
  return lines.at(-1)?.trim();
}
