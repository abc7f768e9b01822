import { join } from "node:path";
import type { FilteredLogEvent, FilterLogEventsCommandInput } from "@aws-sdk/client-cloudwatch-logs";
import { FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { openConfinedFile } from "../confined-fs.ts";
import { InvalidPageTokenError } from "../store/errors.ts";

/** One line of runner output, as `GET .../teams/{name}/logs` returns it. */
export interface LogLine {
  agent: string;
  /** ISO 8601. */
  time: string;
  line: string;
}

export interface LogsQuery {
  runId: string;
  /** The agents to read (the route passes one, or every agent of the team). */
  agents: string[];
  /** Inclusive lower bound. */
  since?: Date;
  /** When the run was created: nothing older can belong to it (bounds the CloudWatch search). */
  notBefore?: Date;
  limit: number;
  nextToken?: string;
}

export interface LogsPage {
  items: LogLine[];
  nextToken?: string;
}

/** Reads the runner output of a run's agents, oldest first. Never writes. */
export interface TeamLogsReader {
  read(query: LogsQuery): Promise<LogsPage>;
}

const SAFE_NAME = /^[A-Za-z0-9_-]+$/;

function assertSafe(kind: string, value: string): void {
  if (!SAFE_NAME.test(value)) throw new Error(`invalid ${kind} ${JSON.stringify(value)}`);
}

/**
 * Page tokens carry the query they belong to, so a token from another run, agent filter or
 * `since` is refused (400) instead of silently paging through the wrong list.
 */
interface TokenBody {
  scope: string;
  position: string | number;
}

function scopeOf(query: LogsQuery): string {
  return [query.runId, query.agents.join(","), query.since?.toISOString() ?? ""].join("|");
}

function encodeToken(query: LogsQuery, position: string | number): string {
  return Buffer.from(JSON.stringify({ scope: scopeOf(query), position } satisfies TokenBody)).toString(
    "base64url",
  );
}

function decodeToken(query: LogsQuery): string | number | undefined {
  if (query.nextToken === undefined) return undefined;
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(query.nextToken, "base64url").toString("utf8")) as Partial<TokenBody>;
  } catch {
    throw new InvalidPageTokenError();
  }
  if (!body || body.scope !== scopeOf(query)) throw new InvalidPageTokenError();
  if (typeof body.position !== "string" && typeof body.position !== "number")
    throw new InvalidPageTokenError();
  return body.position;
}

/** The time a runner line carries: its JSON `timestamp` (the runner's logger) or `time` field. */
export function lineTime(line: string): string | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  try {
    const entry = JSON.parse(text) as Record<string, unknown>;
    for (const key of ["timestamp", "time"]) {
      const value = entry[key];
      if (typeof value === "string" || typeof value === "number") {
        const ms = typeof value === "number" ? value : Date.parse(value);
        if (Number.isFinite(ms)) return new Date(ms).toISOString();
      }
    }
  } catch {
    // a plain line that happens to start with "{"
  }
  return undefined;
}

/**
 * Splits one log file into lines with times. A plain line (no JSON time) takes the time of the
 * timed line before it, so order and `since` still work; plain lines at the very start take the
 * first time in the file, and a file without any time takes its modification time.
 */
export function parseLogText(agent: string, text: string, fallback: Date): LogLine[] {
  const raw = text.split("\n");
  if (raw.at(-1) === "") raw.pop();
  const times = raw.map((l) => lineTime(l));
  let current = times.find((t) => t !== undefined) ?? fallback.toISOString();
  return raw.map((line, i) => {
    current = times[i] ?? current;
    return { agent, time: current, line: line.replace(/\r$/, "") };
  });
}

/**
 * Local mode: the runner's stderr is appended to `<logsDir>/<runId>/<agent>.log` (one file per
 * runner process, see local/runner-process.ts). All the run's agents are merged by time.
 */
export class DirectoryTeamLogs implements TeamLogsReader {
  constructor(private readonly logsDir: string) {}

  private async agentLines(runId: string, agent: string): Promise<LogLine[]> {
    assertSafe("agent", agent);
    // Confined to the run's log directory: a log file replaced by a link is not followed.
    let handle: Awaited<ReturnType<typeof openConfinedFile>>;
    try {
      handle = await openConfinedFile(join(this.logsDir, runId), `${agent}.log`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    if (!handle) return [];
    try {
      const [text, info] = await Promise.all([handle.readFile("utf8"), handle.stat()]);
      return parseLogText(agent, text, info.mtime);
    } finally {
      await handle.close();
    }
  }

  async read(query: LogsQuery): Promise<LogsPage> {
    assertSafe("run id", query.runId);
    const position = decodeToken(query);
    if (
      position !== undefined &&
      (typeof position !== "number" || !Number.isInteger(position) || position < 0)
    )
      throw new InvalidPageTokenError();
    const offset = (position as number | undefined) ?? 0;
    const perAgent = await Promise.all(query.agents.map((agent) => this.agentLines(query.runId, agent)));
    const since = query.since?.toISOString();
    // Stable merge: by time, then the agents' order, then the line's place in its file.
    const all = perAgent
      .flatMap((lines, a) => lines.map((line, i) => ({ line, a, i })))
      .filter(({ line }) => since === undefined || line.time >= since)
      .sort((x, y) =>
        x.line.time < y.line.time ? -1 : x.line.time > y.line.time ? 1 : x.a - y.a || x.i - y.i,
      )
      .map(({ line }) => line);
    const items = all.slice(offset, offset + query.limit);
    const next = offset + items.length;
    return next < all.length ? { items, nextToken: encodeToken(query, next) } : { items };
  }
}

/** The part of CloudWatchLogsClient the reader uses (a recorded-response double in tests). */
export interface FilterLogEventsClient {
  send(command: FilterLogEventsCommand): Promise<{ events?: FilteredLogEvent[]; nextToken?: string }>;
}

/** Most FilterLogEvents calls one page may make while CloudWatch returns empty pages with a token. */
const MAX_CALLS_PER_PAGE = 5;

/**
 * AWS: the runner containers log to one group (awslogs driver, stream `runner/<container>/<task>`);
 * the runner's JSON lines carry `runId` and `agent` (runner/entrypoint.ts), so a JSON filter
 * pattern selects one run's agents across every stream.
 */
export class CloudWatchTeamLogs implements TeamLogsReader {
  constructor(
    private readonly client: FilterLogEventsClient,
    private readonly logGroupName: string,
  ) {}

  /** `{ $.runId = "r" && ($.agent = "a" || $.agent = "b") }`; names are DNS labels, safe to quote. */
  static filterPattern(runId: string, agents: string[]): string {
    assertSafe("run id", runId);
    for (const agent of agents) assertSafe("agent", agent);
    const byAgent = agents.map((a) => `$.agent = "${a}"`).join(" || ");
    return agents.length === 0 ? `{ $.runId = "${runId}" }` : `{ ($.runId = "${runId}") && (${byAgent}) }`;
  }

  async read(query: LogsQuery): Promise<LogsPage> {
    const position = decodeToken(query);
    if (position !== undefined && typeof position !== "string") throw new InvalidPageTokenError();
    const start = Math.max(query.since?.getTime() ?? 0, query.notBefore?.getTime() ?? 0);
    const wanted = new Set(query.agents);
    const items: LogLine[] = [];
    let token = position;
    for (let call = 0; call < MAX_CALLS_PER_PAGE; call++) {
      const input: FilterLogEventsCommandInput = {
        logGroupName: this.logGroupName,
        filterPattern: CloudWatchTeamLogs.filterPattern(query.runId, query.agents),
        limit: query.limit - items.length,
        ...(start > 0 ? { startTime: start } : {}),
        ...(token ? { nextToken: token } : {}),
      };
      const response = await this.client.send(new FilterLogEventsCommand(input));
      for (const event of response.events ?? []) {
        const item = toLogLine(event);
        if (item && wanted.has(item.agent)) items.push(item);
      }
      token = response.nextToken;
      if (!token || items.length > 0) break;
    }
    return token ? { items, nextToken: encodeToken(query, token) } : { items };
  }
}

/** The event's own timestamp is the time: it is what `startTime` (our `since`) filters on. */
function toLogLine(event: FilteredLogEvent): LogLine | undefined {
  if (event.message === undefined || event.timestamp === undefined) return undefined;
  const line = event.message.replace(/\r?\n$/, "");
  let agent: unknown;
  try {
    agent = (JSON.parse(line) as { agent?: unknown }).agent;
  } catch {
    return undefined;
  }
  if (typeof agent !== "string") return undefined;
  return { agent, time: new Date(event.timestamp).toISOString(), line };
}
