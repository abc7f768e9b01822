/**
 * The session loop's CLI-agnostic rules for turn results, with an adapter that replays canned
 * results through a real child process: session-cumulative usage is charged as deltas (also
 * across a runner relaunch), an "auth" error fails the agent at once, the CLI's final figures
 * replace the streamed estimate, and a teammate that never used a team tool is not a plain success.
 */
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentTeam } from "../../../core/manifest/types.ts";
import type { UsageDelta } from "../../../core/status/types.ts";
import { type UsageCharge, usageBetween } from "../../../core/store/usage-charge.ts";
import type {
  AgentAdapter,
  OutputParser,
  ProgressEvent,
  TurnResult,
} from "../../../runner/adapters/types.ts";
import type { AgentStateSink } from "../../../runner/reporting/store-sink.ts";
import { UsageReporter } from "../../../runner/reporting/usage-reporter.ts";
import { runSession } from "../../../runner/session/loop.ts";
import { readSessionRecord, turnDelta } from "../../../runner/session/session-record.ts";
import { coworkTeam, initRunDir, scriptedAgent, testTimings } from "./fixtures.ts";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

type Canned = Partial<TurnResult> & { finish?: boolean };

/**
 * An adapter whose "CLI" is `node -e` printing one canned result per turn (the n-th turn prints
 * results[n]); `finish` makes the turn call the team's finish through the protocol files.
 */
function cannedAdapter(results: Canned[], onTurn?: (n: number) => Promise<void>): AgentAdapter {
  let n = 0;
  return {
    cli: "claude",
    buildInvocation: (input) => {
      const canned = results[Math.min(n, results.length - 1)] as Canned;
      return {
        command: process.execPath,
        args: ["-e", `process.stdout.write(${JSON.stringify(`${JSON.stringify(canned)}\n`)})`],
        env: {},
        cwd: input.cwd,
      };
    },
    createParser: (): OutputParser => {
      let last: Canned | undefined;
      const snap = (): ProgressEvent => ({
        sessionId: last?.sessionId ?? "",
        model: "m",
        costUsd: 0,
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        kind: "snapshot",
      });
      return {
        push: (line) => {
          last = JSON.parse(line) as Canned;
          return undefined;
        },
        snapshot: snap,
        finish: () => {
          const turn = n++;
          const { finish: _f, ...rest } = last ?? {};
          void onTurn?.(turn);
          return {
            sessionId: "s-1",
            isError: false,
            resultText: "ok",
            costUsd: 0,
            costSource: "reported",
            model: "m",
            inputTokens: 0,
            outputTokens: 0,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
            ...rest,
          };
        },
      };
    },
  };
}

class Recording implements AgentStateSink {
  usage: UsageDelta[] = [];
  warnings: Array<{ reason: string; message: string }> = [];
  async chargeUsage({ before, after }: UsageCharge) {
    this.usage.push(usageBetween(before, after));
    return undefined;
  }
  async heartbeat() {}
  async setPhase() {}
  async runCostUsd() {
    return undefined;
  }
  async warn(reason: string, message: string) {
    this.warnings.push({ reason, message });
  }
  get cost() {
    return Math.round(this.usage.reduce((s, d) => s + d.costUsd, 0) * 1e6) / 1e6;
  }
}

const session = (cost: number, tokens: number): Canned => ({
  usageScope: "session",
  costUsd: cost,
  inputTokens: tokens,
  outputTokens: tokens / 10,
});

async function setup(team: AgentTeam) {
  const { dir, protocol } = await initRunDir(team, "run-generic");
  dirs.push(dir);
  return { dir, protocol };
}

/** A cowork team of one scripted lead, in a run directory of its own. */
async function soloLead() {
  const lead = scriptedAgent("lead", "lead");
  const team = coworkTeam(lead, []);
  return { lead, team, ...(await setup(team)) };
}

/** A cowork team of a scripted lead and a teammate "dev" on claude (whose results are canned). */
async function leadAndClaudeMate() {
  const mate = { ...scriptedAgent("dev", "teammate"), cli: "claude" as const };
  const team = coworkTeam(scriptedAgent("lead", "lead"), [mate]);
  return { mate, run: { team, ...(await setup(team)) } };
}

/**
 * One runner of `agent` (default the lead) over canned turn results, reporting to `sink` (default
 * a fresh Recording); a relaunch is another call on the same run.
 */
function runner(
  run: { team: AgentTeam; dir: string; protocol: Awaited<ReturnType<typeof setup>>["protocol"] },
  results: Canned[],
  options: {
    agent?: AgentTeam["spec"]["lead"];
    onTurn?: (n: number) => Promise<void>;
    sink?: AgentStateSink;
    signal?: AbortSignal;
    idleGraceMs?: number;
  } = {},
) {
  return runSession({
    team: run.protocol,
    spec: run.team,
    agent: options.agent ?? run.team.spec.lead,
    runId: "run-generic",
    cwd: run.dir,
    adapter: cannedAdapter(results, options.onTurn),
    sink: options.sink ?? new Recording(),
    timings: testTimings(options.idleGraceMs === undefined ? {} : { idleGraceMs: options.idleGraceMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

describe("session-cumulative usage (usageScope: session)", () => {
  it("turnDelta subtracts the same session's previous totals, and starts over for another session", () => {
    const prev = {
      sessionId: "a",
      inputTokens: 10,
      outputTokens: 1,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0.5,
    };
    const now = { inputTokens: 25, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 1.25 };
    expect(turnDelta(now, "a", prev)).toEqual({ ...now, inputTokens: 15, outputTokens: 2, costUsd: 0.75 });
    expect(turnDelta(now, "b", prev)).toEqual(now);
  });

  it("charges n equal resumed turns n × one turn, not n(n+1)/2, also across a runner relaunch", async () => {
    const run = await soloLead();
    const { dir, protocol } = run;
    // Three turns of $0.01 each, reported as session totals; a message wakes the lead after turns 1-2.
    const wake = async () => {
      await protocol.sendMessage({ from: "someone", to: "lead", text: "more", summary: "more" });
    };
    const first = new Recording();
    const abort = new AbortController();
    const firstRun = runner(run, [session(0.01, 1000), session(0.02, 2000)], {
      onTurn: async (n) => {
        if (n === 0) await wake();
        if (n === 1) abort.abort("relaunch"); // the runner is cut off after its second turn
      },
      sink: first,
      signal: abort.signal,
    });
    const out1 = await firstRun;
    expect(out1.end).toBe("stopped");
    expect((await readSessionRecord(dir, "lead"))?.cumulative).toMatchObject({
      sessionId: "s-1",
      costUsd: 0.02,
    });
    // A new runner resumes s-1; the CLI reports the session's total of $0.03 after its third turn.
    const second = new Recording();
    const out2 = await runner(run, [{ ...session(0.03, 3000) }], {
      onTurn: async () => {
        await protocol.finish("lead", "done");
      },
      sink: second,
    });
    expect(out2.end).toBe("finished");
    expect(first.cost).toBe(0.02);
    expect(second.cost).toBe(0.01);
    expect(out1.usage.inputTokens + out2.usage.inputTokens).toBe(3000);
  }, 30_000);
});

describe("a turn stopped before the CLI reported its session totals", () => {
  it("leaves the session's baseline, so the relaunch charges only new usage", async () => {
    const run = await soloLead();
    const { dir, protocol } = run;
    const abort = new AbortController();
    const first = new Recording();
    // Turn 1 reports the session's $0.01; turn 2 is stopped (SIGTERM) before codex's
    // turn.completed, so its result carries zeros.
    const stopAfterTwo = async (n: number) => {
      if (n === 0) await protocol.sendMessage({ from: "someone", to: "lead", text: "more", summary: "more" });
      else abort.abort("SIGTERM");
    };
    await runner(run, [session(0.01, 1000), { ...session(0, 0), isError: true }], {
      onTurn: stopAfterTwo,
      sink: first,
      signal: abort.signal,
    });
    expect((await readSessionRecord(dir, "lead"))?.cumulative?.costUsd).toBe(0.01);
    const second = new Recording();
    await runner(run, [session(0.03, 3000)], {
      onTurn: async () => {
        await protocol.finish("lead", "done");
      },
      sink: second,
    });
    expect(first.cost).toBe(0.01);
    expect(second.cost).toBe(0.02);
  }, 30_000);
});

describe("session totals and the measurement are on disk before the turn is charged", () => {
  it("a runner killed right after a charge cannot leave a baseline its relaunch would charge again", async () => {
    const run = await soloLead();
    const { dir, protocol } = run;
    // What the session record holds at the very moment each charge reaches the store.
    const baselineAtCharge: Array<number | undefined> = [];
    const measuredAtCharge: Array<number | undefined> = [];
    class Checking extends Recording {
      override async chargeUsage(charge: UsageCharge) {
        const record = await readSessionRecord(dir, "lead");
        baselineAtCharge.push(record?.cumulative?.costUsd);
        measuredAtCharge.push(record?.measured?.costUsd);
        return super.chargeUsage(charge);
      }
    }
    const sink = new Checking();
    const out = await runner(run, [session(0.01, 1000), session(0.03, 3000)], {
      onTurn: async (n) => {
        if (n === 0)
          await protocol.sendMessage({ from: "someone", to: "lead", text: "more", summary: "more" });
        else await protocol.finish("lead", "done");
      },
      sink,
    });
    expect(out.end).toBe("finished");
    expect(sink.cost).toBe(0.03);
    // Each charge found its own turn's session total already recorded (it used to be written after).
    expect(baselineAtCharge).toEqual([0.01, 0.03]);
    // And so was the agent's measurement the charge brings the store to: a relaunch after a kill
    // before the charge charges it (the store's totals say it was not), one after it does not.
    expect(measuredAtCharge).toEqual([0.01, 0.03]);
  }, 30_000);
});

describe("authentication errors (errorKind: auth)", () => {
  it("fail the agent after one turn with the reason, no turn retries", async () => {
    const out = await runner(await soloLead(), [
      { isError: true, errorKind: "auth", resultText: "HTTP 401 invalid x-api-key" },
    ]);
    expect(out).toMatchObject({ end: "failed", reason: "AuthFailed", turns: 1 });
    expect(out.message).toMatch(/^the model API refused the key: HTTP 401/);
  });
});

describe("hollow successes", () => {
  it("a teammate that ends without one team-tool call gets a Warning event", async () => {
    const { mate, run } = await leadAndClaudeMate();
    const sink = new Recording();
    const out = await runner(run, [{ teamToolCalls: 0 }], { agent: mate, sink, idleGraceMs: 100 });
    expect(out.ok).toBe(true);
    expect(sink.warnings).toEqual([expect.objectContaining({ reason: "NoTeamToolCalls" })]);
  });

  it("tools the CLI denied are recorded as a Warning", async () => {
    const { mate, run } = await leadAndClaudeMate();
    const sink = new Recording();
    await runner(run, [{ teamToolCalls: 2, deniedTools: ["WebFetch"] }], {
      agent: mate,
      sink,
      idleGraceMs: 100,
    });
    expect(sink.warnings).toEqual([expect.objectContaining({ reason: "ToolsDenied" })]);
  });
});

/** A successful turn's final result: 1000 input and 100 output tokens at the CLI's reported cost. */
const finalResult = (costUsd: number) => ({
  sessionId: "s",
  isError: false,
  resultText: "",
  costUsd,
  costSource: "reported" as const,
  model: "m",
  inputTokens: 1000,
  outputTokens: 100,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
});

describe("the CLI's final figures are the truth (point 15)", () => {
  it("an estimate streamed above the final cost is replaced by the final cost", async () => {
    const sink = new Recording();
    const reporter = new UsageReporter(sink);
    reporter.beginTurn();
    reporter.progress({
      inputTokens: 1000,
      outputTokens: 100,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0.05,
    });
    await reporter.flush();
    await reporter.endTurn(finalResult(0.01));
    expect(reporter.total.costUsd).toBe(0.01);
    // The next turn's usage first absorbs what the estimate sent in excess.
    reporter.beginTurn();
    await reporter.endTurn(finalResult(0.05));
    expect(reporter.total.costUsd).toBeCloseTo(0.06, 10);
    expect(sink.cost).toBe(0.06);
  });
});
