import type { ValidationIssue } from "./types.ts";

/** A path into a manifest as keys and indexes, before it is rendered as `spec.teammates[1].name`. */
export type IssuePath = readonly PropertyKey[];

/** An issue whose path is still structured, so it can be located in the source text. */
export interface PathIssue {
  path: IssuePath;
  message: string;
  severity: "error" | "warning";
}

export function error(path: IssuePath, message: string): PathIssue {
  return { path, message, severity: "error" };
}

export function warning(path: IssuePath, message: string): PathIssue {
  return { path, message, severity: "warning" };
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Renders `["spec", "teammates", 1, "name"]` as `spec.teammates[1].name`; odd keys are quoted. */
export function formatPath(path: IssuePath): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else {
      const text = String(key);
      if (IDENTIFIER.test(text)) out += out === "" ? text : `.${text}`;
      else out += `[${JSON.stringify(text)}]`;
    }
  }
  return out;
}

export function toValidationIssue(issue: PathIssue): ValidationIssue {
  return { path: formatPath(issue.path), message: issue.message, severity: issue.severity };
}

export function hasErrors(issues: readonly { severity: string }[]): boolean {
  return issues.some((issue) => issue.severity === "error");
}

/**
 * The one error type the manifest functions throw. It carries every problem found, so a caller
 * (API, CLI) can show them all at once instead of one per attempt.
 */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
  readonly issues: ValidationIssue[];

  constructor(issues: ValidationIssue[], summary?: string) {
    const errors = issues.filter((issue) => issue.severity === "error");
    const shown = (errors.length > 0 ? errors : issues)
      .slice(0, 5)
      .map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message));
    const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : "";
    super(
      summary ??
        `The manifest is invalid (${errors.length} ${errors.length === 1 ? "error" : "errors"}): ${shown.join("; ")}${more}`,
    );
    this.issues = issues;
  }

  static single(path: string, message: string): ManifestError {
    return new ManifestError([{ path, message, severity: "error" }]);
  }
}
