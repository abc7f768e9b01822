import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ScopeSpec } from "../../core/manifest/types.ts";
import { git } from "../workspace/git.ts";

/**
 * The pre-commit hook that keeps a teammate inside its scope. Worktrees share `.git/hooks`,
 * so each worktree gets its own `core.hooksPath` in its per-worktree config
 * (`extensions.worktreeConfig`); the hook and the scope it enforces live in that worktree's
 * private git directory, out of the agent's working tree. A per-worktree value also wins
 * over a `core.hooksPath` the repository's own tooling (husky) may set later.
 */

const HOOK_DIR = "squadron";
const PROGRAM = "scope-check.cjs";

/**
 * scope-check.cjs as shipped: beside this module in the source tree (local mode), or beside the
 * bundle (runner/build.ts copies it next to entrypoint.js; this module may sit in chunks/).
 */
export function scopeCheckProgramPath(): string {
  const candidates = [new URL(`./${PROGRAM}`, import.meta.url), new URL(`../${PROGRAM}`, import.meta.url)];
  for (const url of candidates) {
    const file = fileURLToPath(url);
    if (existsSync(file)) return file;
  }
  throw new Error(`the scope hook program ${PROGRAM} is missing beside ${fileURLToPath(import.meta.url)}`);
}

/** Installs (or refreshes) the scope hook in one worktree. Idempotent. */
export async function installScopeHook(worktree: string, agent: string, scope: ScopeSpec): Promise<string> {
  const gitDir = (await git(["rev-parse", "--absolute-git-dir"], { cwd: worktree })).trim();
  const base = path.join(gitDir, HOOK_DIR);
  const hooksDir = path.join(base, "hooks");
  await mkdir(hooksDir, { recursive: true });
  await writeFile(
    path.join(base, "scope.json"),
    `${JSON.stringify({ agent, includePaths: scope.includePaths, excludePaths: scope.excludePaths }, null, 2)}\n`,
  );
  await copyFile(scopeCheckProgramPath(), path.join(hooksDir, PROGRAM));
  const hook = path.join(hooksDir, "pre-commit");
  await writeFile(hook, `#!/bin/sh\nexec node "$(dirname "$0")/${PROGRAM}" "$@"\n`);
  await chmod(hook, 0o755);
  await enableWorktreeConfig(worktree);
  await git(["config", "--worktree", "core.hooksPath", hooksDir], { cwd: worktree });
  return hook;
}

/** Turns on per-worktree config for the repository (shared by all its worktrees). */
export async function enableWorktreeConfig(worktree: string): Promise<void> {
  await git(["config", "core.repositoryformatversion", "1"], { cwd: worktree });
  await git(["config", "extensions.worktreeConfig", "true"], { cwd: worktree });
}
