export { isTempFile, readJson, writeFileAtomic, writeJsonAtomic } from "./atomic-file.ts";
export type { ProtocolContext } from "./context.ts";
export { LockTimeoutError, ProtocolError, type ProtocolErrorCode } from "./errors.ts";
export {
  DEFAULT_POLL_INTERVAL_MS,
  type PollOptions,
  type ReadMessagesOptions,
  type SendMessageInput,
} from "./inbox.ts";
export { TeamLayout } from "./layout.ts";
export { parseShutdownRequest, shutdownRequestText } from "./lifecycle.ts";
export { acquireLock, type HeldLock, type LockOptions, type LockOwner, withLock } from "./lock.ts";
export type { MemberInit, MemberPatch, TeamInit } from "./members.ts";
export type { CreateTaskInput, TaskFilter, TaskPatch } from "./tasks.ts";
export { ENDED_STATUSES, Team, type TeamOptions } from "./team.ts";
export * from "./types.ts";
