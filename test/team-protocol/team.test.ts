import { readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockTimeoutError, ProtocolError } from "../../core/team-protocol/errors.ts";
import { acquireLock } from "../../core/team-protocol/lock.ts";
import { demoTeam } from "./fixtures/demo-team.ts";

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
}

describe("team config", () => {
  it("writes team/config.json with members, and a re-init keeps their state", async () => {
    const team = await demoTeam();
    await team.heartbeat("frontend", "active");
    const config = JSON.parse(await readFile(join(team.root, "team", "config.json"), "utf8"));
    expect(config).toMatchObject({ teamName: "demo", runId: "run-1" });
    expect(config.members[2]).toMatchObject({ name: "frontend", status: "active", simulated: true });
    expect(config.members[2].heartbeatAt).toMatch(/^\d{4}-/);

    await team.init({
      teamName: "demo",
      runId: "run-1",
      members: config.members.map(
        (member: { name: string; role: "lead"; cli: "claude"; model: string }) => member,
      ),
    });
    expect((await team.member("frontend")).status).toBe("active");
    await expect(team.init({ teamName: "demo", runId: "run-2", members: config.members })).rejects.toThrow(
      /belongs to run run-1/,
    );
  });

  it("refuses unknown members with the list of names", async () => {
    const team = await demoTeam();
    expect(await refusal(team.member("x"))).toBe(
      "No member named 'x'; members are: lead, backend-api, frontend.",
    );
  });
});

describe("tasks", () => {
  it("hands out increasing ids and keeps them increasing after the counter is lost", async () => {
    const team = await demoTeam();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await team.createTask({ subject: `t${i}` })).id);
    expect(ids).toEqual(["1", "2", "3"]);
    const { unlink } = await import("node:fs/promises");
    await unlink(join(team.root, "tasks", ".counter"));
    expect((await team.createTask({ subject: "t4" })).id).toBe("4");
    expect(JSON.parse(await readFile(join(team.root, "tasks", "4.json"), "utf8"))).toMatchObject({
      id: "4",
      subject: "t4",
      description: "",
      status: "pending",
      owner: null,
      blocks: [],
      blockedBy: [],
    });
  });

  it("a blocked task cannot be claimed; completing the blocker unblocks it", async () => {
    const team = await demoTeam();
    const schema = await team.createTask({ subject: "Design the schema" });
    const api = await team.createTask({ subject: "Build the API", blockedBy: [schema.id] });
    expect(await team.getTask(schema.id)).toMatchObject({ blocks: [api.id] });
    expect(api.blockedBy).toEqual([schema.id]);

    expect(await refusal(team.claimTask(api.id, "backend-api"))).toBe(
      "Task 2 is blocked by task 1, which is not completed yet.",
    );
    expect(await refusal(team.updateTask(api.id, { status: "completed" }))).toMatch(/blocked by task 1/);

    await team.claimTask(schema.id, "frontend");
    await team.updateTask(schema.id, { status: "completed" });
    expect((await team.getTask(api.id)).blockedBy).toEqual([]);
    expect(await team.claimTask(api.id, "backend-api")).toMatchObject({
      owner: "backend-api",
      status: "in_progress",
    });
  });

  it("deleting a blocker unblocks too, and a completed blocker never blocks a new task", async () => {
    const team = await demoTeam();
    const first = await team.createTask({ subject: "a" });
    const second = await team.createTask({ subject: "b", blockedBy: [first.id] });
    await team.updateTask(first.id, { status: "deleted" });
    expect((await team.getTask(second.id)).blockedBy).toEqual([]);
    expect((await team.listTasks()).map((task) => task.id)).toEqual([second.id]);
    expect((await team.listTasks({ status: "deleted" })).map((task) => task.id)).toEqual([first.id]);
    await team.claimTask(second.id, "lead");
    await team.updateTask(second.id, { status: "completed" });
    const third = await team.createTask({ subject: "c", blockedBy: [second.id] });
    expect(third.blockedBy).toEqual([]);
  });

  it("claims are exclusive, assignments respected, and errors name the problem", async () => {
    const team = await demoTeam();
    const task = await team.createTask({ subject: "x" });
    const assigned = await team.createTask({ subject: "y", owner: "frontend" });
    await team.claimTask(task.id, "backend-api");
    expect(await team.claimTask(task.id, "backend-api")).toMatchObject({ status: "in_progress" });
    expect(await refusal(team.claimTask(task.id, "frontend"))).toBe(
      "Task 1 is already claimed by backend-api.",
    );
    expect(await refusal(team.claimTask(assigned.id, "lead"))).toBe(
      "Task 2 is assigned to frontend; only they can claim it.",
    );
    expect(await team.claimTask(assigned.id, "frontend")).toMatchObject({ owner: "frontend" });
    expect(await refusal(team.claimTask("9", "lead"))).toMatch(/^There is no task 9/);
    expect(await refusal(team.claimTask("abc", "lead"))).toMatch(/Task ids are numbers/);
    expect(await refusal(team.createTask({ subject: "z", blockedBy: ["7"] }))).toMatch(/no task 7/);
    expect(await refusal(team.createTask({ subject: "z", owner: "ghost" }))).toMatch(
      /No member named 'ghost'/,
    );
    expect((await team.listTasks({ owner: "frontend" })).map((t) => t.id)).toEqual(["2"]);
    expect((await team.openTasksOf("backend-api")).map((t) => t.id)).toEqual(["1"]);
  });
});

describe("inboxes", () => {
  it("delivers, broadcasts, reads unread and marks read", async () => {
    const team = await demoTeam();
    await team.sendMessage({ from: "lead", to: "backend-api", text: "hello", summary: "greeting" });
    expect(await team.sendMessage({ from: "lead", to: "*", text: "all hands" })).toMatchObject({
      to: ["backend-api", "frontend"],
    });
    const raw = JSON.parse(await readFile(join(team.root, "team", "inboxes", "backend-api.json"), "utf8"));
    expect(raw[0]).toEqual({
      from: "lead",
      text: "hello",
      summary: "greeting",
      timestamp: raw[0].timestamp,
      read: false,
    });

    expect((await team.readMessages("backend-api")).map((m) => m.text)).toEqual(["hello", "all hands"]);
    expect(await team.readMessages("backend-api")).toEqual([]);
    expect(await team.readMessages("backend-api", { unreadOnly: false })).toHaveLength(2);
    expect(await team.readMessages("frontend", { markRead: false })).toHaveLength(1);
    expect(await team.unreadCount("frontend")).toBe(1);

    expect(await refusal(team.sendMessage({ from: "lead", to: "lead", text: "me" }))).toMatch(/yourself/);
    expect(await refusal(team.sendMessage({ from: "lead", to: "x", text: "?" }))).toMatch(
      /No member named 'x'/,
    );
    expect(await refusal(team.sendMessage({ from: "lead", to: "frontend", text: " " }))).toMatch(/empty/);
  });

  it("markMessagesRead marks only the messages handed over, not ones that arrived since", async () => {
    const team = await demoTeam();
    await team.sendMessage({ from: "lead", to: "backend-api", text: "first" });
    const delivered = await team.readMessages("backend-api", { markRead: false });
    await team.sendMessage({ from: "frontend", to: "backend-api", text: "arrived meanwhile" });
    expect(await team.markMessagesRead("backend-api", delivered)).toBe(1);
    expect((await team.readMessages("backend-api", { markRead: false })).map((m) => m.text)).toEqual([
      "arrived meanwhile",
    ]);
    expect(await team.markMessagesRead("backend-api", delivered)).toBe(0);
  });

  it("waitForMessages resolves when a message lands and stops on abort; watchInbox yields each once", async () => {
    const team = await demoTeam();
    const watched: string[] = [];
    const controller = new AbortController();
    const watching = (async () => {
      for await (const batch of team.watchInbox("frontend", { intervalMs: 10, signal: controller.signal })) {
        watched.push(...batch.map((message) => message.text));
      }
    })();
    const waiting = team.waitForMessages("frontend", { intervalMs: 10 });
    setTimeout(() => void team.sendMessage({ from: "lead", to: "frontend", text: "ping" }), 30);
    expect((await waiting).map((message) => message.text)).toEqual(["ping"]);
    await team.sendMessage({ from: "backend-api", to: "frontend", text: "pong" });
    await new Promise((resolve) => setTimeout(resolve, 60));
    controller.abort();
    await watching;
    expect(watched).toEqual(["ping", "pong"]);

    const aborted = new AbortController();
    const pending = team.waitForMessages("lead", { intervalMs: 10, signal: aborted.signal });
    aborted.abort(new Error("stopped"));
    await expect(pending).rejects.toThrow("stopped");
  });
});

describe("lifecycle", () => {
  it("records finish and marks the member finished", async () => {
    const team = await demoTeam();
    expect(await team.lifecycle("frontend")).toEqual({
      agent: "frontend",
      finished: null,
      shutdownRequest: null,
    });
    await team.finish("frontend", "Built the page.");
    expect((await team.lifecycle("frontend")).finished).toMatchObject({ summary: "Built the page." });
    expect((await team.member("frontend")).status).toBe("finished");
    expect((await team.activeTeammates()).map((member) => member.name)).toEqual(["backend-api"]);
    expect(await refusal(team.finish("frontend", ""))).toMatch(/summary is empty/);
  });

  it("a lead's shutdown request is recorded for the runner and delivered as a message", async () => {
    const team = await demoTeam();
    await team.requestShutdown({ from: "lead", to: "backend-api", reason: "done" });
    expect((await team.lifecycle("backend-api")).shutdownRequest).toMatchObject({
      from: "lead",
      reason: "done",
    });
    const [message] = await team.readMessages("backend-api");
    expect(JSON.parse(message!.text)).toEqual({ type: "shutdown_request", reason: "done" });
    // The same marker sent through send_message by the lead counts; from a teammate it does not.
    await team.sendMessage({ from: "backend-api", to: "frontend", text: '{"type":"shutdown_request"}' });
    expect((await team.lifecycle("frontend")).shutdownRequest).toBeNull();
    await team.sendMessage({ from: "lead", to: "*", text: '{"type":"shutdown_request","reason":"wrap up"}' });
    expect((await team.lifecycle("frontend")).shutdownRequest).toMatchObject({ reason: "wrap up" });
    expect((await team.lifecycle("lead")).shutdownRequest).toBeNull();
    expect(await refusal(team.requestShutdown({ from: "frontend", to: "backend-api" }))).toMatch(
      /Only the lead/,
    );
  });
});

describe("lock files", () => {
  it("times out with a sentence naming the live holder", async () => {
    const team = await demoTeam();
    const path = join(team.root, "locks", "x.lock");
    const held = await acquireLock(path);
    const error = await acquireLock(path, { timeoutMs: 100 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as Error).message).toMatch(new RegExp(`held by pid ${process.pid} on ${hostname()}`));
    await held.release();
    await (await acquireLock(path, { timeoutMs: 100 })).release();
    expect(await readdir(join(team.root, "locks"))).not.toContain("x.lock");
  });

  it("breaks a lock older than the stale threshold even from another host", async () => {
    const team = await demoTeam();
    const path = join(team.root, "locks", "y.lock");
    await writeFile(path, JSON.stringify({ pid: 1, host: "elsewhere", token: "t", acquiredAt: "" }));
    await expect(acquireLock(path, { timeoutMs: 150, staleMs: 5_000 })).rejects.toThrow(/elsewhere/);
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    const lock = await acquireLock(path, { timeoutMs: 150, staleMs: 5_000 });
    expect(JSON.parse(await readFile(path, "utf8")).token).toBe(lock.owner.token);
    await lock.release();
  });

  it("breaks a lock whose creator died before writing its name, long before the stale threshold", async () => {
    // What a runner SIGKILLed between O_EXCL create and write leaves behind: an empty lock file.
    const team = await demoTeam();
    const path = join(team.root, "locks", "empty.lock");
    await writeFile(path, "");
    const waiting = await acquireLock(path, { timeoutMs: 100, unwrittenStaleMs: 1_000 }).catch(
      (caught: unknown) => caught,
    );
    expect(waiting).toBeInstanceOf(LockTimeoutError);
    expect((waiting as Error).message).toMatch(/an unknown process/);
    const old = new Date(Date.now() - 1_500);
    await utimes(path, old, old);
    const lock = await acquireLock(path, { timeoutMs: 100, unwrittenStaleMs: 1_000 });
    expect(JSON.parse(await readFile(path, "utf8")).token).toBe(lock.owner.token);
    await lock.release();
  });

  it("by default a waiter outlasts the stale threshold, so a holder that died elsewhere is recovered", {
    timeout: 20_000,
  }, async () => {
    const team = await demoTeam();
    const path = join(team.root, "locks", "crashed.lock");
    await writeFile(path, JSON.stringify({ pid: 1, host: "elsewhere", token: "t", acquiredAt: "" }));
    // Taken just now by a holder that then died: only age can tell, after the 10 s threshold.
    const lock = await acquireLock(path);
    expect(JSON.parse(await readFile(path, "utf8")).token).toBe(lock.owner.token);
    await lock.release();
  });

  it("release does not delete a lock that another process took over", async () => {
    const team = await demoTeam();
    const path = join(team.root, "locks", "z.lock");
    const lock = await acquireLock(path);
    await writeFile(
      path,
      JSON.stringify({ pid: process.pid, host: hostname(), token: "other", acquiredAt: "" }),
    );
    await lock.release();
    expect(JSON.parse(await readFile(path, "utf8")).token).toBe("other");
  });
});
