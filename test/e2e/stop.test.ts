/**
 * Issue 15, item 3: stopping a run (`squadron delete team NAME`, as a user does) ends every process
 * of the run, whatever it was doing, and leaves none of its temporary directories. One stack, one
 * team stopped in each phase while its work holds processes that would outlive a careless stop:
 *
 * - init: the clone hangs in a (fake) ssh transport that started helpers, one of them in a session
 *   of its own (`setsid`), so no process-group kill reaches it;
 * - agents: the lead's shell step left a background `sleep` and a `setsid sleep` behind and
 *   blocks; a teammate waits for a message;
 * - gate: the requireTests gate's `npm test` runs a node test process that started a worker
 *   (`node -e "setInterval(...)"`), which started a detached child (a build daemon's habit: the
 *   Java process of the issue's report);
 * - finalize: the push hangs in the ssh transport, with helpers as in init.
 *
 * After the team reached Cancelled and every runner of the run exited, the process table is read
 * for every process of the run: its environment names the run (SQUADRON_RUN_ID, the run
 * directory, or the mark of one of its runners, which everything a runner starts inherits), or
 * its working directory or command line is in the run directory. None may be left, nor a
 * temporary directory (`squadron-runner-*`, `squadron-mcp-*`, anything made under TMPDIR).
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNNER_MARK_VARIABLE } from "../../local/runner-leftovers.ts";
import type { ProcessEvent } from "../../local/stack.ts";
import { squadron } from "../cli/support/api-server.ts";
import { createBareRepo } from "../support/git-fixtures.ts";
import { scripted, teamManifest, WAITER } from "../support/scripted-team.ts";
import { alive, startTestStack, type TestStack } from "./local-stack-harness.ts";

let t: TestStack;
/** Every runner's TMPDIR is made under this (the stack's TMPDIR), so what a run leaves is seen. */
let tmpRoot: string;
/** Fixtures (repositories, the fake ssh, markers) live outside tmpRoot. */
let fixtures: string;
let markers: string;
let plainRepo: string;
let gateRepo: string;
const savedTmp = process.env.TMPDIR;
/** How long `squadron delete` took per phase (it answers once the run's processes are stopped). */
const seconds: Record<string, number> = {};

/**
 * A stand-in for ssh as git runs it (GIT_SSH_COMMAND): `<cmd> HOST "git-upload-pack '/path'"`.
 * It runs the command locally (so `ssh://any-host/abs/path` reaches a local repository), except
 * that host `hang-clone` hangs the clone and host `hang-push` hangs the push, after starting two
 * helpers: one in its process group and one in a session of its own.
 */
function fakeSsh(dir: string, markerDir: string): string {
  const path = join(dir, "fake-ssh");
  writeFileSync(
    path,
    `#!/bin/bash
# git probes the variant with -G first; failing it makes git pass only the host and the command.
[ "$1" = "-G" ] && exit 1
host="$1"; shift
case "$host:$*" in
  hang-clone:git-upload-pack*|hang-push:git-receive-pack*)
    sleep 1000 </dev/null >/dev/null 2>&1 &
    setsid sleep 1000 </dev/null >/dev/null 2>&1 &
    echo "$$" > "${markerDir}/$host-$SQUADRON_RUN_ID"
    exec sleep 1000 ;;
esac
exec bash -c "$*"
`,
  );
  chmodSync(path, 0o755);
  return path;
}

/** The test script of the gate's repository: a worker that outlives its parent, and its child. */
function gateFiles(markerDir: string): Record<string, string> {
  return {
    "README.md": "# gate fixture\n",
    "package.json": `${JSON.stringify({ name: "gate-fixture", private: true, scripts: { test: "node hold.js" } }, null, 2)}\n`,
    "hold.js": `const { spawn } = require("node:child_process");
// A test worker (it stays in the test's process group) that starts a daemon in a session of its
// own and keeps running; the worker writes the marker once the daemon runs.
spawn(process.execPath, ["-e", ${JSON.stringify(
      `const { spawn } = require("node:child_process");
const daemon = spawn("sleep", ["1000"], { stdio: "ignore", detached: true });
daemon.unref();
daemon.once("spawn", () => require("node:fs").writeFileSync(process.env.GATE_MARKER, String(daemon.pid)));
setInterval(() => {}, 1000);`,
    )}], { stdio: "ignore", env: { ...process.env, GATE_MARKER: ${JSON.stringify(markerDir)} + "/gate-" + process.env.SQUADRON_RUN_ID } });
setInterval(() => {}, 1000);
`,
  };
}

beforeAll(async () => {
  tmpRoot = mkdtempSync(join(tmpdir(), "squadron-stop-tmp-"));
  fixtures = mkdtempSync(join(tmpdir(), "squadron-stop-fixtures-"));
  markers = join(fixtures, "markers");
  mkdirSync(markers);
  plainRepo = createBareRepo(fixtures, undefined, "main", "plain.git").bare;
  gateRepo = createBareRepo(fixtures, gateFiles(markers), "main", "gate.git").bare;
  const ssh = fakeSsh(fixtures, markers);
  process.env.TMPDIR = tmpRoot;
  t = await startTestStack({ runnerEnv: { GIT_SSH_COMMAND: ssh } });
}, 120_000);

afterAll(async () => {
  // Nothing any runner made under the stack's TMPDIR (runner directories, MCP configurations) is left.
  const left = tmpRoot
    ? readdirSync(tmpRoot).filter((n) => n.startsWith("squadron-runner-") || n.startsWith("squadron-mcp-"))
    : [];
  console.log(
    `squadron delete answered in ${Object.entries(seconds)
      .map(([phase, s]) => `${phase} ${s.toFixed(1)} s`)
      .join(", ")} (load ${loadavg()[0]?.toFixed(1)})`,
  );
  await t?.cleanup();
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  for (const dir of [tmpRoot, fixtures]) if (dir) rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
});

/** Teams that make no noise of their own: no timeout before the test's, no delivery unless asked. */
function team(
  name: string,
  repository: string,
  spec: { lead: unknown; teammates?: unknown[]; lifecycle?: object; qualityGates?: object },
) {
  return teamManifest(
    name,
    repository,
    { ...spec, lifecycle: { timeout: "10m", onComplete: "none", maxRestarts: 0, ...spec.lifecycle } },
    // The ssh URLs name hosts that do not exist: the stack must not swap them for its demo repository.
    { annotations: { "squadron.dev/localize-repository": "false" } },
  );
}

/** A lead that commits one file and finishes, so the run goes on to Finalize. */
const committingLead = scripted("lead", [
  { write: { path: "lead.md", content: "led\n" } },
  { run: ["git", "add", "lead.md"] },
  { run: ["git", "commit", "-q", "-m", "lead: lead.md"] },
  { call: "finish", args: { summary: "led" } },
]);

interface Case {
  phase: string;
  manifest: (name: string) => ReturnType<typeof team>;
  /** The file the held work writes once it is running (with its helpers started). */
  marker: (runId: string) => string;
}

const cases: Case[] = [
  {
    phase: "init",
    manifest: (name) => team(name, `ssh://hang-clone${plainRepo}`, { lead: scripted("lead") }),
    marker: (runId) => join(markers, `hang-clone-${runId}`),
  },
  {
    phase: "agents",
    manifest: (name) =>
      team(name, plainRepo, {
        lead: scripted("lead", [
          {
            exec: "sleep 1000 </dev/null >/dev/null 2>&1 & setsid sleep 1000 </dev/null >/dev/null 2>&1 & touch .lead-running; sleep 1000",
          },
          { call: "finish", args: { summary: "led" } },
        ]),
        teammates: [WAITER],
      }),
    marker: (runId) => join(t.stack.paths.runs, runId, "repo", ".lead-running"),
  },
  {
    phase: "gate",
    manifest: (name) =>
      team(name, gateRepo, {
        lead: committingLead,
        qualityGates: { requireTests: true },
      }),
    marker: (runId) => join(markers, `gate-${runId}`),
  },
  {
    phase: "finalize",
    manifest: (name) =>
      team(name, `ssh://hang-push${plainRepo}`, {
        lead: committingLead,
        lifecycle: { onComplete: "push-branch" },
      }),
    marker: (runId) => join(markers, `hang-push-${runId}`),
  },
];

/** Runner processes per run (from the stack's process events) and the marks they carry. */
const runners = new Map<
  string,
  { started: Set<number>; exited: Set<number>; marks: Set<string>; tmpDirs: Set<string> }
>();
function runnersOf(runId: string) {
  let entry = runners.get(runId);
  if (!entry) {
    entry = { started: new Set(), exited: new Set(), marks: new Set(), tmpDirs: new Set() };
    runners.set(runId, entry);
  }
  return entry;
}

function environOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
  } catch {
    return undefined; // gone, or not ours
  }
}

beforeAll(() => {
  t.stack.events.on("process", (e: ProcessEvent) => {
    const entry = runnersOf(e.runId);
    if (e.phase === "exited") {
      entry.exited.add(e.pid);
      return;
    }
    entry.started.add(e.pid);
    // spawn() has returned, so the runner's own environment is readable: its leftovers mark, and
    // the temporary directory it was given (everything it and its CLI make goes there).
    const env = environOf(e.pid) ?? [];
    const mark = env.find((v) => v.startsWith(`${RUNNER_MARK_VARIABLE}=`));
    if (mark) entry.marks.add(mark);
    const tmp = env.find((v) => v.startsWith("TMPDIR="))?.slice("TMPDIR=".length);
    if (tmp) entry.tmpDirs.add(tmp);
  });
});

interface RunProcess {
  pid: number;
  /** Its session: a `setsid` child or a detached daemon leads a session of its own. */
  sid: number;
  cwd: string;
  cmdline: string;
}

/** Every live process (not this one) of the run; zombies are not processes any more. */
function processesOfRun(runId: string): RunProcess[] {
  const runDir = join(t.stack.paths.runs, runId);
  const { marks } = runnersOf(runId);
  const found: RunProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!/^\d+$/.test(entry) || pid === process.pid) continue;
    const env = environOf(pid);
    if (!env) continue;
    let cwd: string;
    let cmdline: string;
    let stat: string;
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const ofRun =
      env.includes(`SQUADRON_RUN_ID=${runId}`) ||
      env.includes(`SQUADRON_TEAM_DIR=${runDir}`) ||
      env.some((v) => marks.has(v)) ||
      cwd === runDir ||
      cwd.startsWith(`${runDir}/`) ||
      cmdline.includes(runDir);
    // "pid (comm) state ppid pgrp session ...": comm may hold spaces, so split after ")".
    const sid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
    if (ofRun && alive(pid)) found.push({ pid, sid, cwd, cmdline: cmdline.slice(0, 160) });
  }
  return found;
}

const describeProcesses = (list: RunProcess[]) => list.map((p) => `${p.pid} (cwd ${p.cwd}): ${p.cmdline}`);

/** Bounded wait for a condition an event of the run makes true (a file written, a process gone). */
async function until(what: string, check: () => boolean, timeoutMs = 120_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function cli(args: string[]) {
  return squadron(args, {
    env: { SQUADRON_ENDPOINT: t.stack.endpoint, SQUADRON_TOKEN: t.stack.token },
    // Four CLIs start at once through tsx on a busy machine: a bound, not a timing assertion.
    timeoutMs: 90_000,
  });
}

describe("squadron delete of a running team ends every process of its run (issue 15: 3)", () => {
  // All at once: four runs stopped while the others work, as on a busy stack (and faster).
  it.concurrent.for(cases)(
    "stopped in $phase: Cancelled, no process and no temporary directory of the run left",
    { timeout: 240_000 },
    async ({ phase, manifest, marker }, { expect }) => {
      const name = `stop-${phase}`;
      const created = await t.api("POST", "/api/namespaces/default/teams", manifest(name));
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const runId = (await t.api("GET", `/api/namespaces/default/teams/${name}`)).body.runId as string;
      expect(runId).toMatch(new RegExp(`^${name}-`));

      // The held work is running (its helpers started): the run is in the phase under test.
      await until(`${phase}: the held work started`, () => existsSync(marker(runId))).catch(async (error) => {
        const view = (await t.api("GET", `/api/namespaces/default/teams/${name}`)).body;
        const logs = readdirSync(join(t.stack.paths.logs, runId))
          .map((f) => `${f}: ${readFileSync(join(t.stack.paths.logs, runId, f), "utf8").slice(-1500)}`)
          .join("\n");
        throw new Error(
          `${(error as Error).message}; ${view.phase}: ${JSON.stringify(view.events.slice(-4))}\n${logs}`,
        );
      });
      // Among its processes a helper in a session of its own, out of reach of every process-group
      // kill. The marker is written as `setsid` is started in the background, so on a busy machine
      // the helper may still be a forked shell that has not yet become `sleep`: wait for it.
      const escapeesOf = (processes: ReturnType<typeof processesOfRun>) =>
        processes.filter((p) => p.sid === p.pid && p.cmdline === "sleep 1000");
      await until(
        `${phase}: the helper in a session of its own started`,
        () => escapeesOf(processesOfRun(runId)).length > 0,
      ).catch(() => undefined);
      const running = processesOfRun(runId);
      expect(running.length, "the run has processes to stop").toBeGreaterThan(2);
      expect(escapeesOf(running), JSON.stringify(describeProcesses(running))).toHaveLength(1);

      const asked = Date.now();
      const deleted = await cli(["delete", "team", name]);
      seconds[phase] = (Date.now() - asked) / 1000;
      expect(deleted.stderr).toBe("");
      expect(deleted.code).toBe(0);
      expect(deleted.stdout).toMatch(new RegExp(`^team/${name} cancelled`));

      const { view } = await t.follow("default", name, undefined, 60_000);
      expect(view.phase, view.message).toBe("Cancelled");
      // The execution ends (its Map iterations and runners with it), then every runner has exited.
      await t.stack.sfn.get(runId)?.ended;
      const mine = runnersOf(runId);
      await until(`${phase}: every runner exited`, () =>
        [...mine.started].every((pid) => mine.exited.has(pid)),
      );
      // A SIGKILLed process takes a moment to be gone; bounded by far less than any stop grace left.
      await until(
        `${phase}: no process of the run`,
        () => processesOfRun(runId).length === 0,
        5_000,
        200,
      ).catch(() => undefined);
      expect(describeProcesses(processesOfRun(runId))).toEqual([]);
      expect(mine.tmpDirs.size).toBe(mine.started.size);
      expect([...mine.tmpDirs].filter((dir) => dir.startsWith(tmpRoot) && existsSync(dir))).toEqual([]);

      // What the user reads: Cancelled, because it was deleted, and nothing after that claims otherwise.
      const after = (await t.api("GET", `/api/namespaces/default/teams/${name}`)).body;
      expect(after.phase).toBe("Cancelled");
      expect(after.reason).toBe("Cancelled");
      expect(after.message).toMatch(/^Cancelled by /);
      const reasons = after.events.map((e: { reason: string }) => e.reason);
      expect(reasons).toContain("Cancelled");
      expect(reasons).not.toContain("Completed");
      expect(reasons).not.toContain("Failed");
      expect(reasons).not.toContain("Delivered");
      expect(reasons).not.toContain("FinalizeFailed");
      for (const agent of [after.lead, ...after.teammates]) {
        expect(["Stopped", "Succeeded"], `${agent.name}: ${agent.message}`).toContain(agent.phase);
      }
    },
  );
});
