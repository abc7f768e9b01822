import { type ProtocolContext, protocolContext } from "./context.ts";
import { ProtocolError } from "./errors.ts";
import {
  markMessagesRead,
  type PollOptions,
  type ReadMessagesOptions,
  readInbox,
  readMessages,
  type SendMessageInput,
  type SendMessageResult,
  sendMessage,
  waitForMessages,
  watchInbox,
} from "./inbox.ts";
import { readLifecycle, recordFinished, shutdownRequestText } from "./lifecycle.ts";
import type { LockOptions } from "./lock.ts";
import {
  heartbeat,
  initTeam,
  type MemberPatch,
  readConfig,
  requireMember,
  type TeamInit,
  updateMember,
} from "./members.ts";
import {
  type CreateTaskInput,
  claimTask,
  createTask,
  getTask,
  listTasks,
  type TaskFilter,
  type TaskPatch,
  updateTask,
} from "./tasks.ts";
import type { InboxMessage, LifecycleRecord, Member, MemberStatus, Task, TeamConfig } from "./types.ts";

export interface TeamOptions {
  lock?: LockOptions;
  now?: () => Date;
}

/** Statuses after which a member's runner has ended and will not act again. */
export const ENDED_STATUSES: readonly MemberStatus[] = ["finished", "stopped", "failed"];

/**
 * The team protocol on one team directory: members, inboxes, tasks and lifecycle records.
 * Every method is safe to call from many processes (and hosts, on EFS) at once.
 */
export class Team {
  readonly ctx: ProtocolContext;

  constructor(
    readonly root: string,
    options: TeamOptions = {},
  ) {
    this.ctx = protocolContext(root, options);
  }

  init(init: TeamInit): Promise<TeamConfig> {
    return initTeam(this.ctx, init);
  }
  config(): Promise<TeamConfig> {
    return readConfig(this.ctx);
  }
  async members(): Promise<Member[]> {
    return (await readConfig(this.ctx)).members;
  }
  async member(name: string): Promise<Member> {
    return requireMember(await readConfig(this.ctx), name);
  }
  updateMember(name: string, patch: MemberPatch): Promise<Member> {
    return updateMember(this.ctx, name, patch);
  }
  heartbeat(name: string, status?: MemberStatus): Promise<Member> {
    return heartbeat(this.ctx, name, status);
  }

  sendMessage(input: SendMessageInput): Promise<SendMessageResult> {
    return sendMessage(this.ctx, input);
  }
  readInbox(agent: string): Promise<InboxMessage[]> {
    return readInbox(this.ctx, agent);
  }
  readMessages(agent: string, options?: ReadMessagesOptions): Promise<InboxMessage[]> {
    return readMessages(this.ctx, agent, options);
  }
  /** Marks these messages (as returned by `readMessages` with `markRead: false`) read. */
  markMessagesRead(agent: string, delivered: readonly InboxMessage[]): Promise<number> {
    return markMessagesRead(this.ctx, agent, delivered);
  }
  async unreadCount(agent: string): Promise<number> {
    return (await readInbox(this.ctx, agent)).filter((message) => !message.read).length;
  }
  waitForMessages(agent: string, options?: PollOptions): Promise<InboxMessage[]> {
    return waitForMessages(this.ctx, agent, options);
  }
  watchInbox(agent: string, options?: PollOptions & { fromStart?: boolean }): AsyncGenerator<InboxMessage[]> {
    return watchInbox(this.ctx, agent, options);
  }

  createTask(input: CreateTaskInput): Promise<Task> {
    return createTask(this.ctx, input);
  }
  getTask(id: string): Promise<Task> {
    return getTask(this.ctx, id);
  }
  listTasks(filter?: TaskFilter): Promise<Task[]> {
    return listTasks(this.ctx, filter);
  }
  claimTask(id: string, agent: string): Promise<Task> {
    return claimTask(this.ctx, id, agent);
  }
  updateTask(id: string, patch: TaskPatch): Promise<Task> {
    return updateTask(this.ctx, id, patch);
  }
  /** Open (pending or in progress) tasks owned by `agent`: a teammate with none may idle out. */
  async openTasksOf(agent: string): Promise<Task[]> {
    return (await listTasks(this.ctx, { owner: agent })).filter(
      (task) => task.status === "pending" || task.status === "in_progress",
    );
  }

  finish(agent: string, summary: string): Promise<LifecycleRecord> {
    return recordFinished(this.ctx, agent, summary);
  }
  lifecycle(agent: string): Promise<LifecycleRecord> {
    return readLifecycle(this.ctx, agent);
  }
  /**
   * The lead asks a teammate to stop: recorded in the teammate's lifecycle file (which its
   * session loop polls) and delivered as a `{"type":"shutdown_request"}` message it can read.
   */
  async requestShutdown(request: { from: string; to: string; reason?: string }): Promise<void> {
    const config = await readConfig(this.ctx);
    if (requireMember(config, request.from).role !== "lead") {
      throw new ProtocolError(
        `Only the lead can ask a teammate to shut down; ${request.from} is not the lead.`,
        "invalid",
      );
    }
    await sendMessage(this.ctx, {
      from: request.from,
      to: request.to,
      text: shutdownRequestText(request.reason ?? ""),
      summary: "shutdown request",
    });
  }
  /** Teammates whose runners have not ended yet; the lead finishes when this is empty. */
  async activeTeammates(): Promise<Member[]> {
    return (await this.members()).filter(
      (member) => member.role === "teammate" && !ENDED_STATUSES.includes(member.status),
    );
  }
}
