import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { costUsd, MODEL_PRICES } from "../../core/prices/index.ts";

/**
 * core/prices against what the pinned Claude Code charges, recorded by
 * scripts/record-claude-prices.ts (one real `claude -p` per model against the model-API stub, a
 * reply of 1M tokens of each kind). test/infra/cli-versions.test.ts keeps the recorded version
 * the installed one.
 */
const recorded = JSON.parse(
  readFileSync(new URL("../fixtures/cli/claude-prices.json", import.meta.url), "utf8"),
) as {
  claudeCode: string;
  usagePerKind: number;
  models: Record<string, { chargedModel: string; costUsd: number }>;
};
const installed = (
  JSON.parse(
    readFileSync(
      new URL("../../node_modules/@anthropic-ai/claude-code/package.json", import.meta.url),
      "utf8",
    ),
  ) as { version: string }
).version;

describe("the price table agrees with Claude Code's own charges", () => {
  it("was recorded with the installed Claude Code", () => {
    expect(recorded.claudeCode).toBe(installed);
  });

  const anthropicModels = Object.keys(MODEL_PRICES).filter((m) => m.startsWith("claude-"));
  it("covers every Anthropic model of the table", () => {
    expect(Object.keys(recorded.models).sort()).toEqual([...anthropicModels].sort());
  });

  it.each(anthropicModels)("%s is priced as claude charges the model it calls", (model) => {
    const r = recorded.models[model];
    if (!r) throw new Error(`no recording for ${model}`);
    const n = recorded.usagePerKind;
    // Claude Code 2.1.329 calls claude-opus-5-5 when asked for the retired claude-opus-4-1 (its
    // result's modelUsage names the model it called); the adapter prices by that name.
    expect(
      costUsd(r.chargedModel, { inputTokens: n, outputTokens: n, cacheReadTokens: n, cacheWriteTokens: n })
        .costUsd,
    ).toBeCloseTo(r.costUsd, 6);
  });
});
