import path from "node:path";
import type { AgentSpec, AgentTeam } from "../manifest/types.ts";

/**
 * Where a run's working files live on the shared file system (EFS in AWS, a directory
 * locally). Everything the workspace, scope and finalize modules touch is derived from here.
 */
export interface RunLayout {
  runDir: string;
  /** The single clone; the lead works in it (coding mode). */
  repoDir: string;
  /** `<runDir>/worktrees/<teammate>`, one git worktree per teammate (coding mode). */
  worktreesDir: string;
  /** Cowork mode's shared workspace: `/workspace/...` mount paths resolve under it. */
  workspaceDir: string;
}

export function runLayout(runDir: string): RunLayout {
  const root = path.resolve(runDir);
  return {
    runDir: root,
    repoDir: path.join(root, "repo"),
    worktreesDir: path.join(root, "worktrees"),
    workspaceDir: path.join(root, "workspace"),
  };
}

/** The teammate's branch in the run's clone. */
export function teammateBranch(team: string, agent: string): string {
  return `squadron/${team}/${agent}`;
}

/**
 * The branch pushed to the remote. In the clone it cannot be named `squadron/<team>` while
 * `squadron/<team>/<teammate>` branches exist (a ref cannot be both a file and a directory),
 * so locally it is `squadron/<team>/_consolidated` (agent names are DNS labels, never `_...`).
 */
export function consolidatedBranch(team: string): string {
  return `squadron/${team}`;
}
export function localConsolidatedBranch(team: string): string {
  return `squadron/${team}/_consolidated`;
}

/** The directory an agent's CLI runs in. */
export function agentWorkdir(layout: RunLayout, team: AgentTeam, agent: AgentSpec): string {
  if (team.spec.mode === "cowork") return layout.workspaceDir;
  return agent.role === "lead" ? layout.repoDir : path.join(layout.worktreesDir, agent.name);
}

/** A manifest mount path relative to the workspace: `/workspace/output` and `output` → `output`. */
export function mountPathInWorkspace(mountPath: string): string {
  return mountPath.replace(/^\/workspace(\/|$)/, "").replace(/^\/+/, "");
}

/**
 * Maps a manifest mount path (`/workspace/input`, as seen inside kagents' pods) to a
 * directory of the run: `/workspace/x` and `x` both become `<workspaceDir>/x`.
 */
export function resolveMountPath(layout: RunLayout, mountPath: string): string {
  const relative = mountPathInWorkspace(mountPath);
  const resolved = path.resolve(layout.workspaceDir, relative);
  if (resolved !== layout.workspaceDir && !resolved.startsWith(layout.workspaceDir + path.sep)) {
    throw new Error(`mount path ${mountPath} leaves the workspace; use a path under /workspace`);
  }
  return resolved;
}

/** Resolves `relative` under `dir`, refusing paths that escape it (`../`, absolute). */
export function safeJoin(dir: string, relative: string, what: string): string {
  const resolved = path.resolve(dir, relative);
  if (path.isAbsolute(relative) || (resolved !== dir && !resolved.startsWith(dir + path.sep))) {
    throw new Error(`${what} path ${JSON.stringify(relative)} must be relative and stay inside ${dir}`);
  }
  return resolved;
}
