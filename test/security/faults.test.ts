/**
 * Faults suite (issue 14): an unlucky operator's day on the local stack. A teammate that crashes on
 * every turn (restarts bounded, then the lead is told and the team ends Failed naming it, long
 * before its timeout: point 14), kill -9 of a teammate's runner and of the lead's runner, a lead
 * whose CLI exits non-zero, and a run directory that cannot be written. Each case ends in the right
 * phase with nothing lost or duplicated, and leaves no process of its run (the process table is
 * read for every process whose environment names the run) and no temporary directory
 * (`squadron-runner-*`, `squadron-mcp-*`). The kill -9 of the whole stack is in stack-kill.test.ts.
 * Prints tried / handled correctly / defects.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProcessEvent } from "../../local/stack.ts";
import { processesOfRun, startTestStack, type TestStack } from "../e2e/local-stack-harness.ts";
import { createBareRepo } from "../support/git-fixtures.ts";
import { scripted, teamManifest, WAITER } from "../support/scripted-team.ts";

const figures = { tried: 0, handled: 0, defects: [] as string[] };
const seconds: Record<string, number> = {};
let t: TestStack;
let root: string;
let bare: string;
/** Every runner's TMPDIR (and the MCP config directories inside it) is made under this. */
let tmpRoot: string;
const savedTmp = process.env.TMPDIR;

/** A fault case: counted as tried; handled when its assertions hold, else a defect. */
function fault(name: string, body: () => Promise<void>, timeoutMs = 150_000) {
  it(
    name,
    async () => {
      figures.tried++;
      try {
        await body();
        figures.handled++;
      } catch (error) {
        figures.defects.push(`${name}: ${(error as Error).message.split("\n")[0]}`);
        throw error;
      }
    },
    timeoutMs,
  );
}

function team(name: string, spec: { lead: unknown; teammates?: unknown[]; lifecycle?: object }) {
  return teamManifest(name, bare, {
    ...spec,
    lifecycle: { timeout: "10m", onComplete: "none", maxRestarts: 1, ...spec.lifecycle },
  });
}

async function apply(manifest: ReturnType<typeof team>): Promise<void> {
  const res = await t.api("POST", "/api/namespaces/default/teams", manifest);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** The runner process of an agent once it has started (from the stack's process events). */
function runnerOf(name: string, agent: string, attempt = 0): Promise<ProcessEvent> {
  let seen = 0;
  return new Promise((resolve) => {
    const on = (e: ProcessEvent) => {
      if (e.phase !== "started" || e.agent !== agent || !e.runId.startsWith(`${name}-`)) return;
      if (seen++ < attempt) return;
      t.stack.events.off("process", on);
      resolve(e);
    };
    t.stack.events.on("process", on);
  });
}

/** Waits (bounded) until no process names the run; answers those still there, described. */
async function leftProcesses(runId: string): Promise<string[]> {
  const end = Date.now() + 15_000;
  while (processesOfRun(runId).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  return processesOfRun(runId).map(describeProcess);
}

function describeProcess(pid: number): string {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const of = (name: string) => env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").slice(0, 120);
    return `${pid} ${of("SQUADRON_MODE") ?? ""}/${of("SQUADRON_AGENT_NAME") ?? ""}: ${cmd}`;
  } catch {
    return `${pid} (gone)`;
  }
}

async function waitForFile(path: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function get(name: string, sub: string): Promise<any> {
  const res = await t.api("GET", `/api/namespaces/default/teams/${name}/${sub}`);
  expect(res.status, `${sub}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

beforeAll(async () => {
  tmpRoot = mkdtempSync(join(tmpdir(), "squadron-faults-tmp-"));
  process.env.TMPDIR = tmpRoot;
  root = mkdtempSync(join(tmpRoot, "repo-"));
  bare = createBareRepo(root).bare;
  t = await startTestStack();
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
  // Nothing any runner made in its temporary directory is left once every run has ended.
  const left = tmpRoot
    ? readdirSync(tmpRoot).filter((n) => n.startsWith("squadron-runner-") || n.startsWith("squadron-mcp-"))
    : [];
  if (left.length) figures.defects.push(`temporary directories left: ${left.join(", ")}`);
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  console.log(
    `faults: ${figures.tried} tried / ${figures.handled} handled correctly / ${figures.defects.length} defects${figures.defects.length ? `: ${figures.defects.join("; ")}` : ""}${
      Object.keys(seconds).length
        ? ` (${Object.entries(seconds)
            .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
            .join(", ")})`
        : ""
    }`,
  );
  expect(left).toEqual([]);
});

describe("faults on the local stack", () => {
  fault(
    "a teammate that crashes on every turn: restarts bounded, the lead told, the team Failed naming it",
    async () => {
      const crashes = Array.from({ length: 40 }, () => ({ exit: 3 }));
      const applied = Date.now();
      await apply(
        team("crashloop", {
          // The default lead: one task per teammate, then it waits until all are completed.
          lead: scripted("lead"),
          teammates: [scripted("worker", crashes)],
          lifecycle: { maxRestarts: 1 },
        }),
      );
      const { view } = await t.follow("default", "crashloop", undefined, 120_000);
      seconds["crash loop to Failed"] = (Date.now() - applied) / 1000;
      expect(view.phase, view.message).toBe("Failed");
      expect(view.reason).toBe("TeammateFailed");
      expect(view.message).toMatch(/worker failed for good after 1 restart\(s\)/);
      const worker = view.teammates.find((a: any) => a.name === "worker");
      // How long the team went on after the worker's last attempt failed (the point-14 stall).
      const failedAt = view.events.find((e: any) => e.reason === "AgentFailed" && e.agent === "worker")?.time;
      const endedAt = view.events.find((e: any) => e.reason === "Failed")?.time;
      if (failedAt && endedAt)
        seconds["teammate failed for good to team Failed"] =
          (Date.parse(endedAt) - Date.parse(failedAt)) / 1000;
      expect(worker).toMatchObject({ phase: "Failed", restarts: 1 });
      expect(view.lead).toMatchObject({ phase: "Failed", reason: "TeammateFailed" });
      // Restarts bounded: exactly maxRestarts restarts, each announced once.
      expect(view.events.filter((e: any) => e.reason === "AgentRestarting")).toHaveLength(1);
      // The lead was told, once, and the worker's task is unowned and pending again.
      const { items: messages } = await get("crashloop", "messages?agent=lead");
      const told = messages.filter(
        (m: any) => m.from === "squadron" && /worker failed for good/.test(m.text),
      );
      expect(told, JSON.stringify(messages)).toHaveLength(1);
      expect(told[0].text).toMatch(/unowned and pending again: #1 "Work for worker"/);
      const { items: tasks } = await get("crashloop", "tasks");
      expect(tasks).toEqual([expect.objectContaining({ id: "1", owner: null, status: "pending" })]);
      expect(await leftProcesses(view.runId)).toEqual([]);
    },
  );

  fault("kill -9 of a teammate's runner: restarted, the team completes, nothing done twice", async () => {
    const started = runnerOf("killmate", "worker");
    await apply(
      team("killmate", {
        lead: scripted("lead"),
        teammates: [
          scripted("worker", [
            { waitFor: "assigned-task", timeoutMs: 120_000 },
            { call: "task_claim", args: { id: "{{task.id}}" } },
            // Blocks the first runner (killed here); the relaunched one goes on past it.
            { exec: "test -f .blocked || { touch .blocked; sleep 600; }" },
            { write: { path: "worker.md", content: "done\n" } },
            { call: "task_update", args: { id: "{{task.id}}", status: "completed" } },
            { call: "send_message", args: { to: "lead", text: "worker.md written", summary: "done" } },
            { call: "finish", args: { summary: "worked" } },
          ]),
        ],
      }),
    );
    const runner = await started;
    await waitForFile(join(t.stack.paths.runs, runner.runId, "worktrees", "worker", ".blocked"));
    process.kill(runner.pid, "SIGKILL");
    const { view } = await t.follow("default", "killmate", undefined, 120_000);
    expect(view.phase, view.message).toBe("Completed");
    expect(view.teammates[0]).toMatchObject({ phase: "Succeeded", restarts: 1 });
    const { items: tasks } = await get("killmate", "tasks");
    expect(tasks).toEqual([expect.objectContaining({ owner: "worker", status: "completed" })]);
    const { items: messages } = await get("killmate", "messages?agent=lead");
    expect(messages.filter((m: any) => m.from === "worker")).toHaveLength(1);
    expect(await leftProcesses(view.runId)).toEqual([]);
  });

  fault("kill -9 of the lead's runner: the team Failed at once, its CLI and teammates gone", async () => {
    const started = runnerOf("killlead", "lead");
    await apply(
      team("killlead", {
        lead: scripted("lead", [
          { exec: "touch .lead-running; sleep 600" },
          { call: "finish", args: { summary: "led" } },
        ]),
        teammates: [WAITER],
      }),
    );
    const runner = await started;
    await waitForFile(join(t.stack.paths.runs, runner.runId, "repo", ".lead-running"));
    process.kill(runner.pid, "SIGKILL");
    const { view } = await t.follow("default", "killlead", undefined, 60_000);
    expect(view.phase).toBe("Failed");
    expect(view.reason).toBe("LeadFailed");
    expect(view.message).toMatch(/SIGKILL/);
    expect(view.teammates[0].phase).toMatch(/^(Stopped|Failed)$/);
    // The lead's `sleep 600` (its CLI's child) and the waiter's runner are gone with the run.
    expect(await leftProcesses(view.runId)).toEqual([]);
  });

  fault("a lead whose CLI exits non-zero: Failed (CliCrashed), not a hollow success", async () => {
    await apply(
      team("leadexit", {
        lead: scripted("lead", [{ exit: 5 }]),
      }),
    );
    const { view } = await t.follow("default", "leadexit", undefined, 90_000);
    expect(view.phase).toBe("Failed");
    expect(view.lead).toMatchObject({ phase: "Failed", reason: "CliCrashed" });
    expect(await leftProcesses(view.runId)).toEqual([]);
  });
});

describe("a run directory that cannot be written", () => {
  let broken: TestStack;
  beforeAll(async () => {
    broken = await startTestStack();
    // The shared file system's root is a file: no run directory can be made (root ignores modes,
    // so a mode would not test anything when the suite runs as root).
    rmSync(broken.stack.paths.runs, { recursive: true, force: true });
    writeFileSync(broken.stack.paths.runs, "not a directory\n");
  }, 60_000);
  afterAll(async () => {
    await broken?.cleanup();
  });

  fault("the team ends Failed with the file system's error, and no process is started", async () => {
    const started: ProcessEvent[] = [];
    broken.stack.events.on("process", (e: ProcessEvent) => started.push(e));
    const res = await broken.api(
      "POST",
      "/api/namespaces/default/teams",
      team("unwritable", { lead: scripted("lead") }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { view } = await broken.follow("default", "unwritable", undefined, 60_000);
    expect(view.phase).toBe("Failed");
    expect(view.message).toMatch(/ENOTDIR|not a directory/i);
    expect(started).toEqual([]);
    expect(await leftProcesses(view.runId)).toEqual([]);
  });
});
