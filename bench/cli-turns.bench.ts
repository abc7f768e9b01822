/**
 * The runner's own overhead per turn, for each real agent CLI (claude, codex, gemini: the pinned
 * devDependencies) driven by the model-API stub through the runner's session loop with its
 * default timings (runner/config/env.ts readTimings: 200 ms inbox polling):
 *
 * - exit → spawn: from the CLI's exit (as the runner sees it) to the start of the next turn's
 *   CLI process, when the next turn is already due at the exit (the lead's first turn is held
 *   by the stub until its teammate's report is in the lead's inbox);
 * - message → turn: from a teammate's message (its inbox timestamp) to the start of the idle
 *   lead's resumed CLI process.
 *
 * A process start is stamped by a two-line shell wrapper around the CLI (`date`, then `exec`),
 * so both figures include everything the runner does before the CLI runs (config files, env).
 * Bounded: two small team runs (lead + one teammate, a handful of turns) per CLI.
 */
import { appendFileSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { adapterFor } from "../runner/adapters/index.ts";
import type { AgentAdapter } from "../runner/adapters/types.ts";
import { readTimings } from "../runner/config/env.ts";
import { codexTarget } from "../test/conformance/codex-env.ts";
import {
  agentSpec,
  type CliTarget,
  type ConformanceRun,
  claudeTarget,
  codingTeam,
  geminiTarget,
  prepareRun,
  runAgentSession,
} from "../test/conformance/harness.ts";
import { anthropicMessages } from "../test/support/model-api-stub/anthropic.ts";
import { geminiApi } from "../test/support/model-api-stub/gemini.ts";
import { openaiResponses } from "../test/support/model-api-stub/openai-responses.ts";
import {
  type ModelApiStub,
  type ProtocolModule,
  startModelApiStub,
} from "../test/support/model-api-stub/server.ts";
import { readRole } from "../test/support/model-api-stub/team-play.ts";
import type { BenchFigure, Benchmark } from "./figure.ts";

const CLIS: Array<{ target: CliTarget; protocol: ProtocolModule }> = [
  { target: claudeTarget, protocol: anthropicMessages },
  { target: codexTarget, protocol: openaiResponses },
  { target: geminiTarget, protocol: geminiApi },
];

/** The CLI behind a wrapper that stamps each process start (epoch ms) into `log`. */
function stampingWrapper(dir: string, agent: string, cli: string): { path: string; log: string } {
  const path = join(dir, `${agent}-cli.sh`);
  const log = join(dir, `${agent}-spawns.log`);
  writeFileSync(path, `#!/bin/sh\ndate +%s%3N >> '${log}'\nexec '${cli}' "$@"\n`);
  chmodSync(path, 0o755);
  appendFileSync(log, "");
  return { path, log };
}

/** The runner's adapter for `agent`, spawning through the wrapper and noting each CLI exit. */
function timedAdapter(
  run: ConformanceRun,
  target: CliTarget,
  agent: string,
): { adapter: AgentAdapter; spawns: () => number[]; exits: number[] } {
  const wrapper = stampingWrapper(run.dir, agent, target.executable);
  const inner = adapterFor(target.cli, {
    executable: wrapper.path,
    stateDir: join(run.home[agent] as string, "cli-state"),
  });
  const exits: number[] = [];
  const adapter: AgentAdapter = {
    cli: inner.cli,
    buildInvocation: (input) => inner.buildInvocation(input),
    createParser: (input) => {
      const parser = inner.createParser(input);
      return {
        push: (line) => parser.push(line),
        snapshot: () => parser.snapshot(),
        // runTurn calls finish once the process has exited and its stdout ended.
        finish: (exit) => {
          exits.push(Date.now());
          return parser.finish(exit);
        },
      };
    },
  };
  const spawns = () => readFileSync(wrapper.log, "utf8").split("\n").filter(Boolean).map(Number);
  return { adapter, spawns, exits };
}

/** One lead + teammate run; with `holdLead`, the lead's first turn ends only after dev reported. */
async function teamRun(target: CliTarget, stub: ModelApiStub, holdLead: boolean) {
  const lead = agentSpec(target, "lead", "lead");
  const dev = agentSpec(target, "dev", "teammate");
  const run = await prepareRun(codingTeam(lead, [dev], `bench-${target.cli}`));
  const timed = { lead: timedAdapter(run, target, "lead"), dev: timedAdapter(run, target, "dev") };
  stub.setIntercept(async ({ conversation }) => {
    if (!holdLead || readRole(conversation?.system ?? "")?.name !== "lead") return undefined;
    const items = conversation?.items ?? [];
    const last = items.at(-1);
    const delegated = items.some((i) => i.kind === "tool_call" && i.name.endsWith("send_message"));
    // No user message since the first tool call (gemini's first request has several user texts).
    const firstCall = items.findIndex((i) => i.kind === "tool_call");
    const firstTurn = !items.slice(Math.max(firstCall, 0)).some((i) => i.kind === "user_text");
    // The reply that ends the lead's first turn waits for the teammate's report.
    if (delegated && firstTurn && last?.kind === "tool_result") {
      while ((await run.team.readInbox("lead")).length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  });
  const timings = readTimings({});
  try {
    const [l, d] = await Promise.all([
      runAgentSession(run, target, stub, lead, { adapter: timed.lead.adapter, timings }),
      runAgentSession(run, target, stub, dev, { adapter: timed.dev.adapter, timings }),
    ]);
    if (l.end !== "finished" || d.end !== "finished") {
      throw new Error(`${target.cli} bench team did not finish: lead ${l.message}; dev ${d.message}`);
    }
  } finally {
    stub.setIntercept(undefined);
  }
  const inbox = await run.team.readInbox("lead");
  const reported = inbox.find((m) => m.from === "dev");
  return {
    leadSpawns: timed.lead.spawns(),
    leadExits: timed.lead.exits,
    reportedAt: reported ? Date.parse(reported.timestamp) : Number.NaN,
    dir: run.dir,
  };
}

const bench: Benchmark = async () => {
  const figures: BenchFigure[] = [];
  for (const { target, protocol } of CLIS) {
    const stub = await startModelApiStub({ protocols: [protocol] });
    try {
      console.error(`  ${target.cli}: exit → spawn`);
      const held = await teamRun(target, stub, true);
      const heldExit = held.leadExits[0] ?? Number.NaN;
      // Only a next turn that was already due at the exit (the report was in) measures overhead.
      const exitToSpawn =
        held.reportedAt <= heldExit ? (held.leadSpawns[1] ?? Number.NaN) - heldExit : Number.NaN;
      console.error(`  ${target.cli}: message → turn`);
      const idle = await teamRun(target, stub, false);
      const idleSince = idle.leadExits[0] ?? Number.NaN;
      // Only a lead that was idle when the message came measures the wake-up.
      const messageToTurn =
        idleSince < idle.reportedAt ? (idle.leadSpawns[1] ?? Number.NaN) - idle.reportedAt : Number.NaN;
      const note = "1 team run, runner default timings (200 ms inbox polling), spawn stamped by the process";
      figures.push(
        { name: `cli.${target.cli}.exit-to-spawn`, value: exitToSpawn, unit: "ms", better: "lower", note },
        {
          name: `cli.${target.cli}.message-to-turn`,
          value: messageToTurn,
          unit: "ms",
          better: "lower",
          note,
        },
      );
      await rm(held.dir, { recursive: true, force: true });
      await rm(idle.dir, { recursive: true, force: true });
    } finally {
      await stub.close();
    }
  }
  return figures;
};

export default bench;
