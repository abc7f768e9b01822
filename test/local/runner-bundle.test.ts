/**
 * Local mode runs the bundled runner, team server and scripted agent by default, as the container
 * does (issue 15, item 10): three plain Node processes per agent instead of three tsx processes
 * that compile the sources at every start. The bundle is rebuilt when its sources change, and a
 * build that fails stops the start with a message that says what to do. Between turns the runners
 * wait on file-system events, not short polls: with every poll set to an hour a team still runs.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ensureRunnerBundle, RunnerBundleError, runnerSourceHash } from "../../local/runner-bundle.ts";
import { DEFAULT_RUNNER_V8_FLAGS } from "../../local/runner-process.ts";
import type { ProcessEvent } from "../../local/stack.ts";
import { startTestStack, type TestStack } from "../e2e/local-stack-harness.ts";
import { scripted, teamManifest } from "../support/scripted-team.ts";

const dirs: string[] = [];
let stack: TestStack | undefined;
afterAll(async () => {
  await stack?.cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

describe("the runner bundle of local mode", () => {
  it("starts runners with V8 flags that keep fetch working (WebAssembly: undici parses HTTP with it)", async () => {
    // Finalize opens pull requests and the runner sends webhooks through fetch; `--lite-mode`
    // once made every such call throw "WebAssembly is not defined".
    const probe =
      "new WebAssembly.Memory({ initial: 1 }); fetch('http://127.0.0.1:9/').catch((e) => { if (/WebAssembly/.test(String(e?.cause ?? e))) process.exit(3); });";
    const result = spawnSync(process.execPath, [...DEFAULT_RUNNER_V8_FLAGS, "-e", probe], {
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("is keyed by the contents of runner/, core/ and the lock file", async () => {
    const root = tempDir("squadron-bundle-src-");
    mkdirSync(join(root, "runner"), { recursive: true });
    mkdirSync(join(root, "core", "x"), { recursive: true });
    writeFileSync(join(root, "runner", "entrypoint.ts"), "export {};\n");
    writeFileSync(join(root, "core", "x", "y.ts"), "export const a = 1;\n");
    writeFileSync(join(root, "package-lock.json"), "{}\n");
    writeFileSync(join(root, "README.md"), "not a source\n");
    const first = await runnerSourceHash(root);
    expect(await runnerSourceHash(root)).toBe(first);
    writeFileSync(join(root, "README.md"), "edited, still not a source\n");
    expect(await runnerSourceHash(root)).toBe(first);
    writeFileSync(join(root, "core", "x", "y.ts"), "export const a = 2;\n");
    const second = await runnerSourceHash(root);
    expect(second).not.toBe(first);
    writeFileSync(join(root, "package-lock.json"), '{"lockfileVersion":3}\n');
    expect(await runnerSourceHash(root)).not.toBe(second);
  });

  it("stops the start with the build's error and the way out when the runner does not bundle", async () => {
    const cacheDir = tempDir("squadron-bundle-fail-");
    const failed = ensureRunnerBundle({
      cacheDir,
      build: async () => {
        throw new Error('runner/session/loop.ts:12:3: ERROR: Expected ";" but found "}"');
      },
    });
    await expect(failed).rejects.toBeInstanceOf(RunnerBundleError);
    await expect(failed).rejects.toThrow(
      /Could not bundle the runner \(runner\/build\.ts\): runner\/session\/loop\.ts:12:3: ERROR[\s\S]*SQUADRON_RUNNER_ENTRY=runner\/entrypoint\.ts/,
    );
  });

  it("runs a team on the bundle, woken by file changes (every poll set to an hour)", async () => {
    const hour = String(60 * 60 * 1000);
    stack = await startTestStack({
      runnerEnv: { SQUADRON_POLL_INTERVAL_MS: hour, SQUADRON_SCRIPTED_POLL_MS: hour },
    });
    const commands: string[] = [];
    stack.stack.events.on("process", (e: ProcessEvent) => {
      if (e.phase !== "started") return;
      try {
        commands.push(readFileSync(`/proc/${e.pid}/cmdline`, "utf8").split("\0").join(" ").trim());
      } catch {
        commands.push(`(pid ${e.pid} already gone)`);
      }
    });
    const repo = tempDir("squadron-bundle-repo-");
    const { execFileSync } = await import("node:child_process");
    const git = (...args: string[]) =>
      execFileSync("git", args, {
        cwd: repo,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@t",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@t",
        },
      });
    git("init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "# t\n");
    git("add", "README.md");
    git("commit", "-q", "-m", "initial");
    const manifest = stringify(
      teamManifest("bundled", `file://${repo}`, {
        lead: scripted("lead"),
        teammates: [scripted("mate")],
        lifecycle: { timeout: "10m", onComplete: "none" },
      }),
    );
    const created = await stack.api("POST", "/api/namespaces/default/teams", manifest, {
      contentType: "application/yaml",
    });
    expect(created.status).toBe(201);
    const { view } = await stack.follow("default", "bundled", undefined, 240_000);
    expect(view.phase).toBe("Completed");
    // init, lead, mate, finalize: each the bundled entrypoint under plain node, no tsx loader.
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const command of commands) {
      expect(command).toMatch(/runner-bundle\/[0-9a-f]{16}\/entrypoint\.js$/);
      expect(command).not.toContain("tsx");
    }
  }, 300_000);
});
