import { CronExpressionParser } from "cron-parser";

/**
 * Five-field cron (minute hour day-of-month month day-of-week), as kagents' AgentTeamSchedule
 * takes it (robfig/cron's standard parser), checked and evaluated with cron-parser, and translated
 * to EventBridge Scheduler's six-field `cron(...)` form.
 *
 * Squadron accepts the syntax both sides mean the same by: per field a comma list of `*`, `N`,
 * `N-M`, `*\/S`, `N-M/S`, `N/S`, with month names JAN-DEC and day names SUN-SAT (day 0 and 7 are
 * Sunday). cron's `L`, `W`, `#`, `?` and `H`, the `@daily` shortcuts and a seconds field are
 * refused: a schedule must fire at the same times locally and in AWS.
 */

export const DEFAULT_TIME_ZONE = "UTC";

const FIELD_NAMES = ["minute", "hour", "day-of-month", "month", "day-of-week"] as const;
const FIELD_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** One term of a field: `*`, a value, a range, each with an optional step. */
const TERM = /^(\*|[0-9A-Z]+(-[0-9A-Z]+)?)(\/[0-9]+)?$/;

export interface ParsedCron {
  /** The five fields as written (upper-cased names). */
  fields: string[];
  /** The values each field matches, after expanding ranges and steps (day-of-week 7 → 0). */
  values: number[][];
}

/** Every problem with a five-field cron expression, as sentences; [] when it is valid. */
export function cronProblems(expression: string): string[] {
  return tryParseCron(expression).problems;
}

export function parseCron(expression: string): ParsedCron {
  const { parsed, problems } = tryParseCron(expression);
  if (!parsed) throw new RangeError(problems.join(" "));
  return parsed;
}

function tryParseCron(expression: string): { parsed?: ParsedCron; problems: string[] } {
  if (typeof expression !== "string" || expression.trim() === "") {
    return { problems: ['The schedule is a five-field cron expression such as "0 6 * * MON".'] };
  }
  const fields = expression.trim().toUpperCase().split(/\s+/);
  if (fields.length !== 5) {
    return {
      problems: [
        `The schedule must have five fields (minute hour day-of-month month day-of-week), found ${fields.length} in ${JSON.stringify(expression)}.`,
      ],
    };
  }
  const problems: string[] = [];
  fields.forEach((field, index) => {
    const name = FIELD_NAMES[index] as string;
    for (const term of field.split(",")) {
      if (!TERM.test(term)) {
        problems.push(
          `The ${name} field ${JSON.stringify(field)} is not supported: use *, N, N-M and /step terms separated by commas (cron's L, W, #, ? and H are not portable to EventBridge Scheduler).`,
        );
        return;
      }
      const [low, high] = FIELD_RANGES[index] as readonly [number, number];
      for (const value of term.replace(/\/.*$/, "").split("-")) {
        if (value === "*") continue;
        const n = fieldValue(value, index);
        if (n === undefined || n < low || n > high) {
          problems.push(`The ${name} field ${JSON.stringify(field)} holds ${value}, outside ${low}-${high}.`);
          return;
        }
      }
    }
  });
  if (problems.length === 0 && fields[2] !== "*" && fields[4] !== "*") {
    // cron fires when EITHER field matches; Scheduler cannot say that: one of them must be `?`.
    problems.push(
      "Both day-of-month and day-of-week are restricted; cron would fire when either matches, which EventBridge Scheduler cannot express. Use * in one of them (or two schedules).",
    );
  }
  if (problems.length > 0) return { problems };
  let expression5: ReturnType<typeof CronExpressionParser.parse>;
  try {
    expression5 = CronExpressionParser.parse(fields.join(" "), { tz: DEFAULT_TIME_ZONE });
  } catch (error) {
    return {
      problems: [`The schedule ${JSON.stringify(expression)} is not valid cron: ${(error as Error).message}`],
    };
  }
  const f = expression5.fields;
  const values = [f.minute, f.hour, f.dayOfMonth, f.month, f.dayOfWeek].map((field) =>
    [...new Set(field.values.map((v) => Number(v)).filter((v) => Number.isInteger(v)))].sort((a, b) => a - b),
  );
  values[4] = [...new Set((values[4] as number[]).map((d) => d % 7))].sort((a, b) => a - b);
  return { parsed: { fields, values }, problems: [] };
}

function fieldValue(text: string, fieldIndex: number): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text);
  if (fieldIndex === 3) {
    const i = MONTHS.indexOf(text);
    return i < 0 ? undefined : i + 1;
  }
  if (fieldIndex === 4) {
    const i = DAYS.indexOf(text);
    return i < 0 ? undefined : i;
  }
  return undefined;
}

/** True when `zone` is an IANA time zone name this runtime knows (e.g. Europe/Paris, UTC). */
export function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The first fire strictly after `after`, in `timeZone` (default UTC). */
export function nextFire(expression: string, timeZone: string | undefined, after: Date): Date {
  const { fields } = parseCron(expression);
  const cron = CronExpressionParser.parse(fields.join(" "), {
    tz: timeZone ?? DEFAULT_TIME_ZONE,
    currentDate: after,
  });
  return cron.next().toDate();
}

/** True when `at` (to the second) is a time the expression fires at. */
export function isFireTime(expression: string, timeZone: string | undefined, at: Date): boolean {
  if (at.getUTCSeconds() !== 0 || at.getUTCMilliseconds() !== 0) return false;
  return nextFire(expression, timeZone, new Date(at.getTime() - 1000)).getTime() === at.getTime();
}

/**
 * EventBridge Scheduler's `cron(minutes hours day-of-month month day-of-week year)`.
 * From the Scheduler user guide (schedule-types.html, "Cron-based schedules") and EventBridge's
 * cron reference (eb-scheduled-rule-pattern.html): six required fields; Day-of-week is 1-7 or
 * SUN-SAT (1 = Sunday, where cron's 0 or 7 is Sunday); "You can't specify the Day-of-month and
 * Day-of-week fields in the same cron expression. If you specify a value or a * (asterisk) in
 * one of the fields, you must use a ? (question mark) in the other"; wildcards `, - * /`.
 * Each field is written from the expanded values as a comma list of values and ranges, so steps
 * and names mean exactly what cron-parser computed locally.
 */
export function toSchedulerExpression(expression: string): string {
  const { fields, values } = parseCron(expression);
  const [minute, hour, dom, month, dow] = values as [number[], number[], number[], number[], number[]];
  const minutes = fields[0] === "*" ? "*" : compress(minute);
  const hours = fields[1] === "*" ? "*" : compress(hour);
  const months = fields[3] === "*" ? "*" : compress(month);
  let dayOfMonth: string;
  let dayOfWeek: string;
  if (fields[4] !== "*") {
    dayOfMonth = "?";
    // cron 0-6 (Sunday 0) → Scheduler 1-7 (Sunday 1).
    dayOfWeek = compress(dow.map((d) => d + 1));
  } else {
    dayOfMonth = fields[2] === "*" ? "*" : compress(dom);
    dayOfWeek = "?";
  }
  return `cron(${minutes} ${hours} ${dayOfMonth} ${months} ${dayOfWeek} *)`;
}

/** [1,2,3,5] → "1-3,5". */
function compress(values: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] as number) === (values[j] as number) + 1) j++;
    parts.push(j > i ? `${values[i]}-${values[j]}` : `${values[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}
