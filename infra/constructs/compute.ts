/**
 * Compute: where runner containers run.
 * - ecs: a cluster with Container Insights and Fargate / Fargate Spot capacity providers, the
 *   runner image, the base task definition (Prepare registers one revision per run in its
 *   family, adding the run's EFS access point), the task role and the runner's secrets.
 * - eks: an existing cluster imported by name; its endpoint and CA are read at deploy time
 *   (DescribeCluster), and the state machine's role gets a namespaced access entry. Unless
 *   eks.manageKubernetesObjects is false, CDK's kubectl provider (assuming eks.kubectlRoleArn)
 *   creates the runners' namespace, service account and EFS volume on the cluster.
 */
import { KubectlV33Layer } from "@aws-cdk/lambda-layer-kubectl-v33";
import { ContainerImageBuild } from "@cdklabs/deploy-time-build";
import { Annotations, IgnoreMode, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecrAssets from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as eks from "aws-cdk-lib/aws-eks";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import { BUCKET_AREAS, READABLE_INPUT_AREAS } from "../../core/bucket-layout.ts";
import { RUNNER_CONTAINER_NAME } from "../../state-machines/contract.ts";
import {
  EcsFargateLauncher,
  EksJobLauncher,
  type RunnerLauncher,
  type RunnerStaticEnvironment,
} from "../../state-machines/launchers.ts";
import { REPO_ROOT } from "../bundling.ts";
import type { SquadronConfig } from "../config.ts";
import { RUNNER_VOLUME, TEAM_DIR } from "../handler-env.ts";
import { JOB_CLEANER_GROUP, LAUNCH_WATCHER_GROUP, runnerKubernetesObjects } from "./kubernetes-objects.ts";
import type { Network } from "./network.ts";
import type { Storage } from "./storage.ts";
import { grantTeamSecrets } from "./team-secrets.ts";

export interface ComputeProps {
  config: SquadronConfig;
  network: Network;
  storage: Storage;
}

/** Secrets the runner receives as ECS secrets (env name -> Secrets Manager name suffix). */
export const RUNNER_SECRETS = {
  ANTHROPIC_API_KEY: "anthropic-api-key",
  OPENAI_API_KEY: "openai-api-key",
  GEMINI_API_KEY: "gemini-api-key",
  GITHUB_TOKEN: "github-token",
} as const;

/**
 * runner/Dockerfile builds from the repository root (it needs core/ too). Only what it copies
 * is part of the asset, so staging and the asset hash ignore node_modules, tests and docs.
 */
export const RUNNER_IMAGE_ASSET = {
  file: "runner/Dockerfile",
  platform: ecrAssets.Platform.LINUX_AMD64,
  ignoreMode: IgnoreMode.DOCKER,
  exclude: ["*", "!package.json", "!package-lock.json", "!tsconfig.json", "!core", "!runner"],
};

export class Compute extends Construct {
  readonly launcher: RunnerLauncher;
  readonly taskRole: iam.IRole;
  readonly secrets: Record<keyof typeof RUNNER_SECRETS, secretsmanager.Secret>;
  readonly logGroup: logs.LogGroup;
  readonly cluster?: ecs.Cluster;
  readonly taskDefinition?: ecs.FargateTaskDefinition;
  /** The deploy-time CodeBuild image build (runnerImageBuild "codebuild"). */
  readonly runnerImageBuild?: ContainerImageBuild;
  /**
   * The EFS volume of the base task definition, mounted at {@link teamDir}; Prepare copies the
   * definition per run and points this volume at the run's access point (ECS only).
   */
  readonly runnerVolumeName?: string;
  /** Where the runner finds the team directory. */
  readonly teamDir = TEAM_DIR;
  /** The imported cluster the stack applies Kubernetes objects to (EKS, when managed). */
  readonly eksCluster?: eks.ICluster;
  /** Those objects, applied by the kubectl provider (EKS, when managed). */
  readonly kubernetesManifests?: {
    namespace: eks.KubernetesManifest;
    serviceAccount: eks.KubernetesManifest;
    persistentVolume: eks.KubernetesManifest;
    persistentVolumeClaim: eks.KubernetesManifest;
    jobCleanerRole: eks.KubernetesManifest;
    jobCleanerBinding: eks.KubernetesManifest;
    launchWatcherRole: eks.KubernetesManifest;
    launchWatcherBinding: eks.KubernetesManifest;
  };
  /** EKS: what the functions that end a run need to delete its Jobs through the Kubernetes API. */
  readonly eksApi?: {
    clusterName: string;
    endpoint: string;
    certificateAuthority: string;
    namespace: string;
  };
  private readonly eksClusterName?: string;
  private readonly eksNamespace?: string;

  constructor(scope: Construct, id: string, props: ComputeProps) {
    super(scope, id);
    const { config, network, storage } = props;
    const stack = Stack.of(this);
    const env: RunnerStaticEnvironment = {
      tableName: storage.table.tableName,
      bucketName: storage.bucket.bucketName,
    };

    this.secrets = Object.fromEntries(
      Object.entries(RUNNER_SECRETS).map(([envName, suffix]) => [
        envName,
        new secretsmanager.Secret(this, `Secret-${suffix}`, {
          secretName: `${stack.stackName}/${suffix}`,
          description: `Squadron runner ${envName}: put the real value with put-secret-value (docs/deploy.md)`,
        }),
      ]),
    ) as Record<keyof typeof RUNNER_SECRETS, secretsmanager.Secret>;

    this.logGroup = new logs.LogGroup(this, "RunnerLogs", {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The runner image, one of three ways (config `runnerImageUri` / `runnerImageBuild`):
    // - a prebuilt image: used as is;
    // - "local-docker": a CDK Docker asset, built by `cdk deploy` with the local Docker engine;
    // - "codebuild": built in the account at deploy time by CodeBuild (@cdklabs/deploy-time-build),
    //   from the same files as a zip asset, so the deploying machine needs no Docker at all.
    // Synth needs no Docker in any case: assets are staged, not built.
    let built: ContainerImageBuild | undefined;
    const runnerImageBuild = () =>
      (built ??= new ContainerImageBuild(this, "RunnerImageBuild", {
        directory: REPO_ROOT,
        ...RUNNER_IMAGE_ASSET,
      }));
    this.runnerImageBuild =
      config.runnerImageUri || config.runnerImageBuild !== "codebuild" ? undefined : runnerImageBuild();
    const image = (): ecs.ContainerImage =>
      config.runnerImageUri
        ? ecs.ContainerImage.fromRegistry(config.runnerImageUri)
        : this.runnerImageBuild
          ? this.runnerImageBuild.toEcsDockerImageCode()
          : ecs.ContainerImage.fromAsset(REPO_ROOT, RUNNER_IMAGE_ASSET);

    // EFS mounts and the file system's security group rule apply to both back-ends.
    storage.fileSystem.connections.allowDefaultPortFrom(
      network.runnerSecurityGroup,
      "runners mount team directories",
    );

    if (config.compute === "ecs") {
      const cluster = new ecs.Cluster(this, "Cluster", {
        vpc: network.vpc,
        containerInsightsV2: ecs.ContainerInsights.ENABLED,
        enableFargateCapacityProviders: true,
      });
      const taskRole = new iam.Role(this, "RunnerTaskRole", {
        assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        description: "Squadron runner: team table items, reads of run manifests and inputs, EFS mounts",
      });
      const family = `${stack.stackName}-runner`;
      const taskDefinition = new ecs.FargateTaskDefinition(this, "RunnerTaskDefinition", {
        family,
        cpu: config.runnerCpu,
        memoryLimitMiB: config.runnerMemoryMiB,
        taskRole,
        runtimePlatform: {
          cpuArchitecture: ecs.CpuArchitecture.X86_64,
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        },
      });
      // Mounts the whole file system here; every revision Prepare registers replaces it with the
      // run's access point. The base revision itself is never run.
      taskDefinition.addVolume({
        name: RUNNER_VOLUME,
        efsVolumeConfiguration: {
          fileSystemId: storage.fileSystem.fileSystemId,
          transitEncryption: "ENABLED",
          authorizationConfig: { iam: "ENABLED" },
        },
      });
      const container = taskDefinition.addContainer(RUNNER_CONTAINER_NAME, {
        containerName: RUNNER_CONTAINER_NAME,
        image: image(),
        essential: true,
        user: "1000:1000",
        logging: ecs.LogDrivers.awsLogs({ streamPrefix: "runner", logGroup: this.logGroup }),
        environment: { SQUADRON_TABLE_NAME: env.tableName, SQUADRON_BUCKET: env.bucketName },
        secrets: Object.fromEntries(
          Object.entries(this.secrets).map(([name, secret]) => [name, ecs.Secret.fromSecretsManager(secret)]),
        ),
      });
      container.addMountPoints({ sourceVolume: RUNNER_VOLUME, containerPath: this.teamDir, readOnly: false });
      this.cluster = cluster;
      this.taskDefinition = taskDefinition;
      this.runnerVolumeName = RUNNER_VOLUME;
      this.taskRole = taskRole;
      const executionRole = taskDefinition.obtainExecutionRole();
      // The execution role resolves the per-run revision's team secrets (valueFrom under the
      // team prefix); the task role, which the agents' code runs with, never reads them.
      grantTeamSecrets(executionRole, config.teamSecretPrefix);
      this.launcher = new EcsFargateLauncher({
        clusterArn: cluster.clusterArn,
        clusterName: cluster.clusterName,
        taskDefinitionFamily: family,
        subnetIds: network.vpc.selectSubnets(network.runnerSubnets).subnetIds,
        securityGroupIds: [network.runnerSecurityGroup.securityGroupId],
        passRoleArns: [taskRole.roleArn, executionRole.roleArn],
        capacityProvider: config.fargateSpot ? "FARGATE_SPOT" : "FARGATE",
        env,
      });
    } else {
      const eksConfig = config.eks;
      if (!eksConfig) throw new Error('squadron.eks is required when compute is "eks"');
      const clusterArn = stack.formatArn({
        service: "eks",
        resource: "cluster",
        resourceName: eksConfig.clusterName,
      });
      const describe = new cr.AwsCustomResource(this, "DescribeCluster", {
        onUpdate: {
          service: "EKS",
          action: "describeCluster",
          parameters: { name: eksConfig.clusterName },
          physicalResourceId: cr.PhysicalResourceId.of(eksConfig.clusterName),
          outputPaths: [
            "cluster.endpoint",
            "cluster.certificateAuthority.data",
            "cluster.resourcesVpcConfig.clusterSecurityGroupId",
          ],
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({ actions: ["eks:DescribeCluster"], resources: [clusterArn] }),
        ]),
        installLatestAwsSdk: false,
      });
      // Pods reach EFS from their node's group (or their own, with security groups for pods): the
      // cluster security group (what managed node groups use) and any the operator lists.
      const podGroups = [
        ec2.SecurityGroup.fromSecurityGroupId(
          this,
          "ClusterSecurityGroup",
          describe.getResponseField("cluster.resourcesVpcConfig.clusterSecurityGroupId"),
          { mutable: false },
        ),
        ...eksConfig.nodeSecurityGroupIds.map((id) =>
          ec2.SecurityGroup.fromSecurityGroupId(this, `NodeSecurityGroup-${id}`, id, { mutable: false }),
        ),
      ];
      for (const group of podGroups) {
        storage.fileSystem.connections.allowDefaultPortFrom(group, "EKS runner pods mount team directories");
      }
      if (!eksConfig.efsCsiNodeRoleArn) {
        // The PV mounts with `iam` as the CSI node role, and the file-system policy allows nobody:
        // unless that role's own policy allows it, every runner pod fails with FailedMount.
        Annotations.of(this).addWarningV2(
          "squadron:eks-efs-csi-node-role",
          "squadron.eks.efsCsiNodeRoleArn is not set: the team volume mounts with the `iam` option as the EFS CSI node role, and the stack grants it nothing. Set it, or give that role elasticfilesystem:ClientMount and ClientWrite on the file system yourself, or every runner pod fails with FailedMount.",
        );
      }
      if (eksConfig.efsCsiNodeRoleArn) {
        // With the PV's `iam` mount option, efs-utils in the CSI node pod mounts as this role.
        iam.Role.fromRoleArn(this, "EfsCsiNodeRole", eksConfig.efsCsiNodeRoleArn).addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            resources: [storage.fileSystem.fileSystemArn],
            conditions: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
          }),
        );
      }
      const imageUri =
        config.runnerImageUri ??
        this.runnerImageBuild?.imageUri ??
        new ecrAssets.DockerImageAsset(this, "RunnerImage", { directory: REPO_ROOT, ...RUNNER_IMAGE_ASSET })
          .imageUri;
      // IRSA: the runner's service account assumes this role (when the OIDC issuer is given).
      const issuer = eksConfig.oidcIssuer;
      this.taskRole = new iam.Role(this, "RunnerServiceAccountRole", {
        assumedBy: issuer
          ? new iam.FederatedPrincipal(
              stack.formatArn({
                service: "iam",
                region: "",
                resource: "oidc-provider",
                resourceName: issuer,
              }),
              {
                StringEquals: {
                  [`${issuer}:sub`]: `system:serviceaccount:${eksConfig.namespace}:${eksConfig.serviceAccountName}`,
                  [`${issuer}:aud`]: "sts.amazonaws.com",
                },
              },
              "sts:AssumeRoleWithWebIdentity",
            )
          : new iam.ServicePrincipal("pods.eks.amazonaws.com"),
        description: "Squadron runner on EKS: team table items, reads of run manifests and inputs",
      });
      if (!issuer) {
        // EKS Pod Identity: the association binds the service account to the role.
        (this.taskRole as iam.Role).assumeRolePolicy?.addStatements(
          new iam.PolicyStatement({
            actions: ["sts:TagSession"],
            principals: [new iam.ServicePrincipal("pods.eks.amazonaws.com")],
          }),
        );
        new eks.CfnPodIdentityAssociation(this, "RunnerPodIdentity", {
          clusterName: eksConfig.clusterName,
          namespace: eksConfig.namespace,
          serviceAccount: eksConfig.serviceAccountName,
          roleArn: this.taskRole.roleArn,
        });
      }
      if (eksConfig.manageKubernetesObjects) {
        if (!eksConfig.kubectlRoleArn) throw new Error("squadron.eks.kubectlRoleArn is required");
        // kubectl 1.33 talks to clusters 1.32-1.34 (kubectl's one-minor-version skew).
        const cluster = eks.Cluster.fromClusterAttributes(this, "EksCluster", {
          clusterName: eksConfig.clusterName,
          kubectlRoleArn: eksConfig.kubectlRoleArn,
          kubectlLayer: new KubectlV33Layer(this, "KubectlLayer"),
          // A private endpoint: kubectl runs in the cluster's VPC, admitted by this group.
          ...(eksConfig.kubectlSecurityGroupId
            ? {
                vpc: network.vpc,
                kubectlPrivateSubnetIds: network.vpc.selectSubnets(network.runnerSubnets).subnetIds,
                kubectlSecurityGroupId: eksConfig.kubectlSecurityGroupId,
              }
            : {}),
        });
        const objects = runnerKubernetesObjects({
          namespace: eksConfig.namespace,
          serviceAccountName: eksConfig.serviceAccountName,
          claimName: eksConfig.claimName,
          fileSystemId: storage.fileSystem.fileSystemId,
          serviceAccountRoleArn: issuer ? this.taskRole.roleArn : undefined,
        });
        // overwrite: `kubectl apply`, so objects applied by hand before are adopted, not refused.
        const apply = (id: string, manifest: Record<string, unknown>) =>
          new eks.KubernetesManifest(this, id, { cluster, manifest: [manifest], overwrite: true });
        const namespace = apply("RunnerNamespace", objects.namespace);
        const serviceAccount = apply("RunnerServiceAccount", objects.serviceAccount);
        const persistentVolume = apply("TeamVolume", objects.persistentVolume);
        const persistentVolumeClaim = apply("TeamVolumeClaim", objects.persistentVolumeClaim);
        const jobCleanerRole = apply("JobCleanerRole", objects.jobCleanerRole);
        const jobCleanerBinding = apply("JobCleanerBinding", objects.jobCleanerBinding);
        serviceAccount.node.addDependency(namespace);
        persistentVolumeClaim.node.addDependency(namespace, persistentVolume);
        jobCleanerRole.node.addDependency(namespace);
        jobCleanerBinding.node.addDependency(jobCleanerRole);
        const launchWatcherRole = apply("LaunchWatcherRole", objects.launchWatcherRole);
        const launchWatcherBinding = apply("LaunchWatcherBinding", objects.launchWatcherBinding);
        launchWatcherRole.node.addDependency(namespace);
        launchWatcherBinding.node.addDependency(launchWatcherRole);
        this.eksCluster = cluster;
        this.kubernetesManifests = {
          namespace,
          serviceAccount,
          persistentVolume,
          persistentVolumeClaim,
          jobCleanerRole,
          jobCleanerBinding,
          launchWatcherRole,
          launchWatcherBinding,
        };
      }
      this.eksClusterName = eksConfig.clusterName;
      this.eksNamespace = eksConfig.namespace;
      this.eksApi = {
        clusterName: eksConfig.clusterName,
        endpoint: describe.getResponseField("cluster.endpoint"),
        certificateAuthority: describe.getResponseField("cluster.certificateAuthority.data"),
        namespace: eksConfig.namespace,
      };
      this.launcher = new EksJobLauncher({
        clusterName: eksConfig.clusterName,
        clusterArn,
        endpoint: describe.getResponseField("cluster.endpoint"),
        certificateAuthority: describe.getResponseField("cluster.certificateAuthority.data"),
        namespace: eksConfig.namespace,
        serviceAccountName: eksConfig.serviceAccountName,
        image: imageUri,
        claimName: eksConfig.claimName,
        secretName: eksConfig.secretName,
        startTimeoutSeconds: eksConfig.startTimeoutSeconds,
        env,
      });
    }

    // Runner containers run model-driven shells, so they write no object at all: they read their
    // run manifest, inputs and skills, and a run's outputs are delivered by the outputs function
    // (infra/constructs/outputs.ts). Table items are theirs to write (usage, heartbeats, phases).
    storage.grantItems(this.taskRole);
    const readable = [BUCKET_AREAS.runManifests, ...READABLE_INPUT_AREAS];
    const inputBuckets = config.inputBuckets.map((bucket) => ({
      bucket: stack.formatArn({ service: "s3", region: "", account: "", resource: bucket }),
      objects: stack.formatArn({
        service: "s3",
        region: "",
        account: "",
        resource: bucket,
        resourceName: "*",
      }),
    }));
    this.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [
          ...readable.map((area) => storage.bucket.arnForObjects(`${area}*`)),
          ...inputBuckets.map((b) => b.objects),
        ],
      }),
    );
    this.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [storage.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": READABLE_INPUT_AREAS.map((area) => `${area}*`) } },
      }),
    );
    if (inputBuckets.length > 0) {
      this.taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ["s3:ListBucket"], resources: inputBuckets.map((b) => b.bucket) }),
      );
    }
    if (config.compute === "ecs") {
      // ECS mounts the run's access point with the task role (authorizationConfig iam). On EKS the
      // EFS CSI node pod mounts, signing with its own role (efsCsiNodeRoleArn above): the runner's
      // role, which agents' shells use, needs no EFS right there.
      this.taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
          resources: [storage.fileSystem.fileSystemArn],
          conditions: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
        }),
      );
    }
  }

  /**
   * EKS: lets a function that ends runs delete their Jobs: an access entry in the Kubernetes group
   * that the namespaced Role (deletecollection on Jobs, nothing else) is bound to.
   */
  grantJobCleanup(id: string, role: iam.IRole): void {
    if (!this.eksClusterName) return;
    new eks.CfnAccessEntry(this, `${id}JobCleanupAccess`, {
      clusterName: this.eksClusterName,
      principalArn: role.roleArn,
      type: "STANDARD",
      kubernetesGroups: [JOB_CLEANER_GROUP],
    });
  }

  /**
   * EKS: lets the start check (dependencies function) read a launch's Job, pod and events and
   * delete a Job that cannot start: an access entry in the launch watchers' group.
   */
  grantLaunchWatch(role: iam.IRole): void {
    if (!this.eksClusterName) return;
    new eks.CfnAccessEntry(this, "LaunchWatchAccess", {
      clusterName: this.eksClusterName,
      principalArn: role.roleArn,
      type: "STANDARD",
      kubernetesGroups: [LAUNCH_WATCHER_GROUP],
    });
  }

  /** Lets the state machine's role launch runners (and, on EKS, create Jobs in the namespace). */
  grantLaunch(role: iam.IRole): void {
    this.launcher.grantLaunch(role);
    if (this.eksClusterName && this.eksNamespace) {
      new eks.CfnAccessEntry(this, "StateMachineAccess", {
        clusterName: this.eksClusterName,
        principalArn: role.roleArn,
        type: "STANDARD",
        accessPolicies: [
          {
            policyArn: `arn:${Stack.of(this).partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy`,
            accessScope: { type: "namespace", namespaces: [this.eksNamespace] },
          },
        ],
      });
    }
  }
}
