import { type CliAdapterOptions, cliAdapter } from "./cli-adapter.ts";
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

/** `priceFn` prices a turn whose stream ended before Claude reported its cost. */
export type ClaudeAdapterOptions = CliAdapterOptions;

/**
 * Claude Code, headless: `claude -p --output-format stream-json --verbose`. Every flag used here
 * is listed by `claude --help` (2.1.329) except `--max-turns`, which that version accepts but
 * hides (it is in the CLI's flag table and yields `error_max_turns` results).
 */
export function claudeAdapter(options: ClaudeAdapterOptions = {}): AgentAdapter {
  return cliAdapter("claude", options, {
    build: buildClaudeInvocation,
    parse: (input, priceFn) => new ClaudeStreamParser(input, priceFn),
  });
}

/**
 * Tools every agent may use without a prompt, whatever its permission mode: the team MCP server's
 * (a server-wide rule: Claude Code's permission rule `mcp__<server>` matches all of its tools).
 * Without it, headless Claude 2.1.329 denies every team-tool call under `acceptEdits`, `manual`,
 * `dontAsk` and `plan` ("Claude requested permissions to use mcp__team__task_create, but you
 * haven't granted it yet"), since nobody is there to approve the prompt.
 */
export const CLAUDE_TEAM_TOOL_RULES = ["mcp__team"] as const;

/**
 * What a coding agent needs of git to commit its own work in its worktree. Claude Code checks
 * each part of a compound command (`git add x && git commit ...`) against these prefix rules
 * (`Bash(git commit:*)`); nothing else of Bash is granted beyond what the permission mode allows.
 */
export const CLAUDE_GIT_RULES = [
  "Bash(git add:*)",
  "Bash(git commit:*)",
  "Bash(git status:*)",
  "Bash(git diff:*)",
  "Bash(git log:*)",
  "Bash(git rm:*)",
  "Bash(git mv:*)",
] as const;

/**
 * Environment for every Claude turn (the turn's own env may override it):
 * - `ENABLE_TOOL_SEARCH=false`: 2.1.329 defers MCP tools behind its ToolSearch tool, so the model
 *   sees only a placeholder until it searches for them. The eight team tools are the agent's
 *   only way to coordinate and cost a few hundred tokens: they are always loaded, so the first
 *   request already offers `mcp__team__*` (the conformance suite checks the request).
 * - `CLAUDE_CODE_MAX_RETRIES=2`: by default Claude retries a failing API call ten times with
 *   backoff, ~3 minutes for a refused key; two quick retries still ride out a transient 5xx/429,
 *   and the runner's own turn retries cover longer outages.
 * - No auto-update, telemetry or other nonessential traffic from a headless container.
 */
export const CLAUDE_ENV: Readonly<Record<string, string>> = Object.freeze({
  ENABLE_TOOL_SEARCH: "false",
  CLAUDE_CODE_MAX_RETRIES: "2",
  DISABLE_AUTOUPDATER: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
});

/** The process's uid, or undefined where there is none (Windows). Overridable for tests. */
export function currentUid(): number | undefined {
  return typeof process.getuid === "function" ? process.getuid() : undefined;
}

export function buildClaudeInvocation(
  input: TurnInput,
  executable: string,
  uid: number | undefined = currentUid(),
): Invocation {
  const warnings: string[] = [];
  let mode: string = input.agent.permissionMode;
  const allowed: string[] = [...CLAUDE_TEAM_TOOL_RULES];
  if (mode === "plan") {
    // Plan mode refuses every MCP tool, allowed or not ("Cannot call mcp__team__task_create while
    // in plan mode", 2.1.329), so a planning agent could not coordinate at all. `manual` with
    // only the team tools allowed keeps what plan mode means headless (read, think, no edits, no
    // commands) and lets the agent take part in the team.
    mode = "manual";
    warnings.push(
      `permissionMode plan blocks the team tools in Claude Code; agent ${input.agent.name} runs in manual mode with only the team tools allowed (it can read and coordinate, not edit or run commands).`,
    );
  } else if (input.coding) {
    allowed.push(...CLAUDE_GIT_RULES);
  }
  if (mode === "bypassPermissions" && uid === 0) {
    // Claude Code refuses `--dangerously-skip-permissions` as root ("cannot be used with
    // root/sudo privileges for security reasons"). Rather than crash every turn, run the nearest
    // mode that works as root, with every tool allowed explicitly, and say so.
    mode = "acceptEdits";
    allowed.push("Bash", "Edit", "Write", "NotebookEdit", "WebFetch", "WebSearch", "mcp__*");
    warnings.push(
      `permissionMode bypassPermissions cannot be used as root (Claude Code refuses it); agent ${input.agent.name} runs with acceptEdits and every tool allowed instead. Run the runner as a non-root user to use bypassPermissions.`,
    );
  }
  const args = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--model",
    input.agent.model,
    "--permission-mode",
    mode,
  ];
  args.push("--allowedTools", allowed.join(","));
  if (input.mcp) args.push("--mcp-config", input.mcp.path, "--strict-mcp-config");
  if (input.systemPromptAddition) args.push("--append-system-prompt", input.systemPromptAddition);
  if (input.remainingBudgetUsd !== undefined) {
    args.push("--max-budget-usd", formatUsd(Math.max(0, input.remainingBudgetUsd)));
  }
  const maxTurns = input.maxTurns ?? input.agent.maxTurns;
  if (maxTurns !== undefined) args.push("--max-turns", String(maxTurns));
  if (input.resumeSessionId) args.push("--resume", input.resumeSessionId);
  // `--mcp-config` and `--allowedTools` take several values: `--` ends the options so the prompt
  // is never read as one of them (or as a flag when it starts with "-").
  args.push("--", input.prompt);
  return {
    command: executable,
    args,
    env: { ...CLAUDE_ENV, ...(input.mcp?.env ?? {}), ...(input.env ?? {}) },
    cwd: input.cwd,
    ...(warnings.length > 0 ? { warnings } : {}),
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
  /** Cumulative over the whole session, earlier `--resume` processes included (seen on 2.1.329). */
  modelUsage?: Record<string, ClaudeModelUsage>;
  /** This turn only (2.1.329: present on every result, `{}` when no model call was made). */
  model_usage_since_last_result?: Record<string, ClaudeModelUsage>;
  permission_denials?: Array<{ tool_name?: string; tool_use_id?: string }>;
  /** HTTP status of the API error that ended the turn (401 for a refused key), else null. */
  api_error_status?: number | null;
  api_error_type?: string;
}

const TEAM_TOOL_PREFIX = "mcp__team__";

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
  /** Tools the `permission_denied` system lines named. */
  private readonly denied = new Set<string>();
  /** tool_use id → name of the team-tool calls the model made. */
  private readonly teamCalls = new Map<string, string>();
  /** Ids of team-tool calls whose result was an error (denied, or the tool missing). */
  private readonly failedTeamCalls = new Map<string, string>();

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
        if (msg.subtype === "permission_denied") {
          // {"type":"system","subtype":"permission_denied","tool_name":"mcp__team__task_create",
          //  "tool_use_id":"…","message":"Claude requested permissions to use …"} (2.1.329)
          if (typeof msg.tool_name === "string") this.denied.add(msg.tool_name);
          return { ...this.snapshot(), kind: "permission_denied", detail: String(msg.tool_name ?? "") };
        }
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
            const id = (block as { id?: string }).id;
            if (id && b.name?.startsWith(TEAM_TOOL_PREFIX)) this.teamCalls.set(id, b.name);
          }
        }
        return { ...this.snapshot(), kind, ...(detail ? { detail } : {}) };
      }
      case "user": {
        const content = (msg.message as { content?: unknown } | undefined)?.content;
        for (const block of Array.isArray(content) ? content : []) {
          const b = block as { type?: string; tool_use_id?: string; is_error?: boolean; content?: unknown };
          if (b.type !== "tool_result" || !b.tool_use_id || b.is_error !== true) continue;
          const name = this.teamCalls.get(b.tool_use_id);
          const text = typeof b.content === "string" ? b.content : JSON.stringify(b.content ?? "");
          // A denied call, or a team tool the CLI does not have (server not connected): the team
          // protocol's own refusals (a task already claimed) are answers, not failures.
          if (name && /haven't granted|permission|No such tool available|not connected/i.test(text)) {
            this.failedTeamCalls.set(b.tool_use_id, `${name}: ${text.slice(0, 300)}`);
          }
        }
        return { ...this.snapshot(), kind: "tool_result" };
      }
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
    // 2.1.329 reports this turn's usage in `model_usage_since_last_result`; `modelUsage` and
    // `total_cost_usd` add up every turn of the session since it started (checked against the
    // model-API stub: three resumed turns of $0.0075 each report 0.01125, 0.01875, 0.02625).
    const perTurn = r.model_usage_since_last_result;
    const usageScope: "turn" | "session" = perTurn ? "turn" : "session";
    const models = Object.entries(perTurn ?? r.modelUsage ?? {});
    let usage: TokenUsage;
    if (models.length > 0) {
      usage = models.reduce((acc, [, u]) => addUsage(acc, fromModelUsage(u)), ZERO_USAGE);
    } else if (perTurn) {
      usage = ZERO_USAGE;
    } else if (r.usage) {
      usage = fromClaudeUsage(r.usage);
    } else {
      usage = this.streamedUsage();
    }
    const model =
      this.model && models.some(([m]) => m === this.model)
        ? this.model
        : (models.sort((a, b) => (b[1].costUSD ?? 0) - (a[1].costUSD ?? 0))[0]?.[0] ?? this.model);
    const reported = perTurn
      ? models.every(([, u]) => typeof u.costUSD === "number")
      : typeof r.total_cost_usd === "number";
    const costUsd = perTurn
      ? models.reduce((sum, [m, u]) => sum + (u.costUSD ?? this.priceFn(m, fromModelUsage(u)).costUsd), 0)
      : reported
        ? (r.total_cost_usd as number)
        : models.length > 0
          ? models.reduce((sum, [m, u]) => sum + this.priceFn(m, fromModelUsage(u)).costUsd, 0)
          : this.priceFn(model, usage).costUsd;
    const deniedTools = [
      ...new Set([
        ...this.denied,
        ...(r.permission_denials ?? []).flatMap((d) => (d.tool_name ? [d.tool_name] : [])),
      ]),
    ];
    const deniedTeamTools = deniedTools.filter((t) => t.startsWith(TEAM_TOOL_PREFIX));
    const failedTeam = [...this.failedTeamCalls.values()];
    const teamToolCalls = [...this.teamCalls.keys()].filter((id) => !this.failedTeamCalls.has(id)).length;
    const authFailed =
      r.api_error_status === 401 || r.api_error_status === 403 || r.api_error_type === "authentication_error";
    let isError = r.is_error === true || (r.subtype !== undefined && r.subtype !== "success");
    let errorKind: TurnErrorKind | undefined = isError
      ? (ERROR_KINDS[r.subtype ?? ""] ?? "execution")
      : undefined;
    let resultText =
      typeof r.result === "string" && r.result
        ? r.result
        : r.errors && r.errors.length > 0
          ? r.errors.join("; ")
          : isError
            ? `claude ended the turn with ${r.subtype ?? "an error"}`
            : this.lastText;
    if (authFailed) {
      isError = true;
      errorKind = "auth";
      resultText = `The model API refused the key (HTTP ${r.api_error_status ?? 401}${r.api_error_type ? ` ${r.api_error_type}` : ""}): ${resultText}`;
    } else if (deniedTeamTools.length > 0 || failedTeam.length > 0) {
      // The agent could not coordinate: never a success, whatever the model said afterwards.
      isError = true;
      errorKind ??= "execution";
      resultText = `Team tools could not be used in this turn: ${
        deniedTeamTools.length > 0
          ? `denied by Claude Code's permissions: ${deniedTeamTools.join(", ")}`
          : failedTeam.join("; ")
      }. Last output: ${resultText.slice(0, 500)}`;
    }
    return {
      ...usage,
      sessionId: r.session_id ?? this.sessionId,
      isError,
      ...(errorKind ? { errorKind } : {}),
      resultText,
      costUsd,
      costSource: reported ? "reported" : "price-table",
      usageScope,
      model,
      teamToolCalls,
      ...(deniedTools.length > 0 ? { deniedTools } : {}),
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
