import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type TaskCounts, TeamStoreSink } from "../../../runner/reporting/store-sink.ts";
import { countTasks, TaskCountReporter } from "../../../runner/reporting/task-counts.ts";
import { coworkTeam, initRunDir, scriptedAgent, storeOnOwnTable } from "./fixtures.ts";

describe("task counts", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("counts every task but deleted ones, and completed ones as done", () => {
    expect(
      countTasks([
        { status: "pending" },
        { status: "in_progress" },
        { status: "completed" },
        { status: "deleted" },
      ]),
    ).toEqual({ total: 3, done: 1 });
    expect(countTasks([])).toEqual({ total: 0, done: 0 });
  });

  it("writes only when the counts change, and once more when closed if they did", async () => {
    const team = coworkTeam(scriptedAgent("lead", "lead"), []);
    const { dir, protocol } = await initRunDir(team, "r-counts");
    dirs.push(dir);
    const writes: TaskCounts[] = [];
    const reporter = new TaskCountReporter(
      protocol,
      { setTaskCounts: async (c) => void writes.push(c) },
      { intervalMs: 60_000 },
    );
    await reporter.recount();
    await reporter.recount();
    expect(writes).toEqual([{ total: 0, done: 0 }]);
    const a = await protocol.createTask({ subject: "A" });
    await protocol.createTask({ subject: "B" });
    reporter.observe(await protocol.listTasks());
    reporter.observe(await protocol.listTasks());
    await reporter.recount();
    await protocol.updateTask(a.id, { status: "completed" });
    await reporter.close();
    expect(writes).toEqual([
      { total: 0, done: 0 },
      { total: 2, done: 0 },
      { total: 2, done: 1 },
    ]);
  });

  it("tries a failed write again with the next count", async () => {
    const team = coworkTeam(scriptedAgent("lead", "lead"), []);
    const { dir, protocol } = await initRunDir(team, "r-retry");
    dirs.push(dir);
    let fail = true;
    const writes: TaskCounts[] = [];
    const reporter = new TaskCountReporter(
      protocol,
      {
        setTaskCounts: async (c) => {
          if (fail) throw new Error("throttled");
          writes.push(c);
        },
      },
      { intervalMs: 60_000 },
    );
    await protocol.createTask({ subject: "A" });
    await reporter.recount();
    fail = false;
    await reporter.recount();
    expect(writes).toEqual([{ total: 1, done: 0 }]);
  });

  describe("in the store (DynamoDB Local)", () => {
    const { client, store, createTable } = storeOnOwnTable(
      inject("dynamoDbLocalEndpoint"),
      "squadron-task-counts",
    );
    beforeAll(() => createTable());
    afterAll(() => client.destroy());

    it("sets status.tasks of its own run and leaves the item alone when they are equal", async () => {
      const team = coworkTeam(scriptedAgent("lead", "lead"), [], `counts-${randomUUID().slice(0, 8)}`);
      const created = await store.createRun(team, { runId: "r-1" });
      const sink = new TeamStoreSink(store, team.metadata, "lead", "r-1");
      await sink.setTaskCounts({ total: 3, done: 1 });
      const first = await store.getRun(team.metadata);
      expect(first.status.tasks).toEqual({ total: 3, done: 1 });
      expect(first.version).toBe(created.version + 1);
      await sink.setTaskCounts({ total: 3, done: 1 });
      expect((await store.getRun(team.metadata)).version).toBe(first.version);
      // A runner of another run under the same team name writes nothing.
      await new TeamStoreSink(store, team.metadata, "lead", "r-old").setTaskCounts({ total: 9, done: 9 });
      expect((await store.getRun(team.metadata)).status.tasks).toEqual({ total: 3, done: 1 });
    });
  });
});
