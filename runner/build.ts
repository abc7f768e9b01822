/**
 * Bundles the runner for the container image: `node --import tsx runner/build.ts [outdir]`
 * (default dist/runner). Three programs, each a self-contained CommonJS bundle (`<name>.cjs`)
 * started by a two-line launcher (`<name>.js`) through code-cache.cjs, which keeps a V8 code
 * cache beside the bundle, plus one shim and the scope hook program:
 *   entrypoint.js      the runner (modes init | agent | finalize)
 *   team-server.js     the team MCP server the runner hands to each agent CLI
 *   scripted-agent.js  the scripted agent, and `scripted-claude`, the executable that runs it
 *                      with Claude Code's command line (cli: scripted, simulated agents)
 *   scope-check.cjs    the scope rules and pre-commit hook, copied into scoped worktrees
 * The entrypoint finds the other files next to itself (see bundledFiles in entrypoint.ts).
 *
 * Why one CommonJS file per program and not ES modules split into shared chunks: a process then
 * reads one file, with no module graph to resolve and link (the runner's was 100+ chunks), and
 * can use V8's code cache, which Node 20 offers to vm.Script but not to ES modules. Measured on
 * the local stack (issue 15, item 10): see docs/local.md, "Speed".
 */
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));

export const ENTRIES = {
  entrypoint: join(here, "entrypoint.ts"),
  "team-server": join(here, "mcp/team-server.ts"),
  "scripted-agent": join(here, "scripted-agent/main.ts"),
} as const;

/** Bundled beside the programs and required by them when needed (no launcher of their own). */
export const LIBRARIES = {
  // The runner requires it only to talk to S3 (runner/config/load-s3-access.ts).
  "s3-access": join(here, "config/s3-access.ts"),
} as const;

const SCRIPTED_SHIM = `#!/bin/sh
# Runs the bundled scripted agent with Claude Code's command line (see runner/build.ts).
here=$(cd "$(dirname "$0")" && pwd)
exec "\${SQUADRON_NODE:-node}" "$here/scripted-agent.js" "$@"
`;

/** `<name>.js`: runs `<name>.cjs` with the code cache. CommonJS by the package.json beside it. */
const launcher = (name: string) =>
  `"use strict";\n// Runs ${name}.cjs with a V8 code cache (runner/code-cache.cjs, runner/build.ts).\nrequire("./code-cache.cjs").run(require("node:path").join(__dirname, "${name}.cjs"));\n`;

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
  // A rebuild into the same directory must not leave an older layout's chunks or stale caches.
  await rm(join(outdir, "chunks"), { recursive: true, force: true });
  for (const file of await readdir(outdir)) {
    if (file.endsWith(".v8cache")) await rm(join(outdir, file), { force: true });
  }
  const result = await build({
    entryPoints: { ...ENTRIES, ...LIBRARIES },
    bundle: true,
    platform: "node",
    // The SDK's ES module builds: one module per command, so esbuild keeps only the commands the
    // runner references (test/infra/iam-coverage.test.ts reads them), as the Lambda bundles do.
    mainFields: ["module", "main"],
    format: "cjs",
    target: options.target ?? "node20",
    outdir,
    outExtension: { ".js": ".cjs" },
    sourcemap: options.sourcemap ?? true,
    minify: options.minify ?? false,
    metafile: true,
    logLevel: "warning",
    // The sources are ES modules that locate files beside themselves with import.meta.url.
    define: { "import.meta.url": "__squadronImportMetaUrl" },
    // What is left of import() after bundling (node: built-ins the SDK loads lazily) becomes
    // require(): V8 drops the dynamic-import callback of functions it deserialises from a code
    // cache, and such an import() then throws "A dynamic import callback was not specified".
    supported: { "dynamic-import": false },
    banner: { js: 'var __squadronImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  for (const output of Object.keys(result.metafile.outputs).filter((file) => file.endsWith(".cjs"))) {
    const text = await readFile(output, "utf8");
    const latin1 = latin1Comments(text);
    if (latin1 !== text) await writeFile(output, latin1);
  }
  await writeFile(join(outdir, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
  await copyFile(join(here, "code-cache.cjs"), join(outdir, "code-cache.cjs"));
  for (const name of Object.keys(ENTRIES)) await writeFile(join(outdir, `${name}.js`), launcher(name));
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
  const launchers = Object.keys(ENTRIES).map((name) => join(outdir, `${name}.js`));
  return {
    outdir,
    files: [...Object.keys(result.metafile.outputs), ...launchers, shim, scopeCheck],
    inputs: [...inputs],
  };
}

/**
 * The bundle with the characters beyond Latin-1 in its comment lines replaced by "?".
 *
 * V8 keeps a string whose characters all fit in Latin-1 at one byte per character and any other
 * at two (v8/include/v8-primitive.h: String::IsOneByte, ContainsOnlyOneByte). The source of a
 * bundle stays in memory for as long as its process lives (V8 compiles functions lazily from it),
 * and esbuild escapes non-ASCII characters in code but copies comments as they are: one "→" in a
 * comment made the runner's 1.6 MB of source a 3.2 MB string in a heap snapshot, in every runner,
 * team server and scripted agent (issue 14, item 16). Only whole comment
 * lines are touched (a regular expression literal keeps its characters), one UTF-16 unit for one,
 * so every column the source map records stays where it was.
 */
export function latin1Comments(text: string): string {
  return text.replace(/^[ \t]*(?:\/\/|\/\*|\*).*$/gm, (line) => line.replace(/[\u0100-\uffff]/g, "?"));
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
