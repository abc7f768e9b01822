import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScriptStep } from "./script.ts";

/** Where a session stands, so `--resume <session>` continues the script. */
export interface SessionState {
  sessionId: string;
  /** The script is fixed when the session starts. */
  steps: ScriptStep[];
  position: number;
  vars: Record<string, unknown>;
  turns: number;
}

export function stateDir(cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.SQUADRON_SCRIPTED_STATE_DIR ?? join(cwd, ".squadron-scripted");
}

function statePath(dir: string, sessionId: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(sessionId)) throw new Error(`Invalid session id: ${sessionId}`);
  return join(dir, `${sessionId}.json`);
}

export async function loadState(dir: string, sessionId: string): Promise<SessionState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(dir, sessionId), "utf8")) as SessionState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export async function saveState(dir: string, state: SessionState): Promise<void> {
  await mkdir(dir, { recursive: true });
  // The default directory sits in the agent's worktree: keep it out of every commit.
  await writeFile(join(dir, ".gitignore"), "*\n");
  const path = statePath(dir, state.sessionId);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, path);
}
