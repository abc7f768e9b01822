import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchWriteItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlDeps } from "../../core/control/deps.ts";
import type { TeamPhase } from "../../core/status/phases.ts";
import { newRunRecord, runItem, teamPk, usageTotalAttr } from "../../core/store/items.ts";
import { NAMESPACE_INDEX } from "../../core/store/table-definition.ts";
import { TeamStore } from "../../core/store/team-store.ts";
import { BudgetWatch } from "../../local/budget-watch.ts";
import { type EmbeddedStore, startEmbeddedStore } from "../../local/embedded-store.ts";
import { sampleTeam } from "../status/sample-team.ts";

/**
 * Issue 14, item 16: the local stack's memory grew with every run because dynalite 4.0.0 never
 * closes the LevelDB iterator behind a Query or Scan (it calls `iterator.return()`, which
 * abstract-level's iterators lack), and LevelDB keeps what an open iterator pins. Counted, not
 * timed: after any number of reads, no iterator is left open.
 */
describe("the embedded store's iterators (issue 14: 16)", () => {
  let root: string;
  let store: EmbeddedStore;
  const items = 30;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "squadron-store-"));
    store = await startEmbeddedStore({ path: join(root, "db") });
    for (let batch = 0; batch < items / 10; batch++) {
      await store.client.send(
        new BatchWriteItemCommand({
          RequestItems: {
            [store.tableName]: Array.from({ length: 10 }, (_, i) => ({
              PutRequest: {
                Item: {
                  pk: { S: "RUN#r1" },
                  sk: { S: `EVENT#${String(batch * 10 + i).padStart(3, "0")}` },
                  gsi1pk: { S: "NS#default" },
                  gsi1sk: { S: `TEAM#t${batch * 10 + i}` },
                },
              },
            })),
          },
        }),
      );
    }
  });

  afterAll(async () => {
    await store?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("closes the iterator of every Query and Scan, read to its end or stopped at a Limit", async () => {
    const reads = 40;
    for (let i = 0; i < reads / 4; i++) {
      const all = await store.client.send(
        new QueryCommand({
          TableName: store.tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": { S: "RUN#r1" } },
        }),
      );
      expect(all.Items).toHaveLength(items);
      const first = await store.client.send(
        new QueryCommand({
          TableName: store.tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": { S: "RUN#r1" } },
          Limit: 1,
        }),
      );
      expect(first.Items).toHaveLength(1);
      expect(first.LastEvaluatedKey).toBeDefined();
      const index = await store.client.send(
        new QueryCommand({
          TableName: store.tableName,
          IndexName: NAMESPACE_INDEX,
          KeyConditionExpression: "gsi1pk = :ns",
          ExpressionAttributeValues: { ":ns": { S: "NS#default" } },
          Limit: 5,
        }),
      );
      expect(index.Items).toHaveLength(5);
      const scan = await store.client.send(new ScanCommand({ TableName: store.tableName, Limit: 3 }));
      expect(scan.Items).toHaveLength(3);
    }
    await store.client.send(new ListTablesCommand({}));
    // Each answer above was sent once its items were read; the close of an iterator is asked for
    // then, so by the time the last answer arrives every earlier iterator has been released.
    expect(store.openIterators()).toBe(0);
  });
});

describe("the local budget watch (issue 14: 16)", () => {
  let root: string;
  let store: EmbeddedStore;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "squadron-budget-"));
    store = await startEmbeddedStore({ path: join(root, "db") });
  });

  afterAll(async () => {
    await store?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function putRun(name: string, phase: TeamPhase, costUsd: number) {
    const record = newRunRecord(sampleTeam(name), `run-${name}`, new Date());
    record.status = { ...record.status, phase };
    await store.client.send(
      new PutItemCommand({
        TableName: store.tableName,
        Item: marshall(
          { ...runItem(record), [usageTotalAttr("costUsd")]: costUsd },
          {
            removeUndefinedValues: true,
          },
        ),
      }),
    );
    return teamPk("default", name);
  }

  it("keeps the last cost of runs in progress only, not one entry per run ever ended", async () => {
    const deps = {
      store: new TeamStore({ client: store.client, tableName: store.tableName }),
    } as unknown as Pick<ControlDeps, "store" | "stopper" | "notifier" | "logger">;
    const watch = new BudgetWatch(store.client, store.tableName, deps);
    const ended = 12;
    for (let i = 0; i < ended; i++) watch.notify(await putRun(`ended-${i}`, "Completed", 0.5));
    watch.notify(await putRun("running", "Running", 0.5));
    await watch.close(); // waits for every check notified above
    expect(watch.watched()).toBe(1);
  });
});

/**
 * The local budget watch runs on the embedded store's sighting of usage writes (local/stack.ts):
 * every charge the store applies (TeamStore.chargeUsage, a conditional SET since usage is charged
 * exactly once) must be seen, with the run's new total readable by the watch.
 */
describe("the embedded store's usage-write watch", () => {
  let root: string;
  let store: EmbeddedStore;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "squadron-usage-watch-"));
    store = await startEmbeddedStore({ path: join(root, "db") });
  });

  afterAll(async () => {
    await store?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("sees each applied charge of a run, and none that the store refused", async () => {
    const teamStore = new TeamStore({ client: store.client, tableName: store.tableName });
    const run = await teamStore.createRun(sampleTeam("watched"));
    const seen: string[] = [];
    store.onUsageWrite((pk) => seen.push(pk));
    const usage = (costUsd: number) => ({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd,
    });
    await teamStore.chargeUsage(run, "lead", { before: usage(0), after: usage(0.4) });
    // A stale charge (a relaunched runner's first) is refused: nothing changed, nothing to check.
    const stale = await teamStore.chargeUsage(run, "lead", { before: usage(0), after: usage(0.5) });
    expect(stale.charged).toBe(false);
    await teamStore.chargeUsage(run, "lead", { before: stale.agent, after: usage(0.5) });
    await teamStore.addUsage(run, "backend", { costUsd: 0.25 });
    const pk = teamPk("default", "watched");
    expect(seen).toEqual([pk, pk, pk]);
    expect((await teamStore.getRun(run)).status.totalCostUsd).toBe(0.75);
  });
});
