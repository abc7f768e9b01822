import { randomUUID } from "node:crypto";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentTeamTemplate } from "../../core/manifest/types.ts";
import { InvalidTransitionError, normalEvent, readyLabel, warningEvent } from "../../core/status/index.ts";
import {
  ConflictError,
  createTable,
  InvalidPageTokenError,
  NotFoundError,
  newRunRecord,
  publicView,
  runItem,
  TeamStore,
  UnknownNameError,
} from "../../core/store/index.ts";
import { sampleTeam } from "../status/sample-team.ts";
import { type CountingClient, countingClient, ENDPOINTS, endpointFor, pool } from "./harness.ts";

function sampleTemplate(name: string, description = "three reviewers"): AgentTeamTemplate {
  const team = sampleTeam();
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeamTemplate",
    metadata: { name, namespace: "default", labels: {}, annotations: {} },
    spec: {
      description,
      teammates: team.spec.teammates,
      coordination: team.spec.coordination,
      lifecycle: team.spec.lifecycle,
    },
  };
}

/** Records which TeamStore methods the suite called, to prove the no-Scan check covered them all. */
function recordingStore(store: TeamStore, called: Set<string>): TeamStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args: unknown[]) => {
        called.add(prop);
        return value.apply(target, args);
      };
    },
  });
}

const PUBLIC_METHODS = Object.getOwnPropertyNames(TeamStore.prototype).filter((name) => {
  if (name === "constructor") return false;
  // Getters (retentionPeriodDays) send nothing.
  if (typeof Object.getOwnPropertyDescriptor(TeamStore.prototype, name)?.value !== "function") return false;
  // Private methods are plain prototype methods too: recognise the public API by its docs list.
  return ![
    "gateOf",
    "versionedUpdate",
    "conditionalAgentUpdate",
    "queryIndex",
    "queryEventKeys",
    "batchDelete",
    "batchPut",
    "batchWrite",
    "queryEventItems",
    "registerNamespace",
    "writeTemplate",
  ].includes(name);
});

describe.each(ENDPOINTS)("TeamStore on $label", ({ key }) => {
  let counting: CountingClient;
  let store: TeamStore;
  const called = new Set<string>();

  beforeAll(async () => {
    counting = countingClient(endpointFor(key));
    const tableName = `squadron-store-${randomUUID().slice(0, 8)}`;
    await createTable(counting.client, tableName);
    store = recordingStore(new TeamStore({ client: counting.client, tableName }), called);
  });

  afterAll(() => {
    counting.client.destroy();
  });

  it("creates a run with its spec and an initial status, and reads it back", async () => {
    const team = sampleTeam("roundtrip");
    const created = await store.createRun(team);
    expect(created.version).toBe(1);
    expect(created.runId).toMatch(/^[0-9a-f-]{36}$/);
    const read = await store.getRun({ namespace: "default", name: "roundtrip" });
    expect(read).toEqual(created);
    expect(read.team).toEqual(team);
    expect(read.status.phase).toBe("Pending");
    expect(readyLabel(read.status)).toBe("0/3");
  });

  it("reports a missing run as NotFoundError", async () => {
    await expect(store.getRun({ namespace: "default", name: "nobody" })).rejects.toThrow(
      new NotFoundError("team", "default", "nobody"),
    );
    expect(await store.findRun({ namespace: "default", name: "nobody" })).toBeUndefined();
  });

  it("lets exactly one of racing creates of the same name win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => store.createRun(sampleTeam("contested"))),
    );
    const winners = results.filter((r) => r.status === "fulfilled");
    const losers = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(4);
    for (const loser of losers) {
      expect(loser.reason).toBeInstanceOf(ConflictError);
      expect(loser.reason.message).toBe("A team run named contested already exists in namespace default.");
    }
    const stored = await store.getRun({ namespace: "default", name: "contested" });
    expect(stored.runId).toBe((winners[0] as PromiseFulfilledResult<{ runId: string }>).value.runId);
  });

  it("marks a team as being created until the mark is cleared", async () => {
    const ref = { namespace: "default", name: "in-flight" };
    expect(await store.isCreating(ref)).toBe(false);
    await store.markCreating(ref);
    expect(await store.isCreating(ref)).toBe(true);
    await store.clearCreating(ref);
    expect(await store.isCreating(ref)).toBe(false);
  });

  it("keeps the same name free in another namespace", async () => {
    await store.createRun(sampleTeam("contested", "other"));
    expect((await store.getRun({ namespace: "other", name: "contested" })).namespace).toBe("other");
  });

  it("lands all of 20 concurrent status updates through the version retry", async () => {
    const ref = { namespace: "default", name: "busy" };
    await store.createRun(sampleTeam("busy"));
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.updateStatus(ref, (status) => {
          status.tasks.total += 1;
          return status;
        }),
      ),
    );
    const after = await store.getRun(ref);
    expect(after.status.tasks.total).toBe(20);
    expect(after.version).toBe(21);
  });

  it("checks phase changes against the transition tables and writes nothing when refused", async () => {
    const ref = { namespace: "default", name: "phases" };
    await store.createRun(sampleTeam("phases"));
    await expect(store.updateStatus(ref, (s) => ({ ...s, phase: "Completed" }))).rejects.toBeInstanceOf(
      InvalidTransitionError,
    );
    await expect(
      store.updateStatus(ref, (s) => {
        s.agents.lead!.phase = "Succeeded";
        return s;
      }),
    ).rejects.toThrow('Cannot move agent "lead" from Pending to Succeeded');
    const moved = await store.updateStatus(ref, (s) => {
      s.phase = "Initializing";
      s.agents.lead!.phase = "Starting";
      return s;
    });
    expect(moved.version).toBe(2);
    const unchanged = await store.updateStatus(ref, () => undefined);
    expect(unchanged.version).toBe(2);
    expect((await store.getRun(ref)).status.phase).toBe("Initializing");
  });

  it("sums usage ADDs from concurrent writers exactly, per agent and in total", async () => {
    const ref = { namespace: "default", name: "spender" };
    await store.createRun(sampleTeam("spender"));
    const agents = ["lead", "backend", "tests"];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        store.addUsage(ref, agents[i % 3]!, {
          inputTokens: 1000,
          outputTokens: 10,
          cacheReadTokens: 7,
          cacheWriteTokens: 3,
          costUsd: 0.1,
        }),
      ),
    );
    // A status write in between must not clobber the counters.
    await store.updateStatus(ref, (s) => {
      s.agents.lead!.costUsd = 999;
      s.tasks.done = 1;
      return s;
    });
    const totals = await store.addUsage(ref, "lead", { costUsd: 0.2 });
    expect(totals.total.costUsd).toBe(6.2);
    expect(totals.agent.costUsd).toBe(2.2);
    const run = await store.getRun(ref);
    expect(run.status.totalCostUsd).toBe(6.2);
    expect(run.status.agents.backend).toMatchObject({
      inputTokens: 20_000,
      outputTokens: 200,
      cacheReadTokens: 140,
      cacheWriteTokens: 60,
      costUsd: 2,
    });
    expect(run.status.agents.lead!.costUsd).toBe(2.2);
    expect(run.version).toBe(2);
  });

  it("refuses usage for an unknown agent or run, and negative usage", async () => {
    await expect(
      store.addUsage({ namespace: "default", name: "spender" }, "ghost", { costUsd: 1 }),
    ).rejects.toThrow(new UnknownNameError("agent", "default", "spender", "ghost"));
    await expect(
      store.addUsage({ namespace: "default", name: "nobody" }, "lead", { costUsd: 1 }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      store.addUsage({ namespace: "default", name: "spender" }, "lead", { costUsd: -1 }),
    ).rejects.toThrow("Usage costUsd must be a non-negative finite number, got -1.");
  });

  describe("charging usage exactly once", () => {
    const usage = (costUsd: number, inputTokens = 0) => ({
      inputTokens,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd,
    });

    it("counts once a charge whose answer was lost and that the SDK sent again", async () => {
      const ref = { namespace: "default", name: "lost-answer" };
      await store.createRun(sampleTeam("lost-answer"));
      // DynamoDB applies the first UpdateItem, then the connection drops before its answer: the
      // SDK's retry strategy sends the same request again (ECONNRESET is a transient error).
      const lossy = countingClient(endpointFor(key));
      let updates = 0;
      lossy.client.middlewareStack.add(
        (next) => async (args) => {
          const target = (args.request as { headers?: Record<string, string> }).headers?.["x-amz-target"];
          const update = target?.endsWith(".UpdateItem") ? ++updates : 0;
          const out = await next(args);
          if (update === 1) {
            throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET", $metadata: {} });
          }
          return out;
        },
        { step: "finalizeRequest", name: "loseFirstAnswer", priority: "low" },
      );
      try {
        const lossyStore = new TeamStore({ client: lossy.client, tableName: store.tableName });
        const totals = await lossyStore.addUsage(ref, "lead", usage(0.25, 1000));
        expect(updates).toBe(2); // the request whose answer was lost, and the SDK's retry of it
        expect(totals.agent).toEqual(usage(0.25, 1000));
        const run = await store.getRun(ref);
        expect(run.status.totalCostUsd).toBe(0.25);
        expect(run.status.agents.lead).toMatchObject(usage(0.25, 1000));
      } finally {
        lossy.client.destroy();
      }
    });

    it("answers a charge sent twice as charged, and counts it once", async () => {
      const ref = { namespace: "default", name: "charged-twice" };
      await store.createRun(sampleTeam("charged-twice"));
      const charge = { before: usage(0), after: usage(0.1, 100), id: "charge-1" };
      const first = await store.chargeUsage(ref, "lead", charge);
      const again = await store.chargeUsage(ref, "lead", charge);
      expect(first).toEqual({ charged: true, agent: usage(0.1, 100), total: usage(0.1, 100) });
      expect(again).toEqual(first);
      const next = await store.chargeUsage(ref, "lead", { before: usage(0.1, 100), after: usage(0.3, 250) });
      expect(next).toMatchObject({ charged: true, total: usage(0.3, 250) });
      // Float noise (0.1 + 0.2) stays out of the store: the totals compare equal on the next charge.
      expect((await store.chargedUsage(ref, "lead")).agent).toEqual(usage(0.3, 250));
    });

    it("re-syncs a stale before (a relaunched runner) and charges only the difference", async () => {
      const ref = { namespace: "default", name: "stale-charge" };
      const run = await store.createRun(sampleTeam("stale-charge"));
      await store.chargeUsage(ref, "backend", { before: usage(0), after: usage(0.5, 500) });
      // A relaunched runner that believes nothing was charged yet.
      const stale = await store.chargeUsage(ref, "backend", { before: usage(0), after: usage(0.75, 700) });
      expect(stale).toEqual({ charged: false, agent: usage(0.5, 500), total: usage(0.5, 500) });
      const resynced = await store.chargeUsage({ ...ref, runId: run.runId }, "backend", {
        before: stale.agent,
        after: usage(0.75, 700),
      });
      expect(resynced).toEqual({ charged: true, agent: usage(0.75, 700), total: usage(0.75, 700) });
      expect((await store.getRun(ref)).status.totalCostUsd).toBe(0.75);
      // A runner of another run under the same name charges nothing.
      await expect(
        store.chargeUsage({ ...ref, runId: "an-earlier-run" }, "backend", {
          before: usage(0.75, 700),
          after: usage(1, 900),
        }),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        store.chargeUsage(ref, "backend", { before: usage(0.75, 700), after: usage(0.5, 900) }),
      ).rejects.toThrow("Usage costUsd cannot go down (from 0.75 to 0.5).");
      expect((await store.chargedUsage(ref, "backend")).total.costUsd).toBe(0.75);
    });

    it("never double-charges two runners racing for one agent", async () => {
      const ref = { namespace: "default", name: "racing-runners" };
      await store.createRun(sampleTeam("racing-runners"));
      // Eight runners of one agent (a zombie and its relaunches) each measured the same session and
      // charge it the way the usage reporter does: from what they believe was charged, re-syncing
      // on a stale answer. However they interleave, the agent is charged the usage once.
      const measured = [0.2, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8, 0.8];
      await Promise.all(
        measured.map(async (m, i) => {
          let sent = usage(0);
          for (let round = 0; round < 20; round++) {
            const target = usage(Math.max(m, sent.costUsd), Math.max(m * 1000, sent.inputTokens));
            if (target.costUsd === sent.costUsd && target.inputTokens === sent.inputTokens) return;
            const r = await store.chargeUsage(ref, "tests", {
              before: sent,
              after: target,
              id: `r${i}-${round}`,
            });
            sent = r.agent;
            if (r.charged) return;
          }
          throw new Error(`runner ${i} never settled`);
        }),
      );
      const stored = await store.chargedUsage(ref, "tests");
      expect(stored.agent).toEqual(usage(0.8, 800));
      expect(stored.total).toEqual(usage(0.8, 800));
    });
  });

  it("records heartbeats without bumping the version", async () => {
    const ref = { namespace: "default", name: "alive" };
    await store.createRun(sampleTeam("alive"));
    const at = new Date("2026-11-21T09:00:00.000Z");
    await store.heartbeat(ref, "backend", at);
    const run = await store.getRun(ref);
    expect(run.status.agents.backend!.heartbeatAt).toBe(at.toISOString());
    expect(run.version).toBe(1);
  });

  it("appends events in order under the run, with a TTL, and pages them", async () => {
    const ref = { namespace: "default", name: "history" };
    const run = await store.createRun(sampleTeam("history"));
    const base = Date.parse("2026-11-21T10:00:00.000Z");
    for (let i = 0; i < 7; i++) {
      const time = new Date(base + i * 1000);
      const event =
        i === 3
          ? warningEvent("BudgetWarning", `event ${i}`, { time })
          : normalEvent("AgentStarted", `event ${i}`, { agent: "lead", time });
      await store.appendEvent({ ...ref, runId: run.runId }, event);
    }
    const first = await store.listEvents(ref, { limit: 4 });
    expect(first.items.map((e) => e.message)).toEqual(["event 0", "event 1", "event 2", "event 3"]);
    expect(first.items[3]).toEqual({
      runId: run.runId,
      type: "Warning",
      reason: "BudgetWarning",
      message: "event 3",
      time: "2026-11-21T10:00:03.000Z",
    });
    const second = await store.listEvents(ref, { limit: 4, nextToken: first.nextToken });
    expect(second.items.map((e) => e.message)).toEqual(["event 4", "event 5", "event 6"]);
    expect(second.nextToken).toBeUndefined();

    const raw = await DynamoDBDocumentClient.from(counting.client).send(
      new QueryCommand({
        TableName: store.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues: { ":pk": "TEAM#default#history", ":e": "EVENT#" },
      }),
    );
    expect(raw.Items?.[0]?.expiresAt).toBe(base / 1000 + 30 * 86_400);
    const all = await store.listEvents(ref);
    expect(all.items).toHaveLength(7);
  });

  it("keeps gate task tokens in the store and out of public views", async () => {
    const ref = { namespace: "default", name: "gated" };
    await store.createRun(sampleTeam("gated"));
    const token = `AQB${"x".repeat(600)}-secret-token`;
    const notifiedAt = new Date("2026-11-21T11:00:00.000Z");
    const waiting = await store.recordGateWaiting(ref, "spawn-tests", token, { notifiedAt });
    expect(waiting).toEqual({
      state: "Pending",
      tokenRef: "gateToken#spawn-tests",
      notifiedAt: notifiedAt.toISOString(),
    });

    const run = await store.getRun(ref);
    expect(run.tokens.gates).toEqual({ "spawn-tests": token });
    expect(JSON.stringify(publicView(run))).not.toContain("secret-token");
    const listed = await store.listRuns("default", { limit: 1000 });
    expect(JSON.stringify(listed.items)).not.toContain("secret-token");

    const decided = await store.decideGate(ref, "spawn-tests", "Approved", "alice");
    expect(decided.changed).toBe(true);
    expect(decided.taskToken).toBe(token);
    expect(decided.gate).toMatchObject({ state: "Approved", decidedBy: "alice" });
    expect(decided.gate.tokenRef).toBeUndefined();
    // A retried click or duplicate API call changes nothing and hands out no token.
    const again = await store.decideGate(ref, "spawn-tests", "Denied", "bob");
    expect(again).toEqual({ gate: decided.gate, changed: false });
    expect((await store.getRun(ref)).tokens.gates).toEqual({});

    await expect(store.decideGate(ref, "spawn-nobody", "Approved", "alice")).rejects.toThrow(
      'Team run default/gated has no approval gate "spawn-nobody".',
    );
  });

  it("honours a decision made before the gate is reached", async () => {
    const ref = { namespace: "default", name: "preapproved" };
    await store.createRun(sampleTeam("preapproved"));
    const decided = await store.decideGate(ref, "spawn-tests", "Approved", "alice");
    expect(decided).toMatchObject({ changed: true, gate: { state: "Approved" } });
    expect(decided.taskToken).toBeUndefined();
    const reached = await store.recordGateWaiting(ref, "spawn-tests", "late-token");
    expect(reached.state).toBe("Approved");
    expect((await store.getRun(ref)).tokens.gates).toEqual({});
  });

  it("hands a dependency wait token to exactly one releaser", async () => {
    const ref = { namespace: "default", name: "waiting" };
    await store.createRun(sampleTeam("waiting"));
    const written = await store.putWaitToken(ref, "tests", "wait-token-1");
    expect(written.tokens.waits).toEqual({ tests: "wait-token-1" });
    expect(written.status.agents.tests!.phase).toBe("Pending");
    const taken = await Promise.all(Array.from({ length: 5 }, () => store.takeWaitToken(ref, "tests")));
    expect(taken.filter((t) => t !== undefined)).toEqual(["wait-token-1"]);
    expect((await store.getRun(ref)).tokens.waits).toEqual({});
    await expect(store.putWaitToken(ref, "ghost", "t")).rejects.toBeInstanceOf(UnknownNameError);
  });

  it("creates, replaces, lists and deletes templates", async () => {
    const created = await store.createTemplate(sampleTemplate("fullstack-review"));
    expect(created.version).toBe(1);
    await expect(store.createTemplate(sampleTemplate("fullstack-review"))).rejects.toThrow(
      "A template named fullstack-review already exists in namespace default.",
    );
    const replaced = await store.putTemplate(sampleTemplate("fullstack-review", "four reviewers"));
    expect(replaced.version).toBe(2);
    expect(replaced.createdAt).toBe(created.createdAt);
    expect((await store.getTemplate("default", "fullstack-review")).template.spec.description).toBe(
      "four reviewers",
    );
    await store.putTemplate(sampleTemplate("docs-team"));
    const listed = await store.listTemplates("default");
    expect(listed.items.map((t) => t.name)).toEqual(["docs-team", "fullstack-review"]);
    // Templates and team runs share the index but never each other's listing.
    expect((await store.listRuns("default", { limit: 1000 })).items.map((r) => r.name)).not.toContain(
      "docs-team",
    );
    await store.deleteTemplate("default", "docs-team");
    await expect(store.getTemplate("default", "docs-team")).rejects.toThrow(
      "Template default/docs-team not found.",
    );
    await expect(store.deleteTemplate("default", "docs-team")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("cancels a run once, stopping its unfinished agents", async () => {
    const ref = { namespace: "default", name: "doomed" };
    await store.createRun(sampleTeam("doomed"));
    await store.updateStatus(ref, (s) => {
      s.phase = "Initializing";
      s.agents.backend!.phase = "Starting";
      return s;
    });
    const cancelled = await store.cancelRun(ref, "Deleted by alice.");
    expect(cancelled.status.phase).toBe("Cancelled");
    expect(cancelled.status.message).toBe("Deleted by alice.");
    expect(Object.values(cancelled.status.agents).map((a) => a.phase)).toEqual([
      "Stopped",
      "Stopped",
      "Stopped",
    ]);
    const again = await store.cancelRun(ref);
    expect(again.version).toBe(cancelled.version);
  });

  it("removes a run with its events", async () => {
    const ref = { namespace: "default", name: "history" };
    const removed = await store.removeRun(ref);
    expect(removed.name).toBe("history");
    expect(removed).not.toHaveProperty("tokens");
    await expect(store.getRun(ref)).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.listEvents(ref)).items).toEqual([]);
    await expect(store.removeRun(ref)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("pages through 1000 teams of a namespace exactly once each", { timeout: 120_000 }, async () => {
    const names = Array.from({ length: 1000 }, (_, i) => `team-${String(i).padStart(4, "0")}`);
    // BatchWrite of the very items createRun writes keeps 1000 runs quick to set up.
    const doc = DynamoDBDocumentClient.from(counting.client);
    const items = names.map((name) =>
      runItem(newRunRecord(sampleTeam(name, "bulk"), randomUUID(), new Date())),
    );
    await pool(Math.ceil(items.length / 25), 4, async (batch) => {
      let requests = items.slice(batch * 25, batch * 25 + 25).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await doc.send(
          new BatchWriteCommand({ RequestItems: { [store.tableName]: requests } }),
        );
        requests = (UnprocessedItems?.[store.tableName] ?? []) as typeof requests;
      }
    });
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await store.listRuns("bulk", { limit: 150, nextToken });
      expect(page.items.length).toBeLessThanOrEqual(150);
      seen.push(...page.items.map((r) => r.name));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(pages).toBeGreaterThanOrEqual(7);
    expect(seen).toEqual(names);
    const firstPage = await store.listRuns("bulk", { limit: 10 });
    await expect(store.listRuns("default", { nextToken: firstPage.nextToken })).rejects.toBeInstanceOf(
      InvalidPageTokenError,
    );
    await expect(store.listRuns("bulk", { nextToken: "not-a-token" })).rejects.toBeInstanceOf(
      InvalidPageTokenError,
    );
    await expect(store.listRuns("bulk", { limit: 0 })).rejects.toThrow(
      "A page limit must be an integer from 1 to 1000",
    );
  });

  it("retires a deleted team's run: kept by run id with its events, the name free, running teams refused", async () => {
    const ref = { namespace: "retiring", name: "done-team" };
    const run = await store.createRun(sampleTeam("done-team", "retiring"));
    await store.appendEvent({ ...ref, runId: run.runId }, normalEvent("Started", "the run started"));
    await expect(store.retireRun(ref, run.runId)).rejects.toMatchObject({ name: "StillRunningError" });
    await store.cancelRun(ref);
    const retired = await store.retireRun(ref, run.runId);
    expect(retired.runId).toBe(run.runId);
    expect(await store.findRun(ref)).toBeUndefined();
    expect((await store.getRetiredRun(run.runId))?.status.phase).toBe("Cancelled");
    const events = await store.listRetiredRunEvents(run.runId);
    expect(events.items.map((e) => e.reason)).toContain("Started");
    expect(await store.listNamespaces()).toContain("retiring");
    expect(store.retentionPeriodDays).toBeGreaterThan(0);
    // The name is free for a new run.
    expect((await store.createRun(sampleTeam("done-team", "retiring"))).runId).not.toBe(run.runId);
  });

  it("never issues a Scan on any store operation", async () => {
    expect([...called].sort()).toEqual([...PUBLIC_METHODS].sort());
    const used = new Set(counting.operations);
    for (const op of ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem"]) {
      expect(used, op).toContain(op);
    }
    expect(counting.operations.filter((op) => op === "Scan")).toEqual([]);
    // The counter does see a Scan when one is sent, so the zero above means something.
    await counting.client.send(new ScanCommand({ TableName: store.tableName, Limit: 1 }));
    expect(counting.operations.at(-1)).toBe("Scan");
  });
});
