import { describe, expect, it } from "vitest";
import type { UsageDelta } from "../../../core/status/types.ts";
import type { LogLevel } from "../../../runner/reporting/logger.ts";
import { createLogger } from "../../../runner/reporting/logger.ts";
import type { AgentStateSink } from "../../../runner/reporting/store-sink.ts";
import { UsageReporter } from "../../../runner/reporting/usage-reporter.ts";

const usage = (inputTokens: number, costUsd: number) => ({
  inputTokens,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd,
});

function flakySink(failures: number) {
  const accepted: UsageDelta[] = [];
  let left = failures;
  const sink: AgentStateSink = {
    addUsage: async (delta) => {
      if (left-- > 0) throw new Error("ProvisionedThroughputExceededException");
      accepted.push(delta);
      const total = accepted.reduce((a, d) => a + d.costUsd, 0);
      return { agentCostUsd: total, totalCostUsd: total + 1 };
    },
    heartbeat: async () => {},
    setPhase: async () => {},
    runCostUsd: async () => undefined,
  };
  return { sink, accepted };
}

describe("usage reporter", () => {
  it("keeps what a failed send carried for the next one: nothing lost, nothing counted twice", async () => {
    const { sink, accepted } = flakySink(2);
    const logs: { level: LogLevel; message: string }[] = [];
    const log = createLogger({ write: (line) => logs.push(JSON.parse(line)) });
    const reporter = new UsageReporter(sink, { log });
    reporter.beginTurn();
    reporter.progress(usage(100, 0.01));
    expect(await reporter.flush()).toBe(false);
    reporter.progress(usage(250, 0.025)); // cumulative for the turn
    expect(await reporter.flush()).toBe(false);
    expect(await reporter.flush()).toBe(true);
    reporter.beginTurn();
    reporter.progress(usage(40, 0.004));
    expect(await reporter.close()).toBe(true);
    expect(accepted.map((d) => d.inputTokens)).toEqual([250, 40]);
    expect(accepted.reduce((a, d) => a + d.costUsd, 0)).toBeCloseTo(0.029, 9);
    expect(reporter.total).toMatchObject({ inputTokens: 290 });
    expect(reporter.runCostUsd).toBeCloseTo(1.029, 9);
    expect(logs.filter((l) => l.level === "WARN")).toHaveLength(2);
  });

  it("never lowers the measurement when a final result prices below the streamed estimate", async () => {
    const { sink, accepted } = flakySink(0);
    const reporter = new UsageReporter(sink);
    reporter.beginTurn();
    reporter.progress(usage(100, 0.05));
    await reporter.flush();
    reporter.progress(usage(120, 0.04));
    await reporter.close();
    expect(accepted).toEqual([usage(100, 0.05), usage(20, 0)]);
  });

  it("gives up after its final attempts without throwing", async () => {
    const { sink } = flakySink(100);
    const reporter = new UsageReporter(sink, { finalAttempts: 2 });
    reporter.beginTurn();
    reporter.progress(usage(1, 0.001));
    await expect(reporter.close()).resolves.toBe(false);
  });
});
