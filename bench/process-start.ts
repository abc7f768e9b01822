/**
 * What a team costs before any of its processes does any work: the CPU of starting each bundle a
 * team runs (the runner for init, agents and finalize; each agent's scripted CLI and team MCP
 * server) and exiting at once, as the local stack starts them (runner/lean-v8-flags.ts). Against
 * the 50 × 4 target (60 s on 2 cores: 2.4 CPU s per team), this floor says how much of a team's
 * budget is gone at start.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { ensureRunnerBundle } from "../local/runner-bundle.ts";
import { LEAN_V8_FLAGS } from "../runner/lean-v8-flags.ts";
import { type BenchFigure, percentile } from "./figure.ts";

const SAMPLES = 8;

/** Preloaded into each sampled process: its own CPU time (user + system, µs) at exit, on fd 3. */
const REPORT_CPU_AT_EXIT =
  'process.on("exit", () => { const u = process.cpuUsage(); require("node:fs").writeSync(3, String(u.user + u.system)); });';

/**
 * CPU milliseconds of the median of SAMPLES runs, as the process itself counts them at exit
 * (/proc's child times come in 10 ms ticks). The bundles exit at once: no SQUADRON_* configuration
 * is given.
 */
function startCpuMs(preload: string, args: string[]): number {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const result = spawnSync(process.execPath, ["--require", preload, ...args], {
      stdio: ["ignore", "ignore", "ignore", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    const micros = Number(result.output[3]?.toString());
    if (!Number.isFinite(micros) || micros <= 0) throw new Error(`no CPU figure from node ${args.join(" ")}`);
    samples.push(micros / 1000);
  }
  return Math.round(percentile(samples, 50));
}

export async function processStartFigures(): Promise<BenchFigure[]> {
  const { outdir } = await ensureRunnerBundle();
  const dir = mkdtempSync(join(tmpdir(), "squadron-bench-start-"));
  const preload = join(dir, "report-cpu.cjs");
  writeFileSync(preload, REPORT_CPU_AT_EXIT);
  let bare: number;
  let runner: number;
  let teamServer: number;
  let scripted: number;
  try {
    bare = startCpuMs(preload, ["-e", "0"]);
    runner = startCpuMs(preload, [...LEAN_V8_FLAGS, join(outdir, "entrypoint.js")]);
    teamServer = startCpuMs(preload, [...LEAN_V8_FLAGS, join(outdir, "team-server.js")]);
    scripted = startCpuMs(preload, [...LEAN_V8_FLAGS, join(outdir, "scripted-agent.js")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // init + 4 agent runners + finalize, and one scripted CLI and one team server per agent.
  const perTeam = (6 * runner + 4 * (teamServer + scripted)) / 1000;
  const budget = (60 * availableParallelism()) / 50;
  return [
    { name: "local.start-cpu.node", value: bare, unit: "ms", better: "lower", note: "node -e 0" },
    {
      name: "local.start-cpu.runner",
      value: runner,
      unit: "ms",
      better: "lower",
      note: "load the runner bundle, exit (init, agent and finalize runners)",
    },
    {
      name: "local.start-cpu.team-server",
      value: teamServer,
      unit: "ms",
      better: "lower",
      note: "one per agent",
    },
    {
      name: "local.start-cpu.scripted-agent",
      value: scripted,
      unit: "ms",
      better: "lower",
      note: "one per agent",
    },
    {
      name: "local.start-cpu.per-team",
      value: Math.round(perTeam * 100) / 100,
      unit: "s",
      better: "lower",
      // Not a target: the figure the 50 × 4 target leaves a team, for comparison.
      note: `6 runners + 4 × (team server + scripted CLI) starting and exiting, before any work: ${Math.round((perTeam / budget) * 100)}% of the ${budget.toFixed(1)} CPU s a team may use for 50 × 4 in 60 s on ${availableParallelism()} cores, before the stack's share (about 1.3 s a team)`,
    },
  ];
}
