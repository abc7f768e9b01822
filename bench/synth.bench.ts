/**
 * CDK synth time (offline, in-process, bundling skipped as in tests) and, per Lambda, the size
 * of its bundle built with the app's own esbuild settings and the time Node takes to import it
 * (a proxy for cold start), with the functions' NODE_OPTIONS (source maps on, as deployed).
 */
import { execFileSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleHandler, HANDLER_NAMES, LAMBDA_NODE_OPTIONS, REPO_ROOT } from "../infra/bundling.ts";
import { synthTemplate } from "../state-machines/synth.ts";
import type { BenchFigure, Benchmark } from "./figure.ts";

// Inside node_modules so that, were any module external, the bundles would resolve it.
const OUT = join(REPO_ROOT, "node_modules", ".cache", "squadron-bench");

const LOAD_SAMPLES = 5;

/** Best of a few fresh processes: wall time of `import()`, and the CPU time it took. */
function importMs(file: string): { wall: number; cpu: number } {
  const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); const u = process.cpuUsage(c); console.log(performance.now() - t, (u.user + u.system) / 1000);`;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < LOAD_SAMPLES; i++) {
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: LAMBDA_NODE_OPTIONS },
    });
    const [w, c] = (out.trim().split("\n").at(-1) as string).split(" ").map(Number);
    wall.push(w as number);
    cpu.push(c as number);
  }
  return { wall: Math.min(...wall), cpu: Math.min(...cpu) };
}

const bench: Benchmark = async () => {
  const figures: BenchFigure[] = [];
  // The first synth in the process pays for loading the CDK; the second is warm.
  for (const [compute, when] of [
    ["ecs", "first synth in the process"],
    ["eks", "warm"],
  ] as const) {
    const started = performance.now();
    synthTemplate({ compute });
    figures.push({
      name: `infra.synth.${compute}`,
      value: Math.round(performance.now() - started),
      unit: "ms",
      better: "lower",
      note: `in-process, bundling skipped, ${when}`,
    });
  }

  rmSync(OUT, { recursive: true, force: true });
  for (const name of HANDLER_NAMES) {
    const started = performance.now();
    const outfile = (await bundleHandler(name, join(OUT, name))).file;
    const buildMs = performance.now() - started;
    const size = statSync(outfile).size;
    figures.push({
      name: `lambda.${name}.bundle`,
      value: Math.round(size / 1024),
      unit: "KiB",
      target: 1024,
      better: "lower",
      note: `esbuild ${Math.round(buildMs)} ms, source map ${Math.round(statSync(`${outfile}.map`).size / 1024)} KiB`,
    });
    const load = importMs(outfile);
    figures.push({
      name: `lambda.${name}.load`,
      value: Math.round(load.wall * 10) / 10,
      unit: "ms",
      target: 100,
      better: "lower",
      note: `node import(), best of ${LOAD_SAMPLES}, ${LAMBDA_NODE_OPTIONS}; CPU ${Math.round(load.cpu)} ms`,
    });
  }
  return figures;
};

export default bench;
