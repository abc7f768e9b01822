import { cronProblems, isTimeZone } from "../schedules/cron.ts";
import { error, type PathIssue } from "./issues.ts";

/** `<schedule>-<unix seconds>` (11 more characters) must still be a DNS-1123 label (63). */
export const MAX_SCHEDULE_NAME_LENGTH = 63 - 11;

/**
 * AgentTeamSchedule's own rules, on the raw input like the others in rules.ts: the cron (five
 * fields, portable to EventBridge Scheduler), the time zone (IANA), and a name short enough for
 * the names of the runs it creates.
 */
export function scheduleIssues(raw: Record<string, unknown>): PathIssue[] {
  const issues: PathIssue[] = [];
  const spec = (typeof raw.spec === "object" && raw.spec !== null ? raw.spec : {}) as Record<string, unknown>;
  if (typeof spec.schedule === "string") {
    for (const problem of cronProblems(spec.schedule)) issues.push(error(["spec", "schedule"], problem));
  }
  const zoneKey = spec.timeZone !== undefined ? "timeZone" : "timezone";
  const zone = spec[zoneKey];
  if (spec.timeZone !== undefined && spec.timezone !== undefined && spec.timeZone !== spec.timezone) {
    issues.push(error(["spec", "timezone"], "timezone and timeZone are the same field; give one of them."));
  }
  if (zone !== undefined && (typeof zone !== "string" || !isTimeZone(zone))) {
    issues.push(
      error(
        ["spec", zoneKey],
        `${JSON.stringify(zone)} is not an IANA time zone; use a name such as "UTC", "Europe/Paris" or "America/New_York".`,
      ),
    );
  }
  const metadata = raw.metadata as { name?: unknown } | undefined;
  if (typeof metadata?.name === "string" && metadata.name.length > MAX_SCHEDULE_NAME_LENGTH) {
    issues.push(
      error(
        ["metadata", "name"],
        `A schedule's name is at most ${MAX_SCHEDULE_NAME_LENGTH} characters: its runs are named <schedule>-<unix time of the fire>.`,
      ),
    );
  }
  return issues;
}
