/**
 * Runs the benchmarks (`bench/*.bench.ts`, or only those named on the command line, e.g.
 * `npm run bench -- store`), prints their figures as a table and writes bench/results.json.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchFigure, type Benchmark, meetsTarget } from "./figure.ts";

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsPath = join(benchDir, "results.json");

interface StoredFigure {
  value: number;
  unit: string;
  target?: number;
  meets: boolean;
}

function benchName(file: string): string {
  return basename(file).replace(/\.bench\.ts$/, "");
}

function selectFiles(args: string[]): string[] {
  const all = readdirSync(benchDir)
    .filter((f) => f.endsWith(".bench.ts"))
    .sort();
  if (args.length === 0) return all;
  const wanted = args.map((a) => benchName(a));
  const unknown = wanted.filter((w) => !all.some((f) => benchName(f) === w));
  if (unknown.length > 0) {
    throw new Error(`No benchmark named ${unknown.join(", ")}; available: ${all.map(benchName).join(", ")}.`);
  }
  return all.filter((f) => wanted.includes(benchName(f)));
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Number(value.toPrecision(3)).toString();
}

function bound(figure: BenchFigure): string {
  if (figure.better === "lower") return figure.strict ? "<" : "≤";
  return figure.strict ? ">" : "≥";
}

function printTable(rows: { figure: BenchFigure; meets: boolean }[]): void {
  const header = ["name", "value", "unit", "target", "meets", "note"];
  const lines = rows.map(({ figure, meets }) => [
    figure.name,
    formatValue(figure.value),
    figure.unit,
    figure.target === undefined ? "-" : `${bound(figure)} ${figure.target}`,
    figure.target === undefined ? "-" : meets ? "yes" : "NO",
    figure.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  console.log(render(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(render(line));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  const files = selectFiles(args);
  const rows: { figure: BenchFigure; meets: boolean }[] = [];
  const failures: string[] = [];
  for (const file of files) {
    const name = benchName(file);
    console.error(`» ${name}`);
    const started = performance.now();
    try {
      const mod = (await import(pathToFileURL(join(benchDir, file)).href)) as { default?: Benchmark };
      if (typeof mod.default !== "function") throw new Error(`${file} has no default-exported Benchmark.`);
      const figures = await mod.default();
      for (const figure of figures) rows.push({ figure, meets: meetsTarget(figure) });
      console.error(`  ${figures.length} figures in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      failures.push(name);
      console.error(
        `  ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
  }

  // A partial run updates its own figures and keeps the others'; a full run starts afresh.
  const previous: Record<string, StoredFigure> =
    args.length > 0 && existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, "utf8")) : {};
  for (const { figure, meets } of rows) {
    const stored: StoredFigure = { value: figure.value, unit: figure.unit, meets };
    if (figure.target !== undefined) stored.target = figure.target;
    previous[figure.name] = stored;
  }
  writeFileSync(resultsPath, `${JSON.stringify(previous, null, 2)}\n`);

  printTable(rows);
  console.log(`\nWrote ${rows.length} figures to bench/results.json.`);
  if (failures.length > 0) {
    console.log(`Benchmarks that failed: ${failures.join(", ")}.`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
