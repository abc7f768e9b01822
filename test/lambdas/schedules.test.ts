/**
 * AgentTeamSchedule on DynamoDB Local: the API stores schedules and keeps one EventBridge
 * Scheduler schedule per Squadron schedule (the Scheduler client is a recorder answering with the
 * real API's shapes); each fire creates the window's run from the template through the same code
 * as an applied AgentTeamRun, exactly once per window; historyLimit prunes finished runs; suspend
 * stops fires. The api Lambda handler itself receives the Scheduler's fire event.
 */
import type { Context } from "aws-lambda";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { refOf } from "../../core/control/team-runs.ts";
import { fireSchedule, runNameFor, type ScheduleFire } from "../../core/schedules/fire.ts";
import { SCHEDULE_LABEL, type ScheduleStore } from "../../core/schedules/store.ts";
import { EventBridgeScheduleTimers } from "../../core/schedules/timers.ts";
import { apiHandler } from "../../lambdas/api/routes.ts";
import {
  call,
  type Harness,
  harness,
  newTable,
  SCHEDULE_TARGET,
  scheduleApi,
  type schedulerStandIn,
} from "./harness.ts";

const NS = "/api/namespaces/dev-agents";
const { targetArn: TARGET, roleArn: ROLE, groupName: GROUP } = SCHEDULE_TARGET;

const TEMPLATE = `apiVersion: squadron.dev/v1alpha1
kind: AgentTeamTemplate
metadata: {name: standup-summarizer, namespace: dev-agents}
spec:
  teammates:
    - {name: researcher, prompt: "Collect what each channel said.", cli: scripted}
    - {name: writer, prompt: "Write the summary.", cli: scripted, dependsOn: [researcher]}
`;

function scheduleYaml(name: string, extra = ""): string {
  return `apiVersion: kagents.dev/v1alpha1
kind: AgentTeamSchedule
metadata: {name: ${name}, namespace: dev-agents, labels: {team: standup}}
spec:
  schedule: "0 6 * * MON"
  timeZone: Europe/Paris
  templateRef: {name: standup-summarizer}
  auth: {apiKeySecret: anthropic-api-key}
  lead: {prompt: "Coordinate the weekly standup summary.", cli: scripted}
  workspace: {inputs: [{configMap: team-channels, mountPath: /workspace/data}]}
  lifecycle: {timeout: 1h, budgetLimit: "10.00"}
${extra}`;
}

/** Mondays 06:00 in Paris (05:00Z in winter), from 2026-11-02 on. */
const monday = (week: number) => new Date(Date.UTC(2026, 10, 2 + 7 * week, 5, 0, 0));

describe("AgentTeamSchedule: API, EventBridge Scheduler and fires", () => {
  let h: Harness;
  let scheduler: ReturnType<typeof schedulerStandIn>;
  let schedules: ScheduleStore;
  let api: ReturnType<typeof apiHandler>;
  const fire = (name: string, at: Date, scheduledTime = at.toISOString()): Promise<unknown> =>
    fireSchedule(
      { ...h.deps, schedules },
      { source: "squadron.schedule", namespace: "dev-agents", name, scheduledTime },
    );
  const apiCall = (...args: Parameters<typeof call> extends [unknown, ...infer R] ? R : never) =>
    call({ ...h, api }, ...args);

  beforeAll(async () => {
    const table = await newTable();
    h = harness(table);
    ({ schedules, scheduler, api } = scheduleApi(h, table));
    expect((await call(h, "POST", `${NS}/templates`, { body: TEMPLATE })).status).toBe(201);
  });
  beforeEach(() => {
    scheduler.calls.length = 0;
  });

  it("apply creates the Scheduler schedule: 6-field cron with ? and 1-7 days, the time zone, the api as target", async () => {
    const res = await apiCall("POST", `${NS}/schedules`, { body: scheduleYaml("weekly") });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "weekly",
      apiVersion: "kagents.dev/v1alpha1",
      schedule: "0 6 * * MON",
      timeZone: "Europe/Paris",
      schedulerExpression: "cron(0 6 ? * 2 *)",
      suspend: false,
      historyLimit: 5,
      lastScheduledAt: null,
      activeRun: null,
      runs: [],
    });
    expect(Date.parse(res.body.nextScheduledAt)).toBeGreaterThan(Date.now());
    expect(res.body.warnings).toBeUndefined();
    // Update first (the schedule may exist), then Create on ResourceNotFound.
    expect(scheduler.calls.map((c) => c.command)).toEqual(["UpdateSchedule", "CreateSchedule"]);
    const created = scheduler.calls[1]?.input as { Target: { Input: string } };
    expect(created).toMatchObject({
      Name: "dev-agents.weekly",
      GroupName: GROUP,
      ScheduleExpression: "cron(0 6 ? * 2 *)",
      ScheduleExpressionTimezone: "Europe/Paris",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: { Arn: TARGET, RoleArn: ROLE },
    });
    expect(JSON.parse(created.Target.Input)).toEqual({
      source: "squadron.schedule",
      namespace: "dev-agents",
      name: "weekly",
      scheduledTime: "<aws.scheduler.scheduled-time>",
    });
  });

  it("a second POST of the name is 409; PUT updates the Scheduler schedule with the new cron", async () => {
    expect((await apiCall("POST", `${NS}/schedules`, { body: scheduleYaml("weekly") })).status).toBe(409);
    const changed = scheduleYaml("weekly")
      .replace('"0 6 * * MON"', '"30 7 1,15 * *"')
      .replace("Europe/Paris", "UTC");
    const res = await apiCall("PUT", `${NS}/schedules/weekly`, { body: changed });
    expect(res.status).toBe(200);
    expect(scheduler.calls.map((c) => c.command)).toEqual(["UpdateSchedule"]);
    expect(scheduler.calls[0]?.input).toMatchObject({
      ScheduleExpression: "cron(30 7 1,15 * ? *)",
      ScheduleExpressionTimezone: "UTC",
    });
    const renamed = await apiCall("PUT", `${NS}/schedules/other-name`, { body: scheduleYaml("weekly") });
    expect(renamed.status).toBe(400);
    expect(renamed.body).toMatchObject({
      error: "manifest name weekly differs from the path's other-name",
      issues: [{ path: "metadata.name", message: "must be other-name" }],
    });
    // Back to Mondays for the tests below.
    expect((await apiCall("PUT", `${NS}/schedules/weekly`, { body: scheduleYaml("weekly") })).status).toBe(
      200,
    );
  });

  it("suspend and resume set the Scheduler schedule's State", async () => {
    const suspended = await apiCall("POST", `${NS}/schedules/weekly/suspend`);
    expect(suspended).toMatchObject({ status: 200, body: { suspend: true, nextScheduledAt: null } });
    const resumed = await apiCall("POST", `${NS}/schedules/weekly/resume`);
    expect(resumed.body.suspend).toBe(false);
    expect(scheduler.calls.map((c) => [c.command, c.input.State])).toEqual([
      ["UpdateSchedule", "DISABLED"],
      ["UpdateSchedule", "ENABLED"],
    ]);
  });

  it("an invalid schedule is a 400 with every problem and its path; nothing is stored or scheduled", async () => {
    const bad = scheduleYaml("broken")
      .replace('"0 6 * * MON"', '"0 6 1 * MON"')
      .replace("Europe/Paris", "Europe/Atlantis")
      .replace("lifecycle:", "historyLimit: -2\n  lifecycle:");
    const res = await apiCall("POST", `${NS}/schedules`, { body: bad });
    expect(res.status).toBe(400);
    expect(res.body.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      "spec.historyLimit",
      "spec.schedule",
      "spec.timeZone",
    ]);
    expect(scheduler.calls).toEqual([]);
    expect((await apiCall("GET", `${NS}/schedules/broken`)).status).toBe(404);
  });

  it("a schedule whose template does not exist yet is stored with a warning (kagents resolves it at each fire)", async () => {
    const yaml = scheduleYaml("early").replace("standup-summarizer", "not-yet");
    const res = await apiCall("POST", `${NS}/schedules`, { body: yaml });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([
      expect.stringMatching(/template not-yet does not exist in dev-agents yet/),
    ]);
    // Its fire creates nothing and says why in the status.
    const outcome = await fire("early", monday(0));
    expect(outcome).toMatchObject({ result: "Failed" });
    const view = await apiCall("GET", `${NS}/schedules/early`);
    expect(view.body.lastFailure).toMatchObject({
      scheduledAt: monday(0).toISOString(),
      message: expect.stringMatching(/Template not-yet not found/),
    });
    expect(view.body.runs).toEqual([]);
    expect(
      await h.deps.store.findRun({ namespace: "dev-agents", name: runNameFor("early", monday(0)) }),
    ).toBe(undefined);
  });

  it("a schedule whose merge with the template is invalid is refused at apply", async () => {
    const yaml = scheduleYaml("clash").replace(
      'lead: {prompt: "Coordinate the weekly standup summary.", cli: scripted}',
      'lead: {name: writer, prompt: "Coordinate.", cli: scripted}',
    );
    const res = await apiCall("POST", `${NS}/schedules`, { body: yaml });
    expect(res.status).toBe(400);
    expect(scheduler.calls).toEqual([]);
  });

  it("a fire creates the window's run from the template, named <schedule>-<unix time>, through the run path", async () => {
    const starts = h.sfn.of("StartExecution").length;
    const outcome = await fire("weekly", monday(0));
    const name = `weekly-${monday(0).getTime() / 1000}`;
    expect(outcome).toEqual({ result: "Created", run: name });
    const run = await h.deps.store.getRun({ namespace: "dev-agents", name });
    expect(run.team.metadata.labels).toMatchObject({ [SCHEDULE_LABEL]: "weekly", team: "standup" });
    expect(run.team.metadata.annotations).toMatchObject({ "squadron.dev/template": "standup-summarizer" });
    expect(run.team.spec.teammates.map((t) => t.name)).toEqual(["researcher", "writer"]);
    expect(run.team.spec.lifecycle).toMatchObject({ timeout: "1h", budgetLimit: 10 });
    expect(h.sfn.of("StartExecution")).toHaveLength(starts + 1);
    const view = await apiCall("GET", `${NS}/schedules/weekly`);
    expect(view.body).toMatchObject({
      lastScheduledAt: monday(0).toISOString(),
      activeRun: name,
      runs: [{ name, scheduledAt: monday(0).toISOString(), phase: "Pending" }],
    });
  });

  it("firing twice for the same window (a retry, or two at once) creates one run and starts one execution", async () => {
    const starts = h.sfn.of("StartExecution").length;
    const window = monday(1);
    // Scheduler's retry of the same window, twice at once, and once more later with seconds added.
    const outcomes = await Promise.all([fire("weekly", window), fire("weekly", window)]);
    const again = await fire("weekly", window, new Date(window.getTime() + 7_000).toISOString());
    const name = `weekly-${window.getTime() / 1000}`;
    expect(outcomes.map((o) => (o as { result: string }).result).sort()).toEqual(["AlreadyFired", "Created"]);
    expect(again).toEqual({ result: "AlreadyFired", run: name });
    expect(h.sfn.of("StartExecution")).toHaveLength(starts + 1);
  });

  it("a fire at a time the cron does not name (the schedule changed since) creates nothing", async () => {
    const outcome = await fire("weekly", new Date(Date.UTC(2026, 10, 3, 5, 0, 0)));
    expect(outcome).toMatchObject({ result: "Skipped", reason: "NotAFireTime" });
  });

  it("historyLimit prunes the oldest finished runs, never a run still going", async () => {
    const put = scheduleYaml("weekly").replace("lifecycle:", "historyLimit: 2\n  lifecycle:");
    expect((await apiCall("PUT", `${NS}/schedules/weekly`, { body: put })).status).toBe(200);
    const nameOf = (week: number) => runNameFor("weekly", monday(week));
    // Week 0 finished, week 1 still running: a third run leaves week 0 beyond the limit.
    await h.deps.store.cancelRun({ namespace: "dev-agents", name: nameOf(0) });
    await fire("weekly", monday(2));
    expect(await h.deps.store.findRun({ namespace: "dev-agents", name: nameOf(0) })).toBeUndefined();
    // Its run-id pointer went with it.
    const view = await apiCall("GET", `${NS}/schedules/weekly`);
    expect(view.body.runs.map((r: { name: string }) => r.name)).toEqual([nameOf(2), nameOf(1)]);
    // Week 1 is beyond the limit after week 3, but still running: kept.
    await fire("weekly", monday(3));
    expect(await h.deps.store.findRun({ namespace: "dev-agents", name: nameOf(1) })).toBeDefined();
    await h.deps.store.cancelRun({ namespace: "dev-agents", name: nameOf(1) });
    await h.deps.store.cancelRun({ namespace: "dev-agents", name: nameOf(2) });
    await fire("weekly", monday(4));
    const after = await apiCall("GET", `${NS}/schedules/weekly`);
    expect(after.body.runs.map((r: { name: string }) => r.name)).toEqual([nameOf(4), nameOf(3)]);
    expect(after.body.activeRun).toBe(nameOf(4));
    // A pruned window is not run again by a late retry.
    expect(await fire("weekly", monday(0))).toMatchObject({ result: "AlreadyFired" });
    expect(await h.deps.store.findRun({ namespace: "dev-agents", name: nameOf(0) })).toBeUndefined();
  });

  it("a suspended schedule's fires create nothing", async () => {
    expect((await apiCall("POST", `${NS}/schedules/weekly/suspend`)).status).toBe(200);
    const starts = h.sfn.of("StartExecution").length;
    expect(await fire("weekly", monday(5))).toMatchObject({ result: "Skipped", reason: "Suspended" });
    expect(
      await h.deps.store.findRun({ namespace: "dev-agents", name: runNameFor("weekly", monday(5)) }),
    ).toBe(undefined);
    expect(h.sfn.of("StartExecution")).toHaveLength(starts);
    expect((await apiCall("POST", `${NS}/schedules/weekly/resume`)).status).toBe(200);
  });

  it("the api Lambda handler takes the Scheduler's fire event and runs the same fire", async () => {
    const { container, handler } = await import("../../lambdas/api/handler.ts");
    container.use({
      ...h.deps,
      schedules: { schedules, scheduleTimers: { sync: async () => {}, remove: async () => {} } },
    } as never);
    const event: ScheduleFire = {
      source: "squadron.schedule",
      namespace: "dev-agents",
      name: "weekly",
      scheduledTime: monday(6).toISOString(),
    };
    const outcome = await handler(event, { invokedFunctionArn: TARGET } as Context);
    expect(outcome).toEqual({ result: "Created", run: runNameFor("weekly", monday(6)) });
    expect(await handler(event, { invokedFunctionArn: TARGET } as Context)).toMatchObject({
      result: "AlreadyFired",
    });
  });

  it("lists the namespace's schedules; delete removes the Scheduler schedule and keeps the runs", async () => {
    const list = await apiCall("GET", `${NS}/schedules`);
    expect(list.body.items.map((s: { name: string }) => s.name).sort()).toEqual(["early", "weekly"]);
    const runs = (await schedules.runsOf("dev-agents", "weekly")).map((r) => refOf(r).name);
    expect((await apiCall("DELETE", `${NS}/schedules/weekly`)).status).toBe(204);
    expect(scheduler.calls.map((c) => [c.command, c.input.Name])).toEqual([
      ["DeleteSchedule", "dev-agents.weekly"],
    ]);
    expect(scheduler.held.has("dev-agents.weekly")).toBe(false);
    expect((await apiCall("GET", `${NS}/schedules/weekly`)).status).toBe(404);
    for (const name of runs)
      expect(await h.deps.store.findRun({ namespace: "dev-agents", name })).toBeDefined();
    // A fire already in flight for a deleted schedule finds nothing to do.
    expect(await fire("weekly", monday(7))).toMatchObject({ result: "Skipped", reason: "NotFound" });
  });

  it("when the Scheduler refuses, the apply is undone: no schedule stored that never fires", async () => {
    const failing = {
      send: async () => {
        throw new Error("AccessDeniedException: not authorized to perform scheduler:UpdateSchedule");
      },
    };
    const broken = apiHandler({
      ...h.deps,
      schedules: {
        schedules,
        scheduleTimers: new EventBridgeScheduleTimers(failing, {
          targetArn: () => TARGET,
          roleArn: ROLE,
          groupName: GROUP,
        }),
      },
    });
    const res = await call({ ...h, api: broken }, "POST", `${NS}/schedules`, {
      body: scheduleYaml("refused"),
    });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect((await apiCall("GET", `${NS}/schedules/refused`)).status).toBe(404);
  });
});
