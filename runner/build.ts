/**
 * Bundles the runner for the container image: `node --import tsx runner/build.ts [outdir]`
 * (default dist/runner). Three self-contained ESM files, one shim and the scope hook program:
 *   entrypoint.js      the runner (modes init | agent | finalize)
 *   team-server.js     the team MCP server the runner hands to each agent CLI
 *   scripted-agent.js  the scripted agent, and `scripted-claude`, the executable that runs it
 *                      with Claude Code's command line (cli: scripted, simulated agents)
 *   scope-check.cjs    the scope rules and pre-commit hook, copied into scoped worktrees
 * The entrypoint finds the other files next to itself (see bundledFiles in entrypoint.ts).
 */
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));

export const ENTRIES = {
  entrypoint: join(here, "entrypoint.ts"),
  "team-server": join(here, "mcp/team-server.ts"),
  "scripted-agent": join(here, "scripted-agent/main.ts"),
} as const;

const SCRIPTED_SHIM = `#!/bin/sh
# Runs the bundled scripted agent with Claude Code's command line (see runner/build.ts).
here=$(cd "$(dirname "$0")" && pwd)
exec "\${SQUADRON_NODE:-node}" "$here/scripted-agent.js" "$@"
`;

export interface BuildRunnerOptions {
  outdir?: string;
  /** Node version the image runs (the bundle's syntax target). */
  target?: string;
  sourcemap?: boolean;
  minify?: boolean;
}

export async function buildRunner(
  options: BuildRunnerOptions = {},
): Promise<{ outdir: string; files: string[]; inputs: string[] }> {
  const outdir = resolve(options.outdir ?? join(here, "..", "dist", "runner"));
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: ENTRIES,
    bundle: true,
    // Shared code and lazily imported modules (the AWS SDK, git workspace, finalize) go to
    // chunks, so starting an agent parses only what agent mode needs.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "node",
    // The SDK's ES module builds: one module per command, so esbuild keeps only the commands the
    // runner references (test/infra/iam-coverage.test.ts reads them), as the Lambda bundles do.
    mainFields: ["module", "main"],
    format: "esm",
    target: options.target ?? "node20",
    outdir,
    outExtension: { ".js": ".js" },
    sourcemap: options.sourcemap ?? true,
    minify: options.minify ?? false,
    metafile: true,
    logLevel: "warning",
    // Bundled CommonJS dependencies (the AWS SDK's) call require(); ESM has none of its own.
    banner: {
      js: "import { createRequire as __squadronRequire } from 'node:module'; const require = __squadronRequire(import.meta.url);",
    },
  });
  const shim = join(outdir, "scripted-claude");
  await writeFile(shim, SCRIPTED_SHIM);
  await chmod(shim, 0o755);
  // The scope pre-commit hook is this file itself, copied into scoped worktrees (runner/scope/hook.ts).
  const scopeCheck = join(outdir, "scope-check.cjs");
  await copyFile(join(here, "scope", "scope-check.cjs"), scopeCheck);
  // Source files that contributed code, for checks of what the bundle can do (test/infra IAM).
  const inputs = new Set(
    Object.values(result.metafile.outputs).flatMap((o) =>
      Object.entries(o.inputs)
        .filter(([, use]) => use.bytesInOutput > 0)
        .map(([input]) => input),
    ),
  );
  return { outdir, files: [...Object.keys(result.metafile.outputs), shim, scopeCheck], inputs: [...inputs] };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  buildRunner({ ...(process.argv[2] ? { outdir: process.argv[2] } : {}) }).then(
    ({ outdir, files }) => process.stderr.write(`Runner bundled into ${outdir}: ${files.length} files\n`),
    (error: unknown) => {
      process.stderr.write(
        `Runner build failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
