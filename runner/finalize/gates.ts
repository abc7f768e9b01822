import { spawn } from "node:child_process";
import type { QualityGatesSpec } from "../../core/manifest/types.ts";
import { redact } from "../workspace/git.ts";

export interface GateResult {
  name: "tests" | "lint" | "validation";
  command: string;
  ok: boolean;
  exitCode: number | null;
  /** Set when the gate was killed for running too long. */
  timedOut?: boolean;
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

/** Runs one shell command with bash in `cwd`; never rejects. */
export function runGate(
  name: GateResult["name"],
  command: string,
  cwd: string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<GateResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
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
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        try {
          process.kill(-(child.pid as number), "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      },
      options.timeoutMs ?? 30 * 60_000,
    );
    const finish = (exitCode: number | null, extra = "") => {
      clearTimeout(timer);
      const text = redact(truncateOutput(output + extra), env);
      resolve({
        name,
        command,
        ok: exitCode === 0 && !timedOut,
        exitCode,
        ...(timedOut ? { timedOut } : {}),
        durationMs: Date.now() - started,
        output: text,
      });
    };
    child.on("error", (error) => finish(null, `\n${error.message}`));
    child.on("close", (code) =>
      finish(code, timedOut ? "\n[killed: the gate ran longer than its time limit]" : ""),
    );
  });
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
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<GateResult[]> {
  const results: GateResult[] = [];
  for (const gate of plannedGates(spec)) results.push(await runGate(gate.name, gate.command, cwd, options));
  return results;
}
