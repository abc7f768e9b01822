import { stripVTControlCharacters } from "node:util";
import { type CliAdapterOptions, cliAdapter } from "./cli-adapter.ts";
import { withSystemPrompt } from "./codex.ts";
import type {
  AgentAdapter,
  Invocation,
  OutputParser,
  PriceFn,
  ProgressEvent,
  TokenUsage,
  TurnInput,
  TurnResult,
} from "./types.ts";
import { addUsage, ZERO_USAGE } from "./types.ts";

export type AiderAdapterOptions = CliAdapterOptions;

/**
 * Aider: `aider --message <prompt> --yes-always` does one request and exits. It prints, per
 * request, "Tokens: 1.2k sent, 300 received. Cost: $0.01 message, $0.05 session." (with
 * "cache write"/"cache hit" parts when the provider caches); that line is all the usage there
 * is. Aider has no MCP client and no session ids: the "session" is its chat history file, which
 * `--restore-chat-history` reloads on resume. Aider commits its own edits (auto-commits), which
 * is what coding mode wants on a teammate's branch.
 */
export function aiderAdapter(options: AiderAdapterOptions = {}): AgentAdapter {
  return cliAdapter("aider", options, {
    build: buildAiderInvocation,
    parse: (input, priceFn) => new AiderOutputParser(input, priceFn),
  });
}

export function aiderHistoryFile(input: TurnInput): string {
  return input.resumeSessionId ?? `.aider.squadron.${input.agent.name}.chat.history.md`;
}

export function buildAiderInvocation(input: TurnInput, executable: string): Invocation {
  const args = [
    "--message",
    withSystemPrompt(input),
    "--yes-always",
    "--model",
    input.agent.model,
    "--no-pretty",
    "--no-stream",
    "--no-check-update",
    "--chat-history-file",
    aiderHistoryFile(input),
  ];
  if (input.resumeSessionId) args.push("--restore-chat-history");
  return { command: executable, args, env: { ...(input.env ?? {}) }, cwd: input.cwd };
}

const TOKENS_LINE = /^Tokens:\s*(.+?)\.\s*(?:Cost:\s*\$([\d.,]+)\s*message,\s*\$([\d.,]+)\s*session\.?)?\s*$/;

function parseCount(text: string): number {
  const m = /^([\d.,]+)\s*([kKmM]?)$/.exec(text.trim());
  if (!m?.[1]) return 0;
  const n = Number.parseFloat(m[1].replace(/,/g, ""));
  const scale = m[2]?.toLowerCase() === "k" ? 1e3 : m[2]?.toLowerCase() === "m" ? 1e6 : 1;
  return Math.round(n * scale);
}

/** Parses "1.2k sent, 1.1k cache write, 5.0k cache hit, 300 received". */
export function parseAiderTokens(parts: string): TokenUsage {
  const usage = { ...ZERO_USAGE };
  for (const part of parts.split(",")) {
    const m = /^\s*([\d.,]+\s*[kKmM]?)\s+(sent|received|cache write|cache hit)\s*$/.exec(part);
    if (!m?.[1]) continue;
    const n = parseCount(m[1]);
    if (m[2] === "sent") usage.inputTokens += n;
    else if (m[2] === "received") usage.outputTokens += n;
    else if (m[2] === "cache write") usage.cacheWriteTokens += n;
    else usage.cacheReadTokens += n;
  }
  return usage;
}

export class AiderOutputParser implements OutputParser {
  private usage: TokenUsage = ZERO_USAGE;
  private reportedCost = 0;
  private unreportedUsage: TokenUsage = ZERO_USAGE;
  private sawCost = false;
  private readonly output: string[] = [];
  private readonly model: string;
  private readonly sessionId: string;

  constructor(
    input: TurnInput,
    private readonly priceFn: PriceFn,
  ) {
    this.model = input.agent.model;
    this.sessionId = aiderHistoryFile(input);
  }

  push(line: string): ProgressEvent | undefined {
    // Without --no-pretty aider colours its output; strip ANSI escapes to be safe.
    const clean = stripVTControlCharacters(line);
    const m = TOKENS_LINE.exec(clean.trim());
    if (!m?.[1]) {
      this.output.push(clean);
      return undefined;
    }
    const u = parseAiderTokens(m[1]);
    this.usage = addUsage(this.usage, u);
    if (m[2] !== undefined) {
      this.sawCost = true;
      this.reportedCost += Number.parseFloat(m[2].replace(/,/g, ""));
    } else {
      this.unreportedUsage = addUsage(this.unreportedUsage, u);
    }
    return { ...this.snapshot(), kind: "assistant" };
  }

  private cost(): number {
    return this.reportedCost + this.priceFn(this.model, this.unreportedUsage).costUsd;
  }

  snapshot(): ProgressEvent {
    return {
      ...this.usage,
      sessionId: this.sessionId,
      model: this.model,
      costUsd: this.cost(),
      kind: "snapshot",
    };
  }

  finish(exit: { code: number | null; signal: NodeJS.Signals | null; stderrTail: string }): TurnResult {
    const isError = exit.code !== 0;
    const text = this.output.join("\n").trim().slice(-2000);
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const stderr = exit.stderrTail.trim().slice(-1000);
    const unpricedOnly =
      this.sawCost && this.unreportedUsage.inputTokens + this.unreportedUsage.outputTokens === 0;
    return {
      ...this.usage,
      sessionId: this.sessionId,
      isError,
      ...(isError ? { errorKind: "crashed" as const } : {}),
      resultText: isError ? `aider ${how}.${stderr ? ` stderr: ${stderr}` : ""}` : text,
      costUsd: this.cost(),
      costSource: unpricedOnly ? "reported" : "price-table",
      model: this.model,
    };
  }
}
