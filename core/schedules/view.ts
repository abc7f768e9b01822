import { isTerminalTeamPhase } from "../status/phases.ts";
import type { TeamRunRecord } from "../store/items.ts";
import { nextFire, toSchedulerExpression } from "./cron.ts";
import { type ScheduleRecord, scheduledAtOf } from "./store.ts";

export interface ScheduledRun {
  name: string;
  scheduledAt: string;
  phase: string;
}

/** What `GET schedules/{name}` answers and `squadron describe schedule` shows (kagents' status fields). */
export interface ScheduleView {
  namespace: string;
  name: string;
  apiVersion: string;
  schedule: string;
  timeZone: string;
  /** The EventBridge Scheduler expression this cron becomes in AWS. */
  schedulerExpression: string;
  templateRef: string;
  suspend: boolean;
  historyLimit: number;
  lastScheduledAt: string | null;
  /** Computed from the cron now; null while suspended. */
  nextScheduledAt: string | null;
  /** The newest run of the schedule that has not finished, if any. */
  activeRun: string | null;
  /** Recent runs, newest first (as many as the store keeps: historyLimit finished ones plus live ones). */
  runs: ScheduledRun[];
  lastFailure: ScheduleRecord["status"]["lastFailure"] | null;
  createdAt: string;
  updatedAt: string;
  spec: ScheduleRecord["schedule"]["spec"];
}

export function scheduleView(record: ScheduleRecord, runs: TeamRunRecord[], now: Date): ScheduleView {
  const { spec } = record.schedule;
  const active = runs.find((run) => !isTerminalTeamPhase(run.status.phase));
  return {
    namespace: record.namespace,
    name: record.name,
    apiVersion: record.schedule.apiVersion,
    schedule: spec.schedule,
    timeZone: spec.timeZone,
    schedulerExpression: toSchedulerExpression(spec.schedule),
    templateRef: spec.templateRef.name,
    suspend: spec.suspend,
    historyLimit: spec.historyLimit,
    lastScheduledAt: record.status.lastScheduledAt ?? null,
    nextScheduledAt: spec.suspend ? null : nextFire(spec.schedule, spec.timeZone, now).toISOString(),
    activeRun: active?.name ?? null,
    runs: runs.map((run) => ({ name: run.name, scheduledAt: scheduledAtOf(run), phase: run.status.phase })),
    lastFailure: record.status.lastFailure ?? null,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    spec,
  };
}
