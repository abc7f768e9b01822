import type { AgentCli } from "../manifest/types.ts";

/** Shapes of the files under a team directory; docs/protocol.md is the reference. */

export type MemberRole = "lead" | "teammate";

/**
 * `pending` before its runner starts, `active` while a turn runs, `idle` between turns,
 * `finished` after `finish`, `stopped` after a shutdown request / SIGTERM, `failed` on a crash.
 */
export const MEMBER_STATUSES = ["pending", "active", "idle", "finished", "stopped", "failed"] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export interface Member {
  name: string;
  role: MemberRole;
  cli: AgentCli;
  model: string;
  status: MemberStatus;
  /** ISO time of the last heartbeat; null before the runner started. */
  heartbeatAt: string | null;
  /** True when a scripted agent stands in for a real CLI (no API key locally). */
  simulated: boolean;
}

/** team/config.json */
export interface TeamConfig {
  teamName: string;
  runId: string;
  createdAt: string;
  members: Member[];
}

/** One entry of team/inboxes/<agent>.json (Claude Code's inbox shape). */
export interface InboxMessage {
  from: string;
  text: string;
  summary?: string;
  timestamp: string;
  read: boolean;
}

export const TASK_STATUSES = ["pending", "in_progress", "completed", "deleted"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** tasks/<id>.json (Claude Code's task shape). Ids are decimal strings: "1", "2", ... */
export interface Task {
  id: string;
  subject: string;
  description: string;
  status: TaskStatus;
  owner: string | null;
  /** Ids of tasks waiting for this one. */
  blocks: string[];
  /** Ids of tasks this one waits for that are not completed yet (completed ones are removed). */
  blockedBy: string[];
  createdAt: string;
  updatedAt: string;
}

/** team/lifecycle/<agent>.json: what the session loop needs to decide when an agent stops. */
export interface LifecycleRecord {
  agent: string;
  finished: { summary: string; at: string } | null;
  shutdownRequest: { from: string; reason: string; at: string } | null;
}

/** The structured text of a shutdown request message (Claude Code's own convention). */
export interface ShutdownRequestText {
  type: "shutdown_request";
  reason?: string;
}
