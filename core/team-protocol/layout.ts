import { join } from "node:path";

/**
 * Where everything lives under a run's team directory (the EFS access point root in AWS,
 * a local directory in local mode). Names are validated before they become paths.
 */
export class TeamLayout {
  constructor(readonly root: string) {}

  get teamDir(): string {
    return join(this.root, "team");
  }
  get config(): string {
    return join(this.root, "team", "config.json");
  }
  get inboxesDir(): string {
    return join(this.root, "team", "inboxes");
  }
  inbox(agent: string): string {
    return join(this.inboxesDir, `${safeName(agent)}.json`);
  }
  get lifecycleDir(): string {
    return join(this.root, "team", "lifecycle");
  }
  lifecycle(agent: string): string {
    return join(this.lifecycleDir, `${safeName(agent)}.json`);
  }
  /** The runner's record of each agent's CLI session, so a relaunched runner resumes it. */
  get sessionsDir(): string {
    return join(this.root, "team", "sessions");
  }
  session(agent: string): string {
    return join(this.sessionsDir, `${safeName(agent)}.json`);
  }
  get tasksDir(): string {
    return join(this.root, "tasks");
  }
  task(id: string): string {
    return join(this.tasksDir, `${id}.json`);
  }
  /** Highest id handed out so far; only read and written under the tasks lock. */
  get taskCounter(): string {
    return join(this.tasksDir, ".counter");
  }
  get locksDir(): string {
    return join(this.root, "locks");
  }
  get tasksLock(): string {
    return join(this.locksDir, "tasks.lock");
  }
  get configLock(): string {
    return join(this.locksDir, "config.lock");
  }
  inboxLock(agent: string): string {
    return join(this.locksDir, `inbox-${safeName(agent)}.lock`);
  }
  lifecycleLock(agent: string): string {
    return join(this.locksDir, `lifecycle-${safeName(agent)}.lock`);
  }
}

export const TASK_FILE = /^(\d+)\.json$/;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Agent names become file names: refuse anything that could escape the directory. */
export function safeName(name: string): string {
  if (!NAME.test(name) || name.includes("..")) {
    throw new Error(`'${name}' is not a valid agent name (letters, digits, '.', '_' and '-' only).`);
  }
  return name;
}
