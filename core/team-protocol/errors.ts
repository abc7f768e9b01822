/**
 * A refusal the caller (often a model, through the team MCP server) can act on. The message
 * is a complete sentence that names the task, member or file involved.
 */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code: ProtocolErrorCode,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

export type ProtocolErrorCode =
  | "not_found"
  | "already_claimed"
  | "blocked"
  | "invalid"
  | "not_initialised"
  | "lock_timeout";

/** Thrown when a lock cannot be taken in time; names the holder so an operator can act. */
export class LockTimeoutError extends ProtocolError {
  constructor(message: string) {
    super(message, "lock_timeout");
    this.name = "LockTimeoutError";
  }
}
