import type { ScopeSpec } from "../../core/manifest/types.ts";

/**
 * Scope matching. Patterns are relative to the repository root:
 * - `*` matches within one path segment, `?` one character, `**` any number of segments;
 * - a pattern without wildcards names a file or a directory (`src/api` covers `src/api/x.ts`);
 * - a trailing `/` is allowed (`docs/` = `docs`).
 * A path is in scope when it matches an include pattern (or there are none) and no exclude.
 *
 * `outOfScope` must stay self-contained (no references outside its body): the pre-commit hook
 * embeds its source text, so the hook and the finalize check apply exactly the same rules.
 */
export function outOfScope(
  files: string[],
  scope: { includePaths: string[]; excludePaths: string[] },
): string[] {
  function toRegExp(pattern: string): RegExp {
    let p = pattern.trim().replace(/^\.\//, "").replace(/^\/+/, "");
    const directory = p.endsWith("/");
    p = p.replace(/\/+$/, "");
    const hasWildcard = /[*?]/.test(p);
    let source = "";
    for (let i = 0; i < p.length; i++) {
      const c = p.charAt(i);
      if (c === "*" && p.charAt(i + 1) === "*") {
        const slashAfter = p.charAt(i + 2) === "/";
        source += slashAfter ? "(?:.*/)?" : ".*";
        i += slashAfter ? 2 : 1;
      } else if (c === "*") source += "[^/]*";
      else if (c === "?") source += "[^/]";
      else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
    // A plain name, or a pattern written as a directory, also covers everything beneath it.
    const beneath = !hasWildcard || directory ? "(?:/.*)?" : "";
    return new RegExp(`^${source}${beneath}$`);
  }
  const includes = scope.includePaths.filter((p) => p.trim() !== "").map(toRegExp);
  const excludes = scope.excludePaths.filter((p) => p.trim() !== "").map(toRegExp);
  return files.filter((file) => {
    const included = includes.length === 0 || includes.some((re) => re.test(file));
    return !included || excludes.some((re) => re.test(file));
  });
}

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
