import { beforeAll, describe, expect, it } from "vitest";
import { onExecutionStatus } from "../../core/control/guards.ts";
import { storeConsistencyProblems } from "../support/store-consistency.ts";
import { call, type Harness, harness, newTable, teamYaml } from "./harness.ts";

/**
 * Issue 15, items 5 and 6: names follow Kubernetes. Delete removes a finished team (its run stays
 * readable by run id), apply of the same manifest is a no-op, a changed spec is a 409 naming the
 * fields, and teams can be listed across namespaces.
 */
const NS = "/api/namespaces/dev-agents";

async function finish(h: Harness, name: string): Promise<string> {
  const record = await h.deps.store.updateStatus({ namespace: "dev-agents", name }, (status) => ({
    ...status,
    phase: "Failed",
    reason: "CloneFailed",
    message: "could not resolve github.com",
    completedAt: new Date().toISOString(),
  }));
  return record.runId;
}

describe("names and re-runs (issue 15: 5)", () => {
  let h: Harness;
  let table: Awaited<ReturnType<typeof newTable>>;
  beforeAll(async () => {
    table = await newTable();
    h = harness(table);
  });

  it("apply of an unchanged manifest is a no-op, running or finished", async () => {
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("same") })).status).toBe(201);
    const again = await call(h, "POST", `${NS}/teams`, { body: teamYaml("same") });
    expect(again.status).toBe(200);
    expect(again.body.unchanged).toBe(true);
    await finish(h, "same");
    const after = await call(h, "POST", `${NS}/teams`, { body: teamYaml("same") });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ unchanged: true, phase: "Failed" });
    // No second execution was started.
    expect(h.sfn.of("StartExecution").filter((s) => String(s.name).startsWith("same-"))).toHaveLength(1);
  });

  it("apply of a changed spec to a running team is a 409 naming every changed field", async () => {
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("changing") })).status).toBe(201);
    const changed = teamYaml("changing")
      .replace('prompt: "Write tests."', 'prompt: "Write more tests."')
      .replace('timeout: "2h"', 'timeout: "3h"');
    const res = await call(h, "POST", `${NS}/teams`, { body: changed });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/changing is (Pending|Initializing|Running).*spec cannot change/);
    // The normalized form's derived field (timeoutSeconds) is named with the field written.
    expect(res.body.issues.map((i: { path: string }) => i.path)).toEqual([
      "spec.lifecycle.timeout",
      "spec.lifecycle.timeoutSeconds",
      "spec.teammates[1].prompt",
    ]);
  });

  it("delete of a running team stops it; delete of the ended team removes it and frees the name", async () => {
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("rerun") })).status).toBe(201);
    const cancelled = await call(h, "DELETE", `${NS}/teams/rerun`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body.phase).toBe("Cancelled");
    const firstRun = cancelled.body.runId as string;
    expect((await call(h, "GET", `${NS}/teams/rerun`)).status).toBe(200);

    const removed = await call(h, "DELETE", `${NS}/teams/rerun`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({
      deleted: true,
      runId: firstRun,
      phase: "Cancelled",
      retentionDays: 30,
    });
    expect((await call(h, "GET", `${NS}/teams/rerun`)).status).toBe(404);
    expect((await call(h, "DELETE", `${NS}/teams/rerun`)).status).toBe(404);

    // The old run is readable by run id, with its history.
    const old = await call(h, "GET", `${NS}/runs/${firstRun}`);
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({ name: "rerun", runId: firstRun, deleted: true, phase: "Cancelled" });
    expect(old.body.events.map((e: { reason: string }) => e.reason)).toEqual(
      expect.arrayContaining(["Created", "Cancelled", "Deleted"]),
    );
    // Not from another namespace's path.
    expect((await call(h, "GET", `/api/namespaces/default/runs/${firstRun}`)).status).toBe(404);

    // The name is free: apply starts a new run, whose history is its own.
    const again = await call(h, "POST", `${NS}/teams`, { body: teamYaml("rerun") });
    expect(again.status).toBe(201);
    expect(again.body.runId).not.toBe(firstRun);
    const view = await call(h, "GET", `${NS}/teams/rerun`);
    expect(view.body.phase).not.toBe("Cancelled");
    expect(view.body.events.map((e: { reason: string }) => e.reason)).not.toContain("Cancelled");
    const live = await call(h, "GET", `${NS}/runs/${again.body.runId}`);
    expect(live.body).toMatchObject({ deleted: false, runId: again.body.runId });
    expect(await storeConsistencyProblems(table.client, table.tableName)).toEqual([]);
  });

  it("a late Lambda of a deleted run never touches the new run of its name, and still releases", async () => {
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("late") })).status).toBe(201);
    const oldRun = await finish(h, "late");
    expect((await call(h, "DELETE", `${NS}/teams/late`)).status).toBe(200);
    const fresh = await call(h, "POST", `${NS}/teams`, { body: teamYaml("late") });
    expect(fresh.status).toBe(201);
    h.armed.set(oldRun, new Date());
    await onExecutionStatus(h.deps, { executionArn: `arn:x:${oldRun}`, name: oldRun, status: "ABORTED" });
    expect(h.armed.has(oldRun)).toBe(false); // released by run id
    const view = await call(h, "GET", `${NS}/teams/late`);
    expect(view.body.runId).toBe(fresh.body.runId);
    expect(view.body.phase).not.toBe("Cancelled");
  });

  it("a finished team whose manifest changed says to delete it first", async () => {
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("done") })).status).toBe(201);
    await finish(h, "done");
    const res = await call(h, "POST", `${NS}/teams`, {
      body: teamYaml("done").replace('timeout: "2h"', 'timeout: "1h"'),
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatch(/has ended \(Failed\).*delete it/);
    expect(res.body.issues).toContainEqual(expect.objectContaining({ path: "spec.lifecycle.timeout" }));
  });
});

describe("teams across namespaces (issue 15: 6)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(await newTable());
    for (const [name, namespace] of [
      ["a1", "dev-agents"],
      ["b1", "prod"],
      ["c1", "default"],
      ["c2", "default"],
    ] as const) {
      expect(
        (await call(h, "POST", `/api/namespaces/${namespace}/teams`, { body: teamYaml(name, { namespace }) }))
          .status,
      ).toBe(201);
    }
  });

  it("an admin token lists every namespace's teams, page by page", async () => {
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const res = await call(h, "GET", "/api/teams", {
        query: { limit: "1", ...(nextToken ? { nextToken } : {}) },
      });
      expect(res.status).toBe(200);
      seen.push(
        ...res.body.items.map((t: { namespace: string; name: string }) => `${t.namespace}/${t.name}`),
      );
      nextToken = res.body.nextToken;
    } while (nextToken);
    expect(seen).toEqual(["default/c1", "default/c2", "dev-agents/a1", "prod/b1"]);
    const namespaces = await call(h, "GET", "/api/namespaces");
    expect(namespaces.body.items).toEqual([{ name: "default" }, { name: "dev-agents" }, { name: "prod" }]);
  });

  it("a token confined to namespaces sees only those", async () => {
    const res = await call(h, "GET", "/api/teams", { token: "dev-token" });
    expect(res.status).toBe(200);
    expect(res.body.items.map((t: { name: string }) => t.name)).toEqual(["c1", "c2", "a1"]);
    const namespaces = await call(h, "GET", "/api/namespaces", { token: "dev-token" });
    expect(namespaces.body.items).toEqual([{ name: "default" }, { name: "dev-agents" }]);
    expect((await call(h, "GET", "/api/teams", { token: null })).status).toBe(401);
  });

  it("refuses a page token it did not issue", async () => {
    const res = await call(h, "GET", "/api/teams", { query: { nextToken: "bm9wZQ" } });
    expect(res.status).toBe(400);
  });
});
