import type { ScopeSpec } from "../../core/manifest/types.ts";
import { git } from "../workspace/git.ts";
import { outOfScope } from "./match.ts";

/** A commit that touched files outside its author agent's scope (e.g. made with --no-verify). */
export interface ScopeViolation {
  agent: string;
  commit: string;
  subject: string;
  files: string[];
}

/**
 * Commits in `base..head` (merge commits excluded: their changes come from other branches)
 * that touch files outside `scope`. Renames count as a deletion and an addition, so moving a
 * file out of (or into) someone else's area is caught too.
 */
export async function scopeViolationsInRange(
  repoDir: string,
  agent: string,
  base: string,
  head: string,
  scope: ScopeSpec,
): Promise<ScopeViolation[]> {
  const out = await git(
    ["log", "--no-merges", "--no-renames", "--name-only", "-z", "--format=%x01%H%x02%s", `${base}..${head}`],
    { cwd: repoDir },
  );
  const violations: ScopeViolation[] = [];
  for (const record of out.split("\x01").filter((r) => r.trim() !== "")) {
    const [header = "", rest = ""] = record.split("\x02");
    const [subject = "", ...fileParts] = rest.split("\n");
    const files = fileParts
      .join("\n")
      .split("\0")
      .map((f) => f.replace(/^\n/, ""))
      .filter(Boolean);
    const outside = outOfScope(files, scope);
    if (outside.length > 0)
      violations.push({ agent, commit: header.trim(), subject: subject.replace(/\0$/, ""), files: outside });
  }
  return violations.reverse();
}

/** Staged files outside `scope` in a worktree (what the pre-commit hook checks). */
export async function stagedOutOfScope(worktree: string, scope: ScopeSpec): Promise<string[]> {
  const out = await git(["diff", "--cached", "--name-only", "-z", "--no-renames"], { cwd: worktree });
  return outOfScope(out.split("\0").filter(Boolean), scope);
}
