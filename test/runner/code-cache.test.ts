/**
 * The runner's programs start through runner/code-cache.cjs (runner/build.ts): a V8 code cache
 * beside each bundle saves every agent's three processes most of their compile time (issue 15,
 * item 10). These run the built files as the stack and the image do: the first start writes the
 * cache, later starts use it instead of rewriting it, other V8 flags get a cache of their own (V8
 * rejects a cache made under other flags), and with --enable-source-maps (the image's
 * NODE_OPTIONS) stacks point at the TypeScript sources.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRunner, latin1Comments } from "../../runner/build.ts";

let outdir: string;
beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), "squadron-code-cache-"));
  await buildRunner({ outdir, sourcemap: true });
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const caches = (prefix: string) =>
  readdirSync(outdir).filter((f) => f.startsWith(prefix) && f.endsWith(".v8cache"));

/** The runner with no mode: it loads, says what is missing as its result line, and exits 2. */
function startRunner(flags: string[] = []) {
  const result = spawnSync(process.execPath, [...flags, join(outdir, "entrypoint.js")], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "" },
  });
  expect(result.status, result.stderr).toBe(2);
  expect(JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}")).toMatchObject({
    ok: false,
    exitCode: 2,
  });
  return result;
}

describe("the runner bundle's code cache", () => {
  it("is written by the first start and then used, not rewritten", () => {
    expect(caches("entrypoint.cjs")).toEqual([]);
    startRunner();
    const [cache] = caches("entrypoint.cjs");
    expect(cache).toMatch(/^entrypoint\.cjs\.[0-9a-f]{8}\.v8cache$/);
    const written = statSync(join(outdir, cache!));
    expect(written.size).toBeGreaterThan(10_000);
    startRunner();
    startRunner();
    expect(caches("entrypoint.cjs")).toEqual([cache]);
    // Accepted by V8: the file was not written again (a rejected cache is replaced at exit).
    expect(statSync(join(outdir, cache!)).mtimeMs).toBe(written.mtimeMs);
  });

  it("keeps one cache per set of V8 flags, so runners and team servers do not overwrite each other's", () => {
    startRunner();
    const before = caches("entrypoint.cjs");
    startRunner(["--max-semi-space-size=1"]);
    const after = caches("entrypoint.cjs");
    expect(after).toHaveLength(before.length + 1);
    const flagged = after.find((f) => !before.includes(f))!;
    const mtime = statSync(join(outdir, flagged)).mtimeMs;
    startRunner(["--max-semi-space-size=1"]);
    expect(statSync(join(outdir, flagged)).mtimeMs).toBe(mtime);
  });

  it("replaces a cache V8 rejects (another build's, a corrupt file) instead of failing", () => {
    const flags = ["--stack-size=900"]; // a cache of this test's own
    const before = caches("entrypoint.cjs");
    startRunner(flags);
    const cache = caches("entrypoint.cjs").find((f) => !before.includes(f))!;
    writeFileSync(join(outdir, cache), "not a code cache");
    startRunner(flags);
    expect(statSync(join(outdir, cache)).size).toBeGreaterThan(10_000);
  });

  it("ships bundles with no import() left: V8 drops its callback from functions restored from a cache", () => {
    // With one, the second start of a runner failed every store call with "A dynamic import
    // callback was not specified" (the SDK imports node:http lazily).
    for (const file of ["entrypoint.cjs", "team-server.cjs", "scripted-agent.cjs"]) {
      const code = readFileSync(join(outdir, file), "utf8")
        .split("\n")
        .filter((line) => !line.trim().startsWith("//"))
        .join("\n");
      expect(code.match(/[^\w.$]import\s*\(/g), file).toBeNull();
    }
  });

  it("runs from a read-only directory with no cache at all", () => {
    const readOnly = mkdtempSync(join(tmpdir(), "squadron-code-cache-ro-"));
    try {
      cpSync(outdir, readOnly, { recursive: true, filter: (src) => !src.endsWith(".v8cache") });
      spawnSync("chmod", ["-R", "a-w", readOnly]);
      const result = spawnSync(process.execPath, [join(readOnly, "entrypoint.js")], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "" },
      });
      expect(result.status, result.stderr).toBe(2);
      // root ignores file modes; anyone else finds no cache written.
      if (process.getuid?.() !== 0)
        expect(readdirSync(readOnly).filter((f) => f.endsWith(".v8cache"))).toEqual([]);
    } finally {
      spawnSync("chmod", ["-R", "u+w", readOnly]);
      rmSync(readOnly, { recursive: true, force: true });
    }
  });

  it("maps stack traces to the TypeScript sources under --enable-source-maps, as in the image", async () => {
    // A program built the way runner/build.ts builds them, started by the shipped launcher.
    const dir = mkdtempSync(join(tmpdir(), "squadron-code-cache-map-"));
    try {
      writeFileSync(
        join(dir, "boom.ts"),
        'function boom(): never {\n  throw new Error("boom");\n}\n\nboom();\n',
      );
      await build({
        entryPoints: [join(dir, "boom.ts")],
        bundle: true,
        platform: "node",
        format: "cjs",
        sourcemap: true,
        outfile: join(dir, "boom.cjs"),
        logLevel: "silent",
      });
      cpSync(join(outdir, "code-cache.cjs"), join(dir, "code-cache.cjs"));
      cpSync(join(outdir, "package.json"), join(dir, "package.json"));
      writeFileSync(
        join(dir, "boom.js"),
        'require("./code-cache.cjs").run(require("node:path").join(__dirname, "boom.cjs"));\n',
      );
      const run = (flags: string[]) =>
        spawnSync(process.execPath, [...flags, join(dir, "boom.js")], { encoding: "utf8" }).stderr;
      expect(run(["--enable-source-maps"])).toMatch(/at boom \(.*boom\.ts:2:9\)/);
      expect(run([])).toMatch(/at boom \(.*boom\.cjs:\d+:\d+\)/);
      // Cached (the second start without source maps) or not, it throws the same error.
      expect(run([])).toMatch(/Error: boom/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // V8 holds a string at one byte per character only when every character fits in Latin-1, and
  // the source of a bundle lives as long as its process: a "→" in one comment doubled it.
  it("holds each program's source at one byte per character while it runs", () => {
    for (const name of ["entrypoint", "team-server", "scripted-agent"]) {
      const text = readFileSync(join(outdir, `${name}.cjs`), "utf8");
      expect([...text].filter((c) => c.charCodeAt(0) > 0xff).length, name).toBe(0);
    }
    const probe = join(outdir, "heap-probe.cjs");
    writeFileSync(
      probe,
      'process.on("exit", () => { gc(); const s = require("node:v8").getHeapSpaceStatistics().find((x) => x.space_name === "large_object_space"); process.stderr.write("large=" + s.space_used_size); });\n',
    );
    const { stderr } = startRunner(["--expose-gc", "--require", probe]);
    const large = Number(/large=(\d+)/.exec(stderr)?.[1]);
    // The source is the only large object of a runner that has loaded and stopped; at two bytes
    // per character it alone was twice the file.
    expect(large).toBeGreaterThan(0);
    expect(large).toBeLessThan(1.5 * statSync(join(outdir, "entrypoint.cjs")).size);
  });
});

describe("latin1Comments", () => {
  it("replaces what is beyond Latin-1 in comment lines only, one character for one", () => {
    const bundle = [
      "  /** tool id \u2192 name */",
      "  // see #751 \u2014 done",
      "   * continued \u{1F600} comment",
      "const dash = /[\u2013\u2014]/;",
      'const s = "caf\u00e9";',
    ].join("\n");
    const out = latin1Comments(bundle).split("\n");
    expect(out.slice(0, 3)).toEqual([
      "  /** tool id ? name */",
      "  // see #751 ? done",
      "   * continued ?? comment",
    ]);
    expect(out.slice(3)).toEqual(bundle.split("\n").slice(3));
    expect(latin1Comments(bundle).length).toBe(bundle.length);
  });
});
