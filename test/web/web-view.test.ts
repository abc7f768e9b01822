import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitApproval } from "../../core/control/approvals.ts";
import { DirectoryTeamFiles } from "../../core/control/team-files.ts";
import type { AgentPhase } from "../../core/status/phases.ts";
import type { TeamRunRef } from "../../core/store/items.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { gatewayListener } from "../../local/http-gateway.ts";
import { serveWebView } from "../../web/serve.ts";
import { type Harness, harness, newTable } from "../lambdas/harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(fileURLToPath(import.meta.url), "../../artifacts");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `web view test skipped: ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`,
  );
}

const TEAM = `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: checkout-revamp
spec:
  repository:
    url: "https://git.example.com/acme/shop.git"
  lead:
    prompt: "Coordinate the checkout revamp."
  teammates:
    - name: backend-api
      prompt: "Implement the payment endpoints."
    - name: docs
      cli: codex
      prompt: "Document the new API."
    - name: test-coverage
      prompt: "Write tests for the endpoints."
      dependsOn: [backend-api]
    - name: release-notes
      prompt: "Write the release notes."
      dependsOn: [test-coverage, docs]
  lifecycle:
    timeout: "2h"
    budgetLimit: "10.00"
    approvalGates:
      - event: spawn-test-coverage
        channel: api
`;

describe.skipIf(!hasChromium)("web view in headless Chromium", () => {
  let h: Harness;
  let server: Server;
  let base: string;
  let runsDir: string;
  let browser: Browser;
  let page: Page;
  let runId: string;
  const requestLines: string[] = [];

  async function api(method: string, path: string, body?: string) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: "Bearer admin", "content-type": "application/yaml" },
      ...(body ? { body } : {}),
    });
    return {
      status: res.status,
      body: (await res.json()) as {
        runId: string;
        gates: Record<string, { state: string; decidedBy: string | null }>;
      },
    };
  }

  /** Moves an agent through the allowed phases one step at a time, as the control plane does. */
  async function walk(ref: TeamRunRef, agent: string, phases: AgentPhase[], extra = {}) {
    for (const phase of phases) {
      await h.deps.store.updateStatus(ref, (status) => {
        const a = status.agents[agent]!;
        a.phase = phase;
        Object.assign(a, extra);
        return status;
      });
    }
  }

  beforeAll(async () => {
    runsDir = await mkdtemp(join(tmpdir(), "web-view-"));
    h = harness(await newTable(), { teamFiles: new DirectoryTeamFiles(runsDir) });
    const apiListener = gatewayListener(h.api);
    server = createServer((req, res) => {
      requestLines.push(req.url ?? "");
      if (!serveWebView(req, res)) void apiListener(req, res);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const created = await api("POST", "/api/namespaces/default/teams", TEAM);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    runId = created.body.runId;
    const ref = { namespace: "default", name: "checkout-revamp" };
    await h.deps.store.updateStatus(ref, (s) => ({ ...s, phase: "Initializing" }));
    await h.deps.store.updateStatus(ref, (s) => ({
      ...s,
      phase: "Running",
      startedAt: new Date().toISOString(),
    }));
    await walk(ref, "lead", ["Starting", "Running"], { simulated: true });
    await walk(ref, "backend-api", ["Starting", "Running", "Succeeded"], { simulated: true });
    await walk(ref, "docs", ["Starting", "Running"]);
    // Measured usage, written the way the runners report it.
    await h.deps.store.addUsage(ref, "lead", { costUsd: 0.42, inputTokens: 12_000, outputTokens: 3_100 });
    await h.deps.store.addUsage(ref, "backend-api", {
      costUsd: 1.18,
      inputTokens: 40_000,
      outputTokens: 9_000,
    });
    await h.deps.store.addUsage(ref, "docs", { costUsd: 0.07, inputTokens: 5_000, outputTokens: 800 });
    await walk(ref, "release-notes", ["WaitingForDependencies"]);
    await walk(ref, "test-coverage", ["WaitingForDependencies"], { simulated: true });
    // The state machine's ApprovalGate step, with the task token the execution would pass.
    await awaitApproval(h.deps, {
      action: "awaitApproval",
      taskToken: "token-spawn-test-coverage",
      runId,
      agentName: "test-coverage",
      gate: "spawn-test-coverage",
    });

    // The run's shared directory, written through the same protocol the runners use.
    const team = new Team(join(runsDir, runId));
    await team.init({
      teamName: "checkout-revamp",
      runId,
      members: [
        { name: "lead", role: "lead", cli: "claude", model: "", simulated: true },
        { name: "backend-api", role: "teammate", cli: "claude", model: "", simulated: true },
        { name: "docs", role: "teammate", cli: "codex", model: "" },
        { name: "test-coverage", role: "teammate", cli: "claude", model: "", simulated: true },
        { name: "release-notes", role: "teammate", cli: "claude", model: "" },
      ],
    });
    const api1 = await team.createTask({
      subject: "Payment endpoints",
      description: "POST /checkout, /refund",
      owner: "backend-api",
    });
    await team.updateTask(api1.id, { status: "completed" });
    const tests = await team.createTask({ subject: "Endpoint tests", owner: "test-coverage", blockedBy: [] });
    await team.createTask({ subject: "API reference", owner: "docs" });
    await team.updateTask(String(Number(tests.id) + 1), { status: "in_progress" });
    await team.createTask({ subject: "Release notes", blockedBy: [tests.id] });
    await team.sendMessage({
      from: "lead",
      to: "backend-api",
      text: "Please implement POST /checkout and /refund.",
      summary: "Payment endpoints",
    });
    await team.sendMessage({
      from: "backend-api",
      to: "lead",
      text: "Endpoints done, merged into my branch <b>not bold</b>.",
    });

    // The counts the local stack keeps in the run's status as the task files change.
    await h.deps.store.updateStatus(ref, (s) => ({ ...s, tasks: { total: 4, done: 1 } }));

    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it("lists teams, draws the graph, tasks and messages, and approves a gate through the API", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });

    await page.goto(`${base}/#token=admin`);
    // The token moved from the fragment to sessionStorage and never travelled in a request line.
    await expect.poll(() => page.url()).not.toContain("token");
    expect(await page.evaluate("sessionStorage.getItem('squadron.token')")).toBe("admin");

    const item = page.locator('a.team-item[data-team="checkout-revamp"]');
    await item.waitFor();
    expect(await item.textContent()).toContain("Running");
    expect(await item.textContent()).toContain("Ready 3/5");
    expect(await item.textContent()).toContain("Tasks 1/4");
    await item.click();
    await page.locator("#team-title").waitFor();
    expect(await page.locator("#team-title").textContent()).toBe("checkout-revamp");
    expect(page.url()).toContain("team=checkout-revamp");

    // Graph: every agent, the simulated badges, the dependsOn arrows.
    const nodes = page.locator("svg.graph g.node");
    await expect.poll(() => nodes.count()).toBe(5);
    const lead = page.locator('g.node[data-agent="lead"]');
    expect(await lead.getAttribute("aria-label")).toContain("lead, lead");
    expect(await lead.textContent()).toContain("SIMULATED");
    expect(await lead.textContent()).toContain("$0.42");
    expect(await page.locator('g.node[data-agent="docs"]').textContent()).not.toContain("SIMULATED");
    expect(await page.locator('g.node[data-agent="docs"]').textContent()).toContain("codex");
    expect(await page.locator('g.node[data-agent="backend-api"]').getAttribute("data-phase")).toBe(
      "Succeeded",
    );
    await page
      .locator('path.edge-depends[data-from="backend-api"][data-to="test-coverage"]')
      .waitFor({ state: "attached" });
    expect(await page.locator("path.edge-depends").count()).toBe(3);
    const awaiting = page.locator('g.node.awaiting[data-agent="test-coverage"]');
    expect(await awaiting.textContent()).toContain("spawn-test-coverage");
    // Dependants sit below what they depend on.
    const y = async (name: string) => (await page.locator(`g.node[data-agent="${name}"]`).boundingBox())!.y;
    expect(await y("lead")).toBeLessThan(await y("backend-api"));
    expect(await y("backend-api")).toBeLessThan(await y("test-coverage"));
    expect(await y("test-coverage")).toBeLessThan(await y("release-notes"));

    // Tasks, messages (text stays text), cost and budget.
    const tasks = page.locator("#tasks tbody tr");
    await expect.poll(() => tasks.count()).toBe(4);
    expect(await page.locator("#tasks").textContent()).toContain("Payment endpoints");
    expect(await page.locator('#tasks tr[data-task="1"]').textContent()).toContain("Completed");
    const messages = page.locator("#messages li");
    expect(await messages.count()).toBe(2);
    expect(await messages.first().textContent()).toContain("<b>not bold</b>");
    expect(await page.locator("#messages b").count()).toBe(0);
    expect(await page.locator("[data-testid=cost]").textContent()).toBe("$1.67");
    expect(await page.locator("#team-header").textContent()).toContain("of $10.00 budget");

    // Approval: the callout names the gate; the button calls the API.
    const callout = page.locator('#approvals .callout[data-gate="spawn-test-coverage"]');
    await callout.waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "web-view.png"), fullPage: true });
    await callout.locator('button[data-decision="approve"]').click();
    await page.locator('#gates tr[data-gate="spawn-test-coverage"][data-state="Approved"]').waitFor();
    expect(await page.locator("#approvals").isHidden()).toBe(true);
    const after = await api("GET", "/api/namespaces/default/teams/checkout-revamp");
    expect(after.body.gates["spawn-test-coverage"]).toMatchObject({ state: "Approved", decidedBy: "admin" });
    expect(h.sfn.of("SendTaskSuccess")).toEqual([
      expect.objectContaining({ taskToken: "token-spawn-test-coverage" }),
    ]);

    // Live: a change on disk shows up by itself within a poll or two.
    await new Team(join(runsDir, runId)).sendMessage({ from: "docs", to: "lead", text: "Docs drafted." });
    await expect.poll(() => messages.count(), { timeout: 6_000 }).toBe(3);
    await page.screenshot({ path: join(ARTIFACTS, "web-view-approved.png"), fullPage: true });

    expect(requestLines.filter((line) => line.includes("token"))).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);

  it("asks for a token when none is given", async () => {
    const fresh = await browser.newPage();
    await fresh.goto(`${base}/`);
    await fresh.locator("#token-form").waitFor({ state: "visible" });
    expect(await fresh.locator("#live-text").textContent()).toBe("Not signed in");
    await fresh.fill("#token-input", "admin");
    await fresh.click('#token-form button[type="submit"]');
    await fresh.locator('a.team-item[data-team="checkout-revamp"]').waitFor();
    expect(await fresh.locator("#token-form").isHidden()).toBe(true);
    await fresh.close();
  });
});
