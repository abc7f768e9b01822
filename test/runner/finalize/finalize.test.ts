import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentTeam } from "../../../core/manifest/types.ts";
import { finalize } from "../../../runner/finalize/finalize.ts";
import { initWorkspace } from "../../../runner/workspace/init.ts";
import { type FakeGitHub, startFakeGitHub } from "../../support/fake-github.ts";
import { commitFiles, createBareRepo, runGit, tempDir } from "../../support/git-fixtures.ts";
import { agent, codingTeam, scope } from "../workspace/team-fixture.ts";

const root = tempDir("squadron-finalize-");
afterAll(() => execFileSync("rm", ["-rf", root]));
let counter = 0;

/** A fresh bare remote and an initialised run of a frontend/backend team. */
async function setup(spec: Partial<AgentTeam["spec"]> = {}, teammates = defaultTeammates()) {
  const dir = path.join(root, `case-${++counter}`);
  execFileSync("mkdir", ["-p", dir]);
  const { bare } = createBareRepo(dir, {
    "README.md": "# app\n",
    "src/api/index.ts": "export {};\n",
    "web/app.ts": "app\n",
  });
  const team = codingTeam(bare, teammates, spec);
  const runDir = path.join(dir, "run");
  await initWorkspace({ runDir, team });
  const wt = (name: string) => path.join(runDir, "worktrees", name);
  return { bare, team, runDir, wt, repo: path.join(runDir, "repo") };
}

function defaultTeammates() {
  // Spec order puts backend first; it depends on frontend, so frontend must merge first.
  return [
    agent("backend", "teammate", { scope: scope(["src/api/**"]), dependsOn: ["frontend"] }),
    agent("frontend", "teammate", { scope: scope(["web/"], ["web/generated/**"]) }),
  ];
}

const agents = [
  { name: "lead", role: "lead" as const, phase: "Succeeded", costUsd: 1.25, model: "opus" },
  { name: "frontend", role: "teammate" as const, phase: "Succeeded", costUsd: 0.5 },
  { name: "backend", role: "teammate" as const, phase: "Succeeded", costUsd: 0.75 },
];

describe("finalize: merge and push", () => {
  it("merges the teammates' commits in dependency order and pushes one branch to the remote, idempotently", async () => {
    const { bare, team, runDir, wt, repo } = await setup();
    commitFiles(repo, { "PLAN.md": "plan\n" }, "lead: plan");
    commitFiles(wt("backend"), { "src/api/users.ts": "users\n" }, "backend: users endpoint");
    commitFiles(wt("frontend"), { "web/users.ts": "users page\n" }, "frontend: users page");

    const result = await finalize({ runDir, team, runId: "r1", agents });
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({
      ok: true,
      branch: "squadron/feature-x",
      pushed: true,
      merged: ["frontend", "backend"],
    });
    const subjects = runGit(bare, ["log", "--format=%s", "squadron/feature-x"]).trim().split("\n");
    expect([...subjects].sort()).toEqual(
      [
        "Merge backend's work (squadron/feature-x/backend)",
        "Merge frontend's work (squadron/feature-x/frontend)",
        "backend: users endpoint",
        "frontend: users page",
        "initial commit",
        "lead: plan",
      ].sort(),
    );
    expect(subjects.slice(0, 2)).toEqual([
      "Merge backend's work (squadron/feature-x/backend)",
      "Merge frontend's work (squadron/feature-x/frontend)",
    ]);
    expect(subjects).toHaveLength(6);
    expect(runGit(bare, ["show", "squadron/feature-x:src/api/users.ts"])).toBe("users\n");
    expect(result.commits.map((c) => c.subject)).toEqual(subjects.slice(0, 5));

    const tip = runGit(bare, ["rev-parse", "squadron/feature-x"]).trim();
    const again = await finalize({ runDir, team, runId: "r1", agents });
    expect(again.ok, again.error).toBe(true);
    expect(runGit(bare, ["rev-parse", "squadron/feature-x"]).trim()).toBe(tip);
  });

  it("pushes the branch kagents' consolidatedBranchTemplate names", async () => {
    const { bare, team, runDir, wt } = await setup();
    team.spec.lifecycle.consolidatedBranchTemplate = "teams/{{.Namespace}}/{{.TeamName}}-{{runId}}";
    commitFiles(wt("frontend"), { "web/a.ts": "a\n" }, "frontend: a");
    const result = await finalize({ runDir, team, runId: "r7", agents });
    expect(result).toMatchObject({ ok: true, branch: "teams/default/feature-x-r7", pushed: true });
    expect(runGit(bare, ["show", "teams/default/feature-x-r7:web/a.ts"])).toBe("a\n");
    expect(runGit(bare, ["branch", "--list", "squadron/*"]).trim()).toBe("");
  });

  it("commits what an agent left uncommitted, but never files outside its scope", async () => {
    const { bare, team, runDir, wt } = await setup();
    commitFiles(wt("frontend"), { "web/a.ts": "a\n" }, "frontend: a");
    execFileSync("sh", ["-c", "echo left > web/b.ts && echo stray > src/stray.ts"], { cwd: wt("frontend") });
    const result = await finalize({ runDir, team, runId: "r2" });
    expect(result.ok, result.error).toBe(true);
    expect(result.skippedFiles).toEqual([{ agent: "frontend", files: ["src/stray.ts"] }]);
    const files = runGit(bare, ["ls-tree", "-r", "--name-only", "squadron/feature-x"]).split("\n");
    expect(files).toContain("web/b.ts");
    expect(files).not.toContain("src/stray.ts");
  });

  it("reports a conflict between two teammates by file and aborts the merge without pushing", async () => {
    const { bare, team, runDir, wt, repo } = await setup({}, [
      agent("alice", "teammate"),
      agent("bob", "teammate"),
    ]);
    commitFiles(wt("alice"), { "README.md": "# alice was here\n" }, "alice: readme");
    commitFiles(wt("bob"), { "README.md": "# bob was here\n", "bob.txt": "b\n" }, "bob: readme");
    const result = await finalize({ runDir, team, runId: "r3" });
    expect(result.ok).toBe(false);
    expect(result.merged).toEqual(["alice"]);
    expect(result.conflicts).toEqual([
      { agent: "bob", branch: "squadron/feature-x/bob", files: ["README.md"] },
    ]);
    expect(result.error).toContain("bob: README.md");
    expect(result.pushed).toBe(false);
    expect(runGit(bare, ["branch", "--list", "squadron/*"]).trim()).toBe("");
    expect(runGit(repo, ["status", "--porcelain"]).trim()).toBe("");
  });
});

describe("finalize: scope", () => {
  it("the hook refuses an out-of-scope commit and finalize catches one made with --no-verify", async () => {
    const { team, runDir, wt, bare } = await setup();
    let refusal = "";
    try {
      commitFiles(wt("frontend"), { "web/ok.ts": "ok\n", "src/api/hack.ts": "no\n" }, "frontend: overreach");
    } catch (error) {
      refusal = String((error as { stderr?: string }).stderr);
    }
    expect(refusal).toContain("commit refused");
    expect(refusal).toContain("src/api/hack.ts");
    expect(refusal).not.toContain("web/ok.ts");
    // An excluded path inside an included directory is refused too.
    expect(() => commitFiles(wt("frontend"), { "web/generated/x.ts": "x\n" }, "frontend: generated")).toThrow(
      /commit refused/,
    );
    runGit(wt("frontend"), ["reset", "-q", "--hard"]);
    execFileSync("git", ["clean", "-fdq"], { cwd: wt("frontend") });

    const sha = commitFiles(wt("frontend"), { "src/api/hack.ts": "no\n" }, "frontend: bypass", [
      "--no-verify",
    ]);
    commitFiles(wt("backend"), { "src/api/real.ts": "real\n" }, "backend: real");
    const failed = await finalize({ runDir, team, runId: "r4" });
    expect(failed.ok).toBe(false);
    expect(failed.scopeViolations).toEqual([
      { agent: "frontend", commit: sha, subject: "frontend: bypass", files: ["src/api/hack.ts"] },
    ]);
    expect(failed.error).toContain("outside their agent's scope");
    expect(failed.pushed).toBe(false);

    const excluded = await finalize({ runDir, team, runId: "r4", scopePolicy: "exclude" });
    expect(excluded.ok, excluded.error).toBe(true);
    expect(excluded.merged).toEqual(["backend"]);
    const files = runGit(bare, ["ls-tree", "-r", "--name-only", "squadron/feature-x"]);
    expect(files).toContain("src/api/real.ts");
    expect(files).not.toContain("src/api/hack.ts");
  });
});

describe("finalize: quality gates", () => {
  it("fails with the output of a failing validation script and pushes nothing", async () => {
    const { team, runDir, wt, bare } = await setup({
      qualityGates: {
        requireTests: true,
        requireLint: false,
        testCommand: "test -f web/users.ts && echo tests-pass",
        validationScript:
          'echo "validating $(ls web | wc -l) files"\necho "schema mismatch in web/users.ts" >&2\nexit 1',
      },
    });
    commitFiles(wt("frontend"), { "web/users.ts": "users\n" }, "frontend: users");
    const result = await finalize({ runDir, team, runId: "r5" });
    expect(result.ok).toBe(false);
    expect(result.gates.map((g) => [g.name, g.ok, g.exitCode])).toEqual([
      ["tests", true, 0],
      ["validation", false, 1],
    ]);
    expect(result.gates[0]?.output).toContain("tests-pass");
    expect(result.error).toContain("validation (exit 1)");
    expect(result.error).toContain("schema mismatch in web/users.ts");
    expect(result.pushed).toBe(false);
    expect(runGit(bare, ["branch", "--list", "squadron/*"]).trim()).toBe("");
  });

  it("runs gates without the git token in their environment", async () => {
    const { team, runDir, wt } = await setup({
      qualityGates: {
        requireTests: false,
        requireLint: false,
        validationScript: 'test -z "$SQUADRON_GIT_TOKEN$GITHUB_TOKEN"',
      },
    });
    commitFiles(wt("frontend"), { "web/x.ts": "x\n" }, "frontend: x");
    const env = { ...process.env, SQUADRON_GIT_TOKEN: "ghs_secretsecret", GITHUB_TOKEN: "ghs_other" };
    const result = await finalize({ runDir, team, runId: "r6", env });
    expect(result.gates[0]?.ok, result.gates[0]?.output).toBe(true);
  });
});

describe("finalize: quality gates stay in the repository and end with the run", () => {
  it("never runs an enclosing project's tests: without package.json the default test gate has nothing to run", async () => {
    // The run sits under a project whose own `npm test` would leave a marker (locally: the
    // Squadron checkout encloses .local/runs/...; npm looks for package.json upwards).
    const outer = path.join(root, `enclosing-${++counter}`);
    const marker = path.join(outer, "outer-tests-ran");
    execFileSync("mkdir", ["-p", outer]);
    writeFileSync(
      path.join(outer, "package.json"),
      JSON.stringify({ name: "outer", private: true, scripts: { test: `touch ${marker}` } }),
    );
    const { bare } = createBareRepo(outer, { "README.md": "# not a node project\n" });
    const team = codingTeam(bare, [agent("frontend", "teammate")], {
      qualityGates: { requireTests: true, requireLint: true },
    });
    const runDir = path.join(outer, "run");
    await initWorkspace({ runDir, team });
    commitFiles(path.join(runDir, "worktrees", "frontend"), { "notes.md": "n\n" }, "frontend: notes");
    const result = await finalize({ runDir, team, runId: "r-outer" });
    expect(result.ok, result.error).toBe(true);
    expect(existsSync(marker)).toBe(false);
    expect(result.gates.map((g) => [g.name, g.ok, g.skipped])).toEqual([
      ["tests", true, "no package.json in the repository: nothing to test with `npm test`"],
      ["lint", true, "no package.json in the repository: nothing to lint with `npm run lint`"],
    ]);
  });

  it("reports a failed gate in a few plain lines and logs the whole output", async () => {
    const { team, runDir, wt } = await setup({
      qualityGates: {
        requireTests: true,
        requireLint: false,
        testCommand: 'for i in $(seq 1 100); do printf "\\033[31mline %s\\033[0m\\n" "$i"; done; exit 3',
      },
    });
    commitFiles(wt("frontend"), { "web/y.ts": "y\n" }, "frontend: y");
    const logged: string[] = [];
    const result = await finalize({ runDir, team, runId: "r-noisy", log: (l) => logged.push(l) });
    expect(result.ok).toBe(false);
    expect(result.error).toBe(
      "quality gate failed: tests (exit 3):\nline 96\nline 97\nline 98\nline 99\nline 100",
    );
    const full = logged.find((l) => l.startsWith("gate tests"));
    expect(full).toContain("line 1\u001b[0m");
    expect(full).toContain("line 50");
  });

  it("ends a running gate and everything it started when the run is stopped", async () => {
    const pidFile = path.join(root, `gate-child-${++counter}.pid`);
    const { team, runDir, wt } = await setup({
      qualityGates: {
        requireTests: true,
        requireLint: false,
        // A grandchild that would outlive its shell, as npm's test runner (or a JVM) would.
        testCommand: `bash -c 'sleep 300' & echo $! > ${pidFile}; wait`,
      },
    });
    commitFiles(wt("frontend"), { "web/z.ts": "z\n" }, "frontend: z");
    const stop = new AbortController();
    const running = finalize({ runDir, team, runId: "r-stop", signal: stop.signal });
    while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "")
      await new Promise((r) => setTimeout(r, 50));
    const grandchild = Number(readFileSync(pidFile, "utf8").trim());
    stop.abort();
    const result = await running;
    expect(result.ok).toBe(false);
    expect(result.gates[0]).toMatchObject({ name: "tests", ok: false, stopped: true });
    expect(result.error).toContain("tests (was stopped)");
    const alive = () => {
      try {
        process.kill(grandchild, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});

/** A one-hour run's lifecycle that ends in a pull request. */
const CREATE_PR = {
  timeout: "1h",
  timeoutSeconds: 3600,
  onComplete: "create-pr" as const,
  approvalGates: [],
  maxRestarts: 3,
};

describe("finalize: create-pr", () => {
  let github: FakeGitHub;
  beforeAll(async () => {
    github = await startFakeGitHub();
  });
  afterAll(() => github.close());

  it("pushes, opens the pull request with title, body with cost, reviewers and labels", async () => {
    const { team, runDir, wt } = await setup({
      lifecycle: {
        ...CREATE_PR,
        budgetLimit: 10,
        pullRequest: {
          titleTemplate: "feat: {{team}} in {{namespace}} ({{branch}})",
          reviewers: ["octocat", "acme/platform"],
          labels: ["squadron", "automated"],
          draft: true,
        },
      },
    });
    commitFiles(wt("backend"), { "src/api/users.ts": "users\n" }, "backend: users");
    const options = {
      runDir,
      team,
      runId: "run-42",
      agents,
      env: { ...process.env, SQUADRON_GITHUB_TOKEN: "ghp_fake" },
      github: { baseUrl: github.baseUrl, owner: "acme", repo: "app" },
    };
    const result = await finalize(options);
    expect(result.error).toBeUndefined();
    expect(result.pullRequestUrl).toBe("https://github.example/acme/app/pull/1");

    const create = github.requests.find((r) => r.method === "POST" && r.path === "/repos/acme/app/pulls");
    expect(create?.headers.authorization).toBe("token ghp_fake");
    const body = create?.body as Record<string, unknown>;
    expect(body).toMatchObject({
      title: "feat: feature-x in default (squadron/feature-x)",
      head: "squadron/feature-x",
      base: "main",
      draft: true,
    });
    expect(body.body).toContain("Total cost: **$2.50**");
    expect(body.body).toContain("| lead | lead | opus | Succeeded | $1.25 |");
    expect(body.body).toContain("| backend | teammate |  | Succeeded | $0.75 |");
    expect(body.body).toContain("backend: users");
    const reviewers = github.requests.find((r) => r.path === "/repos/acme/app/pulls/1/requested_reviewers");
    expect(reviewers?.body).toEqual({ reviewers: ["octocat"], team_reviewers: ["platform"] });
    const labels = github.requests.find((r) => r.path === "/repos/acme/app/issues/1/labels");
    expect(labels?.body).toEqual({ labels: ["squadron", "automated"] });

    // A re-run finds the open pull request instead of failing on "already exists".
    const again = await finalize(options);
    expect(again.ok, again.error).toBe(true);
    expect(again.pullRequestUrl).toBe(result.pullRequestUrl);
    expect(github.pulls).toHaveLength(1);
  });

  it("reports a GitHub refusal as a failed result, not a crash", async () => {
    const { team, runDir, wt } = await setup({
      lifecycle: CREATE_PR,
    });
    commitFiles(wt("backend"), { "src/api/x.ts": "x\n" }, "backend: x");
    github.failNext(/\/pulls$/, 403);
    const result = await finalize({
      runDir,
      team,
      runId: "r7",
      env: { ...process.env, SQUADRON_GITHUB_TOKEN: "ghp_fake" },
      github: { baseUrl: github.baseUrl, owner: "acme", repo: "other" },
    });
    expect(result.ok).toBe(false);
    expect(result.pushed).toBe(true);
    expect(result.error).toMatch(/GitHub refused the pull request .*403/);
  });
});

describe("finalize: notify", () => {
  it("posts the signed outcome, retrying a 500", async () => {
    const received: { headers: http.IncomingHttpHeaders; raw: string }[] = [];
    const server = http.createServer(async (req, res) => {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      received.push({ headers: req.headers, raw });
      res.writeHead(received.length === 1 ? 500 : 200).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const { team, runDir, wt } = await setup({
        observability: { webhook: { url, secretRef: "hook-secret" } },
        lifecycle: {
          timeout: "1h",
          timeoutSeconds: 3600,
          onComplete: "notify",
          approvalGates: [],
          maxRestarts: 3,
        },
      });
      commitFiles(wt("frontend"), { "web/n.ts": "n\n" }, "frontend: n");
      const result = await finalize({
        runDir,
        team,
        runId: "r8",
        agents,
        webhook: { secret: "s3cret", baseDelayMs: 5 },
      });
      expect(result.ok, result.error).toBe(true);
      expect(result.notification).toMatchObject({ url, attempts: 2, status: 200 });
      expect(received).toHaveLength(2);
      const last = received[1] as { headers: http.IncomingHttpHeaders; raw: string };
      const expected = `sha256=${createHmac("sha256", "s3cret").update(last.raw).digest("hex")}`;
      expect(last.headers["x-squadron-signature"]).toBe(expected);
      const payload = JSON.parse(last.raw);
      expect(last.headers["x-squadron-timestamp"]).toBe(payload.timestamp);
      expect(payload).toMatchObject({
        event: "run.completed",
        team: "feature-x",
        runId: "r8",
        costUsd: 2.5,
        phase: "Succeeded",
      });
      expect(payload.outcome.merged).toEqual(["frontend"]);
      expect(result.pushed).toBe(false);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
