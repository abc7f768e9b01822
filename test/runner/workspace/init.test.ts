import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { credentialHelperArgs, gitEnv, redact } from "../../../runner/workspace/git.ts";
import { initWorkspace } from "../../../runner/workspace/init.ts";
import {
  commitFiles,
  createBareRepo,
  runGit,
  startGitHttpServer,
  tempDir,
} from "../../support/git-fixtures.ts";
import { agent, codingTeam, scope } from "./team-fixture.ts";

const TOKEN = "ghs_fixtureToken1234567890abcdef";

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

describe("coding workspace init", () => {
  const root = tempDir();
  afterAll(() => execFileSync("rm", ["-rf", root]));

  it("clones once, gives the lead its branch and each teammate a worktree and branch, twice without harm", async () => {
    const { bare } = createBareRepo(root);
    const team = codingTeam(bare, [
      agent("frontend", "teammate", {
        skills: [{ name: "style", source: { inline: "# Style\nUse tabs.\n" } }],
      }),
      agent("backend", "teammate", { scope: scope(["src/api/**"]) }),
    ]);
    const runDir = path.join(root, "run1");
    const first = await initWorkspace({ runDir, team, env: {} });
    const again = await initWorkspace({ runDir, team, env: {} });
    expect(again.agents).toEqual(first.agents);

    const repo = path.join(runDir, "repo");
    expect(runGit(repo, ["symbolic-ref", "--short", "HEAD"]).trim()).toBe("squadron/feature-x/lead");
    const worktrees = runGit(repo, ["worktree", "list", "--porcelain"]);
    for (const name of ["frontend", "backend"]) {
      const dir = path.join(runDir, "worktrees", name);
      expect(worktrees).toContain(`worktree ${dir}`);
      expect(runGit(dir, ["symbolic-ref", "--short", "HEAD"]).trim()).toBe(`squadron/feature-x/${name}`);
      expect(existsSync(path.join(dir, "README.md"))).toBe(true);
    }
    expect(first.agents.map((a) => [a.name, a.cwd])).toEqual([
      ["lead", repo],
      ["frontend", path.join(runDir, "worktrees", "frontend")],
      ["backend", path.join(runDir, "worktrees", "backend")],
    ]);
    // Skills land in the agent's cwd and stay out of `git add -A`.
    const skill = path.join(runDir, "worktrees", "frontend", ".claude", "skills", "style", "SKILL.md");
    expect(readFileSync(skill, "utf8")).toContain("Use tabs.");
    expect(runGit(path.join(runDir, "worktrees", "frontend"), ["status", "--porcelain"]).trim()).toBe("");
    // Commits are attributed to the agent.
    const sha = commitFiles(
      path.join(runDir, "worktrees", "frontend"),
      { "web/a.ts": "a\n" },
      "frontend work",
    );
    expect(runGit(repo, ["log", "-1", "--format=%an", sha]).trim()).toBe("frontend (squadron feature-x)");
  });

  it("refuses repository URLs with embedded credentials without echoing the secret", async () => {
    const team = codingTeam(`https://user:${TOKEN}@example.com/o/r.git`, []);
    const error = await initWorkspace({ runDir: path.join(root, "run-bad"), team, env: {} }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("embeds credentials");
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it("authenticates through the credential helper without writing the token anywhere", async () => {
    const served = tempDir("squadron-http-");
    createBareRepo(served, undefined, "main", "team.git");
    const server = await startGitHttpServer(served, "x-access-token", TOKEN);
    try {
      const team = codingTeam(`${server.url}/team.git`, [agent("backend", "teammate")]);
      const runDir = path.join(root, "run-http");
      const env = { ...process.env, SQUADRON_GIT_TOKEN: TOKEN };
      const result = await initWorkspace({ runDir, team, env });
      expect(result.coding?.checkouts).toHaveLength(2);
      expect(server.authorizations).toContain(
        `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`,
      );
      for (const file of filesUnder(runDir)) {
        expect(readFileSync(file).includes(TOKEN), `token found in ${file}`).toBe(false);
      }
      expect(readFileSync(path.join(runDir, "repo", ".git", "config"), "utf8")).toContain(
        `url = ${server.url}/team.git`,
      );

      // Without the token the same clone is refused, and the error text carries no secret.
      const denied = await initWorkspace({
        runDir: path.join(root, "run-http-denied"),
        team,
        env: { PATH: process.env.PATH },
      }).catch((e: Error) => e);
      expect((denied as Error).message).toMatch(/workspace init failed: git clone .* failed/);

      // `git credential fill` with the helper answers for the server's origin only.
      const fill = (url: string) =>
        execFileSync("git", [...credentialHelperArgs(server.url), "credential", "fill"], {
          input: `url=${url}\n\n`,
          env: gitEnv({ PATH: process.env.PATH, SQUADRON_GIT_TOKEN: TOKEN }),
          encoding: "utf8",
          stdio: ["pipe", "pipe", "pipe"],
        });
      expect(fill(`${server.url}/team.git`)).toContain(`password=${TOKEN}`);
      expect(() => fill("https://elsewhere.example.com/x.git")).toThrow();
    } finally {
      await server.close();
      execFileSync("rm", ["-rf", served]);
    }
  });

  it("redacts tokens and URL passwords", () => {
    const env = { GITHUB_TOKEN: TOKEN };
    expect(redact(`fatal: https://u:${TOKEN}@h/x and ${TOKEN}`, env)).toBe(
      "fatal: https://u:***@h/x and ***",
    );
  });

  it("installs an executable scope hook only where a scope is set", async () => {
    const runDir = path.join(root, "run1");
    const backendGitDir = runGit(path.join(runDir, "worktrees", "backend"), [
      "rev-parse",
      "--absolute-git-dir",
    ]).trim();
    expect(statSync(path.join(backendGitDir, "squadron", "hooks", "pre-commit")).mode & 0o111).not.toBe(0);
    expect(() =>
      runGit(path.join(runDir, "worktrees", "frontend"), ["config", "--get", "core.hooksPath"]),
    ).toThrow();
  });
});
