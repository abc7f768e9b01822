import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FilterLogEventsCommand, FilterLogEventsCommandOutput } from "@aws-sdk/client-cloudwatch-logs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  CloudWatchTeamLogs,
  DirectoryTeamLogs,
  type FilterLogEventsClient,
  parseLogText,
} from "../../core/control/team-logs.ts";
import { apiHandler } from "../../lambdas/api/routes.ts";
import { createLogger } from "../../runner/reporting/logger.ts";
import { noteAwsCall } from "../support/aws-call-recorder.ts";
import { event, type Harness, harness, newTable, teamYaml } from "./harness.ts";

const NS = "/api/namespaces/dev-agents";

/** Lines exactly as the runner's logger writes them to stderr (runner/reporting/logger.ts). */
function runnerLines(runId: string, agent: string, entries: Array<[string, string]>): string {
  let out = "";
  const log = createLogger({ keys: { runId, agent }, write: (l) => (out += l) }).child({ mode: "agent" });
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    for (const [time, message] of entries) {
      vi.setSystemTime(new Date(time));
      log.info(message);
    }
  } finally {
    vi.useRealTimers();
  }
  return out;
}

async function get(api: ReturnType<typeof apiHandler>, path: string, query?: Record<string, string>) {
  const res = await api(event("GET", path, query ? { query } : {}));
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

describe("logs route with the local directory reader", () => {
  let h: Harness;
  let api: ReturnType<typeof apiHandler>;
  let runId: string;
  const logsDir = mkdtempSync(join(tmpdir(), "squadron-logs-"));

  beforeAll(async () => {
    h = harness(await newTable());
    api = apiHandler({ ...h.deps, teamLogs: new DirectoryTeamLogs(logsDir) });
    const created = await h.api(event("POST", `${NS}/teams`, { body: teamYaml("logged") }));
    runId = JSON.parse(created.body).runId;
    mkdirSync(join(logsDir, runId), { recursive: true });
    writeFileSync(
      join(logsDir, runId, "lead.log"),
      runnerLines(runId, "lead", [
        ["2026-01-01T10:00:00.000Z", "Turn started"],
        ["2026-01-01T10:00:02.000Z", "Waiting for teammates"],
      ]) +
        // Something that is not the runner's JSON (a crash trace) stays, with the time before it.
        "    at plainFrame (file.ts:1:1)\n" +
        runnerLines(runId, "lead", [["2026-01-01T10:00:04.000Z", "Session ended"]]),
    );
    writeFileSync(
      join(logsDir, runId, "backend-api.log"),
      runnerLines(runId, "backend-api", [
        ["2026-01-01T10:00:01.000Z", "Turn started"],
        ["2026-01-01T10:00:03.000Z", "Turn ended"],
      ]),
    );
    // WorkspaceInit's output: shown with the agents' (a failed clone must be one command away).
    writeFileSync(
      join(logsDir, runId, "init.log"),
      '{"message":"cloned","timestamp":"2026-01-01T09:59:00.000Z"}\n',
    );
  });

  it("merges every agent's lines oldest first, with the runner's timestamps", async () => {
    const res = await get(api, `${NS}/teams/logged/logs`);
    expect(res.status).toBe(200);
    expect(res.body.nextToken).toBeUndefined();
    const items = res.body.items as Array<{ agent: string; time: string; line: string }>;
    expect(items.map((i) => [i.agent, i.time])).toEqual([
      ["init", "2026-01-01T09:59:00.000Z"],
      ["lead", "2026-01-01T10:00:00.000Z"],
      ["backend-api", "2026-01-01T10:00:01.000Z"],
      ["lead", "2026-01-01T10:00:02.000Z"],
      ["lead", "2026-01-01T10:00:02.000Z"],
      ["backend-api", "2026-01-01T10:00:03.000Z"],
      ["lead", "2026-01-01T10:00:04.000Z"],
    ]);
    expect(items[4]?.line).toBe("    at plainFrame (file.ts:1:1)");
    const first = JSON.parse(items[1]?.line ?? "{}");
    expect(first).toMatchObject({ message: "Turn started", runId, agent: "lead", mode: "agent" });
  });

  it("reads one agent, since inclusive, and pages with a token tied to the query", async () => {
    const lead = await get(api, `${NS}/teams/logged/logs`, {
      agent: "lead",
      since: "2026-01-01T10:00:02.000Z",
      limit: "2",
    });
    expect(lead.status).toBe(200);
    expect(lead.body.items.map((i: { time: string }) => i.time)).toEqual([
      "2026-01-01T10:00:02.000Z",
      "2026-01-01T10:00:02.000Z",
    ]);
    expect(typeof lead.body.nextToken).toBe("string");
    const rest = await get(api, `${NS}/teams/logged/logs`, {
      agent: "lead",
      since: "2026-01-01T10:00:02.000Z",
      limit: "2",
      nextToken: lead.body.nextToken,
    });
    expect(rest.body).toEqual({
      items: [expect.objectContaining({ agent: "lead", time: "2026-01-01T10:00:04.000Z" })],
    });
    // The same token with another agent filter is another list's token.
    const other = await get(api, `${NS}/teams/logged/logs`, {
      agent: "backend-api",
      since: "2026-01-01T10:00:02.000Z",
      nextToken: lead.body.nextToken,
    });
    expect(other.status).toBe(400);
    expect(other.body.error).toMatch(/page token/);
  });

  it("refuses an unknown agent naming the team's agents, a bad since or limit, and an unknown team", async () => {
    const ghost = await get(api, `${NS}/teams/logged/logs`, { agent: "ghost" });
    expect(ghost.status).toBe(400);
    expect(ghost.body.error).toBe(
      "team logged has no agent ghost; its agents are lead, backend-api, test-coverage (and init, finalize)",
    );
    for (const since of ["yesterday", "10m", "2026-13-45T00:00:00Z", ""]) {
      const bad = await get(api, `${NS}/teams/logged/logs`, { since });
      expect(bad.status, since).toBe(400);
      expect(bad.body.issues).toEqual([{ path: "since", message: "not an ISO 8601 time" }]);
    }
    expect((await get(api, `${NS}/teams/logged/logs`, { limit: "0" })).status).toBe(400);
    expect((await get(api, `${NS}/teams/logged/logs`, { limit: "1001" })).status).toBe(400);
    const missing = await get(api, `${NS}/teams/nope/logs`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/nope/);
  });

  it("answers an empty list before any runner has written, and 403 outside the token's namespaces", async () => {
    await h.api(event("POST", `${NS}/teams`, { body: teamYaml("quiet") }));
    expect(await get(api, `${NS}/teams/quiet/logs`)).toEqual({ status: 200, body: { items: [] } });
    const res = await api(event("GET", "/api/namespaces/other/teams/logged/logs", { token: "dev-token" }));
    expect(res.statusCode).toBe(403);
  });

  it("has no logs route when the deployment has no logs reader", async () => {
    const res = await h.api(event("GET", `${NS}/teams/logged/logs`));
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).error).toMatch(/^no route for/);
  });
});

describe("plain and JSON lines", () => {
  it("takes time or timestamp, carries it to plain lines, and falls back to the file's time", () => {
    const mtime = new Date("2026-02-02T00:00:00.000Z");
    const lines = parseLogText(
      "lead",
      'first plain\n{"time":"2026-01-01T10:00:00Z","msg":"x"}\nsecond plain\r\n{"timestamp":1767261605000}\n',
      mtime,
    );
    expect(lines.map((l) => [l.time, l.line])).toEqual([
      ["2026-01-01T10:00:00.000Z", "first plain"],
      ["2026-01-01T10:00:00.000Z", '{"time":"2026-01-01T10:00:00Z","msg":"x"}'],
      ["2026-01-01T10:00:00.000Z", "second plain"],
      ["2026-01-01T10:00:05.000Z", '{"timestamp":1767261605000}'],
    ]);
    expect(parseLogText("lead", "only plain\n{not json\n", mtime).map((l) => l.time)).toEqual([
      mtime.toISOString(),
      mtime.toISOString(),
    ]);
  });
});

/**
 * FilterLogEvents responses in the shape CloudWatch Logs returns them (awslogs streams
 * `runner/<container>/<task id>`, millisecond timestamps, opaque tokens), played back in order.
 */
class RecordedCloudWatch implements FilterLogEventsClient {
  calls: FilterLogEventsCommand["input"][] = [];
  constructor(private readonly responses: Array<Omit<FilterLogEventsCommandOutput, "$metadata">>) {}
  async send(command: FilterLogEventsCommand) {
    this.calls.push(command.input);
    noteAwsCall("CloudWatch Logs", "FilterLogEvents", command.input);
    const next = this.responses.shift();
    if (!next) throw new Error("no recorded FilterLogEvents response left");
    return {
      $metadata: { httpStatusCode: 200, requestId: "5e0f1a7c-0000-4000-8000-000000000000", attempts: 1 },
      ...next,
    };
  }
}

function cwEvent(
  runId: string,
  agent: string,
  ms: number,
  message: string,
  task = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f",
) {
  return {
    logStreamName: `runner/runner/${task}`,
    timestamp: ms,
    message: JSON.stringify({
      level: "INFO",
      message,
      timestamp: new Date(ms - 3).toISOString(),
      service: "squadron-runner",
      runId,
      agent,
      mode: "agent",
    }),
    ingestionTime: ms + 180,
    eventId: `3${String(ms).padStart(55, "0")}`,
  };
}

describe("logs route with the CloudWatch Logs reader", () => {
  let h: Harness;
  let runId: string;
  let createdAt: string;
  const T0 = Date.parse("2026-01-01T10:00:00.000Z");

  beforeAll(async () => {
    h = harness(await newTable());
    const created = await h.api(event("POST", `${NS}/teams`, { body: teamYaml("clouded") }));
    ({ runId, createdAt } = JSON.parse(created.body));
  });

  function apiWith(client: FilterLogEventsClient) {
    return apiHandler({ ...h.deps, teamLogs: new CloudWatchTeamLogs(client, "/squadron/runner") });
  }

  it("filters the runner group on runId and agent keys, bounded by the run's creation", async () => {
    const cw = new RecordedCloudWatch([
      {
        events: [
          cwEvent(runId, "lead", T0, "Turn started"),
          cwEvent(runId, "backend-api", T0 + 1000, "Turn started"),
        ],
        searchedLogStreams: [],
      },
    ]);
    const res = await get(apiWith(cw), `${NS}/teams/clouded/logs`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { agent: string; time: string }) => [i.agent, i.time])).toEqual([
      ["lead", "2026-01-01T10:00:00.000Z"],
      ["backend-api", "2026-01-01T10:00:01.000Z"],
    ]);
    expect(JSON.parse(res.body.items[0].line)).toMatchObject({ message: "Turn started", runId });
    expect(cw.calls).toEqual([
      {
        logGroupName: "/squadron/runner",
        filterPattern: `{ ($.runId = "${runId}") && ($.agent = "init" || $.agent = "finalize" || $.agent = "lead" || $.agent = "backend-api" || $.agent = "test-coverage") }`,
        limit: 500,
        startTime: Date.parse(createdAt),
      },
    ]);
  });

  it("passes since as startTime and pages through CloudWatch's token, skipping empty pages", async () => {
    const since = "2030-01-01T00:00:00.000Z";
    const cw = new RecordedCloudWatch([
      {
        events: [],
        searchedLogStreams: [],
        nextToken: "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI6X-page1",
      },
      {
        events: [cwEvent(runId, "lead", Date.parse(since), "Turn ended")],
        searchedLogStreams: [],
        nextToken: "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI6X-page2",
      },
      { events: [cwEvent(runId, "lead", Date.parse(since) + 5, "Session ended")], searchedLogStreams: [] },
    ]);
    const api = apiWith(cw);
    const first = await get(api, `${NS}/teams/clouded/logs`, { agent: "lead", since, limit: "1" });
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([expect.objectContaining({ agent: "lead", time: since })]);
    expect(first.body.nextToken).not.toContain("Bxkq"); // opaque: wrapped with its query
    const second = await get(api, `${NS}/teams/clouded/logs`, {
      agent: "lead",
      since,
      limit: "1",
      nextToken: first.body.nextToken,
    });
    expect(second.body.items.map((i: { line: string }) => JSON.parse(i.line).message)).toEqual([
      "Session ended",
    ]);
    expect(second.body.nextToken).toBeUndefined();
    expect(cw.calls.map((c) => [c.filterPattern, c.startTime, c.nextToken])).toEqual([
      [`{ ($.runId = "${runId}") && ($.agent = "lead") }`, Date.parse(since), undefined],
      [
        `{ ($.runId = "${runId}") && ($.agent = "lead") }`,
        Date.parse(since),
        "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI6X-page1",
      ],
      [
        `{ ($.runId = "${runId}") && ($.agent = "lead") }`,
        Date.parse(since),
        "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI6X-page2",
      ],
    ]);
  });

  it("drops lines that are not an agent's (init, finalize, non-JSON) and refuses a forged token", async () => {
    const init = {
      ...cwEvent(runId, "lead", T0, "cloned"),
      message: JSON.stringify({ message: "cloned", runId, mode: "init" }),
    };
    const plain = { ...cwEvent(runId, "lead", T0 + 1, "x"), message: "plain text" };
    const cw = new RecordedCloudWatch([
      { events: [init, plain, cwEvent(runId, "lead", T0 + 2, "kept")], searchedLogStreams: [] },
    ]);
    const api = apiWith(cw);
    const res = await get(api, `${NS}/teams/clouded/logs`);
    expect(res.body.items.map((i: { line: string }) => JSON.parse(i.line).message)).toEqual(["kept"]);
    const forged = await get(api, `${NS}/teams/clouded/logs`, { nextToken: "Bxkq6kVGFtq2y_Moigeqsc" });
    expect(forged.status).toBe(400);
    expect(cw.calls).toHaveLength(1);
  });
});
