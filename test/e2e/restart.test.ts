/**
 * State survives a restart of the local stack: a team waiting on approval when the stack stops
 * is resumed at the next start, and approving it then completes the team. A run whose agent
 * was running is failed with the reason instead of being lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createBareRepo } from "../support/git-fixtures.ts";
import { scripted, teamManifest } from "../support/scripted-team.ts";
import { processesOfRun, startTestStack, type TestStack } from "./local-stack-harness.ts";

let t: TestStack;
let root: string;
let bare: string;

/**
 * The lead waits for the worker's message; the worker (behind an approval gate) commits and
 * reports. The lead is running while the gate waits, as in any team.
 */
function team(name: string, leadScript: unknown[], gate: boolean) {
  return teamManifest(name, bare, {
    lead: scripted("lead", leadScript),
    teammates: [
      scripted("worker", [
        { write: { path: "work.txt", content: "approved work\n" } },
        { exec: "git add work.txt && git commit -q -m work" },
        { call: "send_message", args: { to: "lead", text: "work.txt is committed", summary: "done" } },
        { call: "finish", args: { summary: "worked" } },
      ]),
      scripted("checker", [{ call: "finish", args: { summary: "checked" } }], { dependsOn: ["worker"] }),
    ],
    lifecycle: {
      timeout: "10m",
      onComplete: "none",
      approvalGates: gate ? [{ event: "spawn-worker" }] : [],
    },
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "squadron-e2e-restart-"));
  bare = createBareRepo(root).bare;
  t = await startTestStack();
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

it("resumes a team waiting on approval after a restart, and approval then completes it", async () => {
  const leadScript = [
    { waitFor: "message", timeoutMs: 120000 },
    { call: "finish", args: { summary: "led" } },
  ];
  expect((await t.api("POST", "/api/namespaces/default/teams", team("waits", leadScript, true))).status).toBe(
    201,
  );
  const before = await t.follow(
    "default",
    "waits",
    (v) => v.teammates[0].phase === "PendingApproval" && v.lead.phase === "Running",
  );
  expect(before.view.teammates[1].phase).toBe("WaitingForDependencies");

  const token = t.stack.token;
  await t.stop();
  // Stopped means stopped: no runner, agent CLI or MCP server of the run is left.
  const end = Date.now() + 5000;
  while (processesOfRun(before.view.runId).length > 0 && Date.now() < end)
    await new Promise((r) => setTimeout(r, 100));
  expect(processesOfRun(before.view.runId)).toEqual([]);
  await t.start();
  // Same data directory: the first start's token still works, and the run is resumed.
  expect(t.stack.token).toBe(token);
  expect(t.stack.recovery, JSON.stringify(t.stack.recovery)).toEqual({
    resumed: [before.view.runId],
    failed: [],
  });

  const waiting = await t.follow(
    "default",
    "waits",
    (v) => v.teammates[0].phase === "PendingApproval" && v.lead.phase === "Running",
  );
  expect(waiting.view.events.some((e: any) => e.reason === "LocalStackStopped")).toBe(true);
  expect(waiting.view.events.find((e: any) => e.reason === "Resumed")?.message).toMatch(
    /lead was running and is started again/,
  );
  const approved = await t.api("POST", "/api/namespaces/default/teams/waits/gates/spawn-worker/approve", {});
  expect(approved.status).toBe(200);
  const { view } = await t.follow("default", "waits");
  expect(view.phase, view.message).toBe("Completed");
  expect(view.teammates.map((a: any) => a.phase)).toEqual(["Succeeded", "Succeeded"]);
  expect(view.gates["spawn-worker"].state).toBe("Approved");
}, 120_000);
