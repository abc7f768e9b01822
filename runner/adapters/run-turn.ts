import { spawn } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { agentCliEnv } from "./cli-env.ts";
import type { AgentAdapter, ProgressEvent, TurnInput, TurnResult } from "./types.ts";

export interface RunTurnOptions {
  /** Aborting stops the CLI: SIGINT, then SIGTERM after `graceMs`, then SIGKILL after another. */
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** A progress tick (usage so far) is reported at least this often while the CLI runs. */
  progressIntervalMs?: number;
  graceMs?: number;
  /** Receives the CLI's stderr as it arrives (for logs). */
  onStderr?: (chunk: string) => void;
}

const STDERR_TAIL_CHARS = 4000;
const STDERR_HEAD_CHARS = 4000;

/**
 * Runs one headless turn of an agent CLI as a child process, streaming its stdout through the
 * adapter's parser. Never throws for a CLI failure: crashes, spawn errors and stops come back as
 * a `TurnResult` with `isError` and the usage seen up to that point.
 */
export async function runTurn(
  adapter: AgentAdapter,
  input: TurnInput,
  options: RunTurnOptions = {},
): Promise<TurnResult> {
  const invocation = adapter.buildInvocation(input);
  const parser = adapter.createParser(input);
  const graceMs = options.graceMs ?? 5000;
  const intervalMs = options.progressIntervalMs ?? 2000;
  const report = (event: ProgressEvent) => {
    try {
      options.onProgress?.(event);
    } catch {
      // A failing progress sink (e.g. the store is briefly unreachable) must not kill the turn.
    }
  };

  // Private by default: what a CLI keeps here (settings, sessions) is for the runner's user only.
  for (const dir of invocation.dirs ?? []) await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const file of invocation.files ?? []) {
    await mkdir(dirname(file.path), { recursive: true, mode: 0o700 });
    await writeFile(file.path, file.content, { mode: 0o600 });
  }
  const removeFiles = () => Promise.all((invocation.files ?? []).map((f) => rm(f.path, { force: true })));

  if (options.signal?.aborted) {
    await removeFiles();
    return stoppedBeforeStart(parser.snapshot());
  }

  const child = spawn(invocation.command, invocation.args, {
    cwd: invocation.cwd,
    // The runner's store endpoints, credentials and secrets stay with the runner (cli-env.ts).
    env: { ...agentCliEnv(process.env), ...invocation.env },
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group: a terminal's Ctrl-C reaches the runner only, and SIGKILL can take the
    // CLI's own children (MCP servers) with it.
    detached: true,
  });

  let stderrTail = "";
  // The head too: some CLIs print the one useful line first and a long stack after it
  // (Gemini: "Error when talking to Gemini API … {json}"), which the tail alone would lose.
  let stderrHead = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    if (stderrHead.length < STDERR_HEAD_CHARS) stderrHead = (stderrHead + chunk).slice(0, STDERR_HEAD_CHARS);
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    options.onStderr?.(chunk);
  });

  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  const sendSignal = (sig: NodeJS.Signals, group = false) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(group ? -child.pid : child.pid, sig);
    } catch {
      // Already gone.
    }
  };
  const onAbort = () => {
    if (stopped) return;
    stopped = true;
    sendSignal("SIGINT");
    timers.push(setTimeout(() => sendSignal("SIGTERM"), graceMs));
    timers.push(setTimeout(() => sendSignal("SIGKILL", true), graceMs * 2));
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const ticker = setInterval(() => report({ ...parser.snapshot(), kind: "tick" }), intervalMs);

  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
  const consumed = (async () => {
    for await (const line of lines) {
      const event = parser.push(line);
      if (event) report(event);
    }
  })();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );

  const outcome = await Promise.race([
    Promise.all([consumed, exited]).then(([, exit]) => ({ exit })),
    spawnError.then((error) => ({ error })),
  ]);

  clearInterval(ticker);
  for (const t of timers) clearTimeout(t);
  options.signal?.removeEventListener("abort", onAbort);
  await removeFiles();

  if ("error" in outcome) {
    const snap = parser.snapshot();
    return {
      ...snap,
      sessionId: input.resumeSessionId ?? snap.sessionId,
      isError: true,
      errorKind: "spawn_failed",
      resultText: `Could not start ${adapter.cli} (${invocation.command}): ${outcome.error.message}`,
      costSource: "price-table",
      exitCode: null,
      signal: null,
    };
  }

  const result = parser.finish({ ...outcome.exit, stderrTail, stderrHead });
  const final: TurnResult = {
    ...result,
    exitCode: outcome.exit.code,
    signal: outcome.exit.signal,
    ...(invocation.warnings?.length ? { warnings: invocation.warnings } : {}),
  };
  if (!final.sessionId && input.resumeSessionId) final.sessionId = input.resumeSessionId;
  if (stopped) {
    return {
      ...final,
      isError: true,
      errorKind: "stopped",
      stopped: true,
      resultText: `Stopped by the runner: ${adapter.cli} was sent SIGINT and exited (${describeExit(outcome.exit)}).${final.resultText ? ` Last output: ${final.resultText}` : ""}`,
    };
  }
  report({ ...parser.snapshot(), kind: "result" });
  return final;
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

function stoppedBeforeStart(snap: ProgressEvent): TurnResult {
  return {
    ...snap,
    isError: true,
    errorKind: "stopped",
    stopped: true,
    resultText: "Stopped by the runner before the CLI started.",
    costSource: "price-table",
  };
}
