/**
 * A three-agent team end to end, every part real: the runner entrypoint as separate processes
 * (init, then lead and two teammates at once, then finalize), scripted agents speaking Claude's
 * stream-json through the Claude adapter, the team MCP server over stdio, git worktrees on a
 * local bare remote, measured usage in DynamoDB Local, and a pull request on a fake GitHub API.
 */
import { randomUUID } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { AgentTeam } from "../../core/manifest/types.ts";
import { Team } from "../../core/team-protocol/team.ts";
import { type FakeGitHub, startFakeGitHub } from "../support/fake-github.ts";
import { createBareRepo, fixtureGitEnv, runGit, tempDir } from "../support/git-fixtures.ts";
import {
  bundledRunner,
  scriptedAgent,
  startRunner,
  storeOnOwnTable,
  writeRunManifest,
} from "./session/fixtures.ts";

describe("a three-agent team through the runner entrypoint", () => {
  const endpoint = inject("dynamoDbLocalEndpoint");
  const { client, tableName, store, createTable } = storeOnOwnTable(endpoint, "squadron-e2e");
  const root = tempDir("squadron-team-e2e-");
  let github: FakeGitHub;
  let dist: string;

  beforeAll(async () => {
    [dist, github] = await Promise.all([bundledRunner(), startFakeGitHub(), createTable()]);
  });
  afterAll(async () => {
    client.destroy();
    await github?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("init, lead + two teammates at once, finalize: tasks, messages, commits, merge, push, PR, cost", async () => {
    const { bare } = createBareRepo(root, { "README.md": "# app\n", "src/index.ts": "export {};\n" });
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const teamDir = join(root, "runs", runId);
    const team: AgentTeam = {
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeam",
      metadata: { name: "web-app", namespace: "default", labels: {}, annotations: {} },
      spec: {
        mode: "coding",
        repository: { url: bare, branch: "main" },
        auth: {},
        // No script: each agent runs the scripted agent's default lead/teammate script.
        lead: scriptedAgent("lead", "lead"),
        teammates: [scriptedAgent("frontend", "teammate"), scriptedAgent("backend", "teammate")],
        coordination: { taskAssignment: "lead-assigns", peerMessaging: true },
        lifecycle: {
          timeout: "1h",
          timeoutSeconds: 3600,
          budgetLimit: 5,
          onComplete: "create-pr",
          approvalGates: [],
          maxRestarts: 0,
          pullRequest: {
            titleTemplate: "Squadron: {{team}}",
            reviewers: ["octocat"],
            labels: ["squadron"],
            draft: false,
          },
        },
        observability: {},
      },
    };
    await store.createRun(team, { runId });
    await mkdir(teamDir, { recursive: true });
    await writeRunManifest(teamDir, runId, team);

    const env = (mode: string, agent?: string): Record<string, string> => {
      const gitEnv = Object.fromEntries(
        Object.entries(fixtureGitEnv()).filter(([k]) => k.startsWith("GIT_") || k === "LC_ALL"),
      ) as Record<string, string>;
      return {
        ...gitEnv,
        SQUADRON_MODE: mode,
        SQUADRON_RUN_ID: runId,
        ...(agent ? { SQUADRON_AGENT_NAME: agent } : {}),
        SQUADRON_TEAM_DIR: teamDir,
        SQUADRON_TABLE_NAME: tableName,
        SQUADRON_DYNAMODB_ENDPOINT: endpoint,
        SQUADRON_POLL_INTERVAL_MS: "100",
        SQUADRON_SCRIPTED_POLL_MS: "100",
        SQUADRON_HEARTBEAT_MS: "1000",
        SQUADRON_USAGE_REPORT_MS: "500",
        SQUADRON_GITHUB_API_URL: github.baseUrl,
        SQUADRON_GITHUB_REPOSITORY: "acme/app",
        SQUADRON_GITHUB_TOKEN: "ghp_fake",
      };
    };
    const entry = join(dist, "entrypoint.js");

    const init = await startRunner(entry, env("init")).result;
    expect(init.code, init.stderr).toBe(0);
    expect(init.result).toMatchObject({ ok: true, mode: "init", workspace: "coding" });

    const agents = await Promise.all(
      ["lead", "frontend", "backend"].map((name) => startRunner(entry, env("agent", name)).result),
    );
    for (const run of agents) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.result).toMatchObject({ ok: true, end: "finished" });
    }

    const protocol = new Team(teamDir);
    const tasks = await protocol.listTasks();
    expect(tasks.map((t) => [t.subject, t.owner, t.status])).toEqual([
      ["Work for frontend", "frontend", "completed"],
      ["Work for backend", "backend", "completed"],
    ]);
    const leadInbox = await protocol.readInbox("lead");
    expect(leadInbox.map((m) => m.from).sort()).toEqual(["backend", "frontend"]);
    expect((await protocol.members()).map((m) => m.status)).toEqual(["finished", "finished", "finished"]);

    const finalize = await startRunner(entry, env("finalize")).result;
    expect(finalize.code, finalize.stderr).toBe(0);
    expect(finalize.result).toMatchObject({
      ok: true,
      action: "create-pr",
      branch: "squadron/web-app",
      pushed: true,
      merged: ["frontend", "backend"],
      pullRequestUrl: "https://github.example/acme/app/pull/1",
    });

    // The consolidated branch on the bare remote holds both teammates' commits.
    const files = runGit(root, ["--git-dir", bare, "ls-tree", "-r", "--name-only", "squadron/web-app"]);
    expect(files.split("\n")).toEqual(expect.arrayContaining(["backend.md", "frontend.md", "README.md"]));
    const log = runGit(root, ["--git-dir", bare, "log", "--format=%s", "squadron/web-app"]);
    expect(log).toContain("frontend: complete assigned task");
    expect(log).toContain("backend: complete assigned task");

    // Measured cost: per agent and in total in the store, and in the pull request body.
    const record = await store.getRun(team.metadata);
    for (const name of ["lead", "frontend", "backend"]) {
      expect(record.status.agents[name]?.phase).toBe("Succeeded");
      expect(record.status.agents[name]?.costUsd).toBeGreaterThan(0);
    }
    const total = record.status.totalCostUsd;
    expect(total).toBeCloseTo(
      ["lead", "frontend", "backend"].reduce((sum, n) => sum + (record.status.agents[n]?.costUsd ?? 0), 0),
      9,
    );
    expect(finalize.result.costUsd).toBeCloseTo(total, 9);
    const create = github.requests.find((r) => r.method === "POST" && r.path === "/repos/acme/app/pulls");
    expect(create?.headers.authorization).toBe("token ghp_fake");
    const body = create?.body as { title: string; head: string; base: string; body: string; draft: boolean };
    expect(body).toMatchObject({
      title: "Squadron: web-app",
      head: "squadron/web-app",
      base: "main",
      draft: false,
    });
    expect(body.body).toContain(`Total cost: **$${total.toFixed(2)}**`);
    expect(body.body).toMatch(/\| frontend \| teammate \| claude-sonnet-4-5 \| Succeeded \| \$/);
    expect(body.body).toContain("backend: complete assigned task");
    const reviewers = github.requests.find((r) => r.path === "/repos/acme/app/pulls/1/requested_reviewers");
    expect(reviewers?.body).toEqual({ reviewers: ["octocat"], team_reviewers: [] });
  });
});
