/**
 * Runner start-up time to the first CLI spawn: from just before the runner process is spawned
 * to the moment the agent CLI (a tiny fake that records the time and answers with a result)
 * starts. Measured for the bundle the container image runs (target < 300 ms) and, for
 * reference, for the TypeScript sources through tsx. No store is attached: in AWS the first
 * turn starts without waiting for the store (its writes run alongside).
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentTeam } from "../core/manifest/types.ts";
import { Team } from "../core/team-protocol/team.ts";
import { buildRunner } from "../runner/build.ts";
import { coworkTeam, scriptedAgent } from "../test/runner/session/fixtures.ts";
import { type BenchFigure, type Benchmark, percentile } from "./figure.ts";

const RUNS = 12;

// Records the spawn time (epoch ms), marks the agent finished as the `finish` tool would, and
// prints Claude's final result line.
const FAKE_CLI = `#!/bin/sh
date +%s%3N > "$BENCH_SPAWNED_AT"
mkdir -p "$SQUADRON_TEAM_DIR/team/lifecycle"
printf '{"agent":"lead","finished":{"summary":"bench","at":"2025-01-01T00:00:00.000Z"},"shutdownRequest":null}' > "$SQUADRON_TEAM_DIR/team/lifecycle/lead.json"
echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"bench","total_cost_usd":0,"usage":{"input_tokens":1,"output_tokens":1}}'
`;

/** A cowork team of one Claude lead (the fake CLI above stands in for claude). */
function team(): AgentTeam {
  const lead = scriptedAgent("lead", "lead", undefined, {
    cli: "claude",
    model: "claude-sonnet-4-5",
    prompt: "Benchmark.",
  });
  return coworkTeam(lead, [], "bench");
}

async function startupSamples(root: string, args: string[], fakeCli: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const runId = `bench-${i}`;
    const dir = join(root, runId);
    const protocol = new Team(dir);
    await protocol.init({
      teamName: "bench",
      runId,
      members: [{ name: "lead", role: "lead", cli: "claude", model: "claude-sonnet-4-5" }],
    });
    await mkdir(join(dir, "workspace"), { recursive: true });
    await writeFile(
      join(dir, "run.json"),
      JSON.stringify({ runId, team: team(), deadline: new Date(Date.now() + 3_600_000).toISOString() }),
    );
    const stamp = join(dir, "spawned-at");
    const started = Date.now();
    const child = spawn(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? "",
        SQUADRON_MODE: "agent",
        SQUADRON_RUN_ID: runId,
        SQUADRON_AGENT_NAME: "lead",
        SQUADRON_TEAM_DIR: dir,
        SQUADRON_AGENT_EXECUTABLE: fakeCli,
        BENCH_SPAWNED_AT: stamp,
      },
      stdio: ["ignore", "ignore", "ignore"],
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`The runner exited with ${code} in start-up run ${i}.`);
    samples.push(Number((await readFile(stamp, "utf8")).trim()) - started);
  }
  return samples;
}

const bench: Benchmark = async () => {
  const root = await mkdtemp(join(tmpdir(), "squadron-bench-runner-"));
  try {
    const { outdir } = await buildRunner({ outdir: join(root, "dist"), sourcemap: false });
    const fakeCli = join(root, "fake-claude");
    await writeFile(fakeCli, FAKE_CLI);
    await chmod(fakeCli, 0o755);
    const bundled = await startupSamples(join(root, "bundle"), [join(outdir, "entrypoint.js")], fakeCli);
    const source = fileURLToPath(new URL("../runner/entrypoint.ts", import.meta.url));
    const fromSource = await startupSamples(join(root, "source"), ["--import", "tsx", source], fakeCli);
    const note = `${RUNS} runs, process spawn to the agent CLI's first instruction, no store`;
    return [
      {
        name: "runner.startup.bundle.p50",
        value: percentile(bundled, 50),
        unit: "ms",
        better: "lower",
        note,
      },
      {
        name: "runner.startup.bundle.p99",
        value: percentile(bundled, 99),
        unit: "ms",
        target: 300,
        better: "lower",
        note,
      },
      {
        name: "runner.startup.tsx.p50",
        value: percentile(fromSource, 50),
        unit: "ms",
        better: "lower",
        note: `${note}; TypeScript sources through tsx (local development)`,
      },
    ] satisfies BenchFigure[];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
};

export default bench;
