import { join, resolve } from "node:path";

/** Everything local mode keeps, under one data directory (default `.local/` in the checkout). */
export interface LocalPaths {
  dataDir: string;
  /** dynalite's LevelDB files. */
  db: string;
  /** The shared file system: one directory per run, `runs/<runId>/` (team files, repo, worktrees). */
  runs: string;
  /** The object store standing in for S3: cowork inputs (configmaps), skills and outputs. */
  objects: string;
  /** One log file per runner process: `logs/<runId>/<mode|agent>.log`. */
  logs: string;
  /** The synthesised state-machine definition, keyed by a hash of its sources. */
  cache: string;
  /**
   * The stack's private directory, outside the data directory (default `<dataDir>-secrets`, mode
   * 0700): nothing a runner or agent is given (its run directory, its working directory, the object
   * store) lies under it or is its parent. See docs/local.md, "Trust model".
   */
  secrets: string;
  /** Bearer tokens (`<secrets>/tokens.json`, owner-only). */
  tokens: string;
  /** Where the token file lived before it moved out of the data directory (moved at start). */
  legacyTokens: string;
  /** Executions that were running, so a restart can resume or fail them (`executions.json`). */
  journal: string;
  /** The stack's own log. */
  stackLog: string;
}

export function localPaths(dataDir: string, secretsDir?: string): LocalPaths {
  const root = resolve(dataDir);
  const secrets = resolve(secretsDir ?? `${root}-secrets`);
  return {
    secrets,
    dataDir: root,
    db: join(root, "db"),
    runs: join(root, "runs"),
    objects: join(root, "objects"),
    logs: join(root, "logs"),
    cache: join(root, "cache"),
    tokens: join(secrets, "tokens.json"),
    legacyTokens: join(root, "tokens.json"),
    journal: join(root, "executions.json"),
    stackLog: join(root, "logs", "stack.log"),
  };
}

/** The run's directory on the local "shared file system". */
export function runDir(paths: LocalPaths, runId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`invalid run id ${runId}`);
  return join(paths.runs, runId);
}
