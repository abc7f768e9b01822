/**
 * Local mode: the stack's secrets stay out of the agents' reach (issue 14, point 3). A confined
 * token's team used to read `$SQUADRON_OBJECT_STORE_DIR/../tokens.json` from an agent step and get
 * the admin token back through its own logs route. Here a scripted agent of a team applied with a
 * token confined to `dev` tries the recipes an agent would (the token file next to every directory
 * it is told about, the CLI config, its whole environment) and writes down what it saw; what it saw
 * is asserted, and the logs, messages and tasks routes never return a token of the stack.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED_TOKEN } from "../../local/redact-tokens.ts";
import { inheritedRunnerEnv } from "../../local/runner-env.ts";
import { agentCliEnv } from "../../runner/adapters/cli-env.ts";
import { apiFor, envWithoutAgentKeys, startTestStack, type TestStack } from "../e2e/local-stack-harness.ts";
import { createBareRepo } from "../support/git-fixtures.ts";
import { scripted, teamManifest } from "../support/scripted-team.ts";

const ADMIN = "sqd_admin_planted_for_the_reach_test_0123456789";
const CONFINED = "sqd_confined_dev_planted_for_the_reach_test_0123";
const PLANTED = {
  // What a developer's shell typically holds: none of it is a runner's business.
  AWS_SECRET_ACCESS_KEY: "planted-aws-secret-key",
  AWS_SESSION_TOKEN: "planted-aws-session-token",
  NPM_TOKEN: "planted-npm-token",
  DATABASE_URL: "postgres://planted:planted-db-password@db/prod",
  SQUADRON_CONFIG: "", // set below: the CLI config holding the admin token
};

let t: TestStack;
let root: string;
let bare: string;
let dataDir: string;
let cliConfig: string;

/** Every way the agent might look for a token, and its whole environment, into seen.txt. */
const PROBE = [
  'echo "== env"; env',
  'echo "== object store parent"; cat "$SQUADRON_OBJECT_STORE_DIR/../tokens.json"',
  'echo "== team dir parent"; cat "$SQUADRON_TEAM_DIR/../../tokens.json"',
  'echo "== cwd ancestors"; for up in .. ../.. ../../.. ../../../..; do cat "$up/tokens.json"; done',
  'echo "== CLI config"; cat "$SQUADRON_CONFIG"',
].join("; ");

function team(name: string, leadScript: unknown[]) {
  return teamManifest(name, bare, {
    lead: scripted("lead", leadScript),
    lifecycle: { timeout: "5m", onComplete: "none" },
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "squadron-reach-"));
  bare = createBareRepo(root).bare;
  dataDir = join(root, "data");
  mkdirSync(dataDir);
  cliConfig = join(root, "cli-config.json");
  writeFileSync(cliConfig, JSON.stringify({ endpoint: "http://127.0.0.1:1", token: ADMIN }));
  // An existing install: the token file where earlier versions kept it, in the data directory.
  writeFileSync(
    join(dataDir, "tokens.json"),
    JSON.stringify({
      [ADMIN]: { name: "admin", namespaces: "*" },
      [CONFINED]: { name: "ci", namespaces: ["dev"] },
    }),
    { mode: 0o600 },
  );
  t = await startTestStack({
    dataDir,
    env: { ...envWithoutAgentKeys(), ...PLANTED, SQUADRON_CONFIG: cliConfig },
  });
}, 60_000);

afterAll(async () => {
  await t?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return full;
    if (entry.isDirectory() && !entry.isSymbolicLink() && entry.name !== ".git") {
      const found = findFile(full, name);
      if (found) return found;
    }
  }
  return undefined;
}

describe("local mode keeps the stack's secrets from its agents", () => {
  it("moves the token file out of the data directory; the tokens keep working", async () => {
    expect(existsSync(join(dataDir, "tokens.json"))).toBe(false);
    expect(t.stack.paths.tokens.startsWith(`${t.stack.paths.dataDir}/`)).toBe(false);
    expect(JSON.parse(readFileSync(t.stack.paths.tokens, "utf8"))).toHaveProperty([CONFINED]);
    expect(t.stack.token).toBe(ADMIN);
    const confined = apiFor(t.stack.endpoint, CONFINED);
    expect((await confined("GET", "/api/namespaces/dev/teams")).status).toBe(200);
    expect((await confined("GET", "/api/namespaces/default/teams")).status).toBe(403);
  });

  it("an agent step finds no token and none of the stack's secrets, in files or its environment", async () => {
    const confined = apiFor(t.stack.endpoint, CONFINED);
    const script = [
      { exec: `{ ${PROBE}; } > seen.txt 2>&1`, allowFailure: true },
      { call: "finish", args: { summary: "probed" } },
    ];
    const created = await confined("POST", "/api/namespaces/dev/teams", team("probe", script));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { view } = await t.follow("dev", "probe");
    expect(view.phase, view.message).toBe("Completed");

    const seenFile = findFile(join(t.stack.paths.runs, view.runId), "seen.txt");
    expect(seenFile).toBeDefined();
    const seen = readFileSync(seenFile as string, "utf8");
    // The probe ran: its environment dump is there.
    expect(seen).toMatch(/^== env$/m);
    expect(seen).toMatch(/^SQUADRON_AGENT_NAME=lead$/m);
    for (const secret of [ADMIN, CONFINED, ...Object.values(PLANTED).filter(Boolean)]) {
      expect(seen, `the agent saw ${secret}`).not.toContain(secret);
    }
    // Nothing in its environment names the store, the object store or the CLI config.
    for (const name of [
      "SQUADRON_DYNAMODB_ENDPOINT",
      "SQUADRON_TABLE_NAME",
      "SQUADRON_OBJECT_STORE_DIR",
      "SQUADRON_CONFIG",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "NPM_TOKEN",
      "DATABASE_URL",
    ]) {
      expect(seen, `the agent's environment has ${name}`).not.toMatch(new RegExp(`^${name}=`, "m"));
    }
    expect(seen).not.toContain(t.stack.paths.secrets);

    // What its logs route returns to the confined token holds no token either.
    const logs = await confined("GET", "/api/namespaces/dev/teams/probe/logs");
    expect(logs.status).toBe(200);
    const text = JSON.stringify(logs.body);
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain(CONFINED);
  }, 120_000);

  it("a token an agent got hold of some other way is never returned by the logs, messages or tasks routes", async () => {
    const confined = apiFor(t.stack.endpoint, CONFINED);
    // The worst case: the agent has the admin token (here: its script holds it) and prints it
    // into its log, a message to the lead and a task.
    const script = [
      { say: `found ${ADMIN}` },
      { call: "send_message", args: { to: "lead", text: `admin is ${ADMIN}`, summary: ADMIN } },
      { call: "task_create", args: { subject: `leak ${ADMIN}`, description: ADMIN } },
      { call: "finish", args: { summary: `leaked ${ADMIN}` } },
    ];
    const created = await confined("POST", "/api/namespaces/dev/teams", team("leaker", script));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { view } = await t.follow("dev", "leaker");
    expect(view.phase, view.message).toBe("Completed");
    let redactions = 0;
    for (const route of ["logs", "messages", "tasks", ""]) {
      const res = await confined("GET", `/api/namespaces/dev/teams/leaker${route ? `/${route}` : ""}`);
      expect(res.status, route).toBe(200);
      const text = JSON.stringify(res.body);
      expect(text, route).not.toContain(ADMIN);
      if (text.includes(REDACTED_TOKEN)) redactions++;
    }
    // The token was there to redact (the routes did return what the agent wrote).
    expect(redactions).toBeGreaterThanOrEqual(3);
  }, 120_000);
});

describe("the environments runners and agent CLIs inherit", () => {
  it("a runner inherits an allow-list of the stack's environment", () => {
    const env = inheritedRunnerEnv({
      PATH: "/bin",
      HOME: "/home/u",
      ANTHROPIC_API_KEY: "k",
      SQUADRON_POLL_INTERVAL_MS: "100",
      SQUADRON_SECRET_SLACK: "s",
      LC_ALL: "C",
      ...PLANTED,
      SQUADRON_CONFIG: "/home/u/.config/squadron/config.json",
      AWS_ACCESS_KEY_ID: "AKIA",
      AWS_PROFILE: "prod",
    });
    expect(env).toEqual({
      PATH: "/bin",
      HOME: "/home/u",
      ANTHROPIC_API_KEY: "k",
      SQUADRON_POLL_INTERVAL_MS: "100",
      SQUADRON_SECRET_SLACK: "s",
      LC_ALL: "C",
    });
  });

  it("an agent CLI inherits none of its runner's store endpoints, credentials or secrets", () => {
    const env = agentCliEnv({
      PATH: "/bin",
      ANTHROPIC_API_KEY: "k",
      SQUADRON_AGENT_NAME: "lead",
      SQUADRON_RUNNER_MARK: "m",
      SQUADRON_DYNAMODB_ENDPOINT: "http://127.0.0.1:1",
      SQUADRON_TABLE_NAME: "t",
      SQUADRON_OBJECT_STORE_DIR: "/data/objects",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      SQUADRON_GITHUB_TOKEN: "ghp",
      GITHUB_TOKEN: "ghp",
      SQUADRON_SECRET_SLACK: "s",
      SQUADRON_WEBHOOK_SECRET: "w",
      SSH_AUTH_SOCK: "/run/ssh-agent.sock",
    });
    expect(env).toEqual({
      PATH: "/bin",
      ANTHROPIC_API_KEY: "k",
      SQUADRON_AGENT_NAME: "lead",
      SQUADRON_RUNNER_MARK: "m",
    });
  });
});
