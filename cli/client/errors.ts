import { EXIT, exitCodeForStatus } from "./exit-codes.ts";

export interface ApiIssue {
  path: string;
  message: string;
}

/** The API answered with an error status; `error` and `issues` are its body's fields. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly exitCode: number;
  constructor(
    readonly status: number,
    readonly error: string,
    readonly issues: readonly ApiIssue[] = [],
    readonly body?: unknown,
  ) {
    super(error);
    this.exitCode = exitCodeForStatus(status);
  }

  /** `error`, then one indented `path: message` line per issue. */
  describe(): string {
    const lines = [this.error];
    for (const issue of this.issues)
      lines.push(`  ${issue.path === "" ? "" : `${issue.path}: `}${issue.message}`);
    return lines.join("\n");
  }
}

/** Nothing answered at the endpoint (or no endpoint is configured at all). */
export class UnreachableError extends Error {
  override name = "UnreachableError";
  readonly exitCode = EXIT.unreachable;
}
