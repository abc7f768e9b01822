import type { ControlDeps } from "../control/deps.ts";
import { createTeamRun, recordEvent, refOf } from "../control/team-runs.ts";
import { teamFromRun } from "../control/template-runs.ts";
import { ManifestError } from "../manifest/issues.ts";
import type { ManifestOptions } from "../manifest/options.ts";
import type { AgentTeamRun, AgentTeamSchedule } from "../manifest/types.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { normalEvent } from "../status/status.ts";
import { ConflictError, NotFoundError } from "../store/errors.ts";
import { isFireTime } from "./cron.ts";
import { SCHEDULE_LABEL, SCHEDULED_AT_ANNOTATION, type ScheduleStore, scheduledAtOf } from "./store.ts";

/**
 * What a timer delivers: EventBridge Scheduler's target input in AWS (with `scheduledTime` filled
 * from the `<aws.scheduler.scheduled-time>` context attribute), the local timer's call locally.
 */
export interface ScheduleFire {
  source: "squadron.schedule";
  namespace: string;
  name: string;
  /** The fire window (ISO 8601), not the wall-clock time of the invocation. */
  scheduledTime: string;
}

export function isScheduleFire(event: unknown): event is ScheduleFire {
  const e = event as Partial<ScheduleFire> | null;
  return (
    typeof e === "object" &&
    e !== null &&
    e.source === "squadron.schedule" &&
    typeof e.namespace === "string" &&
    typeof e.name === "string" &&
    typeof e.scheduledTime === "string"
  );
}

export type FireOutcome =
  | { result: "Created"; run: string }
  | { result: "AlreadyFired"; run: string }
  | { result: "Skipped"; reason: "NotFound" | "Suspended" | "NotAFireTime"; message: string }
  | { result: "Failed"; message: string };

export type FireDeps = Pick<ControlDeps, "store" | "runs" | "starter" | "logger"> &
  Partial<Pick<ControlDeps, "stopper">> & {
    schedules: ScheduleStore;
    /** The deployment's manifest defaults, as for any applied run. */
    manifestOptions?: ManifestOptions;
  };

/** `<schedule>-<unix seconds of the window>`: the same window always names the same run. */
export function runNameFor(schedule: string, window: Date): string {
  return `${schedule}-${Math.floor(window.getTime() / 1000)}`;
}

/** The AgentTeamRun a fire creates: the schedule's run fields, named after the window. */
export function runFromSchedule(schedule: AgentTeamSchedule, window: Date): AgentTeamRun {
  const spec = structuredClone(schedule.spec);
  return {
    apiVersion: schedule.apiVersion,
    kind: "AgentTeamRun",
    metadata: {
      name: runNameFor(schedule.metadata.name, window),
      namespace: schedule.metadata.namespace,
      // The schedule's annotations are not copied: an approval annotation on a schedule must not
      // pre-approve the gates of every run it will ever create.
      labels: { ...schedule.metadata.labels, [SCHEDULE_LABEL]: schedule.metadata.name },
      annotations: { [SCHEDULED_AT_ANNOTATION]: window.toISOString() },
    },
    spec: {
      templateRef: spec.templateRef,
      ...(spec.repository ? { repository: spec.repository } : {}),
      ...(spec.workspace ? { workspace: spec.workspace } : {}),
      auth: spec.auth,
      ...(spec.imagePullSecrets ? { imagePullSecrets: spec.imagePullSecrets } : {}),
      lead: spec.lead,
      ...(spec.lifecycle ? { lifecycle: spec.lifecycle } : {}),
      observability: spec.observability,
    },
  };
}

/**
 * One fire of a schedule: creates the run of its window from the template, through the same code
 * as applying an AgentTeamRun (teamFromRun → createTeamRun), then prunes finished runs beyond
 * `historyLimit`. Idempotent per window: a retried or duplicated fire finds the run's name taken
 * (or the window already recorded) and answers AlreadyFired. Only transient failures throw (so
 * Scheduler retries); a fire that can never work (no template, an invalid merge) is recorded in
 * the schedule's status and returns Failed.
 */
export async function fireSchedule(deps: FireDeps, fire: ScheduleFire): Promise<FireOutcome> {
  const at = Date.parse(fire.scheduledTime);
  if (!Number.isFinite(at)) throw new RangeError(`scheduledTime ${fire.scheduledTime} is not a time`);
  // Scheduler's scheduled time is the minute the cron names; drop anything finer.
  const window = new Date(Math.floor(at / 60_000) * 60_000);
  const record = await deps.schedules.find(fire.namespace, fire.name);
  if (!record) {
    return skipped(deps, fire, "NotFound", `Schedule ${fire.namespace}/${fire.name} no longer exists.`);
  }
  const { schedule } = record;
  if (schedule.spec.suspend) {
    return skipped(deps, fire, "Suspended", `Schedule ${fire.namespace}/${fire.name} is suspended.`);
  }
  if (!isFireTime(schedule.spec.schedule, schedule.spec.timeZone, window)) {
    // A fire of the cron this schedule had before it was changed.
    return skipped(
      deps,
      fire,
      "NotAFireTime",
      `${window.toISOString()} is not a fire time of "${schedule.spec.schedule}" (${schedule.spec.timeZone}).`,
    );
  }
  const runName = runNameFor(fire.name, window);
  const last = record.status.lastScheduledAt;
  if (last !== undefined && Date.parse(last) >= window.getTime()) {
    // This window (or a later one) already created its run, which may have been pruned since.
    return { result: "AlreadyFired", run: runName };
  }

  const run = runFromSchedule(schedule, window);
  let outcome: FireOutcome;
  try {
    const team = await teamFromRun(deps, run, deps.manifestOptions ?? {});
    const created = await createTeamRun(deps, team);
    await recordEvent(
      deps,
      refOf(created),
      normalEvent("Scheduled", `Created by schedule ${fire.name} for ${window.toISOString()}.`),
    );
    outcome = { result: "Created", run: runName };
  } catch (error) {
    if (error instanceof ConflictError && error.kind === "team") {
      outcome = { result: "AlreadyFired", run: runName };
    } else if (
      error instanceof ManifestError ||
      (error instanceof NotFoundError && error.kind === "template")
    ) {
      const message =
        error instanceof NotFoundError
          ? `Template ${schedule.spec.templateRef.name} not found in ${fire.namespace}; no run created for ${window.toISOString()}.`
          : error.message;
      await deps.schedules.recordFailure(fire.namespace, fire.name, window.toISOString(), message);
      deps.logger?.warn("schedule fire created no run", { schedule: fire.name, message });
      return { result: "Failed", message };
    } else {
      throw error;
    }
  }
  await deps.schedules.recordFire(fire.namespace, fire.name, window.toISOString());
  await pruneHistory(deps, schedule);
  deps.logger?.info("schedule fired", { schedule: `${fire.namespace}/${fire.name}`, ...outcome });
  return outcome;
}

function skipped(
  deps: FireDeps,
  fire: ScheduleFire,
  reason: "NotFound" | "Suspended" | "NotAFireTime",
  message: string,
): FireOutcome {
  deps.logger?.info("schedule fire skipped", { schedule: `${fire.namespace}/${fire.name}`, reason });
  return { result: "Skipped", reason, message };
}

/**
 * Keeps the newest `historyLimit` runs of the schedule; older ones are deleted once finished
 * (a run still going is never deleted). `historyLimit: 0` keeps every run (kagents' meaning).
 * Returns the names deleted.
 */
export async function pruneHistory(
  deps: Pick<FireDeps, "schedules" | "store" | "runs" | "logger">,
  schedule: AgentTeamSchedule,
): Promise<string[]> {
  const limit = schedule.spec.historyLimit;
  if (limit === 0) return [];
  const { namespace, name } = schedule.metadata;
  const runs = await deps.schedules.runsOf(namespace, name);
  const pruned: string[] = [];
  for (const run of runs.slice(limit)) {
    if (!isTerminalTeamPhase(run.status.phase)) continue;
    try {
      await deps.store.removeRun(run);
      // The run-id pointer goes with its run (a retried prune may find it gone already).
      await deps.runs.remove(run.runId, run).catch(() => undefined);
      pruned.push(run.name);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // pruned by a concurrent fire
    }
  }
  if (pruned.length > 0) deps.logger?.info("schedule history pruned", { schedule: name, pruned });
  return pruned;
}

export { scheduledAtOf };
