import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { TeamLayout } from "../../core/team-protocol/layout.ts";
import { Team } from "../../core/team-protocol/team.ts";
import type { Task } from "../../core/team-protocol/types.ts";
import { bundleWorker, startWorker } from "./fixtures/processes.ts";

let worker: string;
beforeAll(async () => {
  worker = await bundleWorker();
});

async function newTeam(memberCount: number): Promise<Team> {
  const root = await mkdtemp(join(tmpdir(), "squadron-protocol-"));
  const team = new Team(root);
  await team.init({
    teamName: "t",
    runId: "run-1",
    members: [
      { name: "lead", role: "lead", cli: "scripted", model: "opus" },
      ...Array.from({ length: memberCount }, (_, i) => ({
        name: `a${i}`,
        role: "teammate" as const,
        cli: "scripted" as const,
        model: "sonnet",
      })),
    ],
  });
  return team;
}

describe("many processes on one team directory", () => {
  it("16 processes claiming concurrently: every task is claimed exactly once", async () => {
    const team = await newTeam(16);
    for (let i = 0; i < 48; i++) await team.createTask({ subject: `task ${i}` });
    const runs = Array.from({ length: 16 }, (_, i) => startWorker(worker, ["claim", team.root, `a${i}`]));
    await writeFile(join(team.root, "go"), "");
    const results = (await Promise.all(runs.map((run) => run.result))) as {
      agent: string;
      claimed: string[];
    }[];

    const claims = results.flatMap((result) => result.claimed.map((id) => ({ id, agent: result.agent })));
    expect(claims).toHaveLength(48);
    expect(new Set(claims.map((claim) => claim.id)).size).toBe(48);
    const tasks = await team.listTasks();
    for (const claim of claims) {
      const task = tasks.find((candidate) => candidate.id === claim.id)!;
      expect(task).toMatchObject({ owner: claim.agent, status: "in_progress" });
    }
    expect(results.filter((result) => result.claimed.length > 0).length).toBeGreaterThan(1);
  });

  it("8 processes claiming and completing chains of blocked tasks: blockers gate every claim", async () => {
    const team = await newTeam(8);
    // Four chains of 5: each task is blocked by the previous one in its chain.
    for (let chain = 0; chain < 4; chain++) {
      let previous: Task | undefined;
      for (let step = 0; step < 5; step++) {
        previous = await team.createTask({
          subject: `chain ${chain} step ${step}`,
          ...(previous ? { blockedBy: [previous.id] } : {}),
        });
      }
    }
    const runs = Array.from({ length: 8 }, (_, i) =>
      startWorker(worker, ["claim", team.root, `a${i}`, "complete"]),
    );
    await writeFile(join(team.root, "go"), "");
    const results = (await Promise.all(runs.map((run) => run.result))) as { claimed: string[] }[];

    const claimed = results.flatMap((result) => result.claimed);
    expect(claimed.sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)).sort());
    const tasks = await team.listTasks();
    expect(tasks.every((task) => task.status === "completed" && task.blockedBy.length === 0)).toBe(true);
    // A task never started before its blocker was completed: updatedAt of the claim comes after.
    for (const task of tasks) {
      for (const dependantId of task.blocks) {
        const dependant = tasks.find((candidate) => candidate.id === dependantId)!;
        expect(dependant.updatedAt >= task.updatedAt).toBe(true);
      }
    }
  });

  it("8 concurrent senders to one inbox: every message arrives once", async () => {
    const team = await newTeam(8);
    const runs = Array.from({ length: 8 }, (_, i) =>
      startWorker(worker, ["send", team.root, `a${i}`, "lead", "25"]),
    );
    await writeFile(join(team.root, "go"), "");
    await Promise.all(runs.map((run) => run.result));

    const inbox = await team.readInbox("lead");
    const texts = inbox.map((message) => message.text);
    expect(texts).toHaveLength(200);
    expect(new Set(texts).size).toBe(200);
    for (let i = 0; i < 8; i++) {
      // Per sender, order is preserved.
      const own = texts.filter((text) => text.startsWith(`a${i}#`));
      expect(own).toEqual(Array.from({ length: 25 }, (_, n) => `a${i}#${n}`));
    }
    expect(inbox.every((message) => message.read === false && message.from.startsWith("a"))).toBe(true);
  });

  it("a writer killed mid-write leaves no torn file, and readers never see one", async () => {
    const team = await newTeam(1);
    const target = join(team.root, "big.json");
    const run = startWorker(worker, ["rewrite", team.root, target]);
    const exited = run.result.then(() => {
      throw new Error("the rewriter stopped on its own");
    });
    await Promise.race([run.firstLine, exited]);
    exited.catch(() => {});
    // Read until the rewriter has replaced the file under the reader several times: a count of
    // versions seen, not a time window (a loaded machine read it only 3 times in 400 ms once).
    let reads = 0;
    const versions = new Set<number>();
    while (reads < 10 || versions.size < 3) {
      const value = JSON.parse(await readFile(target, "utf8")) as { version: number; filler: number[] };
      expect(value.filler.every((entry) => entry === value.version)).toBe(true);
      versions.add(value.version);
      reads++;
    }
    run.child.kill("SIGKILL");
    await new Promise((resolve) => run.child.once("close", resolve));
    const final = JSON.parse(await readFile(target, "utf8")) as { version: number; filler: number[] };
    expect(final.filler).toHaveLength(50_000);
    expect(final.filler.every((entry) => entry === final.version)).toBe(true);
  });

  it("a lock left by a process that died holding it is recovered", async () => {
    const team = await newTeam(1);
    const run = startWorker(worker, ["die-holding-lock", team.root, "lead"]);
    await run.result;
    const lockPath = new TeamLayout(team.root).inboxLock("lead");
    const owner = JSON.parse(await readFile(lockPath, "utf8")) as { pid: number; host: string };
    expect(owner).toMatchObject({ pid: run.child.pid, host: hostname() });

    const started = Date.now();
    await team.sendMessage({ from: "a0", to: "lead", text: "after the crash" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await team.readInbox("lead")).map((message) => message.text)).toEqual(["after the crash"]);
    expect((await readdir(join(team.root, "locks"))).filter((name) => name.includes("stale"))).toEqual([]);
  });

  it("8 processes breaking the same stale lock at once: exactly one wins each time", async () => {
    const team = await newTeam(0);
    const lockPath = join(team.root, "locks", "counter.lock");
    const counter = join(team.root, "counter");
    await writeFile(counter, "0");
    await writeFile(
      lockPath,
      JSON.stringify({ pid: 999_999, host: "gone-host", token: "x", acquiredAt: "" }),
    );
    const { utimes } = await import("node:fs/promises");
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath, old, old);
    const runs = Array.from({ length: 8 }, () =>
      startWorker(worker, ["increment", team.root, lockPath, counter, "20"]),
    );
    await sleep(50);
    await writeFile(join(team.root, "go"), "");
    await Promise.all(runs.map((run) => run.result));
    expect(Number(await readFile(counter, "utf8"))).toBe(160);
  });
});
