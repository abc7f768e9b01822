import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import type { UsageDelta } from "../../../core/status/types.ts";
import { createTable, TeamStore } from "../../../core/store/index.ts";
import { chargedForm, sameUsage, sumUsage, usageBetween } from "../../../core/store/usage-charge.ts";
import type { LogLevel } from "../../../runner/reporting/logger.ts";
import { createLogger } from "../../../runner/reporting/logger.ts";
import type { AgentStateSink } from "../../../runner/reporting/store-sink.ts";
import { TeamStoreSink } from "../../../runner/reporting/store-sink.ts";
import { UsageReporter } from "../../../runner/reporting/usage-reporter.ts";
import { sampleTeam } from "../../status/sample-team.ts";
import { localDynamoDbClient } from "../../support/dynamodb-local.ts";

const usage = (inputTokens: number, costUsd: number) => ({
  inputTokens,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd,
});

/**
 * A store stand-in with the store's charging rules (TeamStore.chargeUsage): a charge applies
 * only from the agent's current totals. `failures` sends fail before reaching it; `lostAnswers`
 * sends are applied and then fail, as a request whose answer was lost.
 */
function flakySink(failures: number, options: { lostAnswers?: number; stored?: UsageDelta } = {}) {
  const accepted: UsageDelta[] = [];
  let agent = chargedForm(options.stored ?? {});
  let left = failures;
  let lose = options.lostAnswers ?? 0;
  const answer = (charged: boolean) => ({ charged, agent, totalCostUsd: agent.costUsd + 1 });
  const sink: AgentStateSink = {
    chargeUsage: async ({ before, after }) => {
      if (left-- > 0) throw new Error("ProvisionedThroughputExceededException");
      if (!sameUsage(chargedForm(before), agent)) return answer(false);
      accepted.push(usageBetween(before, after));
      agent = chargedForm(after);
      if (lose-- > 0) throw new Error("socket hang up");
      return answer(true);
    },
    chargedUsage: async () => answer(true),
    heartbeat: async () => {},
    setPhase: async () => {},
    runCostUsd: async () => undefined,
  };
  return {
    sink,
    accepted,
    /** Another runner of the agent charges `delta`. */
    chargeElsewhere: (delta: Partial<UsageDelta>) => {
      agent = sumUsage(agent, delta);
    },
    get stored() {
      return agent;
    },
  };
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

  it("does not charge again what a lost answer had charged", async () => {
    const ledger = flakySink(0, { lostAnswers: 1 });
    const reporter = new UsageReporter(ledger.sink);
    reporter.beginTurn();
    reporter.progress(usage(100, 0.01));
    expect(await reporter.flush()).toBe(false); // applied, but the runner never heard
    reporter.progress(usage(150, 0.015));
    expect(await reporter.flush()).toBe(true);
    expect(await reporter.flush()).toBe(true);
    expect(ledger.stored).toEqual(usage(150, 0.015));
    expect(ledger.accepted.map((d) => d.inputTokens)).toEqual([100, 50]);
  });

  it("re-syncs when another runner of the agent charged meanwhile, and charges only the difference", async () => {
    const ledger = flakySink(0);
    const reporter = new UsageReporter(ledger.sink);
    reporter.beginTurn();
    reporter.progress(usage(100, 0.01));
    await reporter.flush();
    ledger.chargeElsewhere(usage(300, 0.03)); // a zombie runner measured more of the same session
    reporter.progress(usage(250, 0.025));
    expect(await reporter.flush()).toBe(true);
    expect(ledger.stored).toEqual(usage(400, 0.04)); // not 400 + 150
    reporter.progress(usage(500, 0.05));
    await reporter.close();
    expect(ledger.stored).toEqual(usage(500, 0.05));
  });

  describe("a relaunched runner", () => {
    it("charges what its predecessor measured but was killed before charging", async () => {
      const ledger = flakySink(0, { stored: usage(100, 0.01) });
      const reporter = new UsageReporter(ledger.sink, { measuredBefore: usage(300, 0.03) });
      reporter.beginTurn();
      reporter.progress(usage(50, 0.005));
      await reporter.close();
      expect(ledger.stored).toEqual(usage(350, 0.035));
      expect(reporter.total).toEqual(usage(50, 0.005)); // this runner's own
    });

    it("keeps what its predecessor charged of a killed turn, and charges its own turns in full", async () => {
      // The killed turn's streamed usage (200) was charged, never recorded as a turn, and a CLI that
      // reports per turn never reports it again.
      const ledger = flakySink(0, { stored: usage(300, 0.03) });
      const reporter = new UsageReporter(ledger.sink, { measuredBefore: usage(100, 0.01) });
      reporter.beginTurn();
      reporter.progress(usage(50, 0.005));
      await reporter.close();
      expect(ledger.stored).toEqual(usage(350, 0.035));
    });

    it("lets a resumed session's totals cover what was charged beyond the recorded measurement", async () => {
      // The predecessor charged a turn (200) after recording 100; the CLI's next session totals
      // include that turn again, so the delta the session loop computes measures it once more.
      const ledger = flakySink(0, { stored: usage(300, 0.03) });
      const reporter = new UsageReporter(ledger.sink, {
        measuredBefore: usage(100, 0.01),
        resumesSessionTotals: true,
      });
      reporter.beginTurn();
      reporter.progress(usage(250, 0.025)); // the charged turn's 200 and 50 new
      await reporter.close();
      expect(ledger.stored).toEqual(usage(350, 0.035));
    });
  });

  it("against DynamoDB Local: a charge applied whose answer was lost is not charged again by the next flush", async () => {
    const client = localDynamoDbClient(inject("dynamoDbLocalEndpoint"), {
      // No SDK retry: the lost answer reaches the reporter, whose next flush sends again.
      maxAttempts: 1,
    });
    let updates = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const target = (args.request as { headers?: Record<string, string> }).headers?.["x-amz-target"];
        const update = target?.endsWith(".UpdateItem") ? ++updates : 0;
        const out = await next(args);
        if (update === 1) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        return out;
      },
      { step: "finalizeRequest", name: "loseFirstAnswer", priority: "low" },
    );
    try {
      const tableName = `squadron-charge-${randomUUID().slice(0, 8)}`;
      await createTable(client, tableName);
      const store = new TeamStore({ client, tableName });
      const run = await store.createRun(sampleTeam("lost-charge"));
      const reporter = new UsageReporter(new TeamStoreSink(store, run, "lead", run.runId));
      reporter.beginTurn();
      reporter.progress(usage(1000, 0.25));
      expect(await reporter.flush()).toBe(false);
      expect(await reporter.flush()).toBe(true);
      const stored = await store.getRun(run);
      expect(stored.status.agents.lead).toMatchObject({ inputTokens: 1000, costUsd: 0.25 });
      expect(stored.status.totalCostUsd).toBe(0.25);
    } finally {
      client.destroy();
    }
  });
});
