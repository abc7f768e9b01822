import type { AgentCli, AgentSpec } from "../../core/manifest/types.ts";

/** Why a turn ended in error, normalised across CLIs. */
export type TurnErrorKind =
  | "max_turns"
  | "max_budget"
  | "execution"
  | "crashed"
  | "stopped"
  | "spawn_failed"
  /** The model API refused the credentials (HTTP 401/403): retrying cannot help, the agent fails at once. */
  | "auth";

/** Token counts of a turn (or of the turn so far). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** What one headless turn of an agent CLI produced, the same shape for every CLI. */
export interface TurnResult extends TokenUsage {
  /** Pass to the next turn as `resumeSessionId`; empty when the CLI never reported one. */
  sessionId: string;
  isError: boolean;
  errorKind?: TurnErrorKind;
  /** The final answer, or for an error a sentence saying what went wrong. */
  resultText: string;
  costUsd: number;
  /** "reported": the CLI said what it cost; "price-table": tokens × Squadron's price table. */
  costSource: "reported" | "price-table";
  /**
   * What the token and cost figures cover. "turn" (the default when absent): this turn only.
   * "session": cumulative over the whole CLI session, earlier turns and earlier processes
   * included (Claude's `total_cost_usd`/`modelUsage` on `--resume`, Codex's `turn.completed`);
   * the session loop subtracts the previous cumulative figures it keeps per session id.
   */
  usageScope?: "turn" | "session";
  /** Calls to the team MCP server's tools that ran (were not denied), when the CLI tells. */
  teamToolCalls?: number;
  /** Tools whose use the CLI's permission layer denied in this turn (e.g. mcp__team__task_create). */
  deniedTools?: string[];
  /** The invocation's fallbacks (`Invocation.warnings`), for the runner to record as Warning events. */
  warnings?: string[];
  model: string;
  /** Present when the turn was stopped by `runTurn`'s abort signal. */
  stopped?: boolean;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
}

/** Emitted while a turn streams: usage so far (cumulative for the turn), for budgets and heartbeats. */
export interface ProgressEvent extends TokenUsage {
  sessionId: string;
  model: string;
  /** Best estimate of the turn's cost so far. */
  costUsd: number;
  /** What just happened, for logs: "init", "assistant", "tool_use", "tool_result", "result", "tick". */
  kind: string;
  detail?: string;
}

/** Prices tokens of a model; core/prices' `costUsd` has this shape. */
export type PriceFn = (model: string, usage: TokenUsage) => { costUsd: number };

/** One remote or stdio server in the MCP config file the runner writes (Claude Code's shape). */
export type McpServerEntry =
  | { type: "stdio"; command: string; args: string[]; env?: Record<string, string> }
  | { type: "http" | "sse"; url: string; headers?: Record<string, string> };

export interface McpConfigFile {
  mcpServers: Record<string, McpServerEntry>;
}

/** The MCP config of a turn: where the runner wrote it, what is in it, and env its placeholders need. */
export interface TurnMcp {
  path: string;
  config: McpConfigFile;
  /** Variables referenced as `${VAR}` in the config (secret header values); added to the CLI's env. */
  env: Record<string, string>;
}

/** Everything an adapter needs to build one turn's command line. */
export interface TurnInput {
  agent: Pick<AgentSpec, "name" | "model" | "permissionMode" | "prompt"> &
    Partial<Pick<AgentSpec, "maxTurns">>;
  /** This turn's prompt (the first turn: the agent's task; later: "you have new messages"). */
  prompt: string;
  resumeSessionId?: string;
  cwd: string;
  mcp?: TurnMcp;
  /** Role, team and scope, appended to the CLI's system prompt (or prepended to the prompt). */
  systemPromptAddition?: string;
  /** Remaining budget of the run in USD; absent means no budget. */
  remainingBudgetUsd?: number;
  maxTurns?: number;
  /** Extra environment for the CLI (API keys, SQUADRON_* for the scripted agent). */
  env?: Record<string, string>;
  /** Coding mode: the agent works in a git checkout and must be able to commit. */
  coding?: boolean;
}

export interface Invocation {
  command: string;
  args: string[];
  /** Added to the runner's own environment. */
  env: Record<string, string>;
  cwd: string;
  /** Files `runTurn` writes (mode 0600) before spawning and deletes after, e.g. a CLI's settings. */
  files?: Array<{ path: string; content: string }>;
  /** Deviations from the spec the adapter had to make (a fallback): the runner records each as a Warning. */
  warnings?: string[];
  /** Directories `runTurn` makes sure exist (created 0700) before spawning, and keeps. */
  dirs?: string[];
}

/** How the CLI process ended, with the start and the end of its stderr. */
export interface TurnExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last 4000 characters of stderr. */
  stderrTail: string;
  /** The first 4000 characters of stderr (may overlap the tail). */
  stderrHead?: string;
}

/** Parses one turn's stdout, line by line, into progress events and a final result. */
export interface OutputParser {
  /** Feed one line of stdout (without its newline); returns progress to report, if any. */
  push(line: string): ProgressEvent | undefined;
  /** Usage seen so far. */
  snapshot(): ProgressEvent;
  /**
   * The turn's result once stdout has ended. `exit` tells how the process ended; a parser that
   * saw no final result reports a crash with the usage seen so far.
   */
  finish(exit: TurnExit): TurnResult;
}

export interface AgentAdapter {
  readonly cli: AgentCli;
  buildInvocation(input: TurnInput): Invocation;
  createParser(input: TurnInput): OutputParser;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  };
}
