/**
 * The CLI's AgentTeamSchedule commands as a user runs them (the real `squadron` process against
 * the api handler on DynamoDB Local, with an EventBridge Scheduler recorder): kagents' published
 * weekly-schedule sample is applied unchanged, fired once, then listed (`get schedules`),
 * described (`describe schedule`), suspended and resumed (the Scheduler schedule's State follows).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fireSchedule } from "../../core/schedules/fire.ts";
import type { ScheduleStore } from "../../core/schedules/store.ts";
import {
  call,
  type Harness,
  harness,
  newTable,
  scheduleApi,
  type schedulerStandIn,
} from "../lambdas/harness.ts";
import { hasKagents, kagentsDir, kagentsSkipReason } from "../manifest/fixtures.ts";
import { type ApiServer, squadron, startApiServer } from "./support/api-server.ts";

// Each command starts the CLI as a real process (tsx compiles it on start): seconds each under load.
vi.setConfig({ testTimeout: 120_000 });

const NS = "cowork-agents";
const TEMPLATE = `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamTemplate
metadata: {name: standup-summarizer, namespace: ${NS}}
spec:
  teammates:
    - {name: researcher, prompt: "Collect what each channel said."}
    - {name: writer, prompt: "Write the summary.", dependsOn: [researcher]}
`;

/** Monday 2026-11-02 06:00 UTC: a window of the sample's "0 6 * * MON" (its time zone is UTC). */
const WINDOW = new Date(Date.UTC(2026, 10, 2, 6, 0, 0));

describe.skipIf(!hasKagents)(
  `squadron get/describe/suspend/resume schedule${hasKagents ? "" : ` (${kagentsSkipReason})`}`,
  () => {
    let h: Harness;
    let server: ApiServer;
    let env: Record<string, string>;
    let scheduler: ReturnType<typeof schedulerStandIn>;
    let schedules: ScheduleStore;

    beforeAll(async () => {
      const table = await newTable();
      h = harness(table);
      const wired = scheduleApi(h, table);
      ({ schedules, scheduler } = wired);
      const api = wired.api;
      expect((await call(h, "POST", `/api/namespaces/${NS}/templates`, { body: TEMPLATE })).status).toBe(201);
      server = await startApiServer(api);
      env = { SQUADRON_ENDPOINT: server.endpoint, SQUADRON_TOKEN: "admin" };
    });

    afterAll(async () => {
      await server?.close();
    });

    it("applies kagents' sample unchanged, with no warning, and creates its Scheduler schedule", async () => {
      const sample = readFileSync(join(kagentsDir, "weekly-schedule.yaml"), "utf8");
      const result = await squadron(["apply", "-f", "-"], { env, input: sample });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe("schedule/weekly-standup-summary created");
      expect(result.stderr).toBe("");
      // Scheduler's upsert: UpdateSchedule answers ResourceNotFoundException, then CreateSchedule.
      expect(scheduler.calls.at(-1)).toMatchObject({
        command: "CreateSchedule",
        input: { Name: "cowork-agents.weekly-standup-summary", ScheduleExpression: "cron(0 6 ? * 2 *)" },
      });
      expect([...scheduler.held]).toEqual(["cowork-agents.weekly-standup-summary"]);
    });

    it("get schedules lists it with kagents' columns; after a fire, LAST and ACTIVE are set", async () => {
      const fired = await fireSchedule(
        { ...h.deps, schedules },
        {
          source: "squadron.schedule",
          namespace: NS,
          name: "weekly-standup-summary",
          scheduledTime: WINDOW.toISOString(),
        },
      );
      const run = `weekly-standup-summary-${WINDOW.getTime() / 1000}`;
      expect(fired).toEqual({ result: "Created", run });
      const result = await squadron(["get", "schedules", "-n", NS], { env });
      expect(result.code, result.stderr).toBe(0);
      const [header, row, ...rest] = result.stdout.trimEnd().split("\n");
      // kagents' printer columns (Schedule, Last, Next, Active, Age) with the name, zone and SUSPEND.
      expect(header).toMatch(/^NAME +SCHEDULE +TIMEZONE +SUSPEND +LAST +NEXT +ACTIVE +AGE$/);
      expect(rest).toEqual([]);
      expect(row).toMatch(
        new RegExp(
          `^weekly-standup-summary +0 6 \\* \\* MON +UTC +false +\\S+ ago +\\d{4}-\\d\\d-\\d\\dT06:00:00\\.000Z +${run} +\\S+$`,
        ),
      );
    });

    it("describe schedule shows the cron, its Scheduler form, the fires and the run history", async () => {
      const result = await squadron(["describe", "schedule", "weekly-standup-summary", "-n", NS], { env });
      expect(result.code, result.stderr).toBe(0);
      const out = result.stdout;
      const run = `weekly-standup-summary-${WINDOW.getTime() / 1000}`;
      expect(out).toMatch(/^API Version: +kagents\.dev\/v1alpha1$/m);
      expect(out).toMatch(/^Schedule: +0 6 \* \* MON \(UTC\)$/m);
      expect(out).toMatch(/^In AWS: +cron\(0 6 \? \* 2 \*\)$/m);
      expect(out).toMatch(/^Template: +standup-summarizer$/m);
      expect(out).toMatch(/^History Limit: +5$/m);
      expect(out).toMatch(new RegExp(`^Last Fire: +${WINDOW.toISOString().replace(/\./g, "\\.")}$`, "m"));
      expect(out).toMatch(new RegExp(`^Active Run: +${run}$`, "m"));
      expect(out).toMatch(
        new RegExp(`^ {2}${run} +${WINDOW.toISOString().replace(/\./g, "\\.")} +Pending$`, "m"),
      );
    });

    it("suspend and resume: the Scheduler schedule is disabled, then enabled again", async () => {
      scheduler.calls.length = 0;
      const suspended = await squadron(["suspend", "schedule", "weekly-standup-summary", "-n", NS], { env });
      expect(suspended.code, suspended.stderr).toBe(0);
      expect(suspended.stdout).toBe("schedule/weekly-standup-summary suspended\n");
      const listed = await squadron(["get", "schedule", "weekly-standup-summary", "-n", NS], { env });
      expect(listed.stdout.split("\n")[1]).toMatch(
        /^weekly-standup-summary +0 6 \* \* MON +UTC +true +\S+ ago +<none> /,
      );
      const resumed = await squadron(["resume", "schedule", "weekly-standup-summary", "-n", NS], { env });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(
        /^schedule\/weekly-standup-summary resumed \(next fire \d{4}-\d\d-\d\dT06:00:00\.000Z\)\n$/,
      );
      expect(scheduler.calls.map((c) => [c.command, c.input.State])).toEqual([
        ["UpdateSchedule", "DISABLED"],
        ["UpdateSchedule", "ENABLED"],
      ]);
    });
  },
);
