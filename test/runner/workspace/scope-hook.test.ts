import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { commitFiles, createBareRepo, runGit, tempDir } from "../../support/git-fixtures.ts";
import { bundledRunner, startRunner, writeRunManifest } from "../session/fixtures.ts";
import { agent, codingTeam, scope } from "./team-fixture.ts";

const sources = fileURLToPath(new URL("../../../runner/entrypoint.ts", import.meta.url));

/**
 * The scope hook as agents meet it: the runner's init mode installs it (the sources through tsx,
 * as local mode runs them, and the bundle, as the container runs it), then an agent commits in its
 * worktree with plain `git commit`. Under tsx the old hook embedded compiled text that called
 * esbuild's `__name` helper and refused every commit.
 */
describe.each([
  ["local mode (sources through tsx)", async () => sources],
  ["the bundled runner", async () => path.join(await bundledRunner(), "entrypoint.js")],
])("the scope pre-commit hook installed by %s", (_label, entryOf) => {
  const root = tempDir();
  afterAll(() => rm(root, { recursive: true, force: true }));

  async function initWorkspace(name: string): Promise<string> {
    const { bare } = createBareRepo(
      root,
      { "README.md": "# demo\n", "src/a.ts": "a\n" },
      "main",
      `${name}.git`,
    );
    const team = codingTeam(bare, [
      agent("backend", "teammate", { scope: scope(["src/**"], ["src/gen/**"]) }),
    ]);
    const runDir = path.join(root, name);
    await mkdir(runDir, { recursive: true });
    const manifest = await writeRunManifest(runDir, `r-${name}`, team);
    const run = startRunner(await entryOf(), {
      SQUADRON_MODE: "init",
      SQUADRON_RUN_ID: `r-${name}`,
      SQUADRON_TEAM_DIR: runDir,
      SQUADRON_RUN_MANIFEST: manifest,
    });
    const { code, stderr } = await run.result;
    expect(code, stderr).toBe(0);
    return path.join(runDir, "worktrees", "backend");
  }

  function commit(worktree: string, file: string) {
    return spawnSync("git", ["commit", "-q", "-m", `add ${file}`], { cwd: worktree, encoding: "utf8" });
  }

  it("lets the agent commit in scope and refuses out of scope, naming the path", async () => {
    const worktree = await initWorkspace("hook");
    await writeFile(path.join(worktree, "src", "b.ts"), "b\n");
    runGit(worktree, ["add", "src/b.ts"]);
    const inScope = commit(worktree, "src/b.ts");
    expect(inScope.status, inScope.stderr).toBe(0);
    expect(runGit(worktree, ["log", "-1", "--format=%s"]).trim()).toBe("add src/b.ts");

    await mkdir(path.join(worktree, "src", "gen"), { recursive: true });
    await writeFile(path.join(worktree, "README.md"), "# changed\n");
    await writeFile(path.join(worktree, "src", "gen", "x.ts"), "x\n");
    runGit(worktree, ["add", "README.md", "src/gen/x.ts"]);
    const outside = commit(worktree, "README.md");
    expect(outside.status).toBe(1);
    expect(outside.stderr).toContain("outside the scope of backend");
    expect(outside.stderr).toContain("  README.md");
    expect(outside.stderr).toContain("  src/gen/x.ts");
    expect(runGit(worktree, ["log", "-1", "--format=%s"]).trim()).toBe("add src/b.ts");
  });
});

describe("fallback commits", () => {
  const root = tempDir();
  afterAll(() => rm(root, { recursive: true, force: true }));

  it("are reported: finalize lists what the runner committed for an agent", async () => {
    const { finalize } = await import("../../../runner/finalize/finalize.ts");
    const { initWorkspace } = await import("../../../runner/workspace/init.ts");
    const { bare } = createBareRepo(root, { "README.md": "# demo\n" }, "main", "fb.git");
    const team = codingTeam(bare, [agent("writer", "teammate")]);
    const runDir = path.join(root, "fb");
    await initWorkspace({ runDir, team, env: {} });
    const wt = path.join(runDir, "worktrees", "writer");
    commitFiles(wt, { "own.md": "mine\n" }, "writer: own work");
    await writeFile(path.join(wt, "left.md"), "forgotten\n");
    const result = await finalize({ runDir, team, runId: "r-fb" });
    expect(result.ok, result.error).toBe(true);
    expect(result.fallbackCommits).toEqual([
      { agent: "writer", sha: expect.any(String), files: ["left.md"] },
    ]);
  });
});
