import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./local-stack-harness.ts";

/**
 * Issue 15, item 7: the README's "Using it" block, extracted from README.md and run verbatim by
 * bash against a local stack (simulated agents), as a user would paste it after `npm start`: the
 * config file `npm start` writes is in $HOME, commands run from the checkout.
 */
function usingItBlock(): string {
  const readme = readFileSync(join(process.cwd(), "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Using it"));
  const match = /```bash\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error("README.md has no ```bash block under ## Using it");
  return match[1];
}

function bash(script: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
      env,
      cwd: process.cwd(),
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    // A bound, not a timing assertion: a hung `get -w` must not hang the suite.
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("README 'Using it' runs verbatim on the local stack (issue 15: 7)", () => {
  let t: TestStack;
  let home: string;
  beforeAll(async () => {
    t = await startTestStack({ baseDir: process.cwd() });
    home = mkdtempSync(join(tmpdir(), "squadron-readme-home-"));
    mkdirSync(join(home, ".config", "squadron"), { recursive: true });
    writeFileSync(
      join(home, ".config", "squadron", "config.json"),
      JSON.stringify({ endpoint: t.stack.endpoint, token: t.stack.token }),
      { mode: 0o600 },
    );
  }, 120_000);
  afterAll(async () => {
    await t?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("every command succeeds, the teams complete, and the localization is said", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env.XDG_CONFIG_HOME;
    delete env.SQUADRON_CONFIG;
    delete env.SQUADRON_ENDPOINT;
    delete env.SQUADRON_TOKEN;
    delete env.SQUADRON_NAMESPACE;
    const block = usingItBlock();
    const run = await bash(block, env, 600_000);
    expect(run.stderr).not.toMatch(/^squadron: /m);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("team/auth-refactor created");
    expect(run.stdout).toContain("team/q3-report created");
    expect(run.stdout).toContain("team/q3-report gate spawn-writer approved");
    expect(run.stdout).toMatch(/"status":"accepted"/);

    for (const [ns, name] of [
      ["dev-agents", "auth-refactor"],
      ["cowork-agents", "q3-report"],
    ] as const) {
      const view = (await t.api("GET", `/api/namespaces/${ns}/teams/${name}`)).body;
      expect(view.phase, JSON.stringify(view.events?.slice(-3))).toBe("Completed");
    }
    const auth = (await t.api("GET", "/api/namespaces/dev-agents/teams/auth-refactor")).body;
    expect(auth.events).toContainEqual(
      expect.objectContaining({
        type: "Warning",
        reason: "Localized",
        message: expect.stringContaining("git@github.com:acme/backend.git"),
      }),
    );
  }, 660_000);
});
