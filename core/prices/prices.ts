/**
 * Per-million-token list prices, used to turn token counts into dollars for CLIs that report
 * no cost of their own (Claude Code reports `total_cost_usd`; Codex, Gemini CLI and Aider
 * report tokens). Standard (non-batch, non-priority) tier, USD.
 *
 * Sources, checked 2026-11-21:
 * - Anthropic: platform.claude.com/docs/en/about-claude/pricing ("Model pricing" table) and the
 *   per-model overview pages (Opus 5, Sonnet 5, Sonnet 5.5). Sonnet 5.5's cache-read cut to
 *   $0.10 (2026-10-07) as reported by two independent price trackers.
 * - OpenAI: developers.openai.com/api/docs/models/gpt-5-codex and the Codex rate card
 *   (help.openai.com/en/articles/20001106, 25 credits = $1) for the gpt-5.x family.
 * - Google: ai.google.dev/gemini-api/docs/pricing as summarised 2026-03 (prompts ≤ 200k tokens).
 *
 * Where each figure is used (docs/adapters.md, "Cost"): at the end of a turn the CLI's own
 * figure is the truth whenever the CLI reports one (Claude Code's per-turn `costUSD`); this table
 * prices only the gap: usage streaming in mid-turn (budgets act before the turn ends), a turn cut
 * off before its result, and CLIs that report tokens only (Codex, Gemini CLI, Aider).
 *
 * Checked against the pinned Claude Code: test/prices/claude-agreement.test.ts compares every
 * Anthropic row with what Claude Code 2.1.329 charged the model-API stub
 * (scripts/record-claude-prices.ts); all agree. Claude Code 2.1.329 calls claude-opus-5-5 when
 * asked for claude-opus-4-1, so that row is Anthropic's price for the id, not what claude bills.
 *
 * Simplifications, each erring on the expensive side or documented:
 * - Anthropic cache writes have a 5-minute and a 1-hour price; `cacheWrite1h` is used when the
 *   adapter reports 1-hour writes separately, otherwise the 5-minute price.
 * - OpenAI and Gemini do not charge for writing their caches: `cacheWrite` equals `input`.
 * - Long-prompt tiers (Gemini 2.5 Pro over 200k tokens, Claude Haiku 5.5 over 100k) are not
 *   visible in summed usage; Haiku 5.5 is priced at its higher band, Gemini at its lower one.
 */

export interface ModelPrice {
  /** USD per million uncached input tokens. */
  input: number;
  output: number;
  /** Cache write (Anthropic's 5-minute cache). */
  cacheWrite: number;
  /** Anthropic's 1-hour cache write; defaults to `cacheWrite`. */
  cacheWrite1h?: number;
  cacheRead: number;
}

const opus41: ModelPrice = { input: 15, output: 75, cacheWrite: 18.75, cacheWrite1h: 30, cacheRead: 1.5 };
const opus45: ModelPrice = { input: 5, output: 25, cacheWrite: 6.25, cacheWrite1h: 10, cacheRead: 0.5 };
const opus55: ModelPrice = { input: 4, output: 20, cacheWrite: 5, cacheWrite1h: 8, cacheRead: 0.2 };
const sonnet4: ModelPrice = { input: 3, output: 15, cacheWrite: 3.75, cacheWrite1h: 6, cacheRead: 0.3 };
const sonnet5: ModelPrice = { input: 2, output: 10, cacheWrite: 2.5, cacheWrite1h: 4, cacheRead: 0.2 };
const sonnet55: ModelPrice = { input: 2, output: 10, cacheWrite: 2.5, cacheWrite1h: 4, cacheRead: 0.1 };
const haiku45: ModelPrice = { input: 1, output: 5, cacheWrite: 1.25, cacheWrite1h: 2, cacheRead: 0.1 };
const haiku55Long: ModelPrice = {
  input: 0.5,
  output: 2.5,
  cacheWrite: 0.625,
  cacheWrite1h: 1,
  cacheRead: 0.05,
};

function openai(input: number, cachedInput: number, output: number): ModelPrice {
  return { input, output, cacheWrite: input, cacheRead: cachedInput };
}
const gpt5 = openai(1.25, 0.125, 10);
const gpt52 = openai(1.75, 0.175, 14);
const gpt5Mini = openai(0.25, 0.025, 2);

function gemini(input: number, cachedInput: number, output: number): ModelPrice {
  return { input, output, cacheWrite: input, cacheRead: cachedInput };
}

/** Canonical model ids (no date suffix, lower case) to prices. */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  // Anthropic
  "claude-opus-4": opus41,
  "claude-opus-4-1": opus41,
  "claude-opus-4-5": opus45,
  "claude-opus-4-6": opus45,
  "claude-opus-4-7": opus45,
  "claude-opus-4-8": opus45,
  "claude-opus-5": opus45,
  "claude-opus-5-5": opus55,
  "claude-sonnet-4": sonnet4,
  "claude-sonnet-4-5": sonnet4,
  "claude-sonnet-4-6": sonnet4,
  "claude-sonnet-5": sonnet5,
  "claude-sonnet-5-5": sonnet55,
  "claude-haiku-4-5": haiku45,
  "claude-haiku-5-5": haiku55Long,
  // OpenAI (Codex CLI)
  "gpt-5": gpt5,
  "gpt-5-codex": gpt5,
  "gpt-5-mini": gpt5Mini,
  "gpt-5.1": gpt5,
  "gpt-5.1-codex": gpt5,
  "gpt-5.1-codex-max": gpt5,
  "gpt-5.1-codex-mini": gpt5Mini,
  "gpt-5.2": gpt52,
  "gpt-5.2-codex": gpt52,
  "gpt-5.3-codex": gpt52,
  "gpt-5.4": openai(2.5, 0.25, 15),
  "gpt-5.4-mini": openai(0.75, 0.075, 4.5),
  "gpt-5.5": openai(5, 0.5, 30),
  // Google (Gemini CLI)
  "gemini-2.5-pro": gemini(1.25, 0.125, 10),
  "gemini-2.5-flash": gemini(0.3, 0.03, 2.5),
  "gemini-2.5-flash-lite": gemini(0.1, 0.01, 0.4),
  "gemini-3-pro-preview": gemini(2, 0.2, 12),
};

/**
 * Short names. A CLI resolves an alias to whichever model it currently prefers, so an alias is
 * priced as the most expensive current model of its family: budgets then stop early, never late.
 */
export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  opus: "claude-opus-5",
  sonnet: "claude-sonnet-4-6",
  haiku: "claude-haiku-4-5",
  "claude-opus-4-0": "claude-opus-4",
  "claude-sonnet-4-0": "claude-sonnet-4",
  codex: "gpt-5.5",
  gemini: "gemini-2.5-pro",
};

/** The highest price of each kind across the table: what an unknown model is charged. */
export const HIGHEST_PRICE: Readonly<ModelPrice> = (() => {
  const all = Object.values(MODEL_PRICES);
  return {
    input: Math.max(...all.map((p) => p.input)),
    output: Math.max(...all.map((p) => p.output)),
    cacheWrite: Math.max(...all.map((p) => p.cacheWrite)),
    cacheWrite1h: Math.max(...all.map((p) => p.cacheWrite1h ?? p.cacheWrite)),
    cacheRead: Math.max(...all.map((p) => p.cacheRead)),
  };
})();

/**
 * Reduces the spellings CLIs and clouds use to a canonical id: provider prefixes
 * ("anthropic/", "openai/", "models/", Bedrock's "us.anthropic."), date suffixes
 * ("-20251001", "-2025-08-07"), Vertex "@date", Bedrock "-v1:0" and context tags ("[1m]").
 */
export function canonicalModel(model: string): string {
  let id = model.trim().toLowerCase();
  id = id.replace(/\[[^\]]*\]$/, "");
  id = id.replace(/^(?:[a-z]{2,4}\.)?anthropic\./, "");
  id = id.replace(/^(?:anthropic|openai|google|gemini|models)\//, "");
  id = id.replace(/-v\d+(?::\d+)?$/, "");
  id = id.replace(/@.*$/, "");
  id = id.replace(/-\d{8}$/, "");
  id = id.replace(/-\d{4}-\d{2}-\d{2}$/, "");
  return MODEL_ALIASES[id] ?? id;
}

export type PriceKnowledge = "known" | "unknown-model";

export interface PriceLookup {
  /** Canonical id the price was found under (or the canonical spelling of an unknown one). */
  model: string;
  price: ModelPrice;
  priced: PriceKnowledge;
}

export function priceOf(model: string): PriceLookup {
  const id = canonicalModel(model);
  const price = MODEL_PRICES[id];
  if (price) return { model: id, price, priced: "known" };
  return { model: id, price: HIGHEST_PRICE, priced: "unknown-model" };
}

export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  /** Cache writes at the default (5-minute) price. */
  cacheWriteTokens?: number;
  /** Cache writes the adapter knows were 1-hour writes (not included in cacheWriteTokens). */
  cacheWrite1hTokens?: number;
}

export interface CostResult {
  costUsd: number;
  priced: PriceKnowledge;
  model: string;
}

function count(name: string, value: number | undefined): number {
  const n = value ?? 0;
  if (!Number.isFinite(n) || n < 0) {
    throw new RangeError(`Token count ${name} must be a non-negative finite number, got ${value}.`);
  }
  return n;
}

/**
 * Dollars for a token usage. Unknown models are charged the highest known price of each kind
 * and flagged `unknown-model`, so a typo or a brand-new model cannot slip past a budget.
 */
export function costUsd(model: string, tokens: TokenUsage): CostResult {
  const { model: id, price, priced } = priceOf(model);
  const micro =
    count("inputTokens", tokens.inputTokens) * price.input +
    count("outputTokens", tokens.outputTokens) * price.output +
    count("cacheReadTokens", tokens.cacheReadTokens) * price.cacheRead +
    count("cacheWriteTokens", tokens.cacheWriteTokens) * price.cacheWrite +
    count("cacheWrite1hTokens", tokens.cacheWrite1hTokens) * (price.cacheWrite1h ?? price.cacheWrite);
  // Round to a millionth of a cent: float noise would otherwise show up in summed budgets.
  return { costUsd: Math.round(micro * 100) / 1e8, priced, model: id };
}
