/**
 * The deployment's default timeout and budget reach every manifest the API parses: teams,
 * template runs and single tasks, and only where the manifest sets none. The api function reads
 * them from SQUADRON_DEFAULT_TIMEOUT / SQUADRON_DEFAULT_BUDGET_USD (awsManifestDefaults).
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsManifestDefaults, ENV } from "../../core/control/aws-deps.ts";
import { silentLogger } from "../../core/control/deps.ts";
import { ManifestOptionsError } from "../../core/manifest/options.ts";
import { apiHandler } from "../../lambdas/api/routes.ts";
import { call, type Harness, harness, newTable, teamYaml } from "./harness.ts";

const NS = "/api/namespaces/dev-agents";

describe("api with a default timeout and budget", () => {
  let h: Harness;
  beforeAll(async () => {
    const base = harness(await newTable());
    const deps = { ...base.deps, manifestDefaults: { timeout: "45m", budgetLimit: 25 } };
    h = { ...base, deps, api: apiHandler(deps) };
  });

  it("gives a team created without a budget or timeout the deployment's", async () => {
    const team = {
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeam",
      metadata: { name: "no-budget" },
      spec: { workspace: {}, lead: { prompt: "Write a summary." } },
    };
    expect((await call(h, "POST", `${NS}/teams`, { body: team })).status).toBe(201);
    const got = await call(h, "GET", `${NS}/teams/no-budget`);
    expect(got.status).toBe(200);
    expect(got.body.cost).toEqual({ usd: 0, budgetUsd: 25, simulated: false });
    expect(got.body.spec.lifecycle).toMatchObject({ timeout: "45m", timeoutSeconds: 2700, budgetLimit: 25 });
    const listed = await call(h, "GET", `${NS}/teams`);
    const row = listed.body.items.find((i: { name: string }) => i.name === "no-budget");
    expect(row.cost.budgetUsd).toBe(25);
  });

  it("keeps a manifest's own timeout and budget", async () => {
    expect((await call(h, "POST", `${NS}/teams`, { body: teamYaml("own-budget") })).status).toBe(201);
    const got = await call(h, "GET", `${NS}/teams/own-budget`);
    expect(got.body.cost.budgetUsd).toBe(10);
    expect(got.body.spec.lifecycle).toMatchObject({ timeout: "2h", timeoutSeconds: 7200 });
  });

  it("applies them to a single task unless the task sets its own", async () => {
    const bare = await call(h, "POST", "/api/tasks", { body: { task: "Say hello." } });
    expect(bare.status).toBe(202);
    const got = await call(h, "GET", `/api/tasks/${bare.body.id}`);
    expect(got.body.cost.budgetUsd).toBe(25);
    expect(got.body.spec.lifecycle.timeout).toBe("45m");

    const own = await call(h, "POST", "/api/tasks", {
      body: { task: "Say hello.", budgetLimit: 2, timeout: "10m" },
    });
    const ownView = await call(h, "GET", `/api/tasks/${own.body.id}`);
    expect(ownView.body.cost.budgetUsd).toBe(2);
    expect(ownView.body.spec.lifecycle.timeout).toBe("10m");
  });

  it("applies them to a template run when neither the template nor the run sets them", async () => {
    const template = {
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeamTemplate",
      metadata: { name: "review" },
      spec: { teammates: [{ name: "docs", prompt: "Review the docs." }] },
    };
    expect((await call(h, "POST", `${NS}/templates`, { body: template })).status).toBe(201);
    const run = await call(h, "POST", `${NS}/templates/review/runs`, {
      body: { metadata: { name: "review-1" }, spec: { workspace: {}, lead: { prompt: "Lead it." } } },
    });
    expect(run.status).toBe(201);
    const got = await call(h, "GET", `${NS}/teams/review-1`);
    expect(got.body.cost.budgetUsd).toBe(25);
    expect(got.body.spec.lifecycle.timeout).toBe("45m");

    const ownRun = await call(h, "POST", `${NS}/teams`, {
      body: {
        apiVersion: "squadron.dev/v1alpha1",
        kind: "AgentTeamRun",
        metadata: { name: "review-2" },
        spec: {
          templateRef: { name: "review" },
          workspace: {},
          lead: { prompt: "Lead it." },
          lifecycle: { budgetLimit: "3.50" },
        },
      },
    });
    expect(ownRun.status).toBe(201);
    expect(ownRun.body.cost.budgetUsd).toBe(3.5);
    expect(ownRun.body.spec.lifecycle.timeout).toBe("45m");
  });

  it("without defaults, a team has no budget and kagents' 4h", async () => {
    const plain = harness(await newTable());
    const team = {
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeam",
      metadata: { name: "plain" },
      spec: { workspace: {}, lead: { prompt: "Write a summary." } },
    };
    expect((await call(plain, "POST", `${NS}/teams`, { body: team })).status).toBe(201);
    const got = await call(plain, "GET", `${NS}/teams/plain`);
    expect(got.body.cost.budgetUsd).toBeNull();
    expect(got.body.spec.lifecycle.timeout).toBe("4h");
  });

  it("refuses invalid defaults when the handler is built, not per request", async () => {
    const base = harness(await newTable());
    expect(() => apiHandler({ ...base.deps, manifestDefaults: { timeout: "forever" } })).toThrow(
      ManifestOptionsError,
    );
    expect(() => apiHandler({ ...base.deps, manifestDefaults: { budgetLimit: 0 } })).toThrow(
      /defaults\.budgetLimit: 0 is not a budget/,
    );
  });
});

describe("awsManifestDefaults (the api function's environment)", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it("reads the timeout and budget, and nothing when they are unset or empty", () => {
    process.env[ENV.defaultTimeout] = "90m";
    process.env[ENV.defaultBudget] = "12.50";
    expect(awsManifestDefaults.make(silentLogger)).toEqual({ timeout: "90m", budgetLimit: 12.5 });
    delete process.env[ENV.defaultTimeout];
    process.env[ENV.defaultBudget] = "";
    expect(awsManifestDefaults.make(silentLogger)).toEqual({});
  });

  it("fails naming the variable that holds a bad value", () => {
    process.env[ENV.defaultTimeout] = "1 day";
    process.env[ENV.defaultBudget] = "lots";
    expect(() => awsManifestDefaults.make(silentLogger)).toThrow(
      /SQUADRON_DEFAULT_BUDGET_USD: "lots" is not a number[\s\S]*SQUADRON_DEFAULT_TIMEOUT: "1 day" is not a timeout/,
    );
  });
});
