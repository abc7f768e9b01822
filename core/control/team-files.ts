import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { assertConfinedDir, ConfinementError, readConfinedText } from "../confined-fs.ts";
import { protocolContext } from "../team-protocol/context.ts";
import type { InboxMessage, Task } from "../team-protocol/types.ts";

export interface TeamMessage extends InboxMessage {
  to: string;
}

/** Reads a run's shared directory (tasks, mailboxes) for the API. Never writes. */
export interface TeamFilesReader {
  tasks(runId: string): Promise<Task[]>;
  messages(runId: string, agent?: string): Promise<TeamMessage[]>;
}

const TASK_FILE = /^(\d+)\.json$/;

/**
 * The run directories live under one root: the EFS mount in AWS, a local directory locally. The
 * agents shape everything below their run's directory, so every read is confined to it
 * (core/confined-fs.ts): a task file or mailbox that is a link (to another run, to the stack's
 * token file) is not read.
 */
export class DirectoryTeamFiles implements TeamFilesReader {
  constructor(private readonly runsDir: string) {}

  private ctx(runId: string) {
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`invalid run id ${runId}`);
    const runDir = join(this.runsDir, runId);
    return { runDir, ...protocolContext(runDir) };
  }

  /** File names of a directory of the run; none when it is absent or reached through a link. */
  private async names(runDir: string, dir: string): Promise<string[]> {
    try {
      await assertConfinedDir(runDir, dir);
      return await readdir(dir);
    } catch (error) {
      if (error instanceof ConfinementError) return [];
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }

  private async json<T>(runDir: string, file: string): Promise<T | undefined> {
    const text = await readConfinedText(runDir, file);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined; // being replaced, or not written by Squadron: not shown
    }
  }

  async tasks(runId: string): Promise<Task[]> {
    const { runDir, layout } = this.ctx(runId);
    const ids = (await this.names(runDir, layout.tasksDir))
      .map((name) => TASK_FILE.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .sort((a, b) => Number(a) - Number(b));
    const tasks = await Promise.all(ids.map((id) => this.json<Task>(runDir, layout.task(id))));
    return tasks.filter((task): task is Task => task !== undefined && task.status !== "deleted");
  }

  async messages(runId: string, agent?: string): Promise<TeamMessage[]> {
    const { runDir, layout } = this.ctx(runId);
    const agents = agent
      ? [agent]
      : (await this.names(runDir, layout.inboxesDir))
          .filter((f) => f.endsWith(".json") && !f.startsWith("."))
          .map((f) => f.slice(0, -5));
    const all: TeamMessage[] = [];
    for (const to of agents) {
      if (basename(to) !== to) continue;
      const inbox = await this.json<InboxMessage[]>(runDir, layout.inbox(to));
      for (const message of Array.isArray(inbox) ? inbox : []) all.push({ ...message, to });
    }
    return all.sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)));
  }
}

/** For deployments without a mounted file system: the API answers with empty lists. */
export class NoTeamFiles implements TeamFilesReader {
  async tasks(): Promise<Task[]> {
    return [];
  }
  async messages(): Promise<TeamMessage[]> {
    return [];
  }
}
