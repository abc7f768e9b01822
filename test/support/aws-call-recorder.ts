/**
 * Records every AWS call the product code makes while the existing suites run, so that
 * test/infra/iam-evaluation.test.ts can evaluate each one against the synthesised policies.
 *
 * Two sources, both "command + input":
 * - an SDK middleware: every real SDK client (DynamoDB Local, the fake S3, ...) gets an
 *   `initialize` step that records the command (installed on `Client.prototype.send` of
 *   `@smithy/core/client`, the one copy every v3 client in this tree is built on);
 * - the recorded-response stand-ins of test/lambdas/harness.ts (`recorder`, `RecordedSfn`), which
 *   answer ECS, EFS, Scheduler, Secrets Manager and Step Functions calls offline, call
 *   `noteAwsCall` for each command they answer.
 *
 * Each call keeps the product frames of its stack (files under core/, lambdas/, runner/,
 * state-machines/, never test/ or node_modules), which name the code that made it; the evaluation
 * maps that code to the role it runs as. Recording is off unless SQUADRON_AWS_CALL_LOG names a
 * directory (scripts/record-aws-calls.ts sets it); each worker appends JSON lines to its own file.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface RecordedAwsCall {
  /** The SDK client's service, e.g. "DynamoDB", "ECS", "EFS". */
  service: string;
  /** The command without its suffix, e.g. "UpdateItem". */
  command: string;
  input: unknown;
  /** Product frames, innermost first: "EfsEcsRunWorkspaces.create core/control/run-workspace.ts". */
  frames: string[];
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PRODUCT = /^(core|lambdas|runner|state-machines|local)\//;

function productFrames(stack: string): string[] {
  const frames: string[] = [];
  for (const line of stack.split("\n").slice(1)) {
    const m = /at (?:async )?(?:(\S+) \()?(?:file:\/\/)?([^():]+\.[jt]s):\d+:\d+\)?$/.exec(line.trim());
    if (!m) continue;
    const file = relative(REPO, m[2] as string);
    if (!PRODUCT.test(file)) continue;
    frames.push(`${m[1] ?? "<anonymous>"} ${file}`);
  }
  return frames;
}

function logFile(): string | undefined {
  const dir = process.env.SQUADRON_AWS_CALL_LOG;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  return join(dir, `${process.pid}.jsonl`);
}

/** Records one call (a no-op unless recording is on). */
export function noteAwsCall(service: string, command: string, input: unknown): void {
  const file = logFile();
  if (!file) return;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100; // the entry point (a handler, a domain function) is far out
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  const frames = productFrames(stack);
  if (frames.length === 0) return; // a test's own setup call (CreateTable, a fixture upload)
  const call: RecordedAwsCall = { service, command: command.replace(/Command$/, ""), input, frames };
  appendFileSync(file, `${JSON.stringify(call, (_k, v) => (v instanceof Uint8Array ? "<bytes>" : v))}\n`);
}

let installed = false;

/** Wraps every SDK v3 client's `send` (a no-op unless recording is on). */
export async function installAwsCallRecorder(): Promise<void> {
  if (installed || !process.env.SQUADRON_AWS_CALL_LOG) return;
  installed = true;
  const { Client } = (await import("@smithy/core/client")) as {
    Client: { prototype: { send: (...args: unknown[]) => unknown } };
  };
  const send = Client.prototype.send;
  Client.prototype.send = function (this: { config?: { serviceId?: string } }, ...args: unknown[]) {
    const command = args[0] as { constructor: { name: string }; input: unknown };
    noteAwsCall(this.config?.serviceId ?? this.constructor.name, command.constructor.name, command.input);
    return send.apply(this, args);
  };
}
