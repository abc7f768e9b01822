import type { ScopeSpec } from "../../core/manifest/types.ts";

import { outOfScope } from "./scope-check.cjs";

/** Scope matching: the rules live in scope-check.cjs, which is also the pre-commit hook program. */
export { outOfScope };

export function inScope(file: string, scope: ScopeSpec): boolean {
  return outOfScope([file], scope).length === 0;
}

/** True when the scope restricts anything at all. */
export function isRestricted(scope: ScopeSpec | undefined): scope is ScopeSpec {
  return !!scope && (scope.includePaths.length > 0 || scope.excludePaths.length > 0);
}

/** The paragraph given to the agent (appended to its system prompt) describing its scope. */
export function describeScope(scope: ScopeSpec | undefined): string {
  if (!isRestricted(scope)) return "";
  const lines = ["## Your file scope", ""];
  if (scope.includePaths.length > 0) {
    lines.push("You may only create, modify or delete files matching these paths:");
    for (const p of scope.includePaths) lines.push(`- ${p}`);
  }
  if (scope.excludePaths.length > 0) {
    lines.push(
      scope.includePaths.length > 0
        ? "except these, which you must not touch:"
        : "You must not touch files matching:",
    );
    for (const p of scope.excludePaths) lines.push(`- ${p}`);
  }
  lines.push(
    "",
    "Paths are relative to the repository root; `**` matches any number of directories. " +
      "A pre-commit hook refuses commits that touch files outside this scope, and commits made " +
      "with --no-verify are rejected when the team's work is merged. If a change outside your " +
      "scope is needed, send a message to the teammate who owns it or to the lead instead.",
  );
  return lines.join("\n");
}
