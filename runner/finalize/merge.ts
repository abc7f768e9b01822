import { stat } from "node:fs/promises";
import path from "node:path";
import type { AgentSpec, ScopeSpec } from "../../core/manifest/types.ts";
import { stagedOutOfScope } from "../scope/check.ts";
import { isRestricted } from "../scope/match.ts";
import { git, gitStatus } from "../workspace/git.ts";

export interface MergeConflict {
  agent: string;
  branch: string;
  /** Files left unmerged (`git diff --name-only --diff-filter=U`). */
  files: string[];
  /** Set when git failed without conflicted files (e.g. untracked files in the way). */
  message?: string;
}

export interface CommitInfo {
  sha: string;
  author: string;
  subject: string;
}

/** Teammates ordered so each comes after those it depends on; spec order otherwise. */
export function dependencyOrder(teammates: AgentSpec[]): AgentSpec[] {
  const byName = new Map(teammates.map((t) => [t.name, t]));
  const ordered: AgentSpec[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (agent: AgentSpec, trail: string[]) => {
    const seen = state.get(agent.name);
    if (seen === "done") return;
    if (seen === "visiting")
      throw new Error(`teammates depend on each other in a cycle: ${[...trail, agent.name].join(" → ")}`);
    state.set(agent.name, "visiting");
    for (const dep of agent.dependsOn) {
      const target = byName.get(dep);
      if (target) visit(target, [...trail, agent.name]);
    }
    state.set(agent.name, "done");
    ordered.push(agent);
  };
  for (const t of teammates) visit(t, []);
  return ordered;
}

/**
 * Commits what an agent left uncommitted in its checkout, so finished work is not lost
 * because the model forgot `git commit`. Files outside the agent's scope are left out.
 */
export async function commitPending(
  dir: string,
  agent: string,
  scope: ScopeSpec | undefined,
): Promise<{ sha?: string; files: string[]; skipped: string[] }> {
  const status = await git(["status", "--porcelain"], { cwd: dir });
  if (status.trim() === "") return { files: [], skipped: [] };
  await git(["add", "-A"], { cwd: dir });
  let skipped: string[] = [];
  if (isRestricted(scope)) {
    skipped = await stagedOutOfScope(dir, scope);
    if (skipped.length > 0) await git(["reset", "-q", "--", ...skipped], { cwd: dir });
  }
  const staged = await git(["diff", "--cached", "--name-only", "-z"], { cwd: dir });
  const files = staged.split("\0").filter(Boolean);
  if (files.length === 0) return { files, skipped };
  // The hook would refuse nothing here (out-of-scope files were just unstaged).
  await git(["commit", "--no-verify", "-q", "-m", `squadron: commit changes ${agent} left uncommitted`], {
    cwd: dir,
  });
  return { sha: (await git(["rev-parse", "HEAD"], { cwd: dir })).trim(), files, skipped };
}

/** Leaves a main checkout with no merge in progress (after a crash mid-finalize). */
export async function abortUnfinishedMerge(repoDir: string): Promise<void> {
  const gitDir = (await git(["rev-parse", "--absolute-git-dir"], { cwd: repoDir })).trim();
  if (
    await stat(path.join(gitDir, "MERGE_HEAD")).then(
      () => true,
      () => false,
    )
  ) {
    await git(["merge", "--abort"], { cwd: repoDir });
  }
}

/**
 * Merges one branch with a merge commit. On conflict, reports the files, aborts the merge
 * and returns the conflict instead of throwing. Merge commits take their date from the
 * merged branch's tip, so re-running finalize produces the same commits and the push is
 * a no-op rather than a rejected non-fast-forward.
 */
export async function mergeBranch(
  repoDir: string,
  agent: string,
  branch: string,
): Promise<{ merged: boolean; conflict?: MergeConflict }> {
  const ahead = Number.parseInt(
    (await git(["rev-list", "--count", `HEAD..${branch}`], { cwd: repoDir })).trim(),
    10,
  );
  if (ahead === 0) return { merged: false };
  const date = (await git(["log", "-1", "--format=%cI", branch], { cwd: repoDir })).trim();
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  const result = await gitStatus(
    ["merge", "--no-ff", "--no-verify", "--no-edit", "-m", `Merge ${agent}'s work (${branch})`, branch],
    { cwd: repoDir, env },
  );
  if (result.code === 0) return { merged: true };
  const unmerged = await git(["diff", "--name-only", "--diff-filter=U"], { cwd: repoDir });
  const files = unmerged.split("\n").filter(Boolean);
  await abortUnfinishedMerge(repoDir);
  return {
    merged: false,
    conflict: { agent, branch, files, ...(files.length === 0 ? { message: result.stderr.trim() } : {}) },
  };
}

/** Commits on `head` not on `base`, newest first. */
export async function commitsBetween(repoDir: string, base: string, head: string): Promise<CommitInfo[]> {
  const out = await git(["log", "--format=%H%x09%an%x09%s", `${base}..${head}`], { cwd: repoDir });
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [sha = "", author = "", ...subject] = line.split("\t");
      return { sha, author, subject: subject.join("\t") };
    });
}
