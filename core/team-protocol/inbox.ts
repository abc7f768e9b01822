import { setTimeout as sleep } from "node:timers/promises";
import { readJson, writeJsonAtomic } from "./atomic-file.ts";
import { isoNow, type ProtocolContext } from "./context.ts";
import { ProtocolError } from "./errors.ts";
import { parseShutdownRequest, recordShutdownRequest } from "./lifecycle.ts";
import { withLock } from "./lock.ts";
import { readConfig, requireMember } from "./members.ts";
import type { InboxMessage } from "./types.ts";

/**
 * Default polling interval. NFS (EFS) has no inotify, so waiting for a message means reading
 * the inbox again. 200 ms keeps delivery p99 well under the 500 ms target (worst case one
 * interval plus a write), while one small OPEN+READ per agent every 200 ms is negligible load
 * for EFS. See docs/protocol.md.
 */
export const DEFAULT_POLL_INTERVAL_MS = 200;

export interface SendMessageInput {
  from: string;
  /** A member name, or "*" for every member except the sender. */
  to: string;
  text: string;
  summary?: string;
}

export interface SendMessageResult {
  to: string[];
  timestamp: string;
}

export async function sendMessage(ctx: ProtocolContext, input: SendMessageInput): Promise<SendMessageResult> {
  if (!input.text.trim()) {
    throw new ProtocolError("The message text is empty; write what you want to tell them.", "invalid");
  }
  const config = await readConfig(ctx);
  const sender = config.members.find((member) => member.name === input.from);
  let recipients: string[];
  if (input.to === "*") {
    recipients = config.members.map((member) => member.name).filter((name) => name !== input.from);
    if (recipients.length === 0) {
      throw new ProtocolError("There is nobody else on the team to broadcast to.", "invalid");
    }
  } else {
    requireMember(config, input.to);
    if (input.to === input.from) {
      throw new ProtocolError(
        "You cannot send a message to yourself; send it to a teammate or '*'.",
        "invalid",
      );
    }
    recipients = [input.to];
  }

  const timestamp = isoNow(ctx);
  const message: InboxMessage = {
    from: input.from,
    text: input.text,
    ...(input.summary ? { summary: input.summary } : {}),
    timestamp,
    read: false,
  };
  // A lead's shutdown request is also recorded where the recipient's session loop looks,
  // before the message lands, so a runner that sees the message also sees the record.
  const shutdown = sender?.role === "lead" ? parseShutdownRequest(input.text) : undefined;
  for (const recipient of recipients) {
    if (shutdown && recipient !== input.from) {
      await recordShutdownRequest(ctx, { from: input.from, to: recipient, reason: shutdown.reason ?? "" });
    }
    await appendToInbox(ctx, recipient, message);
  }
  return { to: recipients, timestamp };
}

async function appendToInbox(ctx: ProtocolContext, agent: string, message: InboxMessage): Promise<void> {
  await withLock(
    ctx.layout.inboxLock(agent),
    async () => {
      const inbox = await readInbox(ctx, agent);
      inbox.push(message);
      await writeJsonAtomic(ctx.layout.inbox(agent), inbox);
    },
    ctx.lock,
  );
}

/** The whole inbox, read without a lock (files are replaced atomically, so never torn). */
export async function readInbox(ctx: ProtocolContext, agent: string): Promise<InboxMessage[]> {
  return (await readJson<InboxMessage[]>(ctx.layout.inbox(agent))) ?? [];
}

export interface ReadMessagesOptions {
  /** Default true. */
  unreadOnly?: boolean;
  /** Default true: the returned unread messages are marked read in the same locked update. */
  markRead?: boolean;
}

export async function readMessages(
  ctx: ProtocolContext,
  agent: string,
  options: ReadMessagesOptions = {},
): Promise<InboxMessage[]> {
  const unreadOnly = options.unreadOnly ?? true;
  const markRead = options.markRead ?? true;
  if (!markRead) {
    const inbox = await readInbox(ctx, agent);
    return unreadOnly ? inbox.filter((message) => !message.read) : inbox;
  }
  return withLock(
    ctx.layout.inboxLock(agent),
    async () => {
      const inbox = await readInbox(ctx, agent);
      const selected = (unreadOnly ? inbox.filter((message) => !message.read) : inbox).map((message) => ({
        ...message,
      }));
      if (inbox.some((message) => !message.read)) {
        for (const message of inbox) message.read = true;
        await writeJsonAtomic(ctx.layout.inbox(agent), inbox);
      }
      return selected;
    },
    ctx.lock,
  );
}

/**
 * Marks exactly `delivered` read (matched by sender, timestamp and text), leaving any message
 * that arrived since unread. The team server calls it only once the tool result holding those
 * messages has been produced, so a message is never marked read without having been handed over.
 * Returns how many were marked.
 */
export async function markMessagesRead(
  ctx: ProtocolContext,
  agent: string,
  delivered: readonly InboxMessage[],
): Promise<number> {
  if (delivered.length === 0) return 0;
  const key = (m: InboxMessage) => `${m.from}\u0000${m.timestamp}\u0000${m.text}`;
  const wanted = new Set(delivered.map(key));
  return withLock(
    ctx.layout.inboxLock(agent),
    async () => {
      const inbox = await readInbox(ctx, agent);
      let marked = 0;
      for (const message of inbox) {
        if (!message.read && wanted.has(key(message))) {
          message.read = true;
          marked += 1;
        }
      }
      if (marked > 0) await writeJsonAtomic(ctx.layout.inbox(agent), inbox);
      return marked;
    },
    ctx.lock,
  );
}

export interface PollOptions {
  /** Default DEFAULT_POLL_INTERVAL_MS (200 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Resolves with the unread messages (without marking them read) as soon as there are any;
 * rejects with the signal's reason when aborted.
 */
export async function waitForMessages(
  ctx: ProtocolContext,
  agent: string,
  options: PollOptions = {},
): Promise<InboxMessage[]> {
  const intervalMs = options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  for (;;) {
    options.signal?.throwIfAborted();
    const unread = (await readInbox(ctx, agent)).filter((message) => !message.read);
    if (unread.length > 0) return unread;
    try {
      await sleep(intervalMs, undefined, { signal: options.signal });
    } catch (error) {
      options.signal?.throwIfAborted(); // reject with the caller's reason, not a generic AbortError
      throw error;
    }
  }
}

/**
 * Yields each batch of messages that arrived since the previous batch (read or not by then),
 * polling every `intervalMs`. Ends when the signal aborts. The inbox is append-only, so a
 * message is identified by its position.
 */
export async function* watchInbox(
  ctx: ProtocolContext,
  agent: string,
  options: PollOptions & { fromStart?: boolean } = {},
): AsyncGenerator<InboxMessage[]> {
  const intervalMs = options.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let seen = options.fromStart ? 0 : (await readInbox(ctx, agent)).length;
  while (!options.signal?.aborted) {
    const inbox = await readInbox(ctx, agent);
    if (inbox.length > seen) {
      const fresh = inbox.slice(seen);
      seen = inbox.length;
      yield fresh;
      continue;
    }
    try {
      await sleep(intervalMs, undefined, { signal: options.signal });
    } catch {
      return;
    }
  }
}
