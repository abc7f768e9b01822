import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ScheduleFire } from "../../core/schedules/fire.ts";
import { hasKagents, kagentsDir, kagentsSkipReason } from "../manifest/fixtures.ts";
import { startTestStack, type TestStack } from "./local-stack-harness.ts";

/**
 * kagents' published weekly-schedule sample, applied unchanged to the local stack, fired by the
 * local timer (the stack's schedule clock is set just before the sample's Monday 06:00 UTC
 * window, so the timer goes off at once) into a run of its template that runs to completion with
 * simulated agents (no model keys in the environment): issue 13's "the local timer fires the same
 * code" and "kagents' samples run locally".
 */
const NS = "cowork-agents";
const WINDOW = new Date("2026-11-02T06:00:00.000Z"); // a Monday: "0 6 * * MON", UTC

let t: TestStack;
let offsetMs = 0;

beforeAll(async () => {
  t = await startTestStack({ scheduleClock: () => new Date(Date.now() + offsetMs) });
  // The sample's input configMap "team-channels": locally a directory of the object store.
  const channels = join(t.stack.paths.objects, "configmaps", NS, "team-channels");
  mkdirSync(channels, { recursive: true });
  writeFileSync(join(channels, "eng.md"), "Shipped the schedule kind.\n");
  const template = {
    apiVersion: "kagents.dev/v1alpha1",
    kind: "AgentTeamTemplate",
    metadata: { name: "standup-summarizer", namespace: NS },
    spec: {
      teammates: [
        {
          name: "writer",
          prompt: "Write the standup summary to /workspace/output/summary.md.",
          outputs: [{ path: "/workspace/output/summary.md", description: "The weekly summary." }],
        },
      ],
    },
  };
  expect((await t.api("POST", `/api/namespaces/${NS}/templates`, template)).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.cleanup();
});

describe.skipIf(!hasKagents)(
  `kagents' weekly-schedule sample on the local stack${hasKagents ? "" : ` (${kagentsSkipReason})`}`,
  { timeout: 120_000 },
  () => {
    it("the local timer fires it into a run of its template, which completes with simulated agents", async () => {
      const sample = parse(readFileSync(join(kagentsDir, "weekly-schedule.yaml"), "utf8"));
      const fired = new Promise<{ fire: ScheduleFire; outcome: unknown }>((resolve) =>
        t.stack.events.once("scheduleFire", resolve),
      );
      // The stack's clock now reads a second before the window: the timer set at apply fires then.
      offsetMs = WINDOW.getTime() - 1000 - Date.now();
      const applied = await t.api("POST", `/api/namespaces/${NS}/schedules`, sample);
      expect(applied.status, JSON.stringify(applied.body)).toBe(201);
      expect(applied.body.warnings ?? []).toEqual([]);

      const run = `weekly-standup-summary-${WINDOW.getTime() / 1000}`;
      const { fire, outcome } = await fired;
      expect(fire).toEqual({
        source: "squadron.schedule",
        namespace: NS,
        name: "weekly-standup-summary",
        scheduledTime: WINDOW.toISOString(),
      });
      expect(outcome).toEqual({ result: "Created", run });

      const { view } = await t.follow(NS, run);
      expect(view.phase, view.message).toBe("Completed");
      expect(view.apiVersion).toBe("kagents.dev/v1alpha1");
      expect([view.lead, ...view.teammates].every((a: { simulated?: boolean }) => a.simulated)).toBe(true);
      expect(view.artifacts.map((a: { name: string; producedBy: string }) => [a.name, a.producedBy])).toEqual(
        [["summary.md", "writer"]],
      );
      // The sample's configMap input reached the run's workspace.
      expect(readFileSync(join(t.stack.paths.runs, view.runId, "workspace", "data", "eng.md"), "utf8")).toBe(
        "Shipped the schedule kind.\n",
      );

      const schedule = await t.api("GET", `/api/namespaces/${NS}/schedules/weekly-standup-summary`);
      expect(schedule.body).toMatchObject({
        apiVersion: "kagents.dev/v1alpha1",
        lastScheduledAt: WINDOW.toISOString(),
        // The API computes the next fire from the real clock, not the stack's shifted one.
        nextScheduledAt: expect.stringMatching(/T06:00:00\.000Z$/),
        runs: [{ name: run, scheduledAt: WINDOW.toISOString(), phase: "Completed" }],
      });
    });
  },
);
