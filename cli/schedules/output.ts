import type { ScheduleView } from "../../core/schedules/view.ts";
import { age } from "../output/age.ts";
import { renderTable } from "../output/table.ts";

/** kagents' printer columns (Schedule, Last, Next, Active, Age) plus SUSPEND. */
export const SCHEDULE_COLUMNS = [
  "NAME",
  "SCHEDULE",
  "TIMEZONE",
  "SUSPEND",
  "LAST",
  "NEXT",
  "ACTIVE",
  "AGE",
] as const;

export function schedulesTable(schedules: readonly ScheduleView[], now: Date = new Date()): string[] {
  return renderTable(
    SCHEDULE_COLUMNS,
    schedules.map((s) => [
      s.name,
      s.schedule,
      s.timeZone,
      String(s.suspend),
      s.lastScheduledAt ? `${age(s.lastScheduledAt, now)} ago` : "<none>",
      s.nextScheduledAt ?? "<none>",
      s.activeRun ?? "<none>",
      age(s.createdAt, now),
    ]),
  );
}

export function describeSchedule(s: ScheduleView, now: Date = new Date()): string {
  const lines = [
    `Name:          ${s.name}`,
    `Namespace:     ${s.namespace}`,
    `API Version:   ${s.apiVersion}`,
    `Schedule:      ${s.schedule} (${s.timeZone})`,
    `In AWS:        ${s.schedulerExpression}`,
    `Template:      ${s.templateRef}`,
    `Suspended:     ${s.suspend}`,
    `History Limit: ${s.historyLimit === 0 ? "0 (keep every run)" : s.historyLimit}`,
    `Last Fire:     ${s.lastScheduledAt ?? "<none>"}`,
    `Next Fire:     ${s.nextScheduledAt ?? "<none>"}`,
    `Active Run:    ${s.activeRun ?? "<none>"}`,
    `Last Failure:  ${s.lastFailure ? `${s.lastFailure.scheduledAt}: ${s.lastFailure.message}` : "<none>"}`,
    `Created:       ${s.createdAt} (${age(s.createdAt, now)} ago)`,
    "Runs:",
  ];
  if (s.runs.length === 0) lines.push("  <none>");
  else
    lines.push(
      ...renderTable(
        ["NAME", "SCHEDULED AT", "PHASE"],
        s.runs.map((r) => [r.name, r.scheduledAt, r.phase]),
      ).map((line) => `  ${line}`),
    );
  return `${lines.join("\n")}\n`;
}
