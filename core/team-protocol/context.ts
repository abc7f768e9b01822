import { TeamLayout } from "./layout.ts";
import type { LockOptions } from "./lock.ts";

/** What every protocol operation needs: where the files are and how patiently to lock. */
export interface ProtocolContext {
  layout: TeamLayout;
  lock: LockOptions;
  /** Injectable clock so tests can pin timestamps; defaults to the wall clock. */
  now: () => Date;
}

export function protocolContext(root: string, options: { lock?: LockOptions; now?: () => Date } = {}) {
  return {
    layout: new TeamLayout(root),
    lock: options.lock ?? {},
    now: options.now ?? (() => new Date()),
  } satisfies ProtocolContext;
}

export function isoNow(ctx: ProtocolContext): string {
  return ctx.now().toISOString();
}
