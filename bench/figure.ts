/** One measured figure of a benchmark, as written to bench/results.json. */
export interface BenchFigure {
  /** Stable name, e.g. "store.get.p99". */
  name: string;
  value: number;
  unit: string;
  /** The issue's target, when it names one. */
  target?: number;
  /** Whether smaller values are better (latency) or larger (throughput). */
  better: "lower" | "higher";
  /** The target is a strict bound ("under 60 MiB"): reaching it exactly does not meet it. */
  strict?: boolean;
  /** Context worth printing (sample count, configuration). */
  note?: string;
}

/** A benchmark module (`bench/*.bench.ts`) default-exports one of these. */
export type Benchmark = () => Promise<BenchFigure[]>;

export function meetsTarget(figure: BenchFigure): boolean {
  if (figure.target === undefined) return true;
  if (figure.strict)
    return figure.better === "lower" ? figure.value < figure.target : figure.value > figure.target;
  return figure.better === "lower" ? figure.value <= figure.target : figure.value >= figure.target;
}

/** Percentile of a sample (nearest-rank). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
