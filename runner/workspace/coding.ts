import { appendFile, mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import { type RunLayout, teammateBranch } from "../../core/run-files/layout.ts";
import { enableWorktreeConfig, installScopeHook } from "../scope/hook.ts";
import { isRestricted } from "../scope/match.ts";
import { assertNoEmbeddedCredentials, git, gitStatus, httpOrigin } from "./git.ts";

export interface AgentCheckout {
  agent: string;
  role: "lead" | "teammate";
  dir: string;
  branch: string;
}

export interface CodingWorkspace {
  repoDir: string;
  /** The repository branch work starts from and pull requests target. */
  baseBranch: string;
  checkouts: AgentCheckout[];
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/**
 * Clones the repository once into `<runDir>/repo` (the lead's checkout, on its own branch) and
 * adds one worktree and branch per teammate. Safe to run again: existing clones, branches and
 * worktrees are reused, never reset, so a retried init cannot lose an agent's work.
 */
export async function prepareCodingWorkspace(
  layout: RunLayout,
  team: AgentTeam,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CodingWorkspace> {
  const repository = team.spec.repository;
  if (!repository) throw new Error(`team ${team.metadata.name} is in coding mode but has no spec.repository`);
  assertNoEmbeddedCredentials(repository.url);
  const base = repository.branch;
  const credentialsFor = httpOrigin(repository.url);
  const repoDir = layout.repoDir;
  await mkdir(layout.runDir, { recursive: true });

  if (!(await exists(path.join(repoDir, ".git")))) {
    // A clone interrupted before .git appeared leaves a directory git refuses to clone into.
    await rm(repoDir, { recursive: true, force: true });
    await git(["clone", "--no-recurse-submodules", "--branch", base, "--", repository.url, repoDir], {
      cwd: layout.runDir,
      env,
      credentialsFor,
    });
  }
  // Containers have no global git identity; merges made at finalize are Squadron's own.
  await git(["config", "user.name", "Squadron"], { cwd: repoDir });
  await git(["config", "user.email", `squadron@${team.metadata.name}.squadron.invalid`], { cwd: repoDir });
  await git(["config", "commit.gpgsign", "false"], { cwd: repoDir });
  await enableWorktreeConfig(repoDir);

  const teamName = team.metadata.name;
  const lead = team.spec.lead;
  const leadBranch = teammateBranch(teamName, lead.name);
  const current = (
    await gitStatus(["symbolic-ref", "--quiet", "--short", "HEAD"], { cwd: repoDir })
  ).stdout.trim();
  if (current !== leadBranch) {
    const hasBranch =
      (await gitStatus(["rev-parse", "--verify", "--quiet", `refs/heads/${leadBranch}`], { cwd: repoDir }))
        .code === 0;
    await git(hasBranch ? ["checkout", leadBranch] : ["checkout", "-b", leadBranch, `origin/${base}`], {
      cwd: repoDir,
    });
  }
  const checkouts: AgentCheckout[] = [{ agent: lead.name, role: "lead", dir: repoDir, branch: leadBranch }];
  await configureCheckout(repoDir, teamName, lead);

  const registered = await registeredWorktrees(repoDir);
  let pruned = false;
  for (const mate of team.spec.teammates) {
    const dir = path.join(layout.worktreesDir, mate.name);
    const branch = teammateBranch(teamName, mate.name);
    if (!registered.has(dir) || !(await exists(path.join(dir, ".git")))) {
      if (!pruned) {
        await git(["worktree", "prune"], { cwd: repoDir });
        pruned = true;
      }
      await mkdir(layout.worktreesDir, { recursive: true });
      const hasBranch =
        (await gitStatus(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { cwd: repoDir }))
          .code === 0;
      await git(
        hasBranch
          ? ["worktree", "add", dir, branch]
          : ["worktree", "add", "-b", branch, dir, `origin/${base}`],
        { cwd: repoDir },
      );
    }
    await configureCheckout(dir, teamName, mate);
    checkouts.push({ agent: mate.name, role: "teammate", dir, branch });
  }
  return { repoDir, baseBranch: base, checkouts };
}

/** Per-worktree identity (commits say which agent made them) and the scope hook. */
async function configureCheckout(dir: string, teamName: string, agent: AgentSpec): Promise<void> {
  await git(["config", "--worktree", "user.name", `${agent.name} (squadron ${teamName})`], { cwd: dir });
  await git(["config", "--worktree", "user.email", `${agent.name}@${teamName}.squadron.invalid`], {
    cwd: dir,
  });
  if (isRestricted(agent.scope)) await installScopeHook(dir, agent.name, agent.scope);
}

async function registeredWorktrees(repoDir: string): Promise<Set<string>> {
  const out = await git(["worktree", "list", "--porcelain"], { cwd: repoDir });
  return new Set(
    out
      .split("\n")
      .filter((l) => l.startsWith("worktree "))
      .map((l) => path.resolve(l.slice("worktree ".length))),
  );
}

/** Keeps files Squadron writes into a checkout (skills) out of the agents' `git add -A`. */
export async function excludeFromGit(repoDir: string, patterns: string[]): Promise<void> {
  const commonDir = path.resolve(
    repoDir,
    (await git(["rev-parse", "--git-common-dir"], { cwd: repoDir })).trim(),
  );
  const file = path.join(commonDir, "info", "exclude");
  const current = await readFile(file, "utf8").catch(() => "");
  const lines = new Set(current.split("\n"));
  const missing = patterns.filter((p) => !lines.has(p));
  if (missing.length === 0) return;
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, `${current === "" || current.endsWith("\n") ? "" : "\n"}${missing.join("\n")}\n`);
}
