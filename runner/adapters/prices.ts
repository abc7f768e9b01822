import { costUsd } from "../../core/prices/index.ts";
import type { PriceFn, TokenUsage } from "./types.ts";

/** Prices nothing: for callers that want only the CLI's own figures. */
export const unpriced: PriceFn = () => ({ costUsd: 0 });

/**
 * Squadron's price table (core/prices), used by adapters and the scripted agent unless given
 * another. Unknown models are charged the highest known price, so budgets err on the safe side.
 */
export const defaultPriceFn: PriceFn = (model, usage) => costUsd(model, usage);

/** Prices usage that may span several models, summing the parts. */
export function priceUsage(priceFn: PriceFn, perModel: Array<[string, TokenUsage]>): number {
  let total = 0;
  for (const [model, usage] of perModel) total += priceFn(model, usage).costUsd;
  return total;
}
