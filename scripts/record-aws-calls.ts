/**
 * Records the AWS calls Squadron's code makes while the suites that exercise it run, into
 * test/fixtures/aws-calls.json, which test/infra/iam-evaluation.test.ts evaluates against the
 * synthesised policies. Run it after changing which AWS calls a handler or the runner makes:
 *
 *   npx tsx scripts/record-aws-calls.ts            # the default suites
 *   npx tsx scripts/record-aws-calls.ts test/lambdas/api.test.ts ...
 *
 * Each call keeps its command, the input fields IAM decides on (names, keys, ARNs, tags, passed
 * roles, secret references; never item contents or object bodies), and the product code that made
 * it. Identical calls are kept once.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecordedAwsCall } from "../test/support/aws-call-recorder.ts";

export const DEFAULT_SUITES = [
  "test/lambdas",
  "test/control-plane",
  "test/runner/workspace",
  "test/runner/session",
  "test/runner/finalize",
];

/** The fields of an input that IAM authorisation depends on. */
const IAM_FIELDS = [
  "TableName",
  "IndexName",
  "Bucket",
  "Key",
  "Prefix",
  "SecretId",
  "FileSystemId",
  "AccessPointId",
  "Tags",
  "tags",
  "family",
  "taskDefinition",
  "taskDefinitions",
  "taskRoleArn",
  "executionRoleArn",
  "cluster",
  "task",
  "Name",
  "GroupName",
  "Target",
  "stateMachineArn",
  "executionArn",
  "name",
  "logGroupName",
  "logGroupIdentifier",
] as const;

export function reduceInput(command: string, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of IAM_FIELDS) if (input[field] !== undefined) out[field] = input[field];
  if (
    (command === "CreateSchedule" || command === "UpdateSchedule") &&
    typeof out.Target === "object" &&
    out.Target
  ) {
    const { Arn, RoleArn } = out.Target as { Arn?: string; RoleArn?: string };
    out.Target = { Arn, RoleArn };
  }
  if (command === "RegisterTaskDefinition") {
    // The execution role reads each secret named here when a task starts.
    const defs = (input.containerDefinitions as Array<{ secrets?: Array<{ valueFrom: string }> }>) ?? [];
    out.secrets = defs.flatMap((d) => (d.secrets ?? []).map((s) => s.valueFrom)).sort();
  }
  // Every suite makes its own table; the deployment has one, so the name carries nothing.
  if (out.TableName !== undefined) out.TableName = "<table>";
  return out;
}

export function compact(calls: RecordedAwsCall[]): RecordedAwsCall[] {
  const seen = new Map<string, RecordedAwsCall>();
  for (const call of calls) {
    const reduced: RecordedAwsCall = {
      service: call.service,
      command: call.command,
      input: reduceInput(call.command, (call.input ?? {}) as Record<string, unknown>),
      frames: [...new Set(call.frames)],
    };
    const key = JSON.stringify([reduced.service, reduced.command, reduced.frames, shape(reduced.input)]);
    if (!seen.has(key)) seen.set(key, reduced);
  }
  return [...seen.values()].sort((a, b) =>
    `${a.service}:${a.command}:${a.frames[0]}`.localeCompare(`${b.service}:${b.command}:${b.frames[0]}`),
  );
}

/** An input with run-specific values (ids, timestamps) blurred, so one call per kind is kept. */
function shape(input: unknown): unknown {
  return JSON.parse(
    JSON.stringify(input)
      .replace(/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, "<uuid>")
      .replace(/-[0-9a-z]{8}\b/g, "-<id>")
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z?/g, "<time>"),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const suites = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_SUITES;
  const dir = mkdtempSync(join(tmpdir(), "squadron-aws-calls-"));
  const run = spawnSync("npx", ["vitest", "run", ...suites], {
    stdio: "inherit",
    env: { ...process.env, SQUADRON_AWS_CALL_LOG: dir },
  });
  const calls = readdirSync(dir).flatMap((f) =>
    readFileSync(join(dir, f), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RecordedAwsCall),
  );
  rmSync(dir, { recursive: true, force: true });
  const kept = compact(calls);
  writeFileSync("test/fixtures/aws-calls.json", `${JSON.stringify({ suites, calls: kept }, null, 1)}\n`);
  spawnSync("npx", ["biome", "format", "--write", "test/fixtures/aws-calls.json"], { stdio: "inherit" });
  console.log(`${calls.length} calls recorded, ${kept.length} kinds kept in test/fixtures/aws-calls.json`);
  if (run.status !== 0) process.exitCode = run.status ?? 1;
}
