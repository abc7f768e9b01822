import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { AslDefinition } from "../state-machines/synth.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** What the synthesised definition depends on: the CDK app and the state-machine code. */
const SOURCES = ["infra", "state-machines", "cdk.json"];

async function files(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [path];
  const out: string[] = [];
  for (const e of entries) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await files(full)));
    else if (/\.(ts|json)$/.test(e.name)) out.push(full);
  }
  return out;
}

/** sha256 over the paths and contents of every source file the definition is built from. */
export async function definitionSourceHash(): Promise<string> {
  const hash = createHash("sha256");
  const all = (await Promise.all(SOURCES.map((s) => files(join(ROOT, s))))).flat().sort();
  for (const file of all) {
    hash.update(relative(ROOT, file));
    hash.update(await readFile(file).catch(() => Buffer.alloc(0)));
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * The team-run definition CDK deploys, from an offline synth in a child process (several seconds), cached
 * under `cacheDir` by a hash of its sources: a change to infra/ or state-machines/ synthesises again.
 */
export async function loadTeamRunDefinition(
  cacheDir: string,
  progress: (message: string) => void = () => {},
): Promise<{ definition: AslDefinition; cached: boolean; ms: number }> {
  const started = performance.now();
  const key = await definitionSourceHash();
  const path = join(cacheDir, `team-run-definition-${key}.json`);
  try {
    const definition = JSON.parse(await readFile(path, "utf8")) as AslDefinition;
    return { definition, cached: true, ms: performance.now() - started };
  } catch {
    // not cached yet
  }
  progress("Synthesising the CDK app to extract the state machine (first start only, a few seconds)…");
  let definition: AslDefinition;
  try {
    definition = await synthesiseApart();
  } catch (error) {
    // infra/ being edited may not synthesise for a moment: the last synthesised definition
    // (still CDK's own output) keeps the stack usable, and the notice says so.
    const previous = await newestCached(cacheDir);
    if (!previous) throw new Error(`Synthesising the CDK app failed: ${(error as Error).message}`);
    progress(
      `Synthesising the CDK app failed (${(error as Error).message}); using the definition synthesised earlier, ${previous.name}.`,
    );
    return { definition: previous.definition, cached: true, ms: performance.now() - started };
  }
  await mkdir(cacheDir, { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(definition));
  await rename(temp, path);
  return { definition, cached: false, ms: performance.now() - started };
}

/**
 * The definition from a synth in a child process (local/synth-definition.ts, through tsx as the
 * stack itself runs). In the stack's own process the synth's modules stayed loaded: 400 MiB more
 * for the life of a stack that had to synthesise (measured: 77 → 494 MiB resident).
 */
function synthesiseApart(): Promise<AslDefinition> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const script = join(ROOT, "local", "synth-definition.ts");
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", tsx, script],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          // The synth's own message (a construct's validation error), not Node's stack trace.
          const lines = stderr.trim().split("\n");
          const message = lines.find((line) => /^\w*Error\b/.test(line)) ?? lines.filter(Boolean).at(-1);
          reject(new Error(message ?? error.message));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as AslDefinition);
        } catch {
          reject(new Error("the synth printed no definition"));
        }
      },
    );
  });
}

async function newestCached(
  cacheDir: string,
): Promise<{ name: string; definition: AslDefinition } | undefined> {
  const names = (await readdir(cacheDir).catch(() => [] as string[])).filter((n) =>
    /^team-run-definition-[0-9a-f]+\.json$/.test(n),
  );
  let best: { name: string; mtime: number } | undefined;
  for (const name of names) {
    const mtime = (await stat(join(cacheDir, name))).mtimeMs;
    if (!best || mtime > best.mtime) best = { name, mtime };
  }
  if (!best) return undefined;
  return {
    name: best.name,
    definition: JSON.parse(await readFile(join(cacheDir, best.name), "utf8")) as AslDefinition,
  };
}
