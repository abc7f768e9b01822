/**
 * CDK synth time (offline, in-process, bundling skipped as in tests) and, per Lambda, the size
 * of its bundle built with the app's own esbuild settings and the time Node takes to import it
 * (a proxy for cold start). Works with placeholder handlers too.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { BUNDLE_SETTINGS, HANDLER_NAMES, handlerEntry, REPO_ROOT } from "../infra/bundling.ts";
import { synthTemplate } from "../state-machines/synth.ts";
import type { BenchFigure, Benchmark } from "./figure.ts";

// Inside node_modules so the bundles resolve the external @aws-sdk/* like the Lambda runtime does.
const OUT = join(REPO_ROOT, "node_modules", ".cache", "squadron-bench");

function importMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    samples.push(Number(out.trim().split("\n").at(-1)));
  }
  return Math.min(...samples);
}

const bench: Benchmark = async () => {
  const figures: BenchFigure[] = [];
  const t0 = performance.now();
  synthTemplate({ compute: "ecs" });
  figures.push({
    name: "infra.synth.ecs",
    value: Math.round(performance.now() - t0),
    unit: "ms",
    better: "lower",
    note: "in-process, bundling skipped, first synth in the process",
  });
  const t1 = performance.now();
  synthTemplate({ compute: "eks" });
  figures.push({
    name: "infra.synth.eks",
    value: Math.round(performance.now() - t1),
    unit: "ms",
    better: "lower",
    note: "in-process, bundling skipped, warm",
  });

  rmSync(OUT, { recursive: true, force: true });
  for (const name of HANDLER_NAMES) {
    const outfile = join(OUT, name, "index.mjs");
    mkdirSync(join(OUT, name), { recursive: true });
    const started = performance.now();
    await build({
      entryPoints: [handlerEntry(name)],
      bundle: true,
      outfile,
      format: BUNDLE_SETTINGS.format,
      target: BUNDLE_SETTINGS.target,
      platform: BUNDLE_SETTINGS.platform,
      minify: BUNDLE_SETTINGS.minify,
      sourcemap: BUNDLE_SETTINGS.sourcemap,
      mainFields: BUNDLE_SETTINGS.mainFields,
      external: BUNDLE_SETTINGS.externalModules,
      banner: { js: BUNDLE_SETTINGS.banner },
      logLevel: "silent",
    });
    const buildMs = performance.now() - started;
    const size = statSync(outfile).size;
    figures.push({
      name: `lambda.${name}.bundle`,
      value: Math.round(size / 1024),
      unit: "KiB",
      target: 1024,
      better: "lower",
      note: `esbuild ${Math.round(buildMs)} ms`,
    });
    figures.push({
      name: `lambda.${name}.load`,
      value: Math.round(importMs(outfile) * 10) / 10,
      unit: "ms",
      target: 100,
      better: "lower",
      note: "node import(), best of 3",
    });
  }
  return figures;
};

export default bench;
