import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { protocolContext } from "../team-protocol/context.ts";
import { readInbox } from "../team-protocol/inbox.ts";
import { listTasks } from "../team-protocol/tasks.ts";
import type { InboxMessage, Task } from "../team-protocol/types.ts";

export interface TeamMessage extends InboxMessage {
  to: string;
}

/** Reads a run's shared directory (tasks, mailboxes) for the API. Never writes. */
export interface TeamFilesReader {
  tasks(runId: string): Promise<Task[]>;
  messages(runId: string, agent?: string): Promise<TeamMessage[]>;
}

/** The run directories live under one root: the EFS mount in AWS, a local directory locally. */
export class DirectoryTeamFiles implements TeamFilesReader {
  constructor(private readonly runsDir: string) {}

  private ctx(runId: string) {
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`invalid run id ${runId}`);
    return protocolContext(join(this.runsDir, runId));
  }

  async tasks(runId: string): Promise<Task[]> {
    return listTasks(this.ctx(runId));
  }

  async messages(runId: string, agent?: string): Promise<TeamMessage[]> {
    const ctx = this.ctx(runId);
    let agents: string[];
    if (agent) agents = [agent];
    else {
      try {
        agents = (await readdir(ctx.layout.inboxesDir))
          .filter((f) => f.endsWith(".json") && !f.startsWith("."))
          .map((f) => f.slice(0, -5));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
    }
    const all: TeamMessage[] = [];
    for (const to of agents) {
      for (const message of await readInbox(ctx, to)) all.push({ ...message, to });
    }
    return all.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
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
