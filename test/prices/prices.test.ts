import { describe, expect, it } from "vitest";
import { canonicalModel, costUsd, HIGHEST_PRICE, MODEL_PRICES, priceOf } from "../../core/prices/index.ts";

describe("model ids", () => {
  it("reduce provider spellings to a canonical id", () => {
    expect(canonicalModel("claude-opus-4-1-20250805")).toBe("claude-opus-4-1");
    expect(canonicalModel("us.anthropic.claude-sonnet-4-5-20250929-v1:0")).toBe("claude-sonnet-4-5");
    expect(canonicalModel("claude-opus-4-1@20250805")).toBe("claude-opus-4-1");
    expect(canonicalModel("claude-sonnet-4-6[1m]")).toBe("claude-sonnet-4-6");
    expect(canonicalModel("claude-opus-4-20250514")).toBe("claude-opus-4");
    expect(canonicalModel("openai/gpt-5-2025-08-07")).toBe("gpt-5");
    expect(canonicalModel("models/gemini-2.5-pro")).toBe("gemini-2.5-pro");
    expect(canonicalModel("Opus")).toBe("claude-opus-5");
  });

  it("know every model family the brief names", () => {
    for (const id of [
      "claude-opus-4-1",
      "claude-opus-4-5",
      "claude-opus-5",
      "claude-sonnet-4-5",
      "claude-sonnet-5",
      "claude-haiku-4-5",
      "gpt-5",
      "gpt-5-codex",
      "gemini-2.5-pro",
      "gemini-2.5-flash",
    ]) {
      expect(priceOf(id).priced, id).toBe("known");
    }
    for (const alias of ["opus", "sonnet", "haiku"]) expect(priceOf(alias).priced).toBe("known");
  });
});

describe("costUsd", () => {
  it("multiplies each kind of token by its price per million", () => {
    // Opus 4.1: 15 in, 75 out, 18.75 cache write, 1.50 cache read.
    const result = costUsd("claude-opus-4-1-20250805", {
      inputTokens: 1_000_000,
      outputTokens: 100_000,
      cacheWriteTokens: 200_000,
      cacheReadTokens: 2_000_000,
    });
    expect(result).toEqual({ costUsd: 15 + 7.5 + 3.75 + 3, priced: "known", model: "claude-opus-4-1" });
  });

  it("prices 1-hour cache writes separately", () => {
    expect(costUsd("claude-sonnet-4-5", { cacheWrite1hTokens: 1_000_000 }).costUsd).toBe(6);
    expect(costUsd("gpt-5-codex", { cacheWrite1hTokens: 1_000_000 }).costUsd).toBe(1.25);
  });

  it("prices Codex and Gemini tokens", () => {
    expect(
      costUsd("gpt-5", { inputTokens: 10_000, cacheReadTokens: 80_000, outputTokens: 2_000 }).costUsd,
    ).toBe(0.0425);
    expect(costUsd("gemini-2.5-flash", { inputTokens: 1_000_000, outputTokens: 1_000_000 }).costUsd).toBe(
      2.8,
    );
  });

  it("rounds away float noise", () => {
    expect(costUsd("claude-haiku-4-5", { inputTokens: 3, outputTokens: 7 }).costUsd).toBe(0.000038);
  });

  it("charges unknown models the highest known price and flags them", () => {
    const result = costUsd("claude-fable-9", { inputTokens: 1_000_000, outputTokens: 1_000_000 });
    expect(result.priced).toBe("unknown-model");
    expect(result.model).toBe("claude-fable-9");
    const maxInput = Math.max(...Object.values(MODEL_PRICES).map((p) => p.input));
    const maxOutput = Math.max(...Object.values(MODEL_PRICES).map((p) => p.output));
    expect(HIGHEST_PRICE.input).toBe(maxInput);
    expect(result.costUsd).toBe(maxInput + maxOutput);
    expect(result.costUsd).toBe(90);
  });

  it("rejects negative or non-numeric counts", () => {
    expect(() => costUsd("sonnet", { inputTokens: -1 })).toThrow(
      "Token count inputTokens must be a non-negative finite number, got -1.",
    );
    expect(() => costUsd("sonnet", { outputTokens: Number.NaN })).toThrow(RangeError);
  });
});
