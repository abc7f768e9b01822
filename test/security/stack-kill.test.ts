/**
 * Faults suite, the stack itself (issue 14): kill -9 of the local stack while one team is running
 * (its worker mid-step) and another waits on an approval gate, then a start on the same data
 * directory. Both teams end Completed with nothing lost or duplicated (one message, one commit, one
 * task each), no process of the killed stack's runs outlives the restart, and nothing of either run
 * is left running at the end. Prints tried / handled correctly / defects.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, it } from "vitest";
import { localPaths } from "../../local/paths.ts";
import { killProcessesWith } from "../../local/runner-leftovers.ts";
import { type Api, alive, apiFor, processesOfRun } from "../e2e/local-stack-harness.ts";
import { createBareRepo } from "../support/git-fixtures.ts";
import { scripted, teamManifest } from "../support/scripted-team.ts";

const TSX = createRequire(import.meta.url).resolve("tsx");
const SCRIPT = join(import.meta.dirname, "..", "support", "stack-process.ts");
const figures = { tried: 0, handled: 0, defects: [] as string[] };
let root: string;
let bare: string;
let dataDir: string;
let child: ChildProcess | undefined;

interface Started {
  endpoint: string;
  token: string;
  pid: number;
  recovery: { resumed: string[]; failed: Array<{ runId: string; reason: string }> };
  api: Api;
}

async function startStack(): Promise<Started> {
  child = spawn(process.execPath, ["--import", TSX, SCRIPT, dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const started = JSON.parse(line) as Omit<Started, "api">;
    return { ...started, api: apiFor(started.endpoint, started.token) };
  }
  throw new Error("the stack process ended before it served");
}

async function follow(api: Api, name: string, until: (v: any) => boolean, timeoutMs = 90_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await api("GET", `/api/namespaces/default/teams/${name}`);
    if (res.status === 200 && until(res.body)) return res.body;
    if (Date.now() > end)
      throw new Error(`${name}: not there in ${timeoutMs} ms: ${JSON.stringify(res.body?.phase)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ended = (v: any) =>
  ["Completed", "Failed", "TimedOut", "BudgetExceeded", "Cancelled"].includes(v.phase);

function team(name: string, gate: boolean) {
  return teamManifest(name, bare, {
    lead: scripted("lead", [
      { waitFor: "message", timeoutMs: 120_000 },
      { call: "finish", args: { summary: "led" } },
    ]),
    teammates: [
      scripted("worker", [
        { call: "task_create", args: { subject: "the work", owner: "worker" } },
        // The running team's first runner is killed with the stack here; the relaunched one
        // goes on past it. (The gated team's worker starts after the restart.)
        ...(gate ? [] : [{ exec: "test -f .blocked || { touch .blocked; sleep 600; }" }]),
        { write: { path: "work.txt", content: "work\n" } },
        { run: ["git", "add", "work.txt"] },
        { run: ["git", "-c", "user.name=w", "-c", "user.email=w@x", "commit", "-q", "-m", "work"] },
        { call: "task_update", args: { id: "1", status: "completed" } },
        { call: "send_message", args: { to: "lead", text: "work.txt is committed", summary: "done" } },
        { call: "finish", args: { summary: "worked" } },
      ]),
    ],
    lifecycle: {
      timeout: "10m",
      onComplete: "none",
      approvalGates: gate ? [{ event: "spawn-worker" }] : [],
    },
  });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "squadron-stack-kill-"));
  bare = createBareRepo(root).bare;
  dataDir = join(root, "data");
});

/** Runs the test saw, so a failing run does not leave their processes behind. */
const runIds: string[] = [];

afterAll(async () => {
  for (const runId of runIds) killProcessesWith(`SQUADRON_TEAM_DIR=${join(localPaths(dataDir).runs, runId)}`);
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child?.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  if (root) {
    rmSync(root, { recursive: true, force: true });
    rmSync(localPaths(dataDir).secrets, { recursive: true, force: true });
  }
  console.log(
    `faults (stack kill -9): ${figures.tried} tried / ${figures.handled} handled correctly / ${figures.defects.length} defects${figures.defects.length ? `: ${figures.defects.join("; ")}` : ""}`,
  );
});

it("kill -9 of the stack with a running and a gate-waiting team: both complete after a restart, nothing lost or doubled", async () => {
  figures.tried += 2;
  const check = (what: string, ok: boolean) => {
    if (!ok) figures.defects.push(what);
    return ok;
  };
  let s = await startStack();
  expect((await s.api("POST", "/api/namespaces/default/teams", team("running", false))).status).toBe(201);
  expect((await s.api("POST", "/api/namespaces/default/teams", team("gated", true))).status).toBe(201);
  const running = await follow(s.api, "running", (v) => v.runId && v.teammates[0].phase === "Running");
  const workerDir = join(localPaths(dataDir).runs, running.runId, "worktrees", "worker");
  const gated = await follow(
    s.api,
    "gated",
    (v) => v.teammates[0].phase === "PendingApproval" && v.lead.phase === "Running",
  );
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(workerDir, ".blocked")) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(join(workerDir, ".blocked"))).toBe(true);
  runIds.push(running.runId, gated.runId);
  const before = [...processesOfRun(running.runId), ...processesOfRun(gated.runId)];
  expect(before.length).toBeGreaterThan(0);

  process.kill(s.pid, "SIGKILL");
  await new Promise((r) =>
    child?.exitCode !== null || child?.signalCode !== null ? r(undefined) : child?.once("exit", r),
  );

  s = await startStack();
  expect(s.recovery.resumed.sort()).toEqual([running.runId, gated.runId].sort());
  // The killed stack's runners, CLIs and their children are gone before anything is relaunched.
  const survivors = before.filter(alive);
  check(
    `processes of the killed stack survived its restart: ${survivors.join(", ")}`,
    survivors.length === 0,
  );
  expect(survivors).toEqual([]);

  expect(
    (await s.api("POST", "/api/namespaces/default/teams/gated/gates/spawn-worker/approve", {})).status,
  ).toBe(200);
  for (const [name, view0] of [
    ["running", running],
    ["gated", gated],
  ] as const) {
    const view = await follow(s.api, name, ended);
    const ok =
      check(`${name} ended ${view.phase}: ${view.message}`, view.phase === "Completed") &&
      check(`${name}: worker ${view.teammates[0].phase}`, view.teammates[0].phase === "Succeeded");
    expect(view.phase, view.message).toBe("Completed");
    const messages = (await s.api("GET", `/api/namespaces/default/teams/${name}/messages?agent=lead`)).body
      .items;
    const fromWorker = messages.filter((m: any) => m.from === "worker");
    check(`${name}: ${fromWorker.length} messages from the worker`, fromWorker.length === 1);
    expect(fromWorker).toHaveLength(1);
    const tasks = (await s.api("GET", `/api/namespaces/default/teams/${name}/tasks`)).body.items;
    check(`${name}: ${tasks.length} tasks`, tasks.length === 1);
    expect(tasks).toEqual([expect.objectContaining({ status: "completed" })]);
    const dir = join(localPaths(dataDir).runs, view0.runId, "worktrees", "worker");
    const commits = execFileSync("git", ["log", "--format=%s"], { cwd: dir, encoding: "utf8" })
      .split("\n")
      .filter((l) => l === "work");
    check(`${name}: ${commits.length} work commits`, commits.length === 1);
    expect(commits).toHaveLength(1);
    const end = Date.now() + 15_000;
    while (processesOfRun(view0.runId).length > 0 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    check(`${name}: processes left`, processesOfRun(view0.runId).length === 0);
    expect(processesOfRun(view0.runId)).toEqual([]);
    if (ok) figures.handled++;
  }
}, 240_000);
