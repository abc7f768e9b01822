/**
 * The EKS deployment's roles, evaluated as AWS evaluates IAM (test/infra/iam-model.ts:
 * @cloud-copilot/iam-simulate on the synthesised identity and resource policies), for the
 * configuration docs/deploy.md shows: the state machine (DescribeCluster; its Kubernetes rights
 * come from its access entry), the runner's service-account role (IRSA / Pod Identity), Prepare's
 * root mount of the runs' root, and what none of them may do. The EFS CSI node role is imported
 * (the cluster's), so its one grant is checked statement by statement in test/infra/eks.test.ts.
 */
import { existsSync } from "node:fs";
import type { CfnResource } from "aws-cdk-lib";
import { beforeAll, describe, expect, it } from "vitest";
import type { SquadronStack } from "../../infra/stack.ts";
import { deployDocBlock, synth } from "./support.ts";

/**
 * The evaluator module comes with the AWS-contract work (iam-evaluation.test.ts); until both
 * are merged this suite reports itself skipped rather than failing to load.
 */
const MODEL = new URL("./iam-model.ts", import.meta.url);
const hasModel = existsSync(MODEL);
const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/** The part of iam-model.ts's IamModel used here (typed locally: the module may not be there). */
interface EvaluatedRequest {
  principal: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}
interface IamModel {
  roleArn(roleId: string): string;
  resolve(value: unknown): unknown;
  evaluate(request: EvaluatedRequest): Promise<{ result: string }>;
}

let model: IamModel;
let stack: SquadronStack;
let roles: Record<"stateMachine" | "runner" | "prepare" | "cleanup", string>;
let fileSystem: string;
let runsRoot: string;
let table: string;
let bucket: string;

const cluster = (name: string) => `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${name}`;
const mountTarget = { "elasticfilesystem:AccessedViaMountTarget": "true" };

beforeAll(async () => {
  if (!hasModel) return;
  const { IamModel: Model } = (await import(MODEL.href)) as {
    IamModel: new (template: unknown, stackName: string) => IamModel;
  };
  const r = synth(JSON.parse(deployDocBlock("eks-config", "json")));
  stack = r.stack;
  model = new Model(r.template.toJSON(), stack.stackName);
  const roleArn = (role: unknown) =>
    model.roleArn(stack.getLogicalId((role as { node: { defaultChild: CfnResource } }).node.defaultChild));
  const fns = stack.orchestration.functions;
  roles = {
    stateMachine: roleArn(stack.orchestration.stateMachine.role),
    runner: roleArn(stack.compute.taskRole),
    prepare: roleArn(fns.prepare.fn.role),
    cleanup: roleArn(fns.cleanup.fn.role),
  };
  fileSystem = model.resolve(stack.resolve(stack.storage.fileSystem.fileSystemArn)) as string;
  runsRoot = model.resolve(stack.resolve(stack.storage.runsReader.accessPointArn)) as string;
  table = model.resolve(stack.resolve(stack.storage.table.tableArn)) as string;
  bucket = model.resolve(stack.resolve(stack.storage.bucket.bucketArn)) as string;
}, 180_000);

async function decide(principal: keyof typeof roles, request: Omit<EvaluatedRequest, "principal">) {
  return (await model.evaluate({ principal: roles[principal], ...request })).result;
}

describe.runIf(hasModel)("EKS roles, evaluated (with test/infra/iam-model.ts)", () => {
  it("allow what the EKS back-end does", async () => {
    const allowed: Array<[keyof typeof roles, Omit<EvaluatedRequest, "principal">]> = [
      // eks:runJob reads the cluster (the integration's documented permission).
      ["stateMachine", { action: "eks:DescribeCluster", resource: cluster("prod") }],
      // The runner pod: its team directory through a mount target, its run's items and inputs.
      ["runner", { action: "elasticfilesystem:ClientMount", resource: fileSystem, context: mountTarget }],
      ["runner", { action: "elasticfilesystem:ClientWrite", resource: fileSystem, context: mountTarget }],
      ["runner", { action: "dynamodb:UpdateItem", resource: table }],
      ["runner", { action: "s3:GetObject", resource: `${bucket}/run-manifests/billing-0a1b2c3d.json` }],
      // Prepare creates runs/<runId> as root through the runs' root access point.
      ...(["ClientMount", "ClientWrite", "ClientRootAccess"] as const).map(
        (a): [keyof typeof roles, Omit<EvaluatedRequest, "principal">] => [
          "prepare",
          {
            action: `elasticfilesystem:${a}`,
            resource: fileSystem,
            context: { ...mountTarget, "elasticfilesystem:AccessPointArn": runsRoot },
          },
        ],
      ),
    ];
    const refused: string[] = [];
    for (const [who, request] of allowed) {
      const result = await decide(who, request);
      if (result !== "Allowed") refused.push(`${who} ${request.action} ${request.resource}: ${result}`);
    }
    expect(refused).toEqual([]);
  });

  it("deny what none of them needs", async () => {
    const denied: Array<[keyof typeof roles, Omit<EvaluatedRequest, "principal">]> = [
      ["stateMachine", { action: "eks:DescribeCluster", resource: cluster("other") }],
      ["stateMachine", { action: "eks:UpdateClusterConfig", resource: cluster("prod") }],
      ["stateMachine", { action: "eks:CreateAccessEntry", resource: cluster("prod") }],
      // Agents run shells with the runner's role: no object writes, no team secrets, no cluster.
      ["runner", { action: "s3:PutObject", resource: `${bucket}/runs/x/output/a.txt` }],
      [
        "runner",
        {
          action: "secretsmanager:GetSecretValue",
          resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:squadron/payments/git-AbCdEf`,
        },
      ],
      ["runner", { action: "eks:DescribeCluster", resource: cluster("prod") }],
      [
        "runner",
        {
          action: "elasticfilesystem:ClientMount",
          resource: fileSystem,
          context: { "elasticfilesystem:AccessedViaMountTarget": "false" },
        },
      ],
      // Prepare on EKS creates no access point (ECS only) and mounts nothing but the runs' root.
      ["prepare", { action: "elasticfilesystem:CreateAccessPoint", resource: fileSystem }],
      // Cleanup deletes Jobs through Kubernetes RBAC, not IAM: no EKS IAM action at all.
      ["cleanup", { action: "eks:DescribeCluster", resource: cluster("prod") }],
      ["cleanup", { action: "eks:AccessKubernetesApi", resource: cluster("prod") }],
    ];
    const allowed: string[] = [];
    for (const [who, request] of denied) {
      const result = await decide(who, request);
      // An evaluator error is no denial: only AWS's two denials count.
      if (result !== "ImplicitlyDenied" && result !== "ExplicitlyDenied") {
        allowed.push(`${who} ${request.action} ${request.resource}: ${result}`);
      }
    }
    expect(allowed).toEqual([]);
  });
});
