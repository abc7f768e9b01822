import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import { writeConfig } from "../../cli/config/index.ts";
import { buildProgram } from "../../cli/main.ts";
import type { TeamFilesReader } from "../../core/control/team-files.ts";
import { DirectoryTeamLogs } from "../../core/control/team-logs.ts";
import { parseTeam } from "../../core/manifest/index.ts";
import { apiHandler } from "../../lambdas/api/routes.ts";
import { event, type Harness, harness, newTable } from "../lambdas/harness.ts";
import { type ApiServer, repoRoot, squadron, startApiServer } from "./support/api-server.ts";

// Each test starts the CLI as a real process (tsx compiles it on start) several times; with the
// conformance suites' real CLIs on the other worker that takes seconds each. A limit, not a budget:
// the tests wait on the processes' exits.
vi.setConfig({ testTimeout: 120_000 });

const tmp = mkdtempSync(join(tmpdir(), "squadron-cli-commands-"));
function file(name: string, content: string): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

const TEAM = (name: string, extra = "") => `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: ${name}
${extra}spec:
  repository:
    url: https://example.com/acme/backend.git
  lead:
    prompt: Coordinate.
  teammates:
    - name: backend-api
      prompt: Build the endpoints.
    - name: test-coverage
      prompt: Test them.
      dependsOn: [backend-api]
  lifecycle:
    budgetLimit: "10"
    approvalGates:
      - event: spawn-backend-api
      - event: spawn-test-coverage
`;

const TEMPLATE = readFileSync(join(repoRoot, "examples/fullstack-review-template.yaml"), "utf8");
const RUN = readFileSync(join(repoRoot, "examples/q4-security-review-run.yaml"), "utf8");

/** What a run's shared directory holds, in the runner protocol's shapes. */
const teamFiles: TeamFilesReader = {
  async tasks() {
    return [
      {
        id: "1",
        subject: "Build the OAuth2 endpoints",
        description: "",
        status: "completed",
        owner: "backend-api",
        blocks: ["2"],
        blockedBy: [],
        createdAt: "2026-01-01T10:00:00.000Z",
        updatedAt: "2026-01-01T10:05:00.000Z",
      },
      {
        id: "2",
        subject: "Cover the endpoints with tests",
        description: "",
        status: "pending",
        owner: null,
        blocks: [],
        blockedBy: ["1"],
        createdAt: "2026-01-01T10:00:01.000Z",
        updatedAt: "2026-01-01T10:00:01.000Z",
      },
    ];
  },
  async messages(_runId, agent) {
    const all = [
      {
        to: "backend-api",
        from: "lead",
        text: "Please take task 1.\nThanks.",
        timestamp: "2026-01-01T10:00:02.000Z",
        read: true,
      },
      {
        to: "lead",
        from: "backend-api",
        text: "Done.",
        summary: "done",
        timestamp: "2026-01-01T10:05:00.000Z",
        read: false,
      },
    ];
    return agent ? all.filter((m) => m.to === agent || m.from === agent) : all;
  },
};

/** The runner's stderr lines (runner/reporting/logger.ts) in local mode's log files, one per agent. */
const logsDir = mkdtempSync(join(tmpdir(), "squadron-cli-logs-"));
const runnerLine = (runId: string, agent: string, timestamp: string, message: string) =>
  `${JSON.stringify({ level: "INFO", message, timestamp, service: "squadron-runner", runId, agent, mode: "agent" })}\n`;

let h: Harness;
let server: ApiServer;
let env: Record<string, string>;

beforeAll(async () => {
  h = harness(await newTable(), { teamFiles });
  server = await startApiServer(apiHandler({ ...h.deps, teamLogs: new DirectoryTeamLogs(logsDir) }));
  env = { SQUADRON_ENDPOINT: server.endpoint, SQUADRON_TOKEN: "admin" };
});

afterAll(async () => {
  await server?.close();
});

describe("squadron apply", () => {
  it("applies a template, a team and a run of the template from one multi-document file", async () => {
    const path = file("all.yaml", `${RUN}---\n${TEAM("auth-refactor")}---\n${TEMPLATE}`);
    const result = await squadron(["apply", "-f", path, "-n", "apply-ns"], { env });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    // Templates go first so the run finds its template.
    expect(result.stdout.trimEnd().split("\n")).toEqual([
      "template/fullstack-review created",
      "team/q4-security-review created from template/fullstack-review",
      "team/auth-refactor created",
    ]);
    const posted = server.requests.filter((r) => r.method === "POST").map((r) => r.path);
    expect(posted).toEqual([
      "/api/namespaces/apply-ns/templates",
      "/api/namespaces/apply-ns/templates/fullstack-review/runs",
      "/api/namespaces/apply-ns/teams",
    ]);
    const teams = (await h.deps.store.listRuns("apply-ns")).items.map((r) => r.name).sort();
    expect(teams).toEqual(["auth-refactor", "q4-security-review"]);
  });

  it("updates a template that exists, reading the manifest from stdin", async () => {
    const changed = TEMPLATE.replace('timeout: "1h"', 'timeout: "2h"');
    const result = await squadron(["apply", "-f", "-", "-n", "apply-ns"], { env, input: changed });
    expect(result.stdout).toBe("template/fullstack-review configured\n");
    expect(result.code).toBe(0);
    const stored = await h.deps.store.getTemplate("apply-ns", "fullstack-review");
    expect(stored.template.spec.lifecycle.timeout).toBe("2h");
  });

  it("reports every local problem with file, line and path, sends nothing and exits 1", async () => {
    const before = server.requests.length;
    const path = file(
      "bad.yaml",
      `${TEAM("Bad-Name").replace("dependsOn: [backend-api]", "dependsOn: [nobody]")}`,
    );
    const result = await squadron(["apply", "-f", path], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      `${path}:4: error: metadata.name: The name "Bad-Name" is not a DNS-1123 label`,
    );
    expect(result.stderr).toMatch(
      new RegExp(`${path}:\\d+: error: spec\\.teammates\\[1\\]\\.dependsOn\\[0\\]: `),
    );
    expect(result.stderr).toContain("2 errors; nothing applied.");
    expect(server.requests.length).toBe(before);
  });

  it("prints the API's error with every issue path and exits 1; the same manifest again is unchanged, a changed one exits 4", async () => {
    const run = await squadron(
      ["apply", "-f", join(repoRoot, "examples/q4-security-review-run.yaml"), "-n", "empty-ns"],
      { env },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "squadron: team/q4-security-review: Template empty-ns/fullstack-review not found.\n" +
        "  spec.templateRef.name: no template fullstack-review in empty-ns\n",
    );
    const again = await squadron(["apply", "-f", file("dup.yaml", TEAM("auth-refactor")), "-n", "apply-ns"], {
      env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe("team/auth-refactor unchanged\n");
    const changed = TEAM("auth-refactor").replace("prompt: Test them.", "prompt: Test them twice.");
    const refused = await squadron(["apply", "-f", file("changed.yaml", changed), "-n", "apply-ns"], { env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^squadron: team\/auth-refactor: /);
    expect(refused.stderr).toContain("spec.teammates[1].prompt");
  });

  it("refuses -n that contradicts the manifest's namespace before sending anything", async () => {
    const before = server.requests.length;
    const path = file("ns.yaml", TEAM("ns-team", "  namespace: team-a\n"));
    const result = await squadron(["apply", "-f", path, "-n", "team-b"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is in namespace "team-a", not "team-b" given with -n');
    expect(server.requests.length).toBe(before);
  });
});

describe("squadron get", () => {
  it("prints kagents' columns, and the same teams as JSON and YAML", async () => {
    const table = await squadron(["get", "teams", "-n", "apply-ns"], { env });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]?.split(/\s+/)).toEqual(["NAME", "PHASE", "READY", "TASKS", "DONE", "COST", "AGE"]);
    // Columns line up: every cell starts where its header does.
    const starts = ["PHASE", "READY", "TASKS", "DONE", "COST", "AGE"].map((title) =>
      lines[0]?.indexOf(title),
    );
    for (const line of lines.slice(1))
      for (const start of starts) {
        expect(line[(start ?? 0) - 1]).toBe(" ");
        expect(line[start ?? 0]).not.toBe(" ");
      }
    const rows = lines.slice(1).map((line) => line.split(/\s{3,}|\s(?=\S)/).filter(Boolean));
    expect(rows.find((r) => r[0] === "auth-refactor")).toEqual([
      "auth-refactor",
      "Pending",
      "0/3",
      "0",
      "0",
      "$0.00",
      expect.stringMatching(/^(?:\d+[dhm])*\d+s$/),
    ]);
    expect(rows.find((r) => r[0] === "q4-security-review")?.slice(1, 6)).toEqual([
      "Pending",
      "0/4",
      "0",
      "0",
      "$0.00",
    ]);

    const json = await squadron(["get", "teams", "-n", "apply-ns", "-o", "json"], { env });
    const parsed = JSON.parse(json.stdout) as {
      items: { name: string; ready: string; cost: { budgetUsd: number } }[];
    };
    expect(parsed.items.map((t) => t.name).sort()).toEqual(["auth-refactor", "q4-security-review"]);
    expect(parsed.items.find((t) => t.name === "auth-refactor")).toMatchObject({
      ready: "0/3",
      cost: { budgetUsd: 10 },
    });

    const yaml = await squadron(["get", "teams", "auth-refactor", "-n", "apply-ns", "-o", "yaml"], { env });
    expect(parseYaml(yaml.stdout)).toMatchObject({
      name: "auth-refactor",
      phase: "Pending",
      gates: { "spawn-backend-api": { state: "Pending" } },
    });
  });

  it("follows nextToken pages", async () => {
    for (let i = 0; i < 3; i++) await h.deps.store.createRun(parseTeamFor(`paged-${i}`, "paged"));
    // Ask for one item per page through the client itself: the CLI always reads every page.
    const { SquadronClient } = await import("../../cli/client/index.ts");
    const client = new SquadronClient({
      endpoint: new URL(server.endpoint),
      auth: { kind: "token", token: "admin" },
    });
    const pages = await client.all<{ name: string }>("/api/namespaces/paged/teams", { limit: 1 });
    expect(pages.map((t) => t.name).sort()).toEqual(["paged-0", "paged-1", "paged-2"]);
    expect(
      server.requests.filter((r) => r.path === "/api/namespaces/paged/teams" && r.query.nextToken).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it("lists templates", async () => {
    const result = await squadron(["get", "templates", "-n", "apply-ns"], { env });
    expect(result.stdout.trimEnd().split("\n")).toEqual([
      "NAME               TEAMMATES   TIMEOUT   BUDGET   AGE",
      expect.stringMatching(/^fullstack-review {3}3 {11}2h {8}\$20\.00 {3}(?:\d+[dhm])*\d+s$/),
    ]);
  });

  it("watches without a terminal: prints the table, then each changed row, and ends when all are finished", async () => {
    await squadron(["apply", "-f", file("watched.yaml", TEAM("watched")), "-n", "watch-ns"], { env });
    // Change the team only once the watch has printed its first row: a CLI that starts slowly
    // on a loaded machine must still see the Pending row before the change.
    let sawFirstRow!: () => void;
    const firstRow = new Promise<void>((r) => {
      sawFirstRow = r;
    });
    const watching = squadron(["get", "teams", "-w", "--interval", "0.2", "-n", "watch-ns"], {
      env,
      onStdout: (soFar) => {
        if (/\nwatched\s+Pending/.test(soFar)) sawFirstRow();
      },
    });
    await Promise.race([firstRow, watching]);
    await h.deps.store.cancelRun({ namespace: "watch-ns", name: "watched" }, "Stopped by the test.");
    const result = await watching;
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[1])).toEqual(["Pending", "Cancelled"]);
    expect(result.stdout).not.toContain("\x1b[");
  });
});

/** Seeds through the store directly, as the API would have stored it. */
function parseTeamFor(name: string, namespace: string) {
  return parseTeam(TEAM(name, `  namespace: ${namespace}\n`));
}

describe("squadron describe, approve, deny, tasks, messages, delete", () => {
  it("describes a team: fields, agents, gates, tasks and events", async () => {
    const result = await squadron(["describe", "team", "auth-refactor", "-n", "apply-ns"], { env });
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^Name: +auth-refactor$/m);
    expect(out).toMatch(/^Namespace: +apply-ns$/m);
    expect(out).toMatch(/^Phase: +Pending$/m);
    expect(out).toMatch(/^Cost: +\$0\.00 of \$10\.00 budget$/m);
    expect(out).toMatch(/^ {2}NAME +ROLE +CLI +PHASE +RESTARTS +COST +DEPENDS ON +PENDING APPROVAL$/m);
    expect(out).toMatch(/^ {2}test-coverage +teammate +claude +Pending +0 +\$0\.00 +backend-api +<none>$/m);
    expect(out).toMatch(/^ {2}spawn-backend-api +Pending +<none> +<none>$/m);
    expect(out).toMatch(/^ {2}2 +Cover the endpoints with tests +pending +<none> +1$/m);
    expect(out).toMatch(/^ {2}Type +Reason +Age +From +Message$/m);
    expect(out).toMatch(
      // kubectl's ages: "45s", and "2m1s" once this file has run for more than a minute.
      /^ {2}Normal +Created +(?:\d+[dhm])*\d+s +squadron +Team run auth-refactor-[0-9a-f]{8} created\.$/m,
    );
  });

  it("takes kubectl's forms: KIND/NAME, and options before the subcommand", async () => {
    const slash = await squadron(["describe", "team/auth-refactor", "-n", "apply-ns"], { env });
    expect(slash.code, slash.stderr).toBe(0);
    expect(slash.stdout).toMatch(/^Name: +auth-refactor$/m);
    const leading = await squadron(["-n", "apply-ns", "get", "teams/auth-refactor", "-o", "json"], { env });
    expect(leading.code, leading.stderr).toBe(0);
    expect(JSON.parse(leading.stdout)).toMatchObject({ name: "auth-refactor", namespace: "apply-ns" });
    const value = await squadron(["--namespace=apply-ns", "describe", "team", "auth-refactor"], { env });
    expect(value.code, value.stderr).toBe(0);
    const selected = await squadron(["get", "teams", "-l", "app=nothing-has-this", "-n", "apply-ns"], {
      env,
    });
    expect(selected.code, selected.stderr).toBe(0);
    expect(selected.stderr).toBe("No teams matching app=nothing-has-this found in namespace apply-ns.\n");
  });

  it("approves and denies gates; deciding twice is a conflict (exit 4)", async () => {
    const approve = await squadron(
      ["approve", "team", "auth-refactor", "spawn-backend-api", "-n", "apply-ns"],
      { env },
    );
    expect(approve.stdout).toBe("team/auth-refactor gate spawn-backend-api approved by admin\n");
    expect(approve.code).toBe(0);
    const deny = await squadron(
      ["deny", "team", "auth-refactor", "spawn-test-coverage", "--reason", "later", "-n", "apply-ns"],
      { env },
    );
    expect(deny.stdout).toBe("team/auth-refactor gate spawn-test-coverage denied by admin\n");
    const twice = await squadron(
      ["approve", "team", "auth-refactor", "spawn-backend-api", "-n", "apply-ns"],
      { env },
    );
    expect(twice.code).toBe(4);
    expect(twice.stderr).toBe("squadron: gate spawn-backend-api was already approved by admin\n");
    const gates = (await h.deps.store.getRun({ namespace: "apply-ns", name: "auth-refactor" })).status.gates;
    expect(gates["spawn-backend-api"]?.state).toBe("Approved");
    expect(gates["spawn-test-coverage"]?.state).toBe("Denied");
  });

  it("lists tasks and messages", async () => {
    const tasks = await squadron(["tasks", "team", "auth-refactor", "-n", "apply-ns"], { env });
    expect(tasks.stdout.trimEnd().split("\n")).toEqual([
      "ID   SUBJECT                          STATUS      OWNER         BLOCKED BY",
      "1    Build the OAuth2 endpoints       completed   backend-api   <none>",
      "2    Cover the endpoints with tests   pending     <none>        1",
    ]);
    const messages = await squadron(
      ["messages", "team", "auth-refactor", "--agent", "lead", "-n", "apply-ns"],
      { env },
    );
    expect(messages.stdout).toBe(
      "2026-01-01T10:00:02.000Z  lead → backend-api\n    Please take task 1.\n    Thanks.\n" +
        "2026-01-01T10:05:00.000Z  backend-api → lead (unread)\n    Done.\n",
    );
    expect(server.requests.at(-1)?.query).toEqual({ agent: "lead" });
  });

  it("deletes (cancels) a team, and says so when it had already ended", async () => {
    const first = await squadron(["delete", "team", "q4-security-review", "-n", "apply-ns"], { env });
    expect(first.stdout).toBe(
      "team/q4-security-review cancelled; once it has ended, delete it again to remove it\n",
    );
    expect(
      (await h.deps.store.getRun({ namespace: "apply-ns", name: "q4-security-review" })).status.phase,
    ).toBe("Cancelled");
    expect(h.sfn.of("StopExecution").length).toBeGreaterThan(0);
  });

  it("runs a template", async () => {
    const result = await squadron(
      [
        "run",
        "fullstack-review",
        "--repo",
        "https://example.com/acme/platform.git",
        "--branch",
        "release/4.0",
        "--prompt",
        "Review 4.0",
        "--name",
        "q4-review",
        "-n",
        "apply-ns",
      ],
      { env },
    );
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("team/q4-review created from template/fullstack-review\n");
    const run = await h.deps.store.getRun({ namespace: "apply-ns", name: "q4-review" });
    expect(run.team.spec.repository).toMatchObject({
      url: "https://example.com/acme/platform.git",
      branch: "release/4.0",
    });
    expect(run.team.spec.teammates.map((t) => t.name)).toEqual(["security", "performance", "test-quality"]);
    expect(run.team.spec.lead.prompt).toBe("Review 4.0");
  });
});

describe("squadron logs", () => {
  let line: (agent: string, timestamp: string, message: string) => string;
  beforeAll(async () => {
    const created = await h.api(event("POST", "/api/namespaces/logs-demo/teams", { body: TEAM("demo") }));
    const runId = JSON.parse(created.body).runId as string;
    line = (agent, timestamp, message) => runnerLine(runId, agent, timestamp, message).trimEnd();
    mkdirSync(join(logsDir, runId));
    writeFileSync(
      join(logsDir, runId, "lead.log"),
      `${line("lead", "2026-01-01T10:00:00.000Z", "planning")}\n${line("lead", "2026-01-01T10:00:02.000Z", "waiting for teammates")}\n`,
    );
    writeFileSync(
      join(logsDir, runId, "backend-api.log"),
      `${line("backend-api", "2026-01-01T10:00:01.000Z", "cloning")}\n`,
    );
  });

  it("reads the runner's lines through the logs route, prefixing the agent, or one agent's lines alone", async () => {
    // Pretty by default: the agent and the message; -o json prints the runner's lines as they are.
    const pretty = await squadron(["logs", "team", "demo", "-n", "logs-demo"], { env });
    expect(pretty.stderr).toBe("");
    expect(pretty.stdout).toBe("[lead] planning\n[backend-api] cloning\n[lead] waiting for teammates\n");
    const all = await squadron(["logs", "team", "demo", "-n", "logs-demo", "-o", "json"], { env });
    expect(all.stderr).toBe("");
    expect(all.stdout).toBe(
      `[lead] ${line("lead", "2026-01-01T10:00:00.000Z", "planning")}\n` +
        `[backend-api] ${line("backend-api", "2026-01-01T10:00:01.000Z", "cloning")}\n` +
        `[lead] ${line("lead", "2026-01-01T10:00:02.000Z", "waiting for teammates")}\n`,
    );
    const lead = await squadron(
      [
        "logs",
        "team",
        "demo",
        "lead",
        "--timestamps",
        "--since",
        "2026-01-01T10:00:02Z",
        "-n",
        "logs-demo",
        "-o",
        "json",
      ],
      { env },
    );
    expect(lead.stdout).toBe(
      `2026-01-01T10:00:02.000Z ${line("lead", "2026-01-01T10:00:02.000Z", "waiting for teammates")}\n`,
    );
    const ghost = await squadron(["logs", "team", "demo", "ghost", "-n", "logs-demo"], { env });
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain(
      "team demo has no agent ghost; its agents are lead, backend-api, test-coverage",
    );
  });

  it("explains that an API without a logs reader has no logs route (exit 3)", async () => {
    const bare = await startApiServer(h.api);
    try {
      const result = await squadron(["logs", "team", "auth-refactor", "-n", "apply-ns"], {
        env: { ...env, SQUADRON_ENDPOINT: bare.endpoint },
      });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(
        "squadron: this API has no logs route (GET /api/namespaces/apply-ns/teams/auth-refactor/logs)",
      );
    } finally {
      await bare.close();
    }
  });
});

describe("exit codes and connection", () => {
  it("not found is 3, usage is 2, bad token is 6", async () => {
    const missing = await squadron(["describe", "team", "nope", "-n", "apply-ns"], { env });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^squadron: .*nope.*\n$/);
    const usage = await squadron(["get", "teams", "--bogus"], { env });
    expect(usage.code).toBe(2);
    // One line and a hint, not the whole help.
    expect(usage.stderr).toBe(
      "error: unknown option '--bogus'\nRun 'squadron --help' or 'squadron COMMAND --help' for usage.\n",
    );
    const version = await squadron(["version"], { env });
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^squadron \d+\.\d+\.\d+ \(node v\d+/);
    const kind = await squadron(["get", "pods"], { env });
    expect(kind.code).toBe(2);
    expect(kind.stderr).toBe(
      'squadron: unknown resource type "pods"; use "team", "template", "trigger" or "schedule"\n',
    );
    const denied = await squadron(["get", "teams"], { env: { ...env, SQUADRON_TOKEN: "wrong" } });
    expect(denied.code).toBe(6);
    expect(denied.stderr).toBe("squadron: unknown bearer token\n");
  });

  it("cannot reach the endpoint: 5, and no endpoint at all: 5", async () => {
    const closed = await startApiServer(async () => ({ statusCode: 200, body: "{}" }));
    await closed.close();
    const refused = await squadron(["get", "teams"], { env: { SQUADRON_ENDPOINT: closed.endpoint } });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toBe(
      `squadron: cannot reach ${closed.endpoint}: connection refused (is the local stack running? start it with \`squadron up\`)\n`,
    );
    const none = await squadron(["get", "teams"]);
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/^squadron: no endpoint: pass --endpoint URL, set SQUADRON_ENDPOINT/);
  });

  it("reads endpoint and token from the config file, and --endpoint wins over the environment", async () => {
    const config = join(tmp, "config", "config.json");
    await writeConfig({ endpoint: server.endpoint, token: "admin" }, config);
    const fromConfig = await squadron(["get", "teams", "-n", "apply-ns", "-o", "json"], {
      env: { SQUADRON_CONFIG: config },
    });
    expect(fromConfig.code).toBe(0);
    expect(server.requests.at(-1)?.headers.authorization).toBe("Bearer admin");
    const flag = await squadron(
      ["get", "teams", "-n", "apply-ns", "-o", "json", "--endpoint", server.endpoint],
      {
        env: { SQUADRON_ENDPOINT: "http://127.0.0.1:9", SQUADRON_TOKEN: "admin" },
      },
    );
    expect(flag.code).toBe(0);
  });

  it("has --help with examples on every command, and the exit codes on the top level", async () => {
    const top = await squadron(["--help"]);
    expect(top.stdout).toContain("Exit status:");
    expect(top.stdout).toContain("5    cannot reach the endpoint");
    const get = await squadron(["get", "--help"]);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain("Examples:\n  squadron get teams\n");
    // The other commands in-process: the same program, without a process each.
    const program = await buildProgram();
    for (const name of [
      "apply",
      "describe",
      "approve",
      "deny",
      "logs",
      "messages",
      "tasks",
      "delete",
      "run",
    ]) {
      const command = program.commands.find((c) => c.name() === name);
      let text = "";
      command?.configureOutput({ writeOut: (s) => (text += s) });
      command?.outputHelp();
      expect(text, name).toContain(`Usage: squadron ${name}`);
      expect(text, name).toContain("Examples:\n  squadron ");
    }
  });
});
