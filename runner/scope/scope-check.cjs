"use strict";
/**
 * Scope rules and the pre-commit hook that enforces them, in one self-contained CommonJS file.
 *
 * The runner imports `outOfScope` from here (finalize's check, localisation), and copies this very
 * file into each scoped worktree's private git directory as the hook program. Plain JavaScript
 * with no imports but Node's own: the hook behaves the same whether the runner runs bundled (the
 * container) or under tsx (local mode), because nothing is generated from compiled code. (The hook
 * used to embed `outOfScope.toString()`; under tsx that text called esbuild's `__name` helper,
 * which the hook does not have, so every scoped commit was refused.)
 *
 * Patterns are relative to the repository root:
 * - `*` matches within one path segment, `?` one character, `**` any number of segments;
 * - a pattern without wildcards names a file or a directory (`src/api` covers `src/api/x.ts`);
 * - a trailing `/` is allowed (`docs/` = `docs`).
 * A path is in scope when it matches an include pattern (or there are none) and no exclude.
 */

/** @param {string} pattern */
function toRegExp(pattern) {
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

/**
 * The files outside the scope.
 * @param {string[]} files
 * @param {{ includePaths: string[]; excludePaths: string[] }} scope
 * @returns {string[]}
 */
function outOfScope(files, scope) {
  const includes = scope.includePaths.filter((p) => p.trim() !== "").map(toRegExp);
  const excludes = scope.excludePaths.filter((p) => p.trim() !== "").map(toRegExp);
  return files.filter((file) => {
    const included = includes.length === 0 || includes.some((re) => re.test(file));
    return !included || excludes.some((re) => re.test(file));
  });
}

/** The hook: refuses a commit whose staged files leave the scope in `../scope.json`. */
function main() {
  const { execFileSync } = require("node:child_process");
  const fs = require("node:fs");
  const path = require("node:path");
  const scope = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "scope.json"), "utf8"));
  const staged = execFileSync("git", ["diff", "--cached", "--name-only", "-z", "--no-renames"], {
    encoding: "utf8",
  });
  const outside = outOfScope(staged.split("\0").filter(Boolean), scope);
  if (outside.length === 0) return;
  const lines = [
    `squadron: commit refused: ${outside.length} staged file(s) are outside the scope of ${scope.agent}:`,
    ...outside.map((f) => `  ${f}`),
    `Allowed paths: ${scope.includePaths.length ? scope.includePaths.join(", ") : "everything"}${
      scope.excludePaths.length ? `; except: ${scope.excludePaths.join(", ")}` : ""
    }`,
    "Unstage them (git restore --staged <file>) and undo those edits, or ask the teammate who owns them.",
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
  process.exitCode = 1;
}

module.exports = { outOfScope };

if (require.main === module) main();
