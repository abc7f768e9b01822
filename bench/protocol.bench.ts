/**
 * Team protocol figures on a local directory: message delivery latency between two runner
 * processes polling at the EFS interval, and task-claim throughput with 16 claimer processes.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_POLL_INTERVAL_MS } from "../core/team-protocol/inbox.ts";
import { Team } from "../core/team-protocol/team.ts";
import { bundleWorker, startWorker } from "../test/team-protocol/fixtures/processes.ts";
import { type BenchFigure, type Benchmark, percentile } from "./figure.ts";

const MESSAGES = 60;
const CLAIMERS = 16;
const TASKS = 160;

async function newTeam(agents: string[]): Promise<Team> {
  const team = new Team(await mkdtemp(join(tmpdir(), "squadron-bench-protocol-")));
  await team.init({
    teamName: "bench",
    runId: "bench",
    members: agents.map((name, i) => ({
      name,
      role: i === 0 ? ("lead" as const) : ("teammate" as const),
      cli: "scripted" as const,
      model: "none",
    })),
  });
  return team;
}

async function deliveryLatency(worker: string): Promise<BenchFigure[]> {
  const team = await newTeam(["a", "b"]);
  try {
    const receiver = startWorker(worker, ["receive", team.root, "b", String(DEFAULT_POLL_INTERVAL_MS)]);
    const sender = startWorker(worker, ["ping", team.root, "a", "b", String(MESSAGES), "150"]);
    await writeFile(join(team.root, "go"), "");
    await sender.result;
    const { latenciesMs } = (await receiver.result) as { latenciesMs: number[] };
    const note = `${latenciesMs.length} messages, polling every ${DEFAULT_POLL_INTERVAL_MS} ms, local directory`;
    return [
      {
        name: "protocol.message.latency.p50",
        value: percentile(latenciesMs, 50),
        unit: "ms",
        better: "lower",
        note,
      },
      {
        name: "protocol.message.latency.p99",
        value: percentile(latenciesMs, 99),
        unit: "ms",
        target: 500,
        better: "lower",
        note,
      },
    ];
  } finally {
    await rm(team.root, { recursive: true, force: true });
  }
}

async function claimThroughput(worker: string): Promise<BenchFigure[]> {
  const claimers = Array.from({ length: CLAIMERS }, (_, i) => `c${i}`);
  const team = await newTeam(["lead", ...claimers]);
  try {
    for (let i = 0; i < TASKS; i++) await team.createTask({ subject: `task ${i}` });
    const runs = claimers.map((name) => startWorker(worker, ["claim", team.root, name]));
    // Let all 16 start and wait on the barrier, so process start-up is not measured.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const started = Date.now();
    await writeFile(join(team.root, "go"), "");
    const results = (await Promise.all(runs.map((run) => run.result))) as {
      claimed: string[];
      conflicts: number;
      finishedAt: number;
    }[];
    const claimed = results.flatMap((result) => result.claimed);
    if (new Set(claimed).size !== TASKS || claimed.length !== TASKS) {
      throw new Error(`claim bench: ${claimed.length} claims for ${TASKS} tasks; exclusivity broken`);
    }
    const seconds = (Math.max(...results.map((result) => result.finishedAt)) - started) / 1000;
    const conflicts = results.reduce((sum, result) => sum + result.conflicts, 0);
    return [
      {
        name: "protocol.claim.throughput",
        value: Math.round((TASKS / seconds) * 10) / 10,
        unit: "tasks/s",
        better: "higher",
        note: `${CLAIMERS} claimer processes, ${TASKS} tasks, ${conflicts} lost races, local directory`,
      },
    ];
  } finally {
    await rm(team.root, { recursive: true, force: true });
  }
}

const bench: Benchmark = async () => {
  const worker = await bundleWorker();
  return [...(await deliveryLatency(worker)), ...(await claimThroughput(worker))];
};

export default bench;
