/**
 * `compute: eks` as docs/deploy.md shows it: the page's configuration block, synthesised with
 * cdk-nag, and what that deployment gives the cluster's pods (network path to EFS, the CSI
 * node's mount grant) and the state machine (least privilege on the EKS side).
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import type { CfnRole } from "aws-cdk-lib/aws-iam";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../core/control/env-names.ts";
import { FAILING_WAIT_GRACE_SECONDS } from "../../core/control/runner-start.ts";
import { REPO_ROOT } from "../../infra/bundling.ts";
import { parseConfig } from "../../infra/config.ts";
import { RUNNER_SECRETS } from "../../infra/constructs/compute.ts";
import { JOB_CLEANER_GROUP, LAUNCH_WATCHER_GROUP } from "../../infra/constructs/kubernetes-objects.ts";
import type { SquadronStack } from "../../infra/stack.ts";
import { EKS_START_CHECK_INTERVAL_SECONDS } from "../../state-machines/launchers.ts";
import { deployDocBlock, EXISTING_VPC, nagSynth, statementsOf, synth } from "./support.ts";

const CSI_ROLE = "arn:aws:iam::123456789012:role/AmazonEKS_EFS_CSI_DriverRole";

let template: Template;
let stack: SquadronStack;

beforeAll(() => {
  const config = JSON.parse(deployDocBlock("eks-config", "json"));
  const r = nagSynth(config);
  expect(r.errors).toEqual([]);
  expect(r.failed).toBeUndefined();
  template = r.template as Template;
  stack = r.stack;
}, 180_000);

const OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789";

/** The page's configuration with node security groups, IRSA, and without the CSI node role. */
let variantSynth: ReturnType<typeof synth> | undefined;
function variant(): ReturnType<typeof synth> {
  if (!variantSynth) {
    const config = JSON.parse(deployDocBlock("eks-config", "json"));
    config.eks.nodeSecurityGroupIds = ["sg-0bde1234abcd5678"];
    delete config.eks.efsCsiNodeRoleArn;
    config.eks.oidcIssuer = OIDC_ISSUER;
    variantSynth = synth(config);
  }
  return variantSynth;
}

/** The properties of the EKS access entries whose principal is the role `roleId`. */
function accessEntriesOf(roleId: string) {
  return Object.values(template.findResources("AWS::EKS::AccessEntry"))
    .filter((e) => JSON.stringify(e.Properties.PrincipalArn).includes(roleId))
    .map((e) => e.Properties);
}

describe("docs/deploy.md's EKS configuration, synthesised", () => {
  it("admits NFS to the file system from the cluster security group, read from the cluster", () => {
    const fsGroup = stack.resolve(
      stack.storage.fileSystem.connections.securityGroups[0]?.securityGroupId,
    ) as { "Fn::GetAtt": [string, string] };
    const ingress = Object.values(template.findResources("AWS::EC2::SecurityGroupIngress"))
      .map((r) => r.Properties as Record<string, unknown>)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(fsGroup) && p.FromPort === 2049);
    const sources = ingress.map((p) => JSON.stringify(p.SourceSecurityGroupId));
    // DescribeCluster's cluster.resourcesVpcConfig.clusterSecurityGroupId (a deploy-time value).
    expect(sources.some((s) => s.includes("DescribeCluster") && s.includes("clusterSecurityGroupId"))).toBe(
      true,
    );
  });

  it("lets the EFS CSI node role mount and write this file system only, through a mount target", () => {
    const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes("AmazonEKS_EFS_CSI_DriverRole"),
    );
    expect(policies).toHaveLength(1);
    const fileSystemArn = stack.resolve(stack.storage.fileSystem.fileSystemArn);
    expect(policies[0]?.Properties.PolicyDocument.Statement).toEqual([
      {
        Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        Effect: "Allow",
        Resource: fileSystemArn,
        Condition: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
      },
    ]);
    expect(CSI_ROLE).toContain("AmazonEKS_EFS_CSI_DriverRole");
  });

  it("gives the state machine only DescribeCluster on its cluster on the EKS side (Kubernetes rights come from the namespaced access entry)", () => {
    const role = stack.orchestration.stateMachine.role.node.defaultChild as CfnRole;
    const eksActions = statementsOf(template, stack.getLogicalId(role))
      .filter((s) => JSON.stringify(s.Action).includes("eks:"))
      .map((s) => ({ Action: s.Action, Resource: s.Resource }));
    expect(eksActions).toEqual([
      {
        Action: "eks:DescribeCluster",
        Resource: {
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              ":eks:",
              { Ref: "AWS::Region" },
              ":",
              { Ref: "AWS::AccountId" },
              ":cluster/prod",
            ],
          ],
        },
      },
    ]);
  });

  it("gives the state machine Kubernetes rights by one access entry: AmazonEKSEditPolicy in the runners' namespace only", () => {
    // eks:runJob authenticates as the state machine's role; the API server must authorise it
    // (Step Functions developer guide, "Call Amazon EKS", Permissions: else EKS.401/403).
    const roleId = stack.getLogicalId(stack.orchestration.stateMachine.role.node.defaultChild as CfnRole);
    expect(accessEntriesOf(roleId)).toEqual([
      {
        ClusterName: "prod",
        PrincipalArn: { "Fn::GetAtt": [roleId, "Arn"] },
        Type: "STANDARD",
        AccessPolicies: [
          {
            PolicyArn: {
              "Fn::Join": [
                "",
                ["arn:", { Ref: "AWS::Partition" }, ":eks::aws:cluster-access-policy/AmazonEKSEditPolicy"],
              ],
            },
            AccessScope: { Type: "namespace", Namespaces: ["squadron"] },
          },
        ],
      },
    ]);
  });

  it("admits NFS from the node or pod security groups the operator lists (eks.nodeSecurityGroupIds)", () => {
    const other = variant();
    const fsGroup = other.stack.resolve(
      other.stack.storage.fileSystem.connections.securityGroups[0]?.securityGroupId,
    );
    const sources = Object.values(other.template.findResources("AWS::EC2::SecurityGroupIngress"))
      .map((r) => r.Properties as Record<string, unknown>)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(fsGroup) && p.FromPort === 2049)
      .map((p) => p.SourceSecurityGroupId);
    expect(sources).toContain("sg-0bde1234abcd5678");
  }, 180_000);

  it("warns at synth when no EFS CSI node role is given: nothing then allows the iam mount", () => {
    const warnings = (s: SquadronStack) =>
      Annotations.fromStack(s)
        .findWarning("*", Match.stringLikeRegexp("efsCsiNodeRoleArn"))
        .map((w) => String(w.entry.data));
    expect(warnings(variant().stack)).toEqual([
      expect.stringMatching(/squadron\.eks\.efsCsiNodeRoleArn is not set: .*ClientMount/),
    ]);
    expect(warnings(stack)).toEqual([]);
  }, 180_000);

  it("with IRSA (eks.oidcIssuer), lets only the runners' service account assume the runner role, and says so on it", () => {
    // The IAM evaluator drops OIDC provider condition keys, so this trust is checked as written:
    // the EKS user guide's IRSA trust policy (sub = system:serviceaccount:<ns>:<sa>, aud = sts).
    const other = variant();
    const roleId = other.stack.getLogicalId(other.stack.compute.taskRole.node.defaultChild as CfnRole);
    const trust = other.template.toJSON().Resources[roleId].Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toEqual([
      {
        Effect: "Allow",
        Action: "sts:AssumeRoleWithWebIdentity",
        Principal: {
          Federated: {
            "Fn::Join": [
              "",
              [
                "arn:",
                { Ref: "AWS::Partition" },
                `:iam::`,
                { Ref: "AWS::AccountId" },
                `:oidc-provider/${OIDC_ISSUER}`,
              ],
            ],
          },
        },
        Condition: {
          StringEquals: {
            [`${OIDC_ISSUER}:sub`]: "system:serviceaccount:squadron:squadron-runner",
            [`${OIDC_ISSUER}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ]);
    expect(other.template.findResources("AWS::EKS::PodIdentityAssociation")).toEqual({});
    const serviceAccount = Object.values(
      other.template.findResources("Custom::AWSCDK-EKS-KubernetesResource"),
    ).find((r) => JSON.stringify(r.Properties.Manifest).includes('\\"kind\\":\\"ServiceAccount\\"'));
    expect(JSON.stringify(serviceAccount?.Properties.Manifest)).toContain("eks.amazonaws.com/role-arn");
    // With Pod Identity (the page's configuration) it is the association, and no annotation.
    expect(Object.keys(template.findResources("AWS::EKS::PodIdentityAssociation"))).toHaveLength(1);
  }, 180_000);

  it("applies the PV with the iam mount option on the cluster", () => {
    const manifests = Object.values(template.findResources("Custom::AWSCDK-EKS-KubernetesResource")).map(
      (r) => JSON.stringify(r.Properties.Manifest),
    );
    expect(manifests.some((m) => m.includes('\\"mountOptions\\":[\\"iam\\",\\"tls\\"]'))).toBe(true);
  });

  it("lets Prepare create each run's directory as root through the runs' root access point only", () => {
    const prepare = stack.orchestration.functions.prepare;
    const fn = template.toJSON().Resources[stack.getLogicalId(prepare.fn.node.defaultChild as CfnFunction)];
    expect(fn.Properties.Environment.Variables[ENV.runDirectories]).toBe("/mnt/runs");
    const accessPoint = stack.resolve(stack.storage.runsReader.accessPointArn);
    expect(fn.Properties.FileSystemConfigs).toEqual([{ Arn: accessPoint, LocalMountPath: "/mnt/runs" }]);
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(EXISTING_VPC.privateSubnetIds);
    const role = prepare.fn.role?.node.defaultChild as CfnRole;
    const efs = statementsOf(template, stack.getLogicalId(role)).filter((st) =>
      JSON.stringify(st.Action).includes("elasticfilesystem:"),
    );
    expect(efs).toEqual([
      {
        Action: [
          "elasticfilesystem:ClientMount",
          "elasticfilesystem:ClientRootAccess",
          "elasticfilesystem:ClientWrite",
        ],
        Effect: "Allow",
        Resource: stack.resolve(stack.storage.fileSystem.fileSystemArn),
        Condition: {
          StringEquals: { "elasticfilesystem:AccessPointArn": accessPoint },
          Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" },
        },
      },
    ]);
  });

  it("charts the runner pods' CPU and memory of this cluster and namespace (Container Insights needs ClusterName)", () => {
    const body = JSON.stringify(
      Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0]?.Properties.DashboardBody,
    );
    for (const metric of ["pod_cpu_utilization", "pod_memory_utilization"]) {
      expect(body).toContain(`${metric}\\",\\"ClusterName\\",\\"prod\\",\\"Namespace\\",\\"squadron\\"`);
    }
  });

  it("lets Cleanup and the events function delete a run's Jobs, and the dependencies function watch launches: env and one access entry each", () => {
    for (const [f, group] of [
      [stack.orchestration.functions.cleanup, "squadron-job-cleaners"],
      [stack.orchestration.functions.events, "squadron-job-cleaners"],
      // The start check of each runner launch (core/control/runner-start.ts).
      [stack.orchestration.functions.dependencies, "squadron-launch-watchers"],
    ] as const) {
      const vars =
        template.toJSON().Resources[stack.getLogicalId(f.fn.node.defaultChild as CfnFunction)].Properties
          .Environment.Variables;
      expect(vars[ENV.eksCluster]).toBe("prod");
      expect(vars[ENV.eksNamespace]).toBe("squadron");
      expect(JSON.stringify(vars[ENV.eksEndpoint])).toContain("cluster.endpoint");
      expect(JSON.stringify(vars[ENV.eksCertificateAuthority])).toContain(
        "cluster.certificateAuthority.data",
      );
      const roleId = stack.getLogicalId(f.fn.role?.node.defaultChild as CfnRole);
      expect(accessEntriesOf(roleId)).toEqual([
        {
          ClusterName: "prod",
          PrincipalArn: { "Fn::GetAtt": [roleId, "Arn"] },
          Type: "STANDARD",
          KubernetesGroups: [group],
        },
      ]);
    }
  });
});

describe("docs/deploy.md's EKS section says what the code does", () => {
  const page = readFileSync(join(REPO_ROOT, "docs/deploy.md"), "utf8");
  const section = page.slice(page.indexOf("\n## EKS\n"), page.indexOf("\n## First team\n"));
  const flat = section.replace(/\s+/g, " ");

  it("gives the start watch's interval, back-off grace and default start timeout as the code has them", () => {
    const { eks } = parseConfig(JSON.parse(deployDocBlock("eks-config", "json")));
    expect(flat).toContain(`Every ${EKS_START_CHECK_INTERVAL_SECONDS} s`);
    expect(flat).toContain(`for ${FAILING_WAIT_GRACE_SECONDS / 60} minutes`);
    expect(flat).toContain(`(default ${(eks?.startTimeoutSeconds ?? 0) / 60} minutes)`);
    // A pod that cannot start no longer waits for the run's deadline (the start watch).
    expect(flat).not.toMatch(/not detected early/);
  });

  it("creates the runner Secret with every key the runner reads, from the stack's Secrets Manager secrets", () => {
    const command = section.slice(
      section.indexOf("kubectl -n squadron create secret generic squadron-runner"),
    );
    const block = command.slice(0, command.indexOf("```"));
    const literals = Object.fromEntries(
      [...block.matchAll(/--from-literal=(\w+)=("\$\(value ([\w-]+)\)"|[\w-]+)/g)].map((m) => [
        m[1],
        m[3] ?? m[2],
      ]),
    );
    // The Secret names itself, which the runner checks (runner/config/env.ts).
    expect(literals).toEqual({ SQUADRON_RUNNER_SECRET: "squadron-runner", ...RUNNER_SECRETS });
  });

  it("names every Kubernetes group the stack's access entries use, and what a cluster alone can verify", () => {
    const objects = section.slice(section.indexOf("### EKS cluster objects"));
    for (const group of [JOB_CLEANER_GROUP, LAUNCH_WATCHER_GROUP]) {
      expect(objects.slice(0, objects.indexOf("```"))).toContain(`\`${group}\``);
    }
    expect(section).toContain("### What cannot be verified without a cluster");
  });
});
