/**
 * Exactly-once usage charging (docs/state.md, "Measured usage"): an agent's charged totals in the
 * run item are the reference, and every charge moves them from the totals the writer last knew
 * (`before`) to new ones (`after`) under a condition, so a retried request is never applied twice.
 */
import type { UsageDelta } from "../status/types.ts";
import { USAGE_FIELDS } from "./items.ts";

/** One charge of an agent: its charged totals as the writer knows them, and what they become. */
export interface UsageCharge {
  before: UsageDelta;
  after: UsageDelta;
  /**
   * Names this charge; kept on the item with the totals it set, so a request the store applied
   * but whose answer was lost is recognised when sent again (default: a random id per call).
   */
  id?: string;
}

export interface ChargeResult {
  /**
   * True when the agent's totals are `after`: applied now, or by an earlier send of this charge.
   * False when `before` was stale (another runner of the agent charged meanwhile): nothing was
   * written, and `agent` holds the stored totals to charge from.
   */
  charged: boolean;
  /** The agent's charged totals in the store after the call. */
  agent: UsageDelta;
  /** The run's totals (every agent) after the call. */
  total: UsageDelta;
}

/**
 * Cost is kept on a grid of 1e-10 USD. Charged totals are compared for equality, so they must be
 * numbers whose decimal text survives the trip through DynamoDB and back exactly; sums of floats
 * such as 0.1 + 0.2 do not (0.30000000000000004), and their noise would also make the run's
 * total drift from the sum of its agents'. Token counts are integers already.
 */
const COST_GRID = 1e10;

export const onCostGrid = (usd: number): number => Math.round(usd * COST_GRID) / COST_GRID;

export const zeroUsage = (): UsageDelta => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

/** `usage` as it is charged: cost on the grid, absent fields zero. */
export function chargedForm(usage: Partial<UsageDelta>): UsageDelta {
  const out = zeroUsage();
  for (const field of USAGE_FIELDS) {
    const value = usage[field] ?? 0;
    out[field] = field === "costUsd" ? onCostGrid(value) : value;
  }
  return out;
}

/** `a + b`, field by field, in charged form. */
export function sumUsage(a: Partial<UsageDelta>, b: Partial<UsageDelta>): UsageDelta {
  const out = zeroUsage();
  for (const field of USAGE_FIELDS) out[field] = (a[field] ?? 0) + (b[field] ?? 0);
  return chargedForm(out);
}

/** `after - before`, field by field, in charged form. */
export function usageBetween(before: UsageDelta, after: UsageDelta): UsageDelta {
  const out = zeroUsage();
  for (const field of USAGE_FIELDS) out[field] = after[field] - before[field];
  return chargedForm(out);
}

export function sameUsage(a: UsageDelta, b: UsageDelta): boolean {
  return USAGE_FIELDS.every((field) => a[field] === b[field]);
}
