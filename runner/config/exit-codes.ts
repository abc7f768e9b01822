/**
 * Exit codes of the runner entrypoint. ECS and Kubernetes only see the number, so each
 * class of failure has its own: a retry policy can restart on 1 but not on 2.
 */
export const EXIT = {
  /** The mode's work succeeded (agent finished, stopped on request or idled out; finalize delivered). */
  ok: 0,
  /** The agent or finalize failed (CLI crashed, turn cap reached, budget exhausted, merge conflict, gate failed). */
  failed: 1,
  /** Bad configuration: missing or invalid environment, unreadable or invalid run manifest, unknown agent. */
  config: 2,
  /** Stopped by SIGTERM/SIGINT (ECS StopTask, a deadline, a cancelled run); the stop is recorded. */
  signal: 3,
  /** A bug: an unexpected exception escaped the mode (the message is logged and in the result line). */
  internal: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Thrown for anything in the runner's inputs a person must fix; maps to exit code 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
