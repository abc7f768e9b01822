import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  return readdirSync(join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** Every relative module a file imports (static, dynamic and type-only), resolved from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
  return specifiers.map((s) => relative(repo, resolve(file, "..", s)));
}

describe("dependencies point down", () => {
  it("core/ imports nothing from runner/, infra/, local/, cli/, lambdas/ or web/", () => {
    const upward = sources("core").flatMap((file) =>
      importsOf(file)
        .filter((target) => /^(runner|infra|local|cli|lambdas|web)\//.test(target))
        .map((target) => `${relative(repo, file)} → ${target}`),
    );
    expect(upward).toEqual([]);
  });
});
