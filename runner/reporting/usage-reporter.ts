import { setTimeout as sleep } from "node:timers/promises";
import type { UsageDelta } from "../../core/status/types.ts";
import { USAGE_FIELDS } from "../../core/store/items.ts";
import { chargedForm, sameUsage, usageBetween, zeroUsage } from "../../core/store/usage-charge.ts";
import type { ProgressEvent, TurnResult } from "../adapters/types.ts";
import { errorMessage, type Logger, silentLogger } from "./logger.ts";
import type { AgentStateSink } from "./store-sink.ts";

const FIELDS = USAGE_FIELDS;

/** Re-syncs with the store in one flush before leaving the rest to the next one. */
const MAX_RESYNCS = 5;

export interface UsageReporterOptions {
  /** Unsent usage is sent at least this often (default 2000 ms). */
  intervalMs?: number;
  log?: Logger;
  /** Attempts of the last flush when the session ends (default 4, with doubling backoff from 250 ms). */
  finalAttempts?: number;
  /**
   * The agent's measured usage over the earlier runners of this run, as the last of them left it
   * in the session record (runner/session/session-record.ts): a relaunched runner sends what it
   * measured but had not charged when it was killed.
   */
  measuredBefore?: UsageDelta;
  /**
   * True when the runner resumes a session whose CLI reports session totals: usage charged beyond
   * `measuredBefore` (a turn charged after the record was written) is in the totals the CLI
   * reports next, so it is measured again, and the store's excess absorbs it. Otherwise what an
   * earlier runner charged beyond `measuredBefore` (a killed turn's streamed usage) is never
   * reported again and counts as measured.
   */
  resumesSessionTotals?: boolean;
}

/**
 * Charges an agent's measured usage to the store while turns stream, exactly once. The adapters
 * report cumulative usage per turn; the reporter keeps the agent's cumulative measurement and
 * its charged totals as the store last said (`sent`), and charges the store from `sent` to the
 * measurement, one request at a time (TeamStore.chargeUsage: a conditional update, so a request
 * the store applied but whose answer was lost, sent again by the SDK or by the next flush, is
 * not counted twice). A failed send is logged, leaves the difference to the next one, and never
 * reaches the agent. When the store says `sent` is stale (another runner of the agent charged),
 * the reporter adopts the stored totals and charges only the difference.
 *
 * A runner relaunched mid-run starts from the store's charged totals (read before its first
 * charge) and from the measurement the session record kept, so what earlier runners charged is
 * never charged again (docs/runner.md, "Usage and cost").
 *
 * While a turn streams, its cost is Squadron's price-table estimate (core/prices); when the turn
 * ends, the CLI's own figures replace it: the measurement is then exactly what the CLI reported.
 * Charged totals never go down, so an estimate that ran ahead of the final figure is not sent
 * back: the excess is absorbed by the next usage (nothing more is sent until the measurement
 * passes what was charged). The table is tested against what the pinned CLI charges, so the two
 * agree for the models it knows.
 */
export class UsageReporter {
  /** This runner's measurement. */
  private readonly own = zeroUsage();
  /** What earlier runners of the agent measured (see the options). */
  private base: UsageDelta;
  /** The agent's charged totals as the store last said. */
  private sent = zeroUsage();
  private synced = false;
  private turnBase = zeroUsage();
  private inFlight: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRunCostUsd: number | undefined;
  private readonly log: Logger;

  constructor(
    private readonly sink: AgentStateSink,
    private readonly options: UsageReporterOptions = {},
  ) {
    this.log = options.log ?? silentLogger;
    this.base = { ...zeroUsage(), ...options.measuredBefore };
  }

  /** Starts the periodic sender; call once per session. */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.intervalMs ?? 2000);
    this.timer.unref();
  }

  /** Marks the start of a turn: the adapter's cumulative counts restart from zero. */
  beginTurn(): void {
    this.turnBase = { ...this.own };
  }

  /** Usage so far in the current turn (cumulative for the turn), from `runTurn`'s onProgress. */
  progress(event: Pick<ProgressEvent, (typeof FIELDS)[number]>): void {
    for (const field of FIELDS) {
      const value = this.turnBase[field] + (Number.isFinite(event[field]) ? event[field] : 0);
      if (value > this.own[field]) this.own[field] = value;
    }
  }

  /**
   * The turn's final result: the measurement becomes what the CLI reported. Nothing is sent until
   * the next {@link flush}.
   */
  settleTurn(result: TurnResult): void {
    for (const field of FIELDS) this.own[field] = this.ownAfter(result, field);
  }

  /**
   * What {@link measured} becomes once `result` is settled: the session loop records it on disk
   * first, so not even the periodic flush can charge the turn before it is recorded.
   */
  measuredAfter(result: TurnResult): UsageDelta {
    const out = zeroUsage();
    for (const field of FIELDS) out[field] = this.base[field] + this.ownAfter(result, field);
    return out;
  }

  private ownAfter(result: TurnResult, field: (typeof FIELDS)[number]): number {
    return this.turnBase[field] + (Number.isFinite(result[field]) ? result[field] : 0);
  }

  /** The turn's final result; sends what is unsent at once. */
  async endTurn(result: TurnResult): Promise<void> {
    this.settleTurn(result);
    await this.flush();
  }

  /** This agent's measured usage in this runner. */
  get total(): UsageDelta {
    return { ...this.own };
  }

  /** This agent's measured usage over every runner of the run (earlier ones included). */
  get measured(): UsageDelta {
    const out = zeroUsage();
    for (const field of FIELDS) out[field] = this.base[field] + this.own[field];
    return out;
  }

  /** The run's total cost as the store last reported it (all agents), if a store is attached. */
  get runCostUsd(): number | undefined {
    return this.lastRunCostUsd;
  }

  set knownRunCostUsd(value: number | undefined) {
    if (value !== undefined) this.lastRunCostUsd = Math.max(value, this.lastRunCostUsd ?? 0);
  }

  /** What the charged totals should become, when they are behind the measurement. */
  private target(): UsageDelta | undefined {
    const measured = this.measured;
    const after = zeroUsage();
    for (const field of FIELDS) after[field] = Math.max(this.sent[field], measured[field]);
    const charged = chargedForm(after);
    return sameUsage(charged, this.sent) ? undefined : charged;
  }

  private pending(): UsageDelta | undefined {
    const after = this.target();
    return after ? usageBetween(this.sent, after) : undefined;
  }

  /**
   * Before its first charge, the runner takes the store's charged totals for the agent as what
   * was sent: earlier runners charged them. Unless the CLI will report that usage again (see
   * `resumesSessionTotals`), usage they charged beyond the recorded measurement counts as measured.
   * Without a store, what they measured is taken as sent.
   */
  private async sync(): Promise<void> {
    if (this.synced) return;
    const stored = await this.sink.chargedUsage?.();
    if (stored) {
      this.sent = chargedForm(stored.agent);
      this.knownRunCostUsd = stored.totalCostUsd;
      if (!this.options.resumesSessionTotals) {
        for (const field of FIELDS) this.base[field] = Math.max(this.base[field], this.sent[field]);
      }
    } else {
      // No store to ask: earlier runners are taken to have sent what they measured.
      this.sent = chargedForm(this.base);
    }
    this.synced = true;
  }

  /** Sends the unsent difference, if any; waits for a send already in flight first. Never throws. */
  async flush(): Promise<boolean> {
    while (this.inFlight) await this.inFlight;
    const sending = this.send();
    this.inFlight = sending;
    try {
      return await sending;
    } finally {
      this.inFlight = undefined;
    }
  }

  private async send(): Promise<boolean> {
    try {
      await this.sync();
      for (let attempt = 0; attempt < MAX_RESYNCS; attempt++) {
        const after = this.target();
        if (!after) return true;
        const answer = await this.sink.chargeUsage({ before: this.sent, after });
        if (!answer) {
          this.sent = after;
          return true;
        }
        this.sent = chargedForm(answer.agent);
        this.knownRunCostUsd = answer.totalCostUsd;
        if (answer.charged) return true;
        this.log.info(
          "Another runner of this agent charged usage meanwhile; charging from the stored totals",
          {
            storedCostUsd: this.sent.costUsd,
            measuredCostUsd: this.measured.costUsd,
          },
        );
      }
      return false;
    } catch (error) {
      this.log.warn("Could not report usage to the store; it will be sent with the next report", {
        error: errorMessage(error),
        unsentCostUsd: this.pending()?.costUsd ?? 0,
      });
      return false;
    }
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
