/**
 * The runner bundle local mode runs by default: the same three files the container image runs
 * (runner/build.ts: entrypoint.js, team-server.js, scripted-agent.js), so each agent costs three
 * plain Node processes instead of three processes that each load the tsx loader and compile the
 * sources on start (issue 15, item 10: 50 teams × 4 agents took 4–7 minutes that way).
 *
 * The bundle is built on demand and cached under `.cache/runner-bundle/<hash>/`, keyed by the
 * contents of everything it is built from (runner/, core/, the lock file): editing a source
 * builds it again at the next start, so a developer never runs a stale runner. A build that
 * fails stops the stack with the error and the way out (run the sources through tsx).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** What the bundle is built from: the runner's own sources, the core modules it imports, its dependencies. */
const SOURCES = ["runner", "core", "package-lock.json"];
const COMPLETE = "bundle-complete.json";

export class RunnerBundleError extends Error {
  constructor(cause: string) {
    super(
      `Could not bundle the runner (runner/build.ts): ${cause}\n` +
        "Fix the error above, or run the runner from its sources through tsx (slower: three tsx " +
        "processes per agent) with SQUADRON_RUNNER_ENTRY=runner/entrypoint.ts.",
    );
    this.name = "RunnerBundleError";
  }
}

async function sourceFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return existsSync(path) ? [path] : [];
  const out: string[] = [];
  for (const e of entries) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(full)));
    else out.push(full);
  }
  return out;
}

/** sha256 over the paths and contents of the bundle's sources (a few ms: ~100 small files). */
export async function runnerSourceHash(root = ROOT): Promise<string> {
  const hash = createHash("sha256");
  const all = (await Promise.all(SOURCES.map((s) => sourceFiles(join(root, s))))).flat().sort();
  for (const file of all) {
    hash.update(relative(root, file));
    hash.update("\0");
    hash.update(await readFile(file).catch(() => Buffer.alloc(0)));
  }
  return hash.digest("hex").slice(0, 16);
}

export interface RunnerBundle {
  /** The bundled entrypoint, for SQUADRON_RUNNER_ENTRY. */
  entry: string;
  outdir: string;
  /** False when this call built it. */
  cached: boolean;
  ms: number;
}

/**
 * The up-to-date bundle: the cached one when the sources have not changed, else a fresh build.
 * Several stacks may start at once (tests): each builds into a directory of its own and renames
 * it into place; whichever rename wins, the other uses the winner's identical files.
 */
export async function ensureRunnerBundle(
  options: {
    cacheDir?: string;
    progress?: (line: string) => void;
    /** The build (default runner/build.ts's buildRunner); tests inject a failing one. */
    build?: (outdir: string) => Promise<unknown>;
  } = {},
): Promise<RunnerBundle> {
  const started = performance.now();
  const cacheDir = options.cacheDir ?? join(ROOT, ".cache", "runner-bundle");
  const key = await runnerSourceHash();
  const outdir = join(cacheDir, key);
  const entry = join(outdir, "entrypoint.js");
  if (existsSync(join(outdir, COMPLETE)) && existsSync(entry)) {
    return { entry, outdir, cached: true, ms: performance.now() - started };
  }
  options.progress?.("Bundling the runner (runner/ or core/ changed since the last bundle; a few seconds)…");
  const building = `${outdir}.building-${process.pid}-${Date.now()}`;
  try {
    if (options.build) await options.build(building);
    else {
      const { buildRunner } = await import("../runner/build.ts");
      await buildRunner({ outdir: building, sourcemap: true });
    }
    await writeFile(join(building, COMPLETE), JSON.stringify({ key, builtAt: new Date().toISOString() }));
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw new RunnerBundleError(error instanceof Error ? error.message : String(error));
  }
  try {
    await rename(building, outdir);
  } catch {
    // Another stack renamed its build of the same sources first: use that one.
    await rm(building, { recursive: true, force: true });
    if (!existsSync(join(outdir, COMPLETE)))
      throw new RunnerBundleError(`could not move the bundle into ${outdir}`);
  }
  await pruneOldBundles(cacheDir, key);
  return { entry, outdir, cached: false, ms: performance.now() - started };
}

/** A stack still running from an older bundle keeps it for a day; builds in progress are never touched. */
const KEEP_OLD_BUNDLES_MS = 24 * 60 * 60 * 1000;

async function pruneOldBundles(cacheDir: string, keep: string): Promise<void> {
  const entries = await readdir(cacheDir).catch(() => [] as string[]);
  for (const name of entries) {
    if (name === keep || name.includes(".building-")) continue;
    const path = join(cacheDir, name);
    const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age > KEEP_OLD_BUNDLES_MS) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}
