import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import type { QualityGatesSpec } from "../../core/manifest/types.ts";
import { redact } from "../workspace/git.ts";

export interface GateResult {
  name: "tests" | "lint" | "validation";
  command: string;
  ok: boolean;
  exitCode: number | null;
  /** Set when the gate was killed for running too long. */
  timedOut?: boolean;
  /** Set when the gate was stopped because the run was (the runner got SIGTERM). */
  stopped?: boolean;
  /** Why the gate did not run (it counts as passed: there was nothing to check). */
  skipped?: string;
  durationMs: number;
  /** Combined stdout and stderr, truncated to the start and the end, redacted. */
  output: string;
}

export const DEFAULT_TEST_COMMAND = "npm test";
export const DEFAULT_LINT_COMMAND = "npm run lint";

const HEAD_CHARS = 2_000;
const TAIL_CHARS = 6_000;

/** Keeps the start (the command's setup) and the end (where failures are summarised). */
export function truncateOutput(text: string, head = HEAD_CHARS, tail = TAIL_CHARS): string {
  if (text.length <= head + tail) return text;
  const dropped = text.length - head - tail;
  return `${text.slice(0, head)}\n… [${dropped} characters omitted] …\n${text.slice(-tail)}`;
}

/**
 * Gates run code the agents wrote: they get the environment minus anything that looks like a
 * credential, so a test script cannot read the git token or the AWS task credentials.
 */
export function gateEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const safe: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (/TOKEN|SECRET|PASSWORD|CREDENTIAL|API_KEY|ACCESS_KEY|PRIVATE_KEY/i.test(name)) continue;
    safe[name] = value;
  }
  return { ...safe, CI: "true" };
}

export interface GateOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Aborted when the run is stopped: the gate's whole process group is ended. */
  signal?: AbortSignal;
  /** Where the gate's full output goes (the runner's log); results and events carry a summary. */
  log?: (line: string) => void;
}

export const DEFAULT_GATE_TIMEOUT_MS = 30 * 60_000;
const STOP_GRACE_MS = 2_000;
const SUMMARY_LINES = 5;

/**
 * The last few meaningful lines of a gate's output, without colour codes: what a failure reason,
 * an event or a message may carry. The whole output is in the runner's log.
 */
export function summarizeOutput(output: string, lines = SUMMARY_LINES): string {
  const meaningful = stripVTControlCharacters(output)
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  return meaningful
    .slice(-lines)
    .map((l) => (l.length > 200 ? `${l.slice(0, 199)}…` : l))
    .join("\n");
}

/**
 * npm looks for package.json upwards from its working directory, so `npm test` in a repository
 * without one would run the tests of whatever project encloses the run directory (locally, the
 * Squadron checkout itself). The default commands therefore run only where the repository has
 * its own package.json; a command the manifest names is run as written.
 */
function nothingToRun(name: GateResult["name"], command: string, cwd: string): string | undefined {
  const defaults: string[] = [DEFAULT_TEST_COMMAND, DEFAULT_LINT_COMMAND];
  if (!defaults.includes(command) || existsSync(path.join(cwd, "package.json"))) return undefined;
  return `no package.json in the repository: nothing to ${name === "tests" ? "test" : "lint"} with \`${command}\``;
}

/** Runs one shell command with bash in `cwd`; never rejects. */
export function runGate(
  name: GateResult["name"],
  command: string,
  cwd: string,
  options: GateOptions = {},
): Promise<GateResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const skipped = nothingToRun(name, command, cwd);
  if (skipped) {
    options.log?.(`gate ${name}: skipped: ${skipped}`);
    return Promise.resolve({ name, command, ok: true, exitCode: null, skipped, durationMs: 0, output: "" });
  }
  if (options.signal?.aborted) {
    return Promise.resolve({
      name,
      command,
      ok: false,
      exitCode: null,
      stopped: true,
      durationMs: 0,
      output: "",
    });
  }
  return new Promise((resolve) => {
    // Its own process group, so a timeout also kills whatever the command started.
    const child = spawn("bash", ["-c", command], {
      cwd,
      env: gateEnv(env),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      // Bound memory on chatty commands; the middle is dropped later anyway.
      if (output.length > 4 * (HEAD_CHARS + TAIL_CHARS)) output = truncateOutput(output);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), sig);
      } catch {
        child.kill(sig);
      }
    };
    let timedOut = false;
    let stopped = false;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup("SIGKILL");
    }, options.timeoutMs ?? DEFAULT_GATE_TIMEOUT_MS);
    let killTimer: NodeJS.Timeout | undefined;
    // A stopped run ends its gate and everything the gate started (npm, its test runner, a JVM).
    const onAbort = () => {
      stopped = true;
      signalGroup("SIGTERM");
      killTimer = setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS);
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const finish = (exitCode: number | null, extra = "") => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", onAbort);
      // The command has exited; anything it left running in its group goes too.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // the group is already empty
        }
      }
      const text = redact(truncateOutput(output + extra), env);
      if (text) options.log?.(`gate ${name} (\`${command}\`, exit ${exitCode}) output:\n${text}`);
      resolve({
        name,
        command,
        ok: exitCode === 0 && !timedOut && !stopped,
        exitCode,
        ...(timedOut ? { timedOut } : {}),
        ...(stopped ? { stopped } : {}),
        durationMs: Date.now() - started,
        output: text,
      });
    };
    child.on("error", (error) => finish(null, `\n${error.message}`));
    child.on("close", (code) =>
      finish(
        code,
        timedOut
          ? "\n[killed: the gate ran longer than its time limit]"
          : stopped
            ? "\n[stopped: the run was stopped]"
            : "",
      ),
    );
  });
}

/** One sentence per failed gate, with the few output lines that say why. */
export function describeFailedGates(failed: GateResult[]): string {
  const parts = failed.map((g) => {
    const how = g.timedOut ? "timed out" : g.stopped ? "was stopped" : `exit ${g.exitCode}`;
    const summary = summarizeOutput(g.output);
    return `${g.name} (${how})${summary ? `:\n${summary}` : ""}`;
  });
  return `quality gate${failed.length > 1 ? "s" : ""} failed: ${parts.join("\n")}`;
}

/** The gates a spec asks for, in order: tests, lint, validation script. */
export function plannedGates(
  spec: QualityGatesSpec | undefined,
): { name: GateResult["name"]; command: string }[] {
  if (!spec) return [];
  const gates: { name: GateResult["name"]; command: string }[] = [];
  if (spec.requireTests) gates.push({ name: "tests", command: spec.testCommand ?? DEFAULT_TEST_COMMAND });
  if (spec.requireLint) gates.push({ name: "lint", command: spec.lintCommand ?? DEFAULT_LINT_COMMAND });
  if (spec.validationScript?.trim()) gates.push({ name: "validation", command: spec.validationScript });
  return gates;
}

/** Runs every gate (all of them, so one report shows every failure). */
export async function runQualityGates(
  spec: QualityGatesSpec | undefined,
  cwd: string,
  options: GateOptions = {},
): Promise<GateResult[]> {
  const results: GateResult[] = [];
  for (const gate of plannedGates(spec)) results.push(await runGate(gate.name, gate.command, cwd, options));
  return results;
}
