/**
 * The EKS deployment's roles, evaluated as AWS evaluates IAM (test/infra/iam-model.ts:
 * @cloud-copilot/iam-simulate on the synthesised identity and resource policies), for the
 * configuration docs/deploy.md shows: the state machine (DescribeCluster; its Kubernetes rights
 * come from its access entry, checked in test/infra/eks.test.ts), the runner's service-account
 * role (its permissions, and its Pod Identity trust), Prepare's root mount of the runs' root, the
 * cluster's EFS CSI node role (imported: the stack's one policy on it, with the file-system
 * policy), and what none of them may do.
 */
import type { CfnResource } from "aws-cdk-lib";
import { beforeAll, describe, expect, it } from "vitest";
import type { SquadronStack } from "../../infra/stack.ts";
import { type CfnTemplate, type EvaluatedRequest, IamModel } from "./iam-model.ts";
import { deployDocBlock, synth } from "./support.ts";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

let model: IamModel;
let stack: SquadronStack;
let roles: Record<"stateMachine" | "runner" | "prepare" | "cleanup" | "csiNode", string>;
let fileSystem: string;
let runsRoot: string;
let table: string;
let bucket: string;

const cluster = (name: string) => `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${name}`;
const mountTarget = { "elasticfilesystem:AccessedViaMountTarget": "true" };

beforeAll(async () => {
  const config = JSON.parse(deployDocBlock("eks-config", "json"));
  const r = synth(config);
  stack = r.stack;
  model = new IamModel(r.template.toJSON() as CfnTemplate, stack.stackName);
  const roleArn = (role: unknown) =>
    model.roleArn(stack.getLogicalId((role as { node: { defaultChild: CfnResource } }).node.defaultChild));
  const fns = stack.orchestration.functions;
  roles = {
    stateMachine: roleArn(stack.orchestration.stateMachine.role),
    runner: roleArn(stack.compute.taskRole),
    prepare: roleArn(fns.prepare.fn.role),
    cleanup: roleArn(fns.cleanup.fn.role),
    // Imported: the cluster's EFS CSI node role, which mounts the PV (`iam` mount option).
    csiNode: config.eks.efsCsiNodeRoleArn,
  };
  fileSystem = model.resolve(stack.resolve(stack.storage.fileSystem.fileSystemArn)) as string;
  runsRoot = model.resolve(stack.resolve(stack.storage.runsReader.accessPointArn)) as string;
  table = model.resolve(stack.resolve(stack.storage.table.tableArn)) as string;
  bucket = model.resolve(stack.resolve(stack.storage.bucket.bucketArn)) as string;
}, 180_000);

async function decide(principal: keyof typeof roles, request: Omit<EvaluatedRequest, "principal">) {
  return (await model.evaluate({ principal: roles[principal], ...request })).result;
}

describe("EKS roles, evaluated (with test/infra/iam-model.ts)", () => {
  it("allow what the EKS back-end does", async () => {
    const allowed: Array<[keyof typeof roles, Omit<EvaluatedRequest, "principal">]> = [
      // eks:runJob reads the cluster (the integration's documented permission).
      ["stateMachine", { action: "eks:DescribeCluster", resource: cluster("prod") }],
      // The runner pod: its run's items and inputs (its team directory is mounted by the CSI node).
      ["runner", { action: "dynamodb:UpdateItem", resource: table }],
      ["runner", { action: "s3:GetObject", resource: `${bucket}/run-manifests/billing-0a1b2c3d.json` }],
      // The PV mounts with `iam`: efs-utils in the CSI node pod signs the mount with this role
      // (aws-efs-csi-driver#280, #422), so it must be allowed to mount and write through a mount target.
      ["csiNode", { action: "elasticfilesystem:ClientMount", resource: fileSystem, context: mountTarget }],
      ["csiNode", { action: "elasticfilesystem:ClientWrite", resource: fileSystem, context: mountTarget }],
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
      // On EKS the CSI node role mounts the volume: the runner's role (the agents' shells) has no
      // EFS right, even through a mount target.
      ["runner", { action: "elasticfilesystem:ClientMount", resource: fileSystem, context: mountTarget }],
      ["runner", { action: "elasticfilesystem:ClientWrite", resource: fileSystem, context: mountTarget }],
      // The CSI node role's mount squashes root (no ClientRootAccess): no other file system, never
      // outside a mount target, never without TLS (the file-system policy's explicit deny).
      [
        "csiNode",
        { action: "elasticfilesystem:ClientRootAccess", resource: fileSystem, context: mountTarget },
      ],
      [
        "csiNode",
        {
          action: "elasticfilesystem:ClientMount",
          resource: `arn:aws:elasticfilesystem:${REGION}:${ACCOUNT}:file-system/fs-0123456789abcdef0`,
          context: mountTarget,
        },
      ],
      [
        "csiNode",
        {
          action: "elasticfilesystem:ClientMount",
          resource: fileSystem,
          context: { "elasticfilesystem:AccessedViaMountTarget": "false" },
        },
      ],
      [
        "csiNode",
        {
          action: "elasticfilesystem:ClientWrite",
          resource: fileSystem,
          context: { ...mountTarget, "aws:SecureTransport": "false" },
        },
      ],
      ["csiNode", { action: "dynamodb:UpdateItem", resource: table }],
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

  it("let only EKS Pod Identity assume the runner's role (the deploy.md configuration has no oidcIssuer)", async () => {
    // Pod Identity assumes the role with sts:AssumeRole and sts:TagSession as pods.eks.amazonaws.com
    // (EKS user guide, "Pod Identity": the role's trust policy names that principal).
    const trust = async (principal: string, action: string) =>
      (await model.evaluate({ principal, action, resource: roles.runner })).result;
    expect(await trust("pods.eks.amazonaws.com", "sts:AssumeRole")).toBe("Allowed");
    expect(await trust("pods.eks.amazonaws.com", "sts:TagSession")).toBe("Allowed");
    for (const other of ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]) {
      expect(await trust(other, "sts:AssumeRole")).toBe("ImplicitlyDenied");
    }
    expect(await trust(roles.cleanup, "sts:AssumeRole")).toBe("ImplicitlyDenied");
  });
});
