/**
 * Every AWS API command a Lambda bundle holds is allowed by that function's role in the
 * synthesised template, or is listed below as never sent by that handler, with the reason. The
 * bundle is what esbuild keeps of the SDK after tree-shaking (a command class is kept when code
 * in the bundle references it), so a command the handler sends without a grant — an AccessDenied
 * in AWS that no offline test would see — fails here. Prepare's run-manifest write was one.
 *
 * The stack is synthesised with ECS and Slack on: the configuration where the handlers reach the
 * most services (EKS runs create no access points or task definitions; without Slack the api
 * reads no bot token). Resources are checked by the per-construct assertions in stack.test.ts;
 * this test checks actions. The runner's bundle is checked against its task role the same way.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CfnResource } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHandler, HANDLER_NAMES, type HandlerName } from "../../infra/bundling.ts";
import type { SquadronStack } from "../../infra/stack.ts";
import { buildRunner } from "../../runner/build.ts";
import { synth } from "./support.ts";

/** SDK package → IAM service prefix. */
const SERVICE_PREFIX: Record<string, string> = {
  "client-cloudwatch-logs": "logs",
  "client-dynamodb": "dynamodb",
  "client-ecs": "ecs",
  "client-efs": "elasticfilesystem",
  "client-s3": "s3",
  "client-scheduler": "scheduler",
  "client-secrets-manager": "secretsmanager",
  "client-sfn": "states",
};

/** Commands authorised by an action of another name. */
const ACTION_OF_COMMAND: Record<string, string> = { "s3:ListObjectsV2": "s3:ListBucket" };

/** Bundled in every handler that has the client, sent by none. */
const NEVER_SENT: Record<string, string> = {
  "dynamodb:DescribeEndpoints": "endpoint discovery, which DynamoDB clients leave off",
  "s3:CreateSession": "S3 Express One Zone sessions; Squadron's bucket is a general purpose bucket",
  "dynamodb:Scan": "kept by the document client; the store only gets, queries and writes items",
  "dynamodb:BatchWriteItem": "TeamStore.removeRun only, which only the api calls (schedule history pruning)",
};
/** Commands of NEVER_SENT a handler does send (and must be granted). */
const SENT_BY: Partial<Record<HandlerName, string[]>> = { api: ["dynamodb:BatchWriteItem"] };

/** Bundled with a dependency whose other methods the handler calls. */
const WORKSPACE_CREATION = {
  "ecs:DescribeTaskDefinition": "EfsEcsRunWorkspaces.create: Prepare's, not this handler's",
  "ecs:RegisterTaskDefinition": "EfsEcsRunWorkspaces.create: Prepare's, not this handler's",
  "elasticfilesystem:CreateAccessPoint": "EfsEcsRunWorkspaces.create: Prepare's, not this handler's",
  "elasticfilesystem:DescribeAccessPoints": "EfsEcsRunWorkspaces.create waits for the access point",
  "scheduler:CreateSchedule": "the deadline scheduler's arm: Prepare's, this handler only disarms",
  "secretsmanager:DescribeSecret": "the team secrets' ARNs for a new task definition: Prepare's",
};
const NEVER_SENT_BY: Partial<Record<HandlerName, Record<string, string>>> = {
  prepare: {
    "ecs:DeregisterTaskDefinition": "EfsEcsRunWorkspaces.delete: Cleanup's and the events function's",
    "ecs:DeleteTaskDefinitions": "EfsEcsRunWorkspaces.delete: Cleanup's and the events function's",
    "elasticfilesystem:DeleteAccessPoint": "EfsEcsRunWorkspaces.delete: Cleanup's and the events function's",
  },
  cleanup: WORKSPACE_CREATION,
  events: WORKSPACE_CREATION,
  outputs: {
    "s3:GetObject": "S3ObjectStore.download: the runner's; the outputs function only uploads",
    "s3:ListObjectsV2": "S3ObjectStore.download: the runner's; the outputs function only uploads",
  },
};

/** The runner container (its task role): the commands its bundle holds but never sends. */
const RUNNER_NEVER_SENT: Record<string, string> = {
  "s3:PutObject":
    "S3ObjectStore.upload: a cowork run's outputs are delivered by the outputs function, never by a runner",
};

let template: Template;
let stack: SquadronStack;
const bundled = new Map<HandlerName, string[]>();
let runnerCommands: string[] = [];
const outRoot = mkdtempSync(join(tmpdir(), "squadron-iam-"));

beforeAll(async () => {
  ({ template, stack } = synth({
    runnerImageUri: "public.ecr.aws/squadron/runner:test",
    slack: { enabled: true, channel: "#approvals" },
  }));
  for (const name of HANDLER_NAMES) {
    bundled.set(name, commandsOf(name, (await bundleHandler(name, join(outRoot, name))).inputs));
  }
  runnerCommands = commandsOf("runner", (await buildRunner({ outdir: join(outRoot, "runner") })).inputs);
}, 120_000);

/** The IAM actions of the SDK command modules among a bundle's inputs, e.g. `s3:PutObject`. */
function commandsOf(what: string, inputs: string[]): string[] {
  const actions = inputs
    .map((input) => /@aws-sdk\/(client-[a-z0-9-]+)\/dist-(?:es|cjs)\/commands\/(\w+)Command\.js$/.exec(input))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, client, command]) => {
      const prefix = SERVICE_PREFIX[client as string];
      if (!prefix) throw new Error(`${what}: no IAM prefix known for @aws-sdk/${client}`);
      return `${prefix}:${command}`;
    });
  return [...new Set(actions)].sort();
}

afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

/** Every action the role of handler `name` (or the runner's task role) is allowed, any resource. */
function grantedActions(name: HandlerName | "runner"): Set<string> {
  const role =
    name === "runner" ? stack.compute.taskRole : stack.handlerFunctions().find((f) => f.name === name)?.role;
  if (!role) throw new Error(`no role for ${name}`);
  const roleId = stack.getLogicalId(role.node.defaultChild as CfnResource);
  const granted = new Set<string>();
  for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
    const roles = policy.Properties.Roles as Array<{ Ref?: string }>;
    if (!roles.some((r) => r.Ref === roleId)) continue;
    for (const s of policy.Properties.PolicyDocument.Statement as Array<{
      Effect: string;
      Action: unknown;
    }>) {
      if (s.Effect === "Allow") for (const a of [s.Action].flat() as string[]) granted.add(a);
    }
  }
  return granted;
}

const allows = (granted: Set<string>, action: string) =>
  granted.has(action) || granted.has(`${action.split(":")[0]}:*`) || granted.has("*");

describe("IAM: every AWS command in a Lambda bundle is granted to its function", () => {
  it("finds the SDK commands of every bundle", () => {
    expect([...bundled.keys()].sort()).toEqual([...HANDLER_NAMES].sort());
    expect(bundled.get("prepare")).toContain("s3:PutObject");
    expect(bundled.get("outputs")).toContain("s3:PutObject");
  });

  it.each(HANDLER_NAMES)("%s: each command is allowed by its role or never sent", (name) => {
    const granted = grantedActions(name);
    const neverSent: Record<string, string> = { ...NEVER_SENT, ...NEVER_SENT_BY[name] };
    for (const command of SENT_BY[name] ?? []) delete neverSent[command];
    const missing = (bundled.get(name) ?? [])
      .filter((command) => !(command in neverSent))
      .map((command) => ACTION_OF_COMMAND[command] ?? command)
      .filter((action) => !allows(granted, action));
    expect(missing, `${name} sends these without a grant`).toEqual([]);
  });

  it("the runner: each command is allowed by the task role, and it cannot put objects", () => {
    expect(runnerCommands).toEqual(
      expect.arrayContaining(["dynamodb:UpdateItem", "s3:GetObject", "s3:PutObject"]),
    );
    const granted = grantedActions("runner");
    const neverSent = { ...NEVER_SENT, ...RUNNER_NEVER_SENT };
    const missing = runnerCommands
      .filter((command) => !(command in neverSent))
      .map((command) => ACTION_OF_COMMAND[command] ?? command)
      .filter((action) => !allows(granted, action));
    expect(missing, "the runner sends these without a grant").toEqual([]);
    expect(allows(granted, "s3:PutObject")).toBe(false);
  });

  it.each(Object.keys(NEVER_SENT_BY) as HandlerName[])(
    "%s: what is listed as never sent is in the bundle and not granted (the list does not rot)",
    (name) => {
      const granted = grantedActions(name);
      for (const command of Object.keys(NEVER_SENT_BY[name] ?? {})) {
        expect(bundled.get(name), `${name} no longer bundles ${command}: drop it from the list`).toContain(
          command,
        );
        const action = ACTION_OF_COMMAND[command] ?? command;
        expect(allows(granted, action), `${name} is granted ${action} that it never sends`).toBe(false);
      }
    },
  );
});
