import { readJson, writeJsonAtomic } from "./atomic-file.ts";
import { isoNow, type ProtocolContext } from "./context.ts";
import { ProtocolError } from "./errors.ts";
import { withLock } from "./lock.ts";
import { readConfig, requireMember, updateMember } from "./members.ts";
import type { LifecycleRecord, ShutdownRequestText } from "./types.ts";

/**
 * team/lifecycle/<agent>.json holds what the session loop polls to decide when to stop:
 * the agent's own `finish` and a shutdown request from the lead. Kept apart from the inbox so
 * the runner does not have to parse (or mark read) the model's messages to find them.
 */
export async function readLifecycle(ctx: ProtocolContext, agent: string): Promise<LifecycleRecord> {
  return (
    (await readJson<LifecycleRecord>(ctx.layout.lifecycle(agent))) ?? {
      agent,
      finished: null,
      shutdownRequest: null,
    }
  );
}

async function updateLifecycle(
  ctx: ProtocolContext,
  agent: string,
  change: (record: LifecycleRecord) => void,
): Promise<LifecycleRecord> {
  return withLock(
    ctx.layout.lifecycleLock(agent),
    async () => {
      const record = await readLifecycle(ctx, agent);
      change(record);
      await writeJsonAtomic(ctx.layout.lifecycle(agent), record);
      return record;
    },
    ctx.lock,
  );
}

/**
 * Records the agent's `finish` and marks the member finished. Calling it again replaces the
 * summary (an agent may refine it), the first time is kept as `at`.
 */
export async function recordFinished(
  ctx: ProtocolContext,
  agent: string,
  summary: string,
): Promise<LifecycleRecord> {
  if (!summary.trim()) {
    throw new ProtocolError("The finish summary is empty; say in a sentence or two what you did.", "invalid");
  }
  requireMember(await readConfig(ctx), agent);
  const record = await updateLifecycle(ctx, agent, (current) => {
    current.finished = { summary, at: current.finished?.at ?? isoNow(ctx) };
  });
  await updateMember(ctx, agent, { status: "finished", heartbeatAt: isoNow(ctx) });
  return record;
}

export async function recordShutdownRequest(
  ctx: ProtocolContext,
  request: { from: string; to: string; reason: string },
): Promise<LifecycleRecord> {
  return updateLifecycle(ctx, request.to, (current) => {
    current.shutdownRequest = { from: request.from, reason: request.reason, at: isoNow(ctx) };
  });
}

/** The message text of a shutdown request, in Claude Code's convention. */
export function shutdownRequestText(reason: string): string {
  return JSON.stringify({ type: "shutdown_request", reason } satisfies ShutdownRequestText);
}

/** Parses a message text as a shutdown request; undefined when it is ordinary text. */
export function parseShutdownRequest(text: string): ShutdownRequestText | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    const value = JSON.parse(text) as Partial<ShutdownRequestText>;
    return value?.type === "shutdown_request" ? (value as ShutdownRequestText) : undefined;
  } catch {
    return undefined;
  }
}
