/**
 * End-to-end scenarios against a running local stack, through HTTP and the `squadron` CLI:
 * the whole path from a manifest to delivered results, with real runner processes, real git,
 * dynalite, and a fake GitHub API. The teams are submitted together and followed one per test,
 * so the suite takes as long as its slowest team.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { writeConfig } from "../../cli/config/index.ts";
import type { ProcessEvent } from "../../local/stack.ts";
import { type FakeGitHub, startFakeGitHub } from "../support/fake-github.ts";
import { createBareRepo, runGit } from "../support/git-fixtures.ts";
import { scripted, teamManifest } from "../support/scripted-team.ts";
import { seedClient } from "../support/seed-client.ts";
import { alive, startTestStack, type TestStack } from "./local-stack-harness.ts";

const exec = promisify(execFile);

let t: TestStack;
let github: FakeGitHub;
let root: string;
let bare: string;
let configFile: string;
const processes: ProcessEvent[] = [];
/** `get teams` rows of dev-agents seen while the coding team ran. */
const codingRows: any[] = [];
let watching = true;

const KAGENTS_AUTH_REFACTOR = (repo: string) => `
apiVersion: claude.amcheste.io/v1alpha1
kind: AgentTeam
metadata:
  name: auth-refactor
  namespace: dev-agents
spec:
  repository:
    url: "${repo}"
    branch: "main"
    credentialsSecret: "git-credentials"
  auth:
    apiKeySecret: "anthropic-api-key"
  lead:
    model: "opus"
    prompt: |
      Coordinate the migration from JWT to OAuth2.
      Assign backend-api and test-coverage to their tracks.
  teammates:
    - name: "backend-api"
      model: "sonnet"
      prompt: "Implement OAuth2 endpoints. Remove JWT middleware."
      scope:
        includePaths: ["src/api/auth/", "src/middleware/"]
    - name: "test-coverage"
      model: "sonnet"
      prompt: "Write comprehensive tests for the OAuth2 migration."
      dependsOn: ["backend-api"]
  lifecycle:
    timeout: "2h"
    budgetLimit: "30.00"
    onComplete: "create-pr"
    pullRequest:
      targetBranch: "main"
      titleTemplate: "feat(auth): migrate from JWT to OAuth2"
`;

function gatedTeam(name: string) {
  return teamManifest(name, bare, {
    lead: scripted("lead", [
      { say: "Nothing to coordinate." },
      { call: "finish", args: { summary: "done" } },
    ]),
    teammates: [
      scripted("worker", [
        { write: { path: "work.txt", content: `${name}\n` } },
        { exec: "git add work.txt && git commit -q -m 'work'" },
        { call: "finish", args: { summary: "worked" } },
      ]),
    ],
    lifecycle: { timeout: "10m", onComplete: "none", approvalGates: [{ event: "spawn-worker" }] },
  });
}

function leadOnly(name: string, lifecycle: Record<string, unknown>, script: unknown[]) {
  return teamManifest(name, bare, {
    lead: scripted("lead", script),
    lifecycle: { onComplete: "none", ...lifecycle },
  });
}

const COWORK = {
  apiVersion: "squadron.dev/v1alpha1",
  kind: "AgentTeam",
  metadata: { name: "q3-report", namespace: "cowork-agents" },
  spec: {
    workspace: {
      inputs: [
        { s3Prefix: "inputs/q3-report/data/", mountPath: "/workspace/data" },
        { mountPath: "/workspace/brief", files: { "brief.md": "# Q3 brief\nAudience: the board.\n" } },
      ],
      output: { mountPath: "/workspace/output" },
    },
    lead: { prompt: "Coordinate the Q3 report." },
    teammates: [
      scripted("researcher", [
        { waitFor: "assigned-task", timeoutMs: 60000 },
        { call: "task_claim", args: { id: "{{task.id}}" } },
        { usage: { inputTokens: 800, outputTokens: 200 } },
        { exec: "cp data/sales.csv output/sales.csv && cat brief/brief.md > output/findings.md" },
        { write: { path: "output/summary.md", content: "Sales grew.\n" } },
        { call: "task_update", args: { id: "{{task.id}}", status: "completed" } },
        { call: "finish", args: { summary: "findings written" } },
      ]),
    ],
    lifecycle: { timeout: "10m", onComplete: "none" },
  },
};

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], {
      env: { ...process.env, SQUADRON_CONFIG: configFile, NO_COLOR: "1" },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function post(path: string, manifest: unknown) {
  const body = typeof manifest === "string" ? manifest : stringify(manifest);
  const res = await t.api("POST", path, body, { contentType: "application/yaml" });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Every process of a run has ended, and so has everything in its process groups. */
async function expectNothingRunning(runId: string) {
  const pids = processes.filter((p) => p.runId === runId && p.phase === "started").map((p) => p.pid);
  expect(pids.length).toBeGreaterThan(0);
  const end = Date.now() + 10_000;
  while (Date.now() < end && pids.some((pid) => alive(-pid) || alive(pid)))
    await new Promise((r) => setTimeout(r, 100));
  expect(pids.filter((pid) => alive(-pid) || alive(pid))).toEqual([]);
  expect(t.stack.sfn.get(runId)).toBeUndefined();
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "squadron-e2e-scenarios-"));
  bare = createBareRepo(root, {
    "README.md": "# backend\n",
    "src/api/auth/index.ts": "export {};\n",
    "src/middleware/jwt.ts": "export {};\n",
  }).bare;
  github = await startFakeGitHub();
  t = await startTestStack({
    maxConcurrentRuns: 8,
    runnerEnv: {
      SQUADRON_GITHUB_API_URL: github.baseUrl,
      SQUADRON_GITHUB_TOKEN: "ghp_e2e_token",
      SQUADRON_GITHUB_REPOSITORY: "acme/backend",
    },
  });
  t.stack.events.on("process", (e: ProcessEvent) => processes.push(e));
  configFile = join(root, "config.json");
  await writeConfig({ endpoint: t.stack.endpoint, token: t.stack.token }, configFile);
  const data = join(t.stack.paths.objects, "inputs", "q3-report", "data");
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, "sales.csv"), "quarter,total\nQ3,42\n");

  await post("/api/namespaces/dev-agents/teams", KAGENTS_AUTH_REFACTOR(bare).replace(/^\n/, ""));
  void (async () => {
    while (watching) {
      const res = await t.api("GET", "/api/namespaces/dev-agents/teams").catch(() => undefined);
      const row = res?.body?.items?.find((r: any) => r.name === "auth-refactor");
      if (row) codingRows.push(row);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  await post("/api/namespaces/cowork-agents/teams", COWORK);
  await post("/api/namespaces/default/teams", gatedTeam("gate-approved"));
  await post("/api/namespaces/default/teams", gatedTeam("gate-denied"));
  await post(
    "/api/namespaces/default/teams",
    leadOnly("over-budget", { timeout: "10m", budgetLimit: "1.00" }, [
      { usage: { inputTokens: 1000, outputTokens: 100, costUsd: 0.5 } },
      { sleepMs: 300 },
      { usage: { inputTokens: 1000, outputTokens: 100, costUsd: 4 } },
      { sleepMs: 120000 },
      { call: "finish", args: { summary: "never" } },
    ]),
  );
  await post(
    "/api/namespaces/default/teams",
    leadOnly("forgetful", { timeout: "10m" }, [
      { write: { path: "notes/forgotten.md", content: "never committed\n" } },
      { call: "finish", args: { summary: "wrote notes" } },
    ]),
  );
  await post(
    "/api/namespaces/default/teams",
    leadOnly("too-slow", { timeout: "6s" }, [
      { sleepMs: 120000 },
      { call: "finish", args: { summary: "never" } },
    ]),
  );
}, 60_000);

afterAll(async () => {
  watching = false;
  await t?.cleanup();
  await github?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("local stack end to end", { timeout: 120_000 }, () => {
  it("answers health without a token and refuses the API without a valid one", async () => {
    expect((await t.api("GET", "/api/health", undefined, { token: null })).status).toBe(200);
    expect((await t.api("GET", "/api/namespaces/default/teams", undefined, { token: null })).status).toBe(
      401,
    );
    expect(
      (await t.api("GET", "/api/namespaces/default/teams", undefined, { token: "sqd_wrong" })).status,
    ).toBe(401);
  });

  it("runs kagents' coding team with simulated agents to a pull request", async () => {
    const { view } = await t.follow("dev-agents", "auth-refactor");
    if (view.phase !== "Completed") {
      // On failure, Finalize's own lines say why.
      const logs = await t.api("GET", "/api/namespaces/dev-agents/teams/auth-refactor/logs?agent=finalize");
      expect(view.phase, `${view.message}\n${JSON.stringify(logs.body, null, 1).slice(-3000)}`).toBe(
        "Completed",
      );
    }
    expect(view.ready).toBe("3/3");
    expect(view.tasks).toEqual({ total: 2, done: 2 });
    expect(view.cost.usd).toBeGreaterThan(0);
    expect(view.cost.budgetUsd).toBe(30);
    // claude is not available to the stack: every agent ran simulated, and says so.
    expect([view.lead, ...view.teammates].every((a: any) => a.simulated)).toBe(true);
    expect(view.events.some((e: any) => e.reason === "Simulated" && e.agent === "backend-api")).toBe(true);
    const order = view.teammates.map((a: any) => [a.name, a.startedAt]);
    const backend = Date.parse(order.find((o: any) => o[0] === "backend-api")[1]);
    const tests = Date.parse(order.find((o: any) => o[0] === "test-coverage")[1]);
    expect(tests).toBeGreaterThan(backend);

    // The pull request, as GitHub received it.
    expect(github.pulls).toHaveLength(1);
    const pull = github.pulls[0];
    expect(pull?.title).toBe("feat(auth): migrate from JWT to OAuth2");
    expect(pull?.base).toBe("main");
    expect(runGit(root, ["--git-dir", bare, "branch", "--list", pull?.head ?? "none"])).toContain(pull?.head);
    const files = runGit(root, ["--git-dir", bare, "ls-tree", "-r", "--name-only", pull?.head ?? "none"]);
    expect(files).toContain("src/api/auth/backend-api.md");
    // Every agent committed its own work: the scoped backend-api's commit passed its scope hook,
    // so the runner made no fallback commit for anyone.
    expect(view.events.filter((e: any) => e.reason === "RunnerCommitted")).toEqual([]);
    const author = runGit(root, [
      "--git-dir",
      bare,
      "log",
      "-1",
      "--format=%an",
      pull?.head ?? "none",
      "--",
      "src/api/auth/backend-api.md",
    ]);
    expect(author.trim()).toBe("backend-api");

    // `get teams` along the way: agents becoming ready, tasks counted, cost rising, then done.
    watching = false;
    expect(codingRows.some((r) => r.phase === "Running" && r.ready !== "3/3")).toBe(true);
    expect(codingRows.some((r) => r.phase === "Running" && r.tasks.total === 2 && r.tasks.done < 2)).toBe(
      true,
    );
    const costs = codingRows.map((r) => r.cost.usd);
    expect(costs.at(-1)).toBeGreaterThan(costs[0] ?? 0);
    const out = await cli("get", "teams", "-n", "dev-agents");
    expect(out.stderr).toBe("");
    expect(out.stdout).toMatch(/NAME\s+PHASE\s+READY\s+TASKS\s+DONE\s+COST\s+AGE/);
    expect(out.stdout).toMatch(/auth-refactor\s+Completed\s+3\/3\s+2\s+2\s+\$?\d/);

    // The runner output of one agent, through the logs route the stack serves from its files.
    // Pretty by default (one agent: its messages alone); -o json gives the runner's JSON lines.
    const logs = await cli("logs", "team", "auth-refactor", "backend-api", "-n", "dev-agents");
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^Turn started turn=1/m);
    expect(logs.stdout).toContain('Completed "Work for backend-api"');
    expect(logs.stdout).not.toContain("test-coverage");
    const raw = await cli("logs", "team", "auth-refactor", "backend-api", "-n", "dev-agents", "-o", "json");
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).toMatch(/"agent":"backend-api"/);
    expect(raw.stdout).not.toMatch(/"agent":"test-coverage"/);
  });

  it("serves the web view beside the API", async () => {
    const page = await fetch(`${t.stack.endpoint}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("Squadron");
    // Paths the web view does not own still reach the API handler.
    expect((await t.api("GET", "/api/health", undefined, { token: null })).status).toBe(200);
  });

  it("runs a cowork team and stores its outputs locally", async () => {
    const { view } = await t.follow("cowork-agents", "q3-report");
    expect(view.phase, view.message).toBe("Completed");
    const out = join(t.stack.paths.objects, "runs", "cowork-agents", "q3-report", view.runId, "output");
    expect(readFileSync(join(out, "sales.csv"), "utf8")).toContain("Q3,42");
    expect(readFileSync(join(out, "findings.md"), "utf8")).toContain("Audience: the board.");
    expect(existsSync(join(out, "summary.md"))).toBe(true);
    // The simulated lead writes where the manifest's output mount says, like its teammates.
    expect(readFileSync(join(out, "lead-summary.md"), "utf8")).toContain("All 1 tasks are completed");
    // What the events say was delivered is what was: no "nothing was delivered" beside a claim.
    const delivered = view.events.find((e: any) => e.reason === "OutputsDelivered");
    expect(delivered?.message).toContain("Delivered 4 output files to ");
    const completed = view.events.find((e: any) => e.reason === "Completed");
    expect(completed?.message).toMatch(/^Every agent finished; 4 output files delivered to .+\.$/);
    expect(completed?.message).toContain(view.runId);
  });

  it("starts a gated agent once approved with `squadron approve`", async () => {
    await t.follow("default", "gate-approved", (v) => v.teammates[0].phase === "PendingApproval");
    const approved = await cli("approve", "team", "gate-approved", "spawn-worker", "-n", "default");
    expect(approved.code, approved.stderr).toBe(0);
    const { view } = await t.follow("default", "gate-approved");
    expect(view.phase).toBe("Completed");
    expect(view.gates["spawn-worker"].state).toBe("Approved");
    expect(view.gates["spawn-worker"].decidedBy).toBe("admin");
    expect(view.teammates[0].phase).toBe("Succeeded");
    // Exactly once: a second decision is refused.
    const again = await t.api(
      "POST",
      "/api/namespaces/default/teams/gate-approved/gates/spawn-worker/deny",
      {},
    );
    expect(again.status).toBe(409);
  });

  it("never starts a gated agent that was denied", async () => {
    await t.follow("default", "gate-denied", (v) => v.teammates[0].phase === "PendingApproval");
    const denied = await t.api("POST", "/api/namespaces/default/teams/gate-denied/gates/spawn-worker/deny", {
      reason: "not now",
    });
    expect(denied.status).toBe(200);
    const { view } = await t.follow("default", "gate-denied");
    expect(view.gates["spawn-worker"].state).toBe("Denied");
    expect(view.teammates[0].phase).toBe("Failed");
    expect(view.teammates[0].reason).toBe("ApprovalDenied");
    expect(processes.some((p) => p.runId === view.runId && p.agent === "worker")).toBe(false);
  });

  it("stops a team whose measured cost crosses its budget", async () => {
    const { view } = await t.follow("default", "over-budget");
    expect(view.phase).toBe("BudgetExceeded");
    expect(view.cost.usd).toBeGreaterThanOrEqual(1);
    // Two stops race, both correct: the control plane's StopExecution (the agent is Stopped), or
    // the CLI's own --max-budget-usd ending the turn first (the agent Failed, BudgetExceeded).
    if (view.lead.phase === "Failed") expect(view.lead.reason).toBe("BudgetExceeded");
    else expect(view.lead.phase).toBe("Stopped");
    await expectNothingRunning(view.runId);
  });

  it("says so in a Warning event when the runner had to commit an agent's work for it", async () => {
    const { view } = await t.follow("default", "forgetful");
    expect(view.phase, view.message).toBe("Completed");
    const warnings = view.events.filter((e: any) => e.reason === "RunnerCommitted");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ type: "Warning", agent: "lead" });
    expect(warnings[0].message).toContain("notes/forgotten.md");
    expect(warnings[0].message).toContain("did not commit its own work");
  });

  it("stops a team at its timeout", async () => {
    const { view } = await t.follow("default", "too-slow");
    expect(view.phase).toBe("TimedOut");
    expect(Date.parse(view.completedAt) - Date.parse(view.startedAt)).toBeLessThan(20_000);
    await expectNothingRunning(view.runId);
  });

  it("runs a single task from POST /api/tasks and refuses an empty one", async () => {
    const accepted = await t.api("POST", "/api/tasks", { task: "Summarise what this team can do." });
    expect(accepted.status).toBe(202);
    expect(accepted.body.id).toMatch(/^[a-z0-9][a-z0-9-]*$/);
    const status = await t.api("GET", `/api/tasks/${accepted.body.id}`);
    expect(status.status).toBe(200);
    const { view } = await t.follow("default", accepted.body.id);
    expect(view.phase, view.message).toBe("Completed");
    expect(view.lead.simulated).toBe(true);
    // A one-agent cowork team: the simulated lead's summary is the run's one deliverable.
    expect(view.message).toMatch(/^Every agent finished; 1 output file delivered to .+\/output\.$/);

    expect((await t.api("POST", "/api/tasks", { task: "" })).status).toBe(400);
    expect((await t.api("POST", "/api/tasks", { task: "   " })).status).toBe(400);
    expect((await t.api("POST", "/api/tasks", {})).status).toBe(400);
  });

  it("serves a client written for the seed agent-orchestrator API unchanged", async () => {
    const client = seedClient(t.stack.endpoint, { Authorization: `Bearer ${t.stack.token}` });
    expect(await client.healthy()).toBe(true);
    expect(await client.submitTask("Summarise what this team can do.")).toEqual({
      accepted: true,
      message: "Task has been accepted and is being processed",
    });
    expect(await client.submitTask("")).toEqual({
      accepted: false,
      message: "",
      error: "task field is required and cannot be empty",
    });
    // /health is public, as it is for the seed API's load balancers.
    expect(await seedClient(t.stack.endpoint).healthy()).toBe(true);
  });
});
