/**
 * The fault suites of issue 14 as figures: kill -9 of runners, of the lead's runner and of the
 * whole stack, a crash loop, a CLI exiting non-zero, an unwritable run directory. They need the
 * local stack and its runners for minutes, so this runs the very suites `npm test` runs
 * (test/security/faults.test.ts, test/security/stack-kill.test.ts) in a vitest process of their
 * own and reads the figure line each prints: `faults: N tried / M handled correctly / K defects`.
 * A suite that prints no line (it crashed before its end) is a defect, not a missing figure.
 */
import { spawn } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import type { BenchFigure, Benchmark } from "./figure.ts";

const SUITES = [
  { name: "faults", file: "test/security/faults.test.ts", label: "faults" },
  { name: "faults.stack-kill", file: "test/security/stack-kill.test.ts", label: "faults (stack kill -9)" },
] as const;

const LINE = /^(faults(?: \(stack kill -9\))?): (\d+) tried \/ (\d+) handled correctly \/ (\d+) defects(.*)$/;

function runVitest(files: string[]): Promise<{ code: number | null; output: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn("npx", ["vitest", "run", ...files], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("close", (code) => resolve({ code, output, ms: performance.now() - started }));
  });
}

const bench: Benchmark = async () => {
  console.error("  running the fault suites (they start the local stack and kill its processes)…");
  const { code, output, ms } = await runVitest(SUITES.map((s) => s.file));
  // vitest colours its output; the figure lines themselves are plain.
  const lines = stripVTControlCharacters(output).split("\n");
  const figures: BenchFigure[] = [];
  for (const suite of SUITES) {
    const match = lines.map((line) => LINE.exec(line.trim())).find((m) => m?.[1] === suite.label);
    if (!match) {
      figures.push({
        name: `${suite.name}.defects`,
        value: 1,
        unit: "defects",
        target: 0,
        better: "lower",
        note: `${suite.file} printed no figure line (vitest exit ${code})`,
      });
      continue;
    }
    const [, , tried, handled, defects, detail] = match;
    figures.push(
      {
        name: `${suite.name}.tried`,
        value: Number(tried),
        unit: "cases",
        better: "higher",
        note: `${handled} handled correctly${detail ? `;${detail}` : ""}`,
      },
      {
        name: `${suite.name}.defects`,
        value: Number(defects),
        unit: "defects",
        target: 0,
        better: "lower",
        note: `${suite.file}, both suites in ${(ms / 1000).toFixed(0)} s (vitest exit ${code})`,
      },
    );
  }
  return figures;
};

export default bench;
