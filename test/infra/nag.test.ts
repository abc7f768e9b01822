/**
 * cdk-nag AwsSolutions on the whole app: any unacknowledged error fails synth (validation
 * plugin) and this test, for the default configuration and the EKS / existing-VPC / Slack / WAF
 * one. Also the offline synth of `compute: eks`.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as eks from "aws-cdk-lib/aws-eks";
import { Bucket } from "aws-cdk-lib/aws-s3";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { ENV } from "../../core/control/env-names.ts";
import { buildApp } from "../../infra/app.ts";
import { OFFLINE_CONTEXT } from "../../state-machines/synth.ts";
import {
  EXISTING_VPC,
  environmentMismatches,
  functionVariables,
  handlerEnvironments,
  KUBECTL_ROLE_ARN,
  nagSynth,
  renderJoin,
} from "./support.ts";

describe("cdk-nag AwsSolutions", () => {
  it("finds no unacknowledged error in the default (ECS, new VPC) app", () => {
    const r = nagSynth({ runnerImageUri: "public.ecr.aws/squadron/runner:test" });
    expect(r.errors).toEqual([]);
    expect(r.failed).toBeUndefined();
  }, 120_000);

  it("finds none when the runner image is built in the account (runnerImageBuild codebuild), and needs no Docker", () => {
    const r = nagSynth({ runnerImageBuild: "codebuild" });
    expect(r.errors).toEqual([]);
    expect(r.failed).toBeUndefined();
    // No Docker image asset for `cdk deploy` to build: the image is a CodeBuild custom resource.
    r.template?.resourceCountIs("Custom::CDKContainerImageBuild", 1);
    const assets = r.stack.node.root.node.findAll().filter((c) => c.constructor.name === "DockerImageAsset");
    expect(assets).toEqual([]);
  }, 180_000);

  it("finds none for EKS with an existing VPC, Slack, WAF, extra buckets and a secret prefix, offline", async () => {
    const r = nagSynth({
      compute: "eks",
      eks: { clusterName: "prod", kubectlRoleArn: KUBECTL_ROLE_ARN },
      vpc: EXISTING_VPC,
      slack: { enabled: true, channel: "#approvals" },
      waf: true,
      inputBuckets: ["partner-data"],
      outputBuckets: ["partner-reports"],
      teamSecretPrefix: "squadron-prod",
    });
    expect(r.errors).toEqual([]);
    expect(r.failed).toBeUndefined();
    const template = r.template as Template;
    // The listed buckets: the runner may read one, the outputs function write the other, no more.
    const statements = (rolePrefix: string) =>
      Object.values(template.findResources("AWS::IAM::Policy"))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${rolePrefix}`))
        .flatMap(
          (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>,
        );
    const grantsOn = (rolePrefix: string, bucket: string) =>
      statements(rolePrefix)
        .filter((s) => JSON.stringify(s.Resource).includes(`:s3:::${bucket}`))
        .flatMap((s) => [s.Action].flat())
        .sort();
    expect(grantsOn("ComputeRunnerServiceAccountRole", "partner-data")).toEqual([
      "s3:GetObject",
      "s3:ListBucket",
    ]);
    expect(grantsOn("ComputeRunnerServiceAccountRole", "partner-reports")).toEqual([]);
    expect(grantsOn("OutputsRole", "partner-reports")).toEqual(["s3:PutObject"]);
    expect(grantsOn("OutputsRole", "partner-data")).toEqual([]);
    template.resourceCountIs("AWS::ECS::Cluster", 0);
    template.resourceCountIs("AWS::EC2::VPC", 0);
    template.hasResourceProperties("AWS::EKS::AccessEntry", {
      ClusterName: "prod",
      AccessPolicies: [
        { AccessScope: { Type: "namespace", Namespaces: ["squadron"] }, PolicyArn: Match.anyValue() },
      ],
    });
    // The runners' namespace, service account and EFS volume, applied by CDK's kubectl provider
    // as the configured role, the volume on this stack's file system.
    const manifests = Object.values(template.findResources("Custom::AWSCDK-EKS-KubernetesResource")).map(
      (resource) => resource.Properties as Record<string, unknown>,
    );
    for (const p of manifests) expect(p).toMatchObject({ ClusterName: "prod", RoleArn: KUBECTL_ROLE_ARN });
    const objects = manifests.flatMap((p) => JSON.parse(renderJoin(p.Manifest)) as Array<{ kind: string }>);
    const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
    // Two namespaced Roles: the job cleaners' and the launch watchers' (start check).
    expect(objects.map((o) => o.kind).sort()).toEqual([
      "Namespace",
      "PersistentVolume",
      "PersistentVolumeClaim",
      "Role",
      "Role",
      "RoleBinding",
      "RoleBinding",
      "ServiceAccount",
    ]);
    expect(byKind("Namespace")[0]).toMatchObject({ metadata: { name: "squadron" } });
    expect(byKind("ServiceAccount")[0]).toMatchObject({
      metadata: { name: "squadron-runner", namespace: "squadron" },
    });
    const fileSystemRef = r.stack.resolve(r.stack.storage.fileSystem.fileSystemId) as { Ref: string };
    expect(byKind("PersistentVolume")[0]).toMatchObject({
      metadata: { name: "squadron-team" },
      spec: {
        accessModes: ["ReadWriteMany"],
        persistentVolumeReclaimPolicy: "Retain",
        csi: { driver: "efs.csi.aws.com", volumeHandle: `<${fileSystemRef.Ref}>` },
      },
    });
    expect(byKind("PersistentVolumeClaim")[0]).toMatchObject({
      metadata: { name: "squadron-team", namespace: "squadron" },
      spec: { volumeName: "squadron-team", storageClassName: "" },
    });
    template.resourceCountIs("AWS::WAFv2::WebACLAssociation", 1);
    const definition = JSON.stringify(
      Object.values(template.findResources("AWS::StepFunctions::StateMachine"))[0]?.Properties
        .DefinitionString,
    );
    expect(definition).toContain("eks:runJob.sync");
    expect(definition).toContain("persistentVolumeClaim");

    // Every function gets what its handler requires with EKS runners and Slack on.
    const needs = await handlerEnvironments();
    expect(environmentMismatches(r.stack, template, { compute: "eks", slack: true }, needs)).toEqual([]);
    const approvals = functionVariables(r.stack, template, r.stack.approvals.handler);
    const botToken = r.stack.resolve(r.stack.approvals.botToken?.secretArn);
    expect(approvals[ENV.slackSigningSecret]).toEqual(
      r.stack.resolve(r.stack.approvals.signingSecret?.secretArn),
    );
    expect(approvals[ENV.slackTokenSecret]).toEqual(botToken);
    expect(approvals[ENV.slackChannel]).toBe("#approvals");
    // The api updates a decided gate's Slack message, so it reads the bot token too.
    expect(functionVariables(r.stack, template, r.stack.api.handler)[ENV.slackTokenSecret]).toEqual(botToken);
    // On EKS Prepare creates no access point or task definition.
    expect(
      functionVariables(r.stack, template, r.stack.orchestration.functions.prepare)[ENV.fileSystem],
    ).toBe(undefined);
  }, 120_000);

  it("runs the kubectl provider in the cluster's VPC for a private endpoint, with no new finding", () => {
    const r = nagSynth({
      compute: "eks",
      eks: {
        clusterName: "prod",
        kubectlRoleArn: KUBECTL_ROLE_ARN,
        endpointAccess: "public-and-private",
        kubectlSecurityGroupId: "sg-0abc1234abcd12345",
      },
      vpc: EXISTING_VPC,
    });
    expect(r.errors).toEqual([]);
    expect(r.failed).toBeUndefined();
    const cluster = r.stack.compute.eksCluster;
    if (!cluster) throw new Error("no cluster");
    const provider = eks.KubectlProvider.getOrCreate(cluster, cluster) as unknown as IConstruct;
    const functions = Object.values(
      Template.fromStack(Stack.of(provider) as Stack).findResources("AWS::Lambda::Function"),
    );
    const inVpc = functions.filter((f) => f.Properties.VpcConfig);
    // The kubectl handler and the provider framework's function, both in the given group.
    expect(inVpc.length).toBeGreaterThanOrEqual(1);
    for (const f of inVpc) {
      expect(f.Properties.VpcConfig.SecurityGroupIds).toEqual(["sg-0abc1234abcd12345"]);
      expect(f.Properties.VpcConfig.SubnetIds).toEqual(EXISTING_VPC.privateSubnetIds);
    }
  }, 120_000);

  it("fails synth when a finding is not acknowledged", () => {
    const outdir = mkdtempSync(join(tmpdir(), "squadron-nag-"));
    const { app, stack } = buildApp({
      context: { ...OFFLINE_CONTEXT, squadron: { runnerImageUri: "public.ecr.aws/squadron/runner:test" } },
      outdir,
      nag: true,
    });
    // A bucket without any of the required settings: S1, S10 at least.
    new Bucket(stack, "Unsafe");
    expect(() => app.synth()).toThrow(/S3 Bucket|Validation failed/);
  }, 120_000);
});
