import { setTimeout as sleep } from "node:timers/promises";
import type { UsageDelta } from "../../core/status/types.ts";
import type { ProgressEvent, TurnResult } from "../adapters/types.ts";
import { errorMessage, type Logger, silentLogger } from "./logger.ts";
import type { AgentStateSink } from "./store-sink.ts";

const FIELDS = ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "costUsd"] as const;

const zero = (): UsageDelta => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

export interface UsageReporterOptions {
  /** Unsent usage is sent at least this often (default 2000 ms). */
  intervalMs?: number;
  log?: Logger;
  /** Attempts of the last flush when the session ends (default 4, with doubling backoff from 250 ms). */
  finalAttempts?: number;
}

/**
 * Sends an agent's measured usage to the store as deltas while turns stream. The adapters report
 * cumulative usage per turn; the reporter keeps the session's cumulative measurement and what
 * the store has acknowledged, and sends the difference, one request at a time. A failed send
 * leaves the difference to the next one (nothing is lost or counted twice), is logged, and never
 * reaches the agent.
 *
 * While a turn streams, its cost is Squadron's price-table estimate (core/prices); when the turn
 * ends, the CLI's own figures replace it: the measurement is then exactly what the CLI reported.
 * The store only ever adds, so an estimate that ran ahead of the final figure is not sent back:
 * the excess is absorbed by the next usage sent (nothing more is sent until the measurement
 * passes what was sent). The table is tested against what the pinned CLI charges, so the two
 * agree for the models it knows.
 */
export class UsageReporter {
  private readonly measured = zero();
  private readonly sent = zero();
  private turnBase = zero();
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRunCostUsd: number | undefined;
  private readonly log: Logger;

  constructor(
    private readonly sink: AgentStateSink,
    private readonly options: UsageReporterOptions = {},
  ) {
    this.log = options.log ?? silentLogger;
  }

  /** Starts the periodic sender; call once per session. */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.intervalMs ?? 2000);
    this.timer.unref();
  }

  /** Marks the start of a turn: the adapter's cumulative counts restart from zero. */
  beginTurn(): void {
    this.turnBase = { ...this.measured };
  }

  /** Usage so far in the current turn (cumulative for the turn), from `runTurn`'s onProgress. */
  progress(event: Pick<ProgressEvent, (typeof FIELDS)[number]>): void {
    for (const field of FIELDS) {
      const value = this.turnBase[field] + (Number.isFinite(event[field]) ? event[field] : 0);
      if (value > this.measured[field]) this.measured[field] = value;
    }
  }

  /** The turn's final result; sends what is unsent at once. */
  async endTurn(result: TurnResult): Promise<void> {
    for (const field of FIELDS) {
      this.measured[field] = this.turnBase[field] + (Number.isFinite(result[field]) ? result[field] : 0);
    }
    await this.flush();
  }

  /** This agent's measured usage in this session. */
  get total(): UsageDelta {
    return { ...this.measured };
  }

  /** The run's total cost as the store last reported it (all agents), if a store is attached. */
  get runCostUsd(): number | undefined {
    return this.lastRunCostUsd;
  }

  set knownRunCostUsd(value: number | undefined) {
    if (value !== undefined) this.lastRunCostUsd = Math.max(value, this.lastRunCostUsd ?? 0);
  }

  private pending(): UsageDelta | undefined {
    const delta = zero();
    let any = false;
    for (const field of FIELDS) {
      const d = this.measured[field] - this.sent[field];
      if (d > 0) {
        delta[field] = d;
        any = true;
      }
    }
    return any ? delta : undefined;
  }

  /** Sends the unsent difference, if any; waits for a send already in flight first. Never throws. */
  async flush(): Promise<boolean> {
    while (this.inFlight) await this.inFlight;
    const delta = this.pending();
    if (!delta) return true;
    let ok = false;
    this.inFlight = (async () => {
      try {
        const totals = await this.sink.addUsage(delta);
        for (const field of FIELDS) this.sent[field] += delta[field];
        if (totals) this.knownRunCostUsd = totals.totalCostUsd;
        ok = true;
      } catch (error) {
        this.log.warn("Could not report usage to the store; it will be sent with the next report", {
          error: errorMessage(error),
          unsentCostUsd: delta.costUsd,
        });
      }
    })();
    await this.inFlight;
    this.inFlight = undefined;
    return ok;
  }

  /** Stops the timer and sends what is left, retrying with backoff. Never throws. */
  async close(): Promise<boolean> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const attempts = this.options.finalAttempts ?? 4;
    for (let i = 0; i < attempts; i++) {
      if (await this.flush()) return true;
      if (i < attempts - 1) await sleep(250 * 2 ** i);
    }
    this.log.error(
      "Usage could not be reported to the store; the run's measured cost is short by this much",
      {
        unsent: this.pending(),
      },
    );
    return false;
  }
}
