import { TEAMMATE_FAILED } from "../../core/control/team-progress.ts";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import type { AgentPhase } from "../../core/status/phases.ts";
import type { UsageDelta } from "../../core/status/types.ts";
import { USAGE_FIELDS } from "../../core/store/items.ts";
import { TeamChanges } from "../../core/team-protocol/changes.ts";
import { ENDED_STATUSES, type Team } from "../../core/team-protocol/team.ts";
import type { InboxMessage, Member, MemberStatus, Task } from "../../core/team-protocol/types.ts";
import { runTurn } from "../adapters/run-turn.ts";
import type { AgentAdapter, TurnInput, TurnMcp, TurnResult } from "../adapters/types.ts";
import type { RunnerTimings } from "../config/env.ts";
import { EXIT } from "../config/exit-codes.ts";
import { Heartbeat } from "../reporting/heartbeat.ts";
import { errorMessage, type Logger, silentLogger } from "../reporting/logger.ts";
import type { AgentStateSink } from "../reporting/store-sink.ts";
import { TaskCountReporter } from "../reporting/task-counts.ts";
import { UsageReporter } from "../reporting/usage-reporter.ts";
import {
  freshAfterRestartPrompt,
  RUNNER_SENDER,
  restartPrompt,
  resumePrompt,
  systemPromptAddition,
  teamEndedMessage,
} from "./prompt.ts";
import {
  type CumulativeUsage,
  measuredBefore,
  readSessionRecord,
  resumableSession,
  SessionRecorder,
  turnDelta,
} from "./session-record.ts";
import { TeammateFailureWatch } from "./teammate-failures.ts";

/** How a session ended. */
export type SessionEnd =
  /** The agent called `finish`. */
  | "finished"
  /** The lead ended a turn without `finish` after the team had ended; the runner finished for it. */
  | "finished-by-runner"
  /** A teammate stopped on the lead's shutdown request. */
  | "shutdown"
  /** A teammate with no open task and no unread message stayed idle for the grace period. */
  | "idle"
  /** SIGTERM (ECS stop), the run's deadline, or another abort. */
  | "stopped"
  /** Crash, failing turns, turn cap, budget, or an internal error. */
  | "failed";

export interface SessionOutcome {
  end: SessionEnd;
  /** True for the endings that are the agent's success (exit code 0). */
  ok: boolean;
  /** CamelCase cause, recorded as the agent's `reason` in the store. */
  reason: string;
  message: string;
  turns: number;
  sessionId?: string;
  /** This agent's measured usage in this session. */
  usage: UsageDelta;
  lastResult?: TurnResult;
  /** The CLI session an earlier runner of this agent had started and this one resumed. */
  resumedSessionId?: string;
}

export interface SessionOptions {
  /** The team protocol on the run's directory. */
  team: Team;
  spec: AgentTeam;
  agent: AgentSpec;
  runId: string;
  /** The CLI's working directory (the agent's checkout or the cowork workspace). */
  cwd: string;
  adapter: AgentAdapter;
  mcp?: TurnMcp;
  /** Extra environment for every turn (see agent-setup.ts). */
  cliEnv?: Record<string, string>;
  sink: AgentStateSink;
  timings: RunnerTimings;
  /** The run's budget in USD (lifecycle.budgetLimit). */
  budgetUsd?: number;
  /** Aborting stops the current turn (SIGINT, then SIGTERM) and ends the session as "stopped". */
  signal?: AbortSignal;
  log?: Logger;
  /** Called once a turn's CLI is about to be spawned (benchmarks, tests). */
  onTurnStart?: (turn: number, input: TurnInput) => void;
  /**
   * Checked when the session ended well, before its end is recorded: a failure (e.g. a declared
   * output missing, runner/session/artifacts.ts) turns the success into that failure.
   */
  checkSuccess?: () => Promise<{ reason: string; message: string } | undefined>;
}

const MAX_CONSECUTIVE_ERRORS = 3;
const MAX_NUDGES = 2;

type Wake = { resume: string } | { end: Omit<SessionOutcome, "turns" | "usage"> };

/**
 * One agent's session: run a headless turn, then decide from the team files whether the agent
 * is done, must wait, or is resumed (same session) because a message or task arrived for it.
 * See docs/runner.md for the rules. Never throws: every failure becomes an outcome.
 */
export async function runSession(options: SessionOptions): Promise<SessionOutcome> {
  const { team, agent, timings } = options;
  const log = options.log ?? silentLogger;
  const name = agent.name;
  const isLead = agent.role === "lead";
  const heartbeat = new Heartbeat(team, name, options.sink, { intervalMs: timings.heartbeatMs, log });
  const setTaskCounts = options.sink.setTaskCounts?.bind(options.sink);
  // The lead's runner keeps the run's TASKS/DONE in the store: one writer per run.
  const taskCounts =
    isLead && setTaskCounts
      ? new TaskCountReporter(team, { setTaskCounts }, { intervalMs: timings.heartbeatMs, log })
      : undefined;
  // A session an earlier runner of this agent started and did not end (it was killed, or its
  // container or the local stack restarted) is resumed rather than started over.
  const previous = await readSessionRecord(team.root, name).catch((error: unknown) => {
    log.warn("Could not read the session record; starting a new session", { error: errorMessage(error) });
    return undefined;
  });
  const resumed = resumableSession(previous, { runId: options.runId, cli: agent.cli }) ? previous : undefined;
  // Usage is charged exactly once across relaunches: the reporter starts from what earlier
  // runners of the agent measured (the session record) and charged (the store).
  const before = measuredBefore(previous, options.runId);
  const reporter = new UsageReporter(options.sink, {
    intervalMs: timings.usageReportMs,
    log,
    ...(before ? { measuredBefore: before } : {}),
    resumesSessionTotals: resumed?.cumulative !== undefined,
  });
  const recorder = new SessionRecorder(
    team.root,
    { agent: name, runId: options.runId, cli: agent.cli },
    { log, ...(resumed ? { resumed } : {}), ...(before ? { measured: before } : {}) },
  );
  const outerSignal = options.signal ?? new AbortController().signal;
  // The lead's session also ends when the team cannot proceed (teammate-failures.ts): the same
  // stop of the current turn as an abort, but the outcome is a failure naming the teammate.
  const cannotProceed = new AbortController();
  let cannotProceedWhy: string | undefined;
  const signal = AbortSignal.any([outerSignal, cannotProceed.signal]);
  // Between turns the runner waits for a change to the team files (fs.watch), with the poll
  // interval as a safety net for writers the watch cannot see (other hosts on EFS).
  const changes = new TeamChanges(team.root);
  const systemPrompt = systemPromptAddition(options.spec, agent, options.runId);
  const notifiedTasks = new Set<string>();
  // Inboxes are append-only: messages before this index were already announced in a resume
  // prompt, so a model that leaves them unread is not woken for them again and again.
  let announcedInbox = 0;

  let turns = 0;
  let sessionId: string | undefined;
  let lastResult: TurnResult | undefined;
  let toldTeamEnded = false;
  let nudges = 0;
  let consecutiveErrors = 0;
  /** Team-tool calls that ran, over the session; a teammate that never made one did no teamwork. */
  let teamToolCalls: number | undefined;
  /**
   * The turn's own usage. A CLI that reports session totals (`usageScope: "session"`) is charged
   * the difference from the session's previous totals, kept in the session record so a relaunched
   * runner resuming the session does not charge its earlier turns again. The new totals are
   * returned to be recorded with the turn's measurement, before the turn is charged.
   */
  const chargeable = async (
    result: TurnResult,
  ): Promise<{ result: TurnResult; cumulative?: CumulativeUsage }> => {
    if (result.usageScope !== "session" || !result.sessionId) return { result };
    // A turn cut off before the CLI reported its totals (codex stopped before turn.completed
    // reports zeros) charges nothing and must leave the session's baseline alone: recorded as
    // the new totals, the zeros made the next turn's totals, earlier turns included, charged
    // again (the codex relaunch test saw 6 replies charged for 4 after a SIGTERM mid-turn).
    if (USAGE_FIELDS.every((field) => !(result[field] > 0)))
      return { result: { ...result, usageScope: "turn" } };
    // The record must exist to carry the totals (a CLI may name its session only in the result).
    await recorder.sessionStarted(result.sessionId);
    const delta = turnDelta(result, result.sessionId, recorder.cumulative);
    return {
      result: { ...delta, usageScope: "turn" },
      cumulative: {
        sessionId: result.sessionId,
        inputTokens: result.inputTokens,
        outputTokens: result.outputTokens,
        cacheReadTokens: result.cacheReadTokens,
        cacheWriteTokens: result.cacheWriteTokens,
        costUsd: result.costUsd,
      },
    };
  };
  const warned = new Set<string>();
  const warn = async (reason: string, message: string) => {
    log.warn(message, { reason });
    if (warned.has(`${reason}:${message}`)) return;
    warned.add(`${reason}:${message}`);
    await options.sink.warn?.(reason, message).catch((error: unknown) => {
      log.warn("Could not record a Warning event", { error: errorMessage(error) });
    });
  };

  const done = (end: Omit<SessionOutcome, "turns" | "usage">): SessionOutcome => ({
    ...end,
    turns,
    usage: reporter.total,
    ...(sessionId ? { sessionId } : {}),
    ...(lastResult ? { lastResult } : {}),
    ...(resumed ? { resumedSessionId: resumed.sessionId } : {}),
  });
  const failed = (reason: string, message: string): SessionOutcome =>
    done({ end: "failed", ok: false, reason, message });
  const stopped = (): SessionOutcome =>
    cannotProceedWhy !== undefined && !outerSignal.aborted
      ? failed(TEAMMATE_FAILED, cannotProceedWhy)
      : done({
          end: "stopped",
          ok: false,
          reason: "Stopped",
          message: `Stopped by ${abortReason(signal)} after ${turns} turn(s).`,
        });

  /** The last crash of the agent's CLI (exit without a result), if any turn crashed. */
  let crash: string | undefined;

  // Teammates that have ended, or whose runner stopped beating (a killed container).
  const activeTeammates = async (): Promise<Member[]> => {
    const now = Date.now();
    const active = (await team.members()).filter(
      (m) =>
        m.role === "teammate" &&
        !ENDED_STATUSES.includes(m.status) &&
        !(
          m.status !== "pending" &&
          m.heartbeatAt &&
          now - Date.parse(m.heartbeatAt) > timings.staleHeartbeatMs
        ),
    );
    // A teammate whose runner never started (gate denied, dependency failed) stays "pending" in
    // the team files; only the control plane's record says it has ended.
    if (!active.some((m) => m.status === "pending") || !options.sink.endedAgents) return active;
    const ended = new Set(await options.sink.endedAgents().catch(() => [] as string[]));
    return active.filter((m) => !(m.status === "pending" && ended.has(m.name)));
  };

  const tasksForMe = async (): Promise<Task[]> => {
    const selfClaim = options.spec.spec.coordination.taskAssignment === "self-claim";
    const all = await team.listTasks();
    taskCounts?.observe(all);
    return all.filter(
      (t) =>
        t.status === "pending" &&
        !notifiedTasks.has(t.id) &&
        (t.owner === name || (selfClaim && !isLead && t.owner === null && t.blockedBy.length === 0)),
    );
  };

  /**
   * Until the team files change, the poll interval passes, or (when a grace period is running)
   * that period ends: an idle runner does no work while nothing changes.
   */
  const nextChange = async (graceLeftMs?: number): Promise<void> => {
    const ms =
      graceLeftMs === undefined
        ? timings.pollIntervalMs
        : Math.max(10, Math.min(timings.pollIntervalMs, graceLeftMs));
    await changes.wait(ms, signal);
  };

  /** Reads the team files after a turn, and again at each change, until the agent must be resumed or is done. */
  const waitForWake = async (): Promise<Wake> => {
    const idleSince = Date.now();
    for (;;) {
      if (signal.aborted) return { end: stopped() };
      const lifecycle = await team.lifecycle(name);
      if (lifecycle.finished) return { end: finishedOutcome(lifecycle.finished.summary) };
      if (!isLead && lifecycle.shutdownRequest) {
        const { from, reason } = lifecycle.shutdownRequest;
        return {
          end: {
            end: "shutdown",
            ok: true,
            reason: "ShutdownRequested",
            message: `Stopped on ${from}'s shutdown request${reason ? `: ${reason}` : "."}`,
          },
        };
      }
      const inbox = await team.readInbox(name);
      const unread: InboxMessage[] = inbox.slice(announcedInbox).filter((m) => !m.read);
      const tasks = await tasksForMe();
      if (unread.length > 0 || tasks.length > 0) {
        for (const t of tasks) notifiedTasks.add(t.id);
        announcedInbox = inbox.length;
        return { resume: resumePrompt({ messages: unread, tasks }) };
      }
      const idleMs = Date.now() - idleSince;
      if (isLead) {
        const active = await activeTeammates();
        if (active.length === 0 && !toldTeamEnded) {
          toldTeamEnded = true;
          const teammates = (await team.members()).filter((m) => m.role === "teammate");
          await team.sendMessage({
            from: RUNNER_SENDER,
            to: name,
            text: teamEndedMessage(teammates.map((m) => ({ name: m.name, status: m.status }))),
            summary: "team ended",
          });
          continue; // the message wakes the lead on the next poll
        }
        if (active.length === 0 && toldTeamEnded && idleMs >= timings.leadFinishGraceMs) {
          const summary = `Finished by the runner: the lead ended its turn without calling finish ${Math.round(idleMs / 1000)} s after every teammate had ended.${lastResult?.resultText ? ` Its last words: ${lastResult.resultText.slice(0, 500)}` : ""}`;
          await team.finish(name, summary);
          return {
            end: { end: "finished-by-runner", ok: true, reason: "FinishedByRunner", message: summary },
          };
        }
      } else if (idleMs >= timings.idleGraceMs) {
        const open = await team.openTasksOf(name);
        if (open.length === 0) {
          return {
            end: {
              end: "idle",
              ok: true,
              reason: "Idle",
              message: `Stopped after ${Math.round(idleMs / 1000)} s idle with no open task and no unread message.`,
            },
          };
        }
        if (nudges >= MAX_NUDGES) {
          return {
            end: {
              end: "failed",
              ok: false,
              reason: "IdleWithOpenTasks",
              message: `Idle with open tasks ${open.map((t) => `#${t.id}`).join(", ")} after ${nudges} reminders.`,
            },
          };
        }
        nudges++;
        return {
          resume: resumePrompt({
            messages: [],
            tasks: [],
            nudge: `You still own open tasks: ${open.map((t) => `#${t.id} "${t.subject}" (${t.status})`).join(", ")}. Continue them and mark them completed, or release them with task_update (owner "") and tell the lead why.`,
          }),
        };
      }
      // An abort ends the wait at once and is handled at the top of the loop.
      const graceLeft = isLead
        ? toldTeamEnded
          ? timings.leadFinishGraceMs - (Date.now() - idleSince)
          : undefined
        : timings.idleGraceMs - (Date.now() - idleSince);
      await nextChange(graceLeft);
    }
  };

  const finishedOutcome = (summary: string): Omit<SessionOutcome, "turns" | "usage"> => ({
    end: "finished",
    ok: true,
    reason: "Finished",
    message: summary,
  });

  /** A lead that finished early stays (heartbeating) until its teammates end: the lead ends last. */
  const waitForTeammates = async (): Promise<boolean> => {
    for (;;) {
      if ((await activeTeammates()).length === 0) return true;
      if (signal.aborted) return false;
      await nextChange();
    }
  };

  const session = async (): Promise<SessionOutcome> => {
    let prompt = agent.prompt;
    // An agent that called `finish` before its runner was cut off is done: no turn runs again.
    const before = await team.lifecycle(name);
    if (before.finished) {
      log.info("The agent had already finished before this runner started", {
        summary: before.finished.summary.slice(0, 500),
      });
      if (isLead && !(await waitForTeammates())) return stopped();
      return done(finishedOutcome(before.finished.summary));
    }
    let restarting = false;
    if (resumed) {
      sessionId = resumed.sessionId;
      restarting = true;
      const inbox = await team.readInbox(name);
      prompt = restartPrompt({
        unreadMessages: inbox.filter((m) => !m.read).length,
        openTasks: await team.openTasksOf(name),
      });
      log.info("Resuming the session an earlier runner of this agent started", {
        sessionId,
        turns: resumed.turns,
      });
    }
    for (;;) {
      if (signal.aborted) return stopped();
      if (turns >= timings.maxSessionTurns) {
        return failed(
          "MaxTurnsReached",
          `Reached the session cap of ${timings.maxSessionTurns} turns without finishing.`,
        );
      }
      let remainingBudgetUsd: number | undefined;
      if (options.budgetUsd !== undefined) {
        const spent = Math.max(reporter.runCostUsd ?? 0, reporter.total.costUsd);
        remainingBudgetUsd = options.budgetUsd - spent;
        if (remainingBudgetUsd <= 0) {
          return failed(
            "BudgetExceeded",
            `The run's budget of $${options.budgetUsd} is spent ($${spent.toFixed(4)} measured).`,
          );
        }
      }
      const input: TurnInput = {
        agent,
        prompt,
        cwd: options.cwd,
        systemPromptAddition: systemPrompt,
        ...(sessionId ? { resumeSessionId: sessionId } : {}),
        ...(options.mcp ? { mcp: options.mcp } : {}),
        ...(remainingBudgetUsd !== undefined ? { remainingBudgetUsd } : {}),
        ...(options.cliEnv ? { env: options.cliEnv } : {}),
        ...(options.spec.spec.mode === "coding" ? { coding: true } : {}),
      };
      await heartbeat.setStatus("active");
      reporter.beginTurn();
      options.onTurnStart?.(turns + 1, input);
      log.info("Turn started", { turn: turns + 1, resume: sessionId ?? null, remainingBudgetUsd });
      const raw = await runTurn(options.adapter, input, {
        signal,
        onProgress: (event) => {
          reporter.progress(event);
          // Recorded at the CLI's first event, so even a runner killed mid-turn leaves the id.
          if (event.sessionId && !restarting) void recorder.sessionStarted(event.sessionId);
        },
        progressIntervalMs: timings.usageReportMs,
        graceMs: timings.stopGraceMs,
        onStderr: (chunk) => log.debug("CLI stderr", { text: chunk.slice(0, 2000) }),
      });
      turns++;
      const { result, cumulative } = await chargeable(raw);
      lastResult = result;
      if (result.errorKind === "max_budget") {
        // The CLI's own cap (claude --max-budget-usd, set to the run's remaining budget) ended the
        // turn. Said before the turn's usage is charged: that charge can make the budget guard end
        // the run and stop this runner at once, and the CLI's reason must not be lost with it.
        await warn(
          "BudgetExceeded",
          `${agent.cli} stopped ${name} at the run's remaining budget ($${remainingBudgetUsd?.toFixed(4) ?? "?"}): ${result.resultText}`,
        );
      }
      // The turn is measured and recorded on disk, then charged: a runner killed in between
      // leaves its relaunch the measurement to charge (session-record.ts saveTurnUsage).
      await recorder.saveTurnUsage({
        measured: reporter.measuredAfter(result),
        ...(cumulative ? { cumulative } : {}),
      });
      await reporter.endTurn(result);
      if (result.teamToolCalls !== undefined) teamToolCalls = (teamToolCalls ?? 0) + result.teamToolCalls;
      for (const w of result.warnings ?? []) await warn("AdapterFallback", w);
      const otherDenied = (result.deniedTools ?? []).filter((t) => !t.startsWith("mcp__team__"));
      if (otherDenied.length > 0) {
        await warn(
          "ToolsDenied",
          `${agent.cli} denied ${name} the use of ${otherDenied.join(", ")} (permissionMode ${agent.permissionMode}).`,
        );
      }
      if (restarting) {
        restarting = false;
        if (resumeRefused(result)) {
          // The CLI no longer has the session (e.g. its transcript was in the dead container's
          // home directory): start a new one, told what happened.
          log.warn("The CLI could not resume the earlier session; starting a new one", {
            sessionId,
            result: result.resultText.slice(0, 500),
          });
          sessionId = undefined;
          recorder.abandon();
          prompt = freshAfterRestartPrompt(agent.prompt);
          continue;
        }
      }
      if (result.sessionId) {
        sessionId = result.sessionId;
        await recorder.sessionStarted(result.sessionId);
      }
      await recorder.turnEnded();
      log.info("Turn ended", {
        turn: turns,
        sessionId: result.sessionId,
        isError: result.isError,
        errorKind: result.errorKind,
        costUsd: result.costUsd,
        inputTokens: result.inputTokens,
        outputTokens: result.outputTokens,
        result: result.resultText.slice(0, 500),
      });
      if (result.stopped || signal.aborted) return stopped();

      const lifecycle = await team.lifecycle(name);
      if (lifecycle.finished) {
        if (isLead && !(await waitForTeammates())) return stopped();
        return done(finishedOutcome(lifecycle.finished.summary));
      }
      if (result.isError && result.errorKind === "crashed") {
        crash = `turn ${turns}: ${result.resultText.slice(0, 300)}`;
        log.warn("The agent's CLI crashed", { turn: turns, result: crash });
      }
      if (result.isError) {
        // A refused key fails every retry the same way: fail now, not after minutes of retries.
        if (result.errorKind === "auth") {
          return failed("AuthFailed", `the model API refused the key: ${result.resultText.slice(0, 1000)}`);
        }
        if (result.errorKind === "max_budget") return failed("BudgetExceeded", result.resultText);
        if (result.errorKind === "spawn_failed") return failed("CliNotStarted", result.resultText);
        consecutiveErrors++;
        if (!sessionId || consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) {
          return failed(
            result.errorKind === "crashed" ? "CliCrashed" : "TurnFailed",
            `${consecutiveErrors} turn(s) in a row failed; the last: ${result.resultText}`,
          );
        }
        if (result.errorKind !== "max_turns") {
          prompt = `Your previous turn ended with an error: ${result.resultText.slice(0, 1000)}\n\nContinue where you left off. Call \`finish\` when your work is done.`;
          continue;
        }
      } else {
        consecutiveErrors = 0;
      }

      await heartbeat.setStatus("idle");
      const wake = await waitForWake();
      if ("end" in wake) {
        if (wake.end.end === "stopped") return stopped();
        // The agent never called finish and its CLI crashed on the way: ending it as a success
        // would hide the crash (a lead exiting 5 was reported Succeeded), so it fails, naming it.
        if (crash !== undefined) {
          return failed(
            "CliCrashed",
            `The CLI crashed (${crash}) and the agent never called finish; the runner ended it: ${wake.end.message}`,
          );
        }
        return done(wake.end);
      }
      prompt = wake.resume;
    }
  };

  const teammateProgress = options.sink.teammateProgress?.bind(options.sink);
  const failureWatch =
    isLead && teammateProgress
      ? new TeammateFailureWatch(
          team,
          name,
          { teammateProgress },
          {
            intervalMs: timings.heartbeatMs,
            log,
            onCannotProceed: (message) => {
              void team.lifecycle(name).then(
                (lifecycle) => {
                  // A lead that called finish has decided; it ends once its teammates have.
                  if (lifecycle.finished) return;
                  log.warn("The team cannot proceed; ending the lead's session", { message });
                  cannotProceedWhy = message;
                  cannotProceed.abort(message);
                },
                () => {},
              );
            },
          },
        )
      : undefined;

  reporter.start();
  heartbeat.start();
  taskCounts?.start();
  failureWatch?.start();
  await heartbeat.setStatus("active");
  // Store round trips run alongside the first turn rather than delaying its start; the run's
  // spend so far is awaited only when a budget needs it.
  const running = options.sink.setPhase("Running").catch((error: unknown) => {
    log.warn("Could not record the agent as Running in the store", { error: errorMessage(error) });
  });
  const spent = options.sink.runCostUsd().then(
    (cost) => {
      reporter.knownRunCostUsd = cost;
    },
    () => {},
  );
  if (options.budgetUsd !== undefined) await spent;

  let outcome: SessionOutcome;
  try {
    outcome = await session();
  } catch (error) {
    log.error("Session failed", { error: errorMessage(error), stack: (error as Error).stack });
    outcome = failed("RunnerError", `The runner failed: ${errorMessage(error)}`);
  }
  failureWatch?.stop();
  if (outcome.ok && options.checkSuccess) {
    const problem = await options.checkSuccess().catch((error: unknown) => ({
      reason: "RunnerError",
      message: `The runner could not check the agent's result: ${errorMessage(error)}`,
    }));
    if (problem) outcome = failed(problem.reason, problem.message);
  }
  await Promise.all([running, spent]);
  changes.close();
  await Promise.all([
    reporter.close(),
    taskCounts?.close(),
    recorder.ended({ end: outcome.end, reason: outcome.reason }),
  ]);
  outcome.usage = reporter.total;
  // The hollow-success guard: a teammate that "succeeded" without one team-tool call never took
  // a task or reported back; say so rather than let Succeeded stand unqualified.
  if (outcome.ok && !isLead && turns > 0 && teamToolCalls === 0 && agent.cli !== "scripted") {
    await warn(
      "NoTeamToolCalls",
      `${name} ended (${outcome.reason}) without ever calling a team tool: it claimed no task and reported nothing to the lead.`,
    );
  }
  await heartbeat.stop(memberStatusOf(outcome.end));
  const phase = phaseOf(outcome.end);
  await options.sink
    .setPhase(phase, { reason: outcome.reason, message: outcome.message, exitCode: exitCodeOf(outcome) })
    .catch((error: unknown) => {
      log.warn(`Could not record the agent as ${phase} in the store`, { error: errorMessage(error) });
    });
  log.info("Session ended", {
    end: outcome.end,
    reason: outcome.reason,
    message: outcome.message,
    turns: outcome.turns,
    costUsd: outcome.usage.costUsd,
  });
  return outcome;
}

export function memberStatusOf(end: SessionEnd): MemberStatus {
  switch (end) {
    case "finished":
    case "finished-by-runner":
      return "finished";
    case "shutdown":
    case "idle":
    case "stopped":
      return "stopped";
    case "failed":
      return "failed";
  }
}

export function phaseOf(end: SessionEnd): AgentPhase {
  if (end === "stopped") return "Stopped";
  if (end === "failed") return "Failed";
  return "Succeeded";
}

/** 0 ok, 1 failed, 3 stopped by a signal (see runner/config/exit-codes.ts). */
export function exitCodeOf(outcome: Pick<SessionOutcome, "end">): number {
  if (outcome.end === "stopped") return EXIT.signal;
  if (outcome.end === "failed") return EXIT.failed;
  return EXIT.ok;
}

/**
 * A resumed turn that failed before the model did anything: the CLI did not know the session.
 * A turn that stopped, ran out of budget or could not start says nothing about the session.
 */
function resumeRefused(result: TurnResult): boolean {
  if (!result.isError || result.stopped) return false;
  if (
    result.errorKind === "max_budget" ||
    result.errorKind === "spawn_failed" ||
    result.errorKind === "stopped"
  ) {
    return false;
  }
  return result.inputTokens + result.outputTokens === 0 && result.costUsd === 0;
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === "string") return reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason.message;
  return "an abort";
}
