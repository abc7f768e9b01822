/**
 * Local mode's schedule timers: one timer per schedule, set to the next fire time (no polling),
 * calling the same fire function as the AWS target (local/stack.ts wires it exactly so). The clock
 * is injected a moment before a fire time; the test waits on the fire's outcome, never on a sleep.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseResource } from "../../core/manifest/parse.ts";
import type { AgentTeamSchedule } from "../../core/manifest/types.ts";
import { type FireOutcome, fireSchedule, runNameFor, type ScheduleFire } from "../../core/schedules/fire.ts";
import { ScheduleStore } from "../../core/schedules/store.ts";
import { TimerScheduleTimers } from "../../core/schedules/timers.ts";
import { type Harness, harness, newTable } from "./harness.ts";

const TEMPLATE = `apiVersion: squadron.dev/v1alpha1
kind: AgentTeamTemplate
metadata: {name: standup-summarizer, namespace: dev-agents}
spec:
  teammates: [{name: writer, prompt: "Write the summary.", cli: scripted}]
`;

const schedule = (name: string, suspend = false) =>
  parseResource(`apiVersion: kagents.dev/v1alpha1
kind: AgentTeamSchedule
metadata: {name: ${name}, namespace: dev-agents}
spec:
  schedule: "0 6 * * MON"
  timeZone: Europe/Paris
  suspend: ${suspend}
  templateRef: {name: standup-summarizer}
  lead: {prompt: "Coordinate.", cli: scripted}
  workspace: {}
`) as AgentTeamSchedule;

/** Monday 2026-11-02 06:00 in Paris. */
const FIRE = new Date("2026-11-02T05:00:00.000Z");

describe("local schedule timers", () => {
  let h: Harness;
  let schedules: ScheduleStore;
  let timers: TimerScheduleTimers | undefined;
  beforeAll(async () => {
    const table = await newTable();
    h = harness(table);
    schedules = new ScheduleStore(table.client, table.tableName);
    await h.deps.store.createTemplate(parseResource(TEMPLATE) as never);
  });
  afterEach(() => timers?.close());

  /** A clock that reads `lead` ms before FIRE now and runs on in real time. */
  const clockBefore = (lead: number) => {
    const offset = FIRE.getTime() - lead - Date.now();
    return () => new Date(Date.now() + offset);
  };

  it("fires the schedule's run at its next fire time, with that time as the window, and re-arms", async () => {
    const weekly = schedule("weekly");
    await schedules.write(weekly, "create");
    let resolve!: (value: { fire: ScheduleFire; outcome: FireOutcome }) => void;
    let reject!: (error: unknown) => void;
    const fired = {
      promise: new Promise<{ fire: ScheduleFire; outcome: FireOutcome }>((res, rej) => {
        resolve = res;
        reject = rej;
      }),
      resolve: (v: { fire: ScheduleFire; outcome: FireOutcome }) => resolve(v),
      reject: (e: unknown) => reject(e),
    };
    timers = new TimerScheduleTimers(
      async (fire) => {
        const outcome = await fireSchedule({ ...h.deps, schedules }, fire);
        fired.resolve({ fire, outcome });
      },
      { now: clockBefore(300), onError: (error) => fired.reject(error) },
    );
    await timers.sync(weekly);
    expect(timers.armed()).toEqual(["dev-agents/weekly"]);
    const { fire, outcome } = await fired.promise;
    expect(fire).toEqual({
      source: "squadron.schedule",
      namespace: "dev-agents",
      name: "weekly",
      scheduledTime: FIRE.toISOString(),
    });
    expect(outcome).toEqual({ result: "Created", run: runNameFor("weekly", FIRE) });
    const run = await h.deps.store.getRun({
      namespace: "dev-agents",
      name: `weekly-${FIRE.getTime() / 1000}`,
    });
    expect(run.team.spec.teammates.map((t) => t.name)).toEqual(["writer"]);
    // Set again for the following Monday.
    expect(timers.armed()).toEqual(["dev-agents/weekly"]);
    expect((await schedules.get("dev-agents", "weekly")).status.lastScheduledAt).toBe(FIRE.toISOString());
  });

  it("a suspended schedule has no timer; resuming sets one, removing clears it", async () => {
    const calls: ScheduleFire[] = [];
    timers = new TimerScheduleTimers(async (fire) => void calls.push(fire), { now: clockBefore(60_000) });
    await timers.sync(schedule("quiet", true));
    expect(timers.armed()).toEqual([]);
    await timers.sync(schedule("quiet", false));
    expect(timers.armed()).toEqual(["dev-agents/quiet"]);
    await timers.remove("dev-agents", "quiet");
    expect(timers.armed()).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("fires kagents' published weekly-schedule sample unchanged into a run of its template", async () => {
    const sample = parseResource(
      readFileSync(
        join(import.meta.dirname, "../../../shared/kagents-examples/weekly-schedule.yaml"),
        "utf8",
      ),
    ) as AgentTeamSchedule;
    await h.deps.store.createTemplate(
      parseResource(TEMPLATE.replace("dev-agents", "cowork-agents")) as never,
    );
    await schedules.write(sample, "create");
    // Monday 2026-11-02 06:00 UTC: "0 6 * * MON", no time zone given.
    const window = new Date("2026-11-02T06:00:00.000Z");
    const fire = {
      source: "squadron.schedule" as const,
      namespace: "cowork-agents",
      name: "weekly-standup-summary",
      scheduledTime: window.toISOString(),
    };
    expect(await fireSchedule({ ...h.deps, schedules }, fire)).toEqual({
      result: "Created",
      run: runNameFor("weekly-standup-summary", window),
    });
    // Scheduler delivers at least once: the same window again creates nothing.
    expect((await fireSchedule({ ...h.deps, schedules }, fire)).result).toBe("AlreadyFired");
    const run = await h.deps.store.getRun({
      namespace: "cowork-agents",
      name: `weekly-standup-summary-${window.getTime() / 1000}`,
    });
    expect(run.team.spec.teammates.map((t) => t.name)).toEqual(["writer"]);
    expect(run.team.spec.lead.prompt).toContain("Coordinate the weekly standup summary.");
    expect(run.team.spec.lifecycle).toMatchObject({ timeout: "1h", budgetLimit: 10 });
    expect(run.team.spec.workspace?.inputs).toEqual([
      expect.objectContaining({ configMap: "team-channels", mountPath: "/workspace/data" }),
    ]);
  });
});
