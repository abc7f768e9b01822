import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../e2e/local-stack-harness.ts";
import { createBareRepo, tempDir } from "../support/git-fixtures.ts";
import { scripted, teamManifest } from "../support/scripted-team.ts";

/**
 * Issue 14, item 16: the local stack's resting memory grew with the number of runs. Whatever a
 * run needs while it lives (store iterators, its execution and token waits, its deadline timer,
 * the budget watch's last cost, its runner processes) is released when it ends, so after K runs
 * the stack holds nothing for any of them. Counted, not timed: each run's execution is awaited.
 */
const RUNS = 4;

let t: TestStack;
let root: string;
let repo: string;

beforeAll(async () => {
  root = tempDir("squadron-retained-");
  repo = createBareRepo(root).bare;
  t = await startTestStack();
});

afterAll(async () => {
  await t?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function team(name: string) {
  return teamManifest(name, repo, {
    lead: scripted("lead"),
    teammates: [scripted("mate")],
    lifecycle: { timeout: "10m", onComplete: "none" },
  });
}

describe("what the local stack keeps per run (issue 14: 16)", () => {
  it(`holds nothing for any of ${RUNS} ended runs`, async () => {
    // Two at a time: a 2-core machine shared with other suites.
    for (let i = 0; i < RUNS; i += 2) {
      const names = [`retained-${i}`, `retained-${i + 1}`];
      await Promise.all(
        names.map(async (name) => {
          const created = await t.api("POST", "/api/namespaces/default/teams", team(name));
          expect(created.status).toBe(201);
          // The execution's end (after Cleanup and the status change), not just the phase.
          const ended = t.stack.sfn.get(created.body.runId)?.ended;
          const { view } = await t.follow("default", name, undefined, 180_000);
          expect(view.phase).toBe("Completed");
          await ended;
        }),
      );
    }
    expect(t.stack.retained()).toEqual({
      storeIterators: 0,
      executions: 0,
      tokenWaits: 0,
      deadlineTimers: 0,
      budgetWatched: 0,
      runnerProcesses: 0,
    });
  });
});
