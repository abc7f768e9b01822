import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * One version per agent CLI: the runner image (runner/Dockerfile's ARGs), package.json's exact
 * devDependencies (what `npm ci` installs for the conformance suite) and what is installed must
 * name the same release, so the suite proves the CLI the container runs.
 */
const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

const CLIS = [
  { arg: "CLAUDE_CODE_VERSION", pkg: "@anthropic-ai/claude-code" },
  { arg: "CODEX_VERSION", pkg: "@openai/codex" },
  { arg: "GEMINI_CLI_VERSION", pkg: "@google/gemini-cli" },
] as const;

describe("agent CLI versions", () => {
  const dockerfile = read("runner/Dockerfile");
  const devDependencies = (JSON.parse(read("package.json")) as { devDependencies: Record<string, string> })
    .devDependencies;

  it.each(CLIS)("$pkg: the Dockerfile ARG, package.json and node_modules agree", ({ arg, pkg }) => {
    const fromDockerfile = new RegExp(`^ARG ${arg}=(\\S+)$`, "m").exec(dockerfile)?.[1];
    expect(fromDockerfile, `runner/Dockerfile has no ARG ${arg}`).toBeDefined();
    // Exact pins only: a range would let npm ci and the image drift apart.
    expect(devDependencies[pkg]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(devDependencies[pkg]).toBe(fromDockerfile);
    const installed = (JSON.parse(read(`node_modules/${pkg}/package.json`)) as { version: string }).version;
    expect(installed).toBe(fromDockerfile);
    expect(dockerfile).toContain(`"${pkg}@\${${arg}}"`);
  });
});
