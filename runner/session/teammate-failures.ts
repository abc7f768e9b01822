import {
  cannotProceed,
  cannotProceedMessage,
  type FailedTeammate,
  type TeammateProgress,
} from "../../core/control/team-progress.ts";
import type { Team } from "../../core/team-protocol/team.ts";
import { errorMessage, type Logger, silentLogger } from "../reporting/logger.ts";
import type { AgentStateSink } from "../reporting/store-sink.ts";
import { RUNNER_SENDER } from "./prompt.ts";

export interface TeammateFailureWatchOptions {
  /** How often the store is read (the heartbeat interval). */
  intervalMs: number;
  log?: Logger;
  /** Called once, when a teammate failed for good and nothing else can run (see team-progress.ts). */
  onCannotProceed(message: string): void;
}

const SUMMARY_SUFFIX = " failed for good";

/**
 * The lead's runner watches its teammates in the store. A teammate that failed for good (its
 * restarts used up) would otherwise leave the lead waiting for its work until the run's timeout:
 * the lead is told at once (a message from "squadron" in its inbox) and the teammate's open tasks
 * become unowned and pending again, so the lead can give them to someone else or do them itself.
 * When no teammate is left that could still run, the team cannot proceed, and the session ends.
 */
export class TeammateFailureWatch {
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private told: Set<string> | undefined;
  private ended = false;
  private readonly log: Logger;

  constructor(
    private readonly team: Team,
    private readonly lead: string,
    private readonly sink: Required<Pick<AgentStateSink, "teammateProgress">>,
    private readonly options: TeammateFailureWatchOptions,
  ) {
    this.log = options.log ?? silentLogger;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at the store; never throws, never overlaps itself. */
  check(): Promise<void> {
    this.checking ??= this.look().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async look(): Promise<void> {
    let progress: TeammateProgress | undefined;
    try {
      progress = await this.sink.teammateProgress();
    } catch (error) {
      this.log.warn("Could not read the teammates' status", { error: errorMessage(error) });
      return;
    }
    if (!progress) return;
    // Told once per teammate, also across a relaunch of this runner: the inbox remembers.
    this.told ??= new Set(
      (await this.team.readInbox(this.lead).catch(() => []))
        .filter((m) => m.from === RUNNER_SENDER && m.summary?.endsWith(SUMMARY_SUFFIX))
        .map((m) => (m.summary as string).slice(0, -SUMMARY_SUFFIX.length)),
    );
    for (const failed of progress.failedForGood) {
      if (this.told.has(failed.name)) continue;
      try {
        await this.tell(failed);
        this.told.add(failed.name);
      } catch (error) {
        this.log.warn("Could not tell the lead that a teammate failed", {
          teammate: failed.name,
          error: errorMessage(error),
        });
        return; // tried again on the next look, before the run may end for it
      }
    }
    if (!this.ended && cannotProceed(progress)) {
      this.ended = true;
      this.options.onCannotProceed(cannotProceedMessage(progress));
    }
  }

  private async tell(failed: FailedTeammate): Promise<void> {
    const released: string[] = [];
    for (const task of await this.team.openTasksOf(failed.name)) {
      await this.team.updateTask(task.id, { owner: null, status: "pending" });
      released.push(`#${task.id} "${task.subject}"`);
    }
    const why = failed.message || failed.reason;
    const text =
      `Teammate ${failed.name} failed for good after ${failed.restarts} restart(s) and will not be started again: ${why}. ` +
      (released.length
        ? `Its open tasks are unowned and pending again: ${released.join(", ")}. Give them to another teammate or do them yourself.`
        : "It owned no open task.");
    await this.team.sendMessage({
      from: RUNNER_SENDER,
      to: this.lead,
      text,
      summary: `${failed.name}${SUMMARY_SUFFIX}`,
    });
    this.log.warn("A teammate failed for good; the lead is told", {
      teammate: failed.name,
      released: released.length,
    });
  }
}
