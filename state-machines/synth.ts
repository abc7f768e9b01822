/**
 * Offline synth of the CDK app and extraction of the team-run definition, so tests and local
 * mode execute exactly what CDK deploys. Bundling and asset staging are skipped (no esbuild,
 * no Docker, no copies); CloudFormation tokens in the definition become placeholder ARNs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../infra/app.ts";
import { ALL_STATE_NAMES } from "./contract.ts";

export const PLACEHOLDER_ACCOUNT = "123456789012";
export const PLACEHOLDER_REGION = "us-east-1";

export type AslDefinition = {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
} & Record<string, unknown>;

export interface SynthOptions {
  compute?: "ecs" | "eks";
  /** Extra `squadron` config merged over the defaults used here. */
  config?: Record<string, unknown>;
}

/** Context that makes synth offline and fast: no bundling, no asset staging. */
export const OFFLINE_CONTEXT = {
  "aws:cdk:bundling-stacks": [],
  "aws:cdk:disable-asset-staging": true,
} as const;

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** An EC2-style id suffix (hex, 8 to 17 characters) made from a logical id. */
function hexIdOf(logicalId: string): string {
  return logicalId
    .toLowerCase()
    .replace(/[^0-9a-f]/g, "")
    .padEnd(8, "0")
    .slice(0, 17);
}

/** A syntactically valid stand-in for the value of `Ref`/`Fn::GetAtt` on a resource. */
function placeholderFor(template: Template, logicalId: string, attribute?: string): string {
  const type = template.Resources[logicalId]?.Type ?? "";
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:${resource}`;
  switch (type) {
    case "AWS::Lambda::Function":
      return attribute === "Arn" ? arn("lambda", `function:${logicalId}`) : logicalId;
    case "AWS::ECS::Cluster":
      return attribute === "Arn" ? arn("ecs", `cluster/${logicalId}`) : logicalId;
    case "AWS::EC2::Subnet":
      return `subnet-${hexIdOf(logicalId)}`;
    case "AWS::EC2::SecurityGroup":
      return `sg-${hexIdOf(logicalId)}`;
    case "AWS::DynamoDB::GlobalTable":
    case "AWS::DynamoDB::Table":
      return attribute === "Arn" ? arn("dynamodb", `table/${logicalId}`) : logicalId;
    case "AWS::S3::Bucket":
      return attribute === "Arn" ? `arn:aws:s3:::${logicalId.toLowerCase()}` : logicalId.toLowerCase();
    default:
      return attribute ? arn("cloudformation", `placeholder/${logicalId}/${attribute}`) : logicalId;
  }
}

function resolveToken(template: Template, value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    if ("Ref" in v) {
      const ref = String(v.Ref);
      const pseudo: Record<string, string> = {
        "AWS::Partition": "aws",
        "AWS::Region": PLACEHOLDER_REGION,
        "AWS::AccountId": PLACEHOLDER_ACCOUNT,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": "Squadron",
      };
      return pseudo[ref] ?? placeholderFor(template, ref);
    }
    if ("Fn::GetAtt" in v) {
      const [id, attr] = v["Fn::GetAtt"] as [string, string];
      return placeholderFor(template, id, attr);
    }
    if ("Fn::Join" in v) {
      const [sep, parts] = v["Fn::Join"] as [string, unknown[]];
      return parts.map((p) => resolveToken(template, p)).join(sep);
    }
    if ("Fn::Select" in v) {
      const [index, list] = v["Fn::Select"] as [number, unknown];
      const items = Array.isArray(list) ? list : resolveToken(template, list).split(",");
      return resolveToken(template, items[Number(index)]);
    }
    if ("Fn::Split" in v) {
      const [, source] = v["Fn::Split"] as [string, unknown];
      return resolveToken(template, source);
    }
  }
  throw new Error(`Cannot resolve CloudFormation value in the definition: ${JSON.stringify(value)}`);
}

/** Synthesises the app in-process (offline) and returns its CloudFormation template. */
export function synthTemplate(options: SynthOptions = {}): Template {
  const compute = options.compute ?? "ecs";
  const config: Record<string, unknown> = {
    compute,
    runnerImageUri: "public.ecr.aws/squadron/runner:local",
    // The definition does not depend on the Kubernetes objects; skipping them keeps synth light.
    ...(compute === "eks"
      ? {
          eks: { clusterName: "squadron-test", manageKubernetesObjects: false },
          // compute eks requires the cluster's VPC (infra/config.ts); any imported one does here.
          vpc: {
            vpcId: "vpc-0abc1234abcd12345",
            privateSubnetIds: ["subnet-0abc1234abcd12345", "subnet-0abc1234abcd12346"],
            availabilityZones: ["us-east-1a", "us-east-1b"],
          },
        }
      : {}),
    ...options.config,
  };
  const outdir = mkdtempSync(join(tmpdir(), "squadron-synth-"));
  try {
    const { app, stack } = buildApp({
      context: { ...OFFLINE_CONTEXT, squadron: config },
      outdir,
      nag: false,
    });
    const assembly = app.synth();
    return assembly.getStackByName(stack.stackName).template as Template;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The team-run definition (ASL) from a synthesised template, tokens replaced by placeholders. */
export function definitionFromTemplate(template: Template): AslDefinition {
  const machines = Object.values(template.Resources).filter(
    (r) => r.Type === "AWS::StepFunctions::StateMachine",
  );
  if (machines.length !== 1)
    throw new Error(`Expected one state machine in the template, found ${machines.length}`);
  const raw = machines[0]?.Properties?.DefinitionString;
  return JSON.parse(resolveToken(template, raw)) as AslDefinition;
}

/**
 * Synthesises the app offline and returns the ASL the state machine would be deployed with.
 * About a few seconds; call once per test file (beforeAll) or cache the result.
 */
export function extractTeamRunDefinition(options: SynthOptions = {}): AslDefinition {
  return definitionFromTemplate(synthTemplate(options));
}

/** Names of every state in a definition, nested Map processors included. */
export function stateNamesOf(definition: { States: Record<string, Record<string, unknown>> }): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    names.push(name);
    const processor = (state.ItemProcessor ?? state.Iterator) as typeof definition | undefined;
    if (processor) names.push(...stateNamesOf(processor));
    for (const branch of (state.Branches as (typeof definition)[] | undefined) ?? [])
      names.push(...stateNamesOf(branch));
  }
  return names;
}

export { ALL_STATE_NAMES };
