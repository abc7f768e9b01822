/**
 * A teammate that fails for good (issue 14, point 14): the rules read from the store's record
 * (core/control/team-progress.ts) and the lead's runner telling the lead and releasing its tasks
 * (runner/session/teammate-failures.ts). The end-to-end case is in test/security/faults.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cannotProceed,
  cannotProceedMessage,
  type TeammateProgress,
  teammateProgress,
} from "../../../core/control/team-progress.ts";
import type { AgentStatus } from "../../../core/status/types.ts";
import type { TeamRunRecord } from "../../../core/store/items.ts";
import { Team } from "../../../core/team-protocol/team.ts";
import { TeammateFailureWatch } from "../../../runner/session/teammate-failures.ts";
import { coworkTeam, scriptedAgent } from "./fixtures.ts";

function record(agents: Record<string, Partial<AgentStatus>>, maxRestarts = 2): TeamRunRecord {
  const team = coworkTeam(
    scriptedAgent("lead", "lead"),
    Object.keys(agents).map((n) => scriptedAgent(n, "teammate")),
  );
  team.spec.lifecycle.maxRestarts = maxRestarts;
  const status = {
    agents: Object.fromEntries(
      Object.entries({ lead: { phase: "Running" }, ...agents }).map(([n, a]) => [
        n,
        { restarts: 0, cli: "scripted", ...a },
      ]),
    ),
  };
  return { team, status } as unknown as TeamRunRecord;
}

describe("teammateProgress", () => {
  it("a Failed with restarts left is between two attempts, not an end", () => {
    const p = teammateProgress(record({ w: { phase: "Failed", restarts: 1, reason: "CliCrashed" } }));
    expect(p).toEqual({ failedForGood: [], neverStarted: [], live: ["w"] });
    expect(cannotProceed(p)).toBe(false);
  });

  it("restarts used up: failed for good; with nothing else live the team cannot proceed", () => {
    const p = teammateProgress(
      record({
        w: { phase: "Failed", restarts: 2, reason: "CliCrashed", message: "3 turns failed" },
        d: { phase: "Failed", reason: "DependencyFailed" },
        ok: { phase: "Succeeded" },
      }),
    );
    expect(p.failedForGood).toEqual([
      { name: "w", reason: "CliCrashed", message: "3 turns failed", restarts: 2 },
    ]);
    expect(p.neverStarted).toEqual(["d"]);
    expect(cannotProceed(p)).toBe(true);
    expect(cannotProceedMessage(p)).toMatch(
      /^Teammate w failed for good after 2 restart\(s\) \(3 turns failed\)\. d will never start .*cannot proceed\.$/,
    );
  });

  it("a teammate still running, or waiting for an approval, keeps the team going", () => {
    for (const phase of ["Running", "PendingApproval", "Starting", "WaitingForDependencies"] as const) {
      const p = teammateProgress(record({ w: { phase: "Failed", restarts: 2 }, other: { phase } }));
      expect(cannotProceed(p), phase).toBe(false);
    }
  });
});

describe("TeammateFailureWatch", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("tells the lead once (also after a relaunch), releases the teammate's open tasks, and says the team cannot proceed", async () => {
    dir = await mkdtemp(join(tmpdir(), "squadron-failwatch-"));
    const team = new Team(dir);
    await team.init({
      teamName: "t",
      runId: "r",
      members: [
        { name: "lead", role: "lead", cli: "scripted", model: "m" },
        { name: "w", role: "teammate", cli: "scripted", model: "m" },
      ],
    });
    const open = await team.createTask({ subject: "the work", owner: "w" });
    await team.claimTask(open.id, "w");
    const done = await team.createTask({ subject: "done work", owner: "w" });
    await team.updateTask(done.id, { status: "completed" });
    const progress: TeammateProgress = {
      failedForGood: [{ name: "w", reason: "CliCrashed", message: "it crashed", restarts: 2 }],
      neverStarted: [],
      live: [],
    };
    const ended: string[] = [];
    const watch = () =>
      new TeammateFailureWatch(
        team,
        "lead",
        { teammateProgress: async () => progress },
        { intervalMs: 60_000, onCannotProceed: (m) => ended.push(m) },
      );
    const first = watch();
    await first.check();
    await first.check();
    await watch().check(); // a relaunched lead runner

    const told = (await team.readInbox("lead")).filter((m) => m.from === "squadron");
    expect(told).toHaveLength(1);
    expect(told[0]?.text).toMatch(/^Teammate w failed for good after 2 restart\(s\).*: it crashed\./);
    expect(told[0]?.text).toContain(`#${open.id} "the work"`);
    expect(told[0]?.text).not.toContain("done work");
    const tasks = await team.listTasks();
    expect(tasks.find((t) => t.id === open.id)).toMatchObject({ owner: null, status: "pending" });
    expect(tasks.find((t) => t.id === done.id)).toMatchObject({ owner: "w", status: "completed" });
    // Once per watch (the relaunched one decides again: its runner's session is a new one).
    expect(ended).toHaveLength(2);
    expect(ended[0]).toMatch(/Teammate w failed for good .*cannot proceed/);
  });
});
