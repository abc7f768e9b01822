import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, event, type Harness, harness, newTable, teamYaml } from "./harness.ts";

const NS = "/api/namespaces/dev-agents";

describe("api handler against DynamoDB Local", () => {
  let h: Harness;
  beforeAll(async () => {
    h = harness(await newTable());
  });

  it("answers health without a token", async () => {
    const res = await call(h, "GET", "/api/health", { token: null });
    expect(res).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("answers the seed API's GET /health with a plain-text OK, without a token", async () => {
    const res = await h.api(event("GET", "/health", { token: null }));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toBe("OK");
  });

  it("creates a team from YAML, starts its execution named after the run id, and shows its status", async () => {
    const created = await call(h, "POST", `${NS}/teams`, { body: teamYaml("alpha") });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      namespace: "dev-agents",
      name: "alpha",
      phase: "Pending",
      ready: "0/3",
    });
    const runId = created.body.runId as string;
    const start = h.sfn.of("StartExecution").at(-1);
    expect(start?.name).toBe(runId);
    expect(JSON.parse(start?.input as string)).toEqual({ runId, namespace: "dev-agents", teamName: "alpha" });

    const got = await call(h, "GET", `${NS}/teams/alpha`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      phase: "Pending",
      ready: "0/3",
      tasks: { total: 0, done: 0 },
      cost: { usd: 0, budgetUsd: 10 },
      lead: { name: "lead", phase: "Pending", restarts: 0, costUsd: 0, pendingApproval: null },
      gates: { "spawn-backend-api": { state: "Pending" } },
    });
    expect(got.body.teammates.map((t: { name: string }) => t.name)).toEqual(["backend-api", "test-coverage"]);
    expect(got.body.events.map((e: { reason: string }) => e.reason)).toContain("Created");
    expect(typeof got.body.age).toBe("string");
    expect(JSON.stringify(got.body)).not.toMatch(/taskToken|gateToken/);
  });

  it("creates from JSON too and lists with pagination", async () => {
    const json = {
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeam",
      metadata: { name: "beta" },
      spec: { workspace: {}, lead: { prompt: "Write a summary." } },
    };
    const created = await call(h, "POST", `${NS}/teams`, { body: json });
    expect(created.status).toBe(201);
    await call(h, "POST", `${NS}/teams`, { body: teamYaml("gamma") });
    const first = await call(h, "GET", `${NS}/teams`, { query: { limit: "2" } });
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextToken).toBeTypeOf("string");
    const second = await call(h, "GET", `${NS}/teams`, {
      query: { limit: "2", nextToken: first.body.nextToken },
    });
    const names = [...first.body.items, ...second.body.items].map((i: { name: string }) => i.name);
    expect(names).toEqual(expect.arrayContaining(["alpha", "beta", "gamma"]));
    expect((await call(h, "GET", `${NS}/teams`, { query: { nextToken: "garbage" } })).status).toBe(400);
    expect((await call(h, "GET", `${NS}/teams`, { query: { limit: "0" } })).status).toBe(400);
  });

  it("reports every manifest problem with its path", async () => {
    const bad = teamYaml("Bad_Name")
      .replace('dependsOn: ["backend-api"]', 'dependsOn: ["nobody"]')
      .replace('timeout: "2h"', 'timeout: "soon"');
    const res = await call(h, "POST", `${NS}/teams`, { body: bad });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/manifest is invalid/);
    const paths = res.body.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["metadata.name", "spec.lifecycle.timeout"]));
    expect(paths.some((p: string) => p.includes("dependsOn"))).toBe(true);
    expect((await call(h, "POST", `${NS}/teams`, { body: "" })).status).toBe(400);
    expect((await call(h, "POST", `${NS}/teams`, { body: "{not yaml: [" })).status).toBe(400);
  });

  it("refuses a taken name with another spec, an unknown team, and a namespace mismatch", async () => {
    await call(h, "POST", `${NS}/teams`, { body: teamYaml("dup") });
    const dup = await call(h, "POST", `${NS}/teams`, {
      body: teamYaml("dup").replace('prompt: "Write tests."', 'prompt: "Other."'),
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatch(/spec cannot change/);
    expect((await call(h, "GET", `${NS}/teams/nobody`)).status).toBe(404);
    expect((await call(h, "DELETE", `${NS}/teams/nobody`)).status).toBe(404);
    const other = await call(h, "POST", "/api/namespaces/other/teams", { body: teamYaml("x") });
    expect(other.status).toBe(400);
    expect(other.body.issues[0].path).toBe("metadata.namespace");
  });

  it("confines a bearer token to its namespaces", async () => {
    expect((await call(h, "GET", "/api/namespaces/prod/teams", { token: "dev-token" })).status).toBe(403);
    expect((await call(h, "GET", `${NS}/teams`, { token: "dev-token" })).status).toBe(200);
    expect((await call(h, "GET", `${NS}/teams`, { token: null })).status).toBe(401);
    expect((await call(h, "GET", `${NS}/teams`, { token: "forged" })).status).toBe(401);
  });

  it("makes creates safe to retry with an Idempotency-Key", async () => {
    const headers = { "Idempotency-Key": "create-delta-1" };
    const first = await call(h, "POST", `${NS}/teams`, { body: teamYaml("delta"), headers });
    const again = await call(h, "POST", `${NS}/teams`, { body: teamYaml("delta"), headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.runId).toBe(first.body.runId);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(h.sfn.of("StartExecution").filter((i) => String(i.name).startsWith("delta-"))).toHaveLength(1);
    const reuse = await call(h, "POST", `${NS}/teams`, { body: teamYaml("epsilon"), headers });
    expect(reuse.status).toBe(422);
    expect(reuse.body.error).toMatch(/different request body/);
    // A refused request frees its key so the corrected retry can use it.
    const k2 = { "Idempotency-Key": "bad-then-good" };
    expect((await call(h, "POST", `${NS}/teams`, { body: "kind: nope", headers: k2 })).status).toBe(400);
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("zeta"), headers: k2 })).status).toBe(201);
  });

  it("cancels with DELETE: stops the execution, phase Cancelled; a second DELETE changes nothing", async () => {
    await call(h, "POST", `${NS}/teams`, { body: teamYaml("cancel-me") });
    const res = await call(h, "DELETE", `${NS}/teams/cancel-me`);
    expect(res.status).toBe(202);
    expect(res.body.phase).toBe("Cancelled");
    const stops = h.sfn.of("StopExecution").filter((s) => String(s.executionArn).includes(":cancel-me-"));
    expect(stops).toHaveLength(1);
    const again = await call(h, "DELETE", `${NS}/teams/cancel-me`);
    expect(again.body.phase).toBe("Cancelled");
    expect(
      h.sfn.of("StopExecution").filter((s) => String(s.executionArn).includes(":cancel-me-")),
    ).toHaveLength(1);
  });

  it("serves events, tasks and messages of a team", async () => {
    await call(h, "POST", `${NS}/teams`, { body: teamYaml("files") });
    const events = await call(h, "GET", `${NS}/teams/files/events`);
    expect(events.status).toBe(200);
    expect(events.body.items[0]).toMatchObject({ type: "Normal", reason: "Created" });
    expect((await call(h, "GET", `${NS}/teams/files/tasks`)).body).toEqual({ items: [] });
    expect((await call(h, "GET", `${NS}/teams/files/messages`)).body).toEqual({ items: [] });
    expect((await call(h, "GET", `${NS}/teams/files/messages`, { query: { agent: "ghost" } })).status).toBe(
      404,
    );
    expect((await call(h, "GET", `${NS}/teams/ghost/events`)).status).toBe(404);
  });

  it("approves a gate through the API once; a second decision is a 409", async () => {
    await call(h, "POST", `${NS}/teams`, { body: teamYaml("gated") });
    const ok = await call(h, "POST", `${NS}/teams/gated/gates/spawn-backend-api/approve`);
    expect(ok).toMatchObject({ status: 200, body: { state: "Approved", decidedBy: "admin" } });
    const again = await call(h, "POST", `${NS}/teams/gated/gates/spawn-backend-api/deny`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/already approved by admin/);
    expect((await call(h, "POST", `${NS}/teams/gated/gates/spawn-nobody/approve`)).status).toBe(404);
  });

  it("runs a single task as a one-agent team (202), and rejects an empty task (400)", async () => {
    const res = await call(h, "POST", "/api/tasks", { body: { task: "Summarise the README" } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      status: "accepted",
      message: "Task has been accepted and is being processed",
      namespace: "default",
      phase: "Pending",
    });
    expect(res.body.id).toMatch(/^task-/);
    const got = await call(h, "GET", `/api/tasks/${res.body.id}`);
    expect(got.body).toMatchObject({ ready: "0/1", teammates: [] });
    for (const body of [{ task: "" }, { task: "   " }, {}, { task: 42 }, "[]", "nope"]) {
      const bad = await call(h, "POST", "/api/tasks", { body });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toEqual(
        typeof body === "object" ? "task field is required and cannot be empty" : expect.any(String),
      );
    }
    expect((await call(h, "POST", "/api/tasks", { body: { task: "x" }, token: null })).status).toBe(401);
  });

  it("manages templates and creates a run from one", async () => {
    const template = `apiVersion: claude.amcheste.io/v1alpha1
kind: AgentTeamTemplate
metadata:
  name: fullstack-review
spec:
  teammates:
    - name: security
      prompt: "Review security."
    - name: performance
      prompt: "Review performance."
  lifecycle:
    timeout: "1h"
    budgetLimit: "20.00"
`;
    expect((await call(h, "POST", `${NS}/templates`, { body: template })).status).toBe(201);
    expect((await call(h, "POST", `${NS}/templates`, { body: template })).status).toBe(409);
    expect(
      (await call(h, "GET", `${NS}/templates/fullstack-review`)).body.template.spec.teammates,
    ).toHaveLength(2);
    expect((await call(h, "PUT", `${NS}/templates/fullstack-review`, { body: template })).status).toBe(200);
    const renamed = await call(h, "PUT", `${NS}/templates/other-name`, { body: template });
    expect(renamed.status).toBe(400);
    expect(renamed.body).toMatchObject({
      error: "manifest name fullstack-review differs from the path's other-name",
      issues: [{ path: "metadata.name", message: "must be other-name" }],
    });
    expect((await call(h, "GET", `${NS}/templates`)).body.items).toHaveLength(1);
    const run = {
      metadata: { name: "review-1" },
      spec: { repository: { url: "https://github.com/acme/app.git" }, lead: { prompt: "Lead the review." } },
    };
    const created = await call(h, "POST", `${NS}/templates/fullstack-review/runs`, { body: run });
    expect(created.status).toBe(201);
    expect(created.body.teammates.map((t: { name: string }) => t.name)).toEqual(["security", "performance"]);
    expect(created.body.cost.budgetUsd).toBe(20);
    expect((await call(h, "POST", `${NS}/templates/missing/runs`, { body: run })).status).toBe(400);
    expect((await call(h, "DELETE", `${NS}/templates/fullstack-review`)).status).toBe(204);
    expect((await call(h, "GET", `${NS}/templates/fullstack-review`)).status).toBe(404);
    expect((await call(h, "DELETE", `${NS}/templates/fullstack-review`)).status).toBe(404);
  });

  it("answers unknown routes with 404 and wrong methods with 405", async () => {
    expect((await call(h, "GET", "/api/nothing")).status).toBe(404);
    const wrong = await call(h, "PATCH", `${NS}/teams`);
    expect(wrong.status).toBe(405);
    expect(wrong.body.allowed).toMatch(/GET/);
  });

  it("never answers bad input with a 500 (random bodies, paths and headers)", async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        "api",
        "namespaces",
        "dev-agents",
        "teams",
        "templates",
        "gates",
        "approve",
        "tasks",
        "alpha",
        "%zz",
        "..",
      ),
      fc.string({ maxLength: 12 }),
    );
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json().map((j) => j),
      fc.constant(teamYaml("fuzz").replace("lead:", "lead: 5\n  x:")),
      fc.anything().map((a) => {
        try {
          return JSON.stringify(a) ?? "";
        } catch {
          return "";
        }
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
        fc.array(segment, { minLength: 1, maxLength: 7 }),
        body,
        fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        async (method, segments, text, idem) => {
          const path = `/${segments.join("/")}`;
          const res = await h.api(
            event(method, path, {
              body: text,
              ...(idem !== undefined ? { headers: { "Idempotency-Key": idem } } : {}),
            }),
          );
          expect(res.statusCode, `${method} ${path} ${text.slice(0, 80)} → ${res.body}`).toBeLessThan(500);
          expect(() => JSON.parse(res.body || "{}")).not.toThrow();
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});
