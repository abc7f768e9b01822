import { mkdir } from "node:fs/promises";
import type { AgentCli } from "../../core/manifest/types.ts";
import type { UsageDelta } from "../../core/status/types.ts";
import { USAGE_FIELDS } from "../../core/store/items.ts";
import { readJson, writeJsonAtomic } from "../../core/team-protocol/atomic-file.ts";
import { TeamLayout } from "../../core/team-protocol/layout.ts";
import { errorMessage, type Logger, silentLogger } from "../reporting/logger.ts";

/**
 * `team/sessions/<agent>.json`: the agent's CLI session as its runner last knew it. It lives in
 * the team directory (EFS), so a runner started again after a crash, a container restart or a
 * restart of the local stack finds the session and resumes it instead of starting over.
 */
export interface SessionRecord {
  agent: string;
  runId: string;
  cli: AgentCli;
  sessionId: string;
  /** Turns of this session over every runner that ran it. */
  turns: number;
  startedAt: string;
  updatedAt: string;
  /** Set when a runner ended the session itself; a record without it was interrupted. */
  ended?: { end: string; reason: string; at: string };
  /**
   * The CLI's cumulative usage figures for `sessionId` after its last turn, for CLIs that report
   * session totals (`TurnResult.usageScope: "session"`): the next turn is charged the difference.
   * Kept here (on EFS) so a relaunched runner resuming the session does not charge it again.
   */
  cumulative?: CumulativeUsage;
  /**
   * The agent's measured usage over every runner of this run (every session), after its last
   * turn: written before that turn is charged to the store, so a runner killed in between leaves
   * its relaunch the measurement to charge from (runner/reporting/usage-reporter.ts).
   */
  measured?: UsageDelta;
}

export interface CumulativeUsage extends UsageDelta {
  sessionId: string;
}

/**
 * Turns a session-cumulative report into this turn's figures by subtracting `previous` (the last
 * cumulative figures of the same session). A report for another session (a new session after a
 * refused resume) starts from zero. A figure below the previous one (a CLI that reset its
 * counters) is taken as it stands rather than charged negative.
 */
export function turnDelta<T extends Record<(typeof USAGE_FIELDS)[number], number>>(
  cumulative: T,
  sessionId: string,
  previous: CumulativeUsage | undefined,
): T {
  if (!previous || previous.sessionId !== sessionId) return { ...cumulative };
  const out = { ...cumulative };
  for (const field of USAGE_FIELDS) {
    const d = cumulative[field] - previous[field];
    out[field] = (d >= 0 ? d : cumulative[field]) as T[typeof field];
  }
  return out;
}

/** The agent's measurement an earlier runner of `runId` recorded, whether or not its session is resumed. */
export function measuredBefore(record: SessionRecord | undefined, runId: string): UsageDelta | undefined {
  return record?.runId === runId ? record.measured : undefined;
}

export async function readSessionRecord(teamDir: string, agent: string): Promise<SessionRecord | undefined> {
  return readJson<SessionRecord>(new TeamLayout(teamDir).session(agent));
}

/**
 * Whether a relaunched runner should resume `record`: same run, same CLI, and the session was cut
 * off from outside (the runner died, or was stopped by SIGTERM) rather than ended by its own
 * rules. A session that failed (crashes, turn cap, budget) starts afresh, as a restart after a
 * failure always has.
 */
export function resumableSession(
  record: SessionRecord | undefined,
  expect: { runId: string; cli: AgentCli },
): record is SessionRecord {
  if (!record?.sessionId) return false;
  if (record.runId !== expect.runId || record.cli !== expect.cli) return false;
  return !record.ended || record.ended.end === "stopped";
}

/**
 * Writes the record as the session goes: as soon as the adapter reports the session id (the
 * CLI's first event), after every turn, and once at the end. Writes are atomic and one at a time;
 * a failed write is logged and never reaches the agent.
 */
export class SessionRecorder {
  private record: SessionRecord | undefined;
  /** The agent's measurement, kept across the sessions of this runner (see SessionRecord.measured). */
  private measured: UsageDelta | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly path: string;
  private readonly log: Logger;

  constructor(
    private readonly teamDir: string,
    private readonly identity: { agent: string; runId: string; cli: AgentCli },
    options: { log?: Logger; resumed?: SessionRecord; measured?: UsageDelta } = {},
  ) {
    this.path = new TeamLayout(teamDir).session(identity.agent);
    this.log = options.log ?? silentLogger;
    this.measured = options.measured;
    if (options.resumed) {
      const { ended: _ended, ...rest } = options.resumed;
      this.record = rest;
    }
  }

  get current(): SessionRecord | undefined {
    return this.record;
  }

  /** The CLI reported `sessionId` (a new session, or the one being resumed). */
  sessionStarted(sessionId: string): Promise<void> {
    if (!sessionId || this.record?.sessionId === sessionId) return this.writing;
    const at = new Date().toISOString();
    this.record = { ...this.identity, sessionId, turns: 0, startedAt: at, updatedAt: at };
    return this.write();
  }

  /** The session's last cumulative figures, when the CLI reports session totals. */
  get cumulative(): CumulativeUsage | undefined {
    return this.record?.cumulative;
  }

  /**
   * Records a turn's usage before the turn is charged to the store, in one write: the agent's
   * measurement after it and, for CLIs that report session totals, the session's cumulative
   * figures. A runner killed between the charge and a later write left the old figures, and its
   * relaunch, resuming the session, charged the turn again (the codex conformance test saw 6
   * replies charged for 4 under load); one killed before the charge lost the turn. Written first,
   * the relaunch finds the turn measured, and charges the store up to it (the store's charged
   * totals say what was charged already): never twice, and not lost.
   */
  saveTurnUsage(usage: { measured: UsageDelta; cumulative?: CumulativeUsage }): Promise<void> {
    this.measured = { ...usage.measured };
    if (!this.record) return this.writing;
    this.record = { ...this.record, ...(usage.cumulative ? { cumulative: usage.cumulative } : {}) };
    return this.write();
  }

  turnEnded(): Promise<void> {
    if (!this.record) return this.writing;
    this.record = { ...this.record, turns: this.record.turns + 1, updatedAt: new Date().toISOString() };
    return this.write();
  }

  /** Forgets the session: the next session the CLI reports replaces it. */
  abandon(): void {
    this.record = undefined;
  }

  ended(end: { end: string; reason: string }): Promise<void> {
    if (!this.record) return this.writing;
    const at = new Date().toISOString();
    this.record = { ...this.record, updatedAt: at, ended: { ...end, at } };
    return this.write();
  }

  /** Waits for the writes queued so far. */
  flush(): Promise<void> {
    return this.writing;
  }

  private write(): Promise<void> {
    const snapshot = this.record && this.measured ? { ...this.record, measured: this.measured } : this.record;
    this.writing = this.writing.then(async () => {
      if (!snapshot) return;
      try {
        await mkdir(new TeamLayout(this.teamDir).sessionsDir, { recursive: true });
        await writeJsonAtomic(this.path, snapshot);
      } catch (error) {
        this.log.warn("Could not write the session record; a restarted runner would start a new session", {
          error: errorMessage(error),
        });
      }
    });
    return this.writing;
  }
}
