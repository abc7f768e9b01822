/**
 * Deployment configuration: one `squadron` object in cdk.json context (or
 * `-c squadron='{"compute":"eks",...}'`), parsed and validated with zod. Every key has a
 * documented default (docs/deploy.md), and an invalid value fails synth with a message that
 * names the key.
 */
import { z } from "zod";
import { SECRET_NAME_PART, TEAM_SECRET_PREFIX } from "../core/control/team-secrets.ts";
import { describeFargateMemory, FARGATE_CPU_VALUES, isFargateSize } from "../core/fargate-sizes.ts";
import { tryParseDuration } from "../core/manifest/duration.ts";

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const roleArn = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const roleArnMessage = (example: string) =>
  `must be an IAM role ARN like arn:aws:iam::123456789012:role/${example}`;

const eksSchema = z
  .object({
    /** Name of the existing cluster. */
    clusterName: z.string().min(1),
    /** Kubernetes namespace the runner Jobs run in. */
    namespace: z.string().regex(dnsLabel, "must be a DNS-1123 label").default("squadron"),
    serviceAccountName: z.string().regex(dnsLabel, "must be a DNS-1123 label").default("squadron-runner"),
    /** PVC bound to Squadron's EFS file system through the EFS CSI driver. */
    claimName: z.string().regex(dnsLabel, "must be a DNS-1123 label").default("squadron-team"),
    /** Kubernetes Secret holding the runner's keys (synced from Secrets Manager). */
    secretName: z.string().regex(dnsLabel, "must be a DNS-1123 label").default("squadron-runner"),
    /**
     * How long a runner pod may take to be scheduled and start (nodes scaling up included) before
     * its launch fails with Kubernetes' reason (core/control/runner-start.ts). Image pull and
     * container config errors fail sooner (after three minutes of back-off).
     */
    startTimeoutSeconds: z.number().int().min(60).max(3600).default(600),
    /** The cluster's IAM OIDC provider issuer without https:// (IRSA for the runner), optional. */
    oidcIssuer: z.string().min(1).optional(),
    /**
     * Create the namespace, service account, EFS PersistentVolume and claim on the cluster at
     * deploy (through CDK's kubectl provider). false: apply them yourself (docs/deploy.md).
     */
    manageKubernetesObjects: z.boolean().default(true),
    /**
     * IAM role with cluster-admin on the cluster that CDK's kubectl provider assumes to apply
     * those objects; required unless manageKubernetesObjects is false.
     */
    kubectlRoleArn: z.string().regex(roleArn, roleArnMessage("squadron-kubectl")).optional(),
    /**
     * The cluster's API endpoint access. Step Functions' EKS integration reaches only a public
     * endpoint, so "private" (private-only) is refused; "public-and-private" lets the kubectl
     * provider run in the cluster's VPC (kubectlSecurityGroupId).
     */
    endpointAccess: z.enum(["public", "public-and-private", "private"]).default("public"),
    /**
     * A security group the cluster's private endpoint admits (e.g. the cluster security group):
     * CDK's kubectl provider then runs in the cluster's VPC (vpc) with it, for a cluster whose
     * public endpoint admits only some CIDRs. Requires endpointAccess "public-and-private".
     */
    kubectlSecurityGroupId: z
      .string()
      .regex(/^sg-[0-9a-f]+$/, "must look like sg-0123abcd")
      .optional(),
    /**
     * Security groups of the nodes (or pods, with security groups for pods) that run the Jobs,
     * besides the cluster security group (which the stack reads from the cluster): the file
     * system admits NFS from each.
     */
    nodeSecurityGroupIds: z
      .array(z.string().regex(/^sg-[0-9a-f]+$/, "must look like sg-0123abcd"))
      .default([]),
    /**
     * The IAM role of the EFS CSI driver's node service account (efs-csi-node-sa): with the
     * PersistentVolume's `iam` mount option the driver mounts as this role, and the stack grants
     * it mount and write on Squadron's file system only (through a mount target).
     */
    efsCsiNodeRoleArn: z.string().regex(roleArn, roleArnMessage("AmazonEKS_EFS_CSI_DriverRole")).optional(),
  })
  .strict();

const existingVpcSchema = z
  .object({
    vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, "must look like vpc-0123abcd"),
    privateSubnetIds: z
      .array(z.string().regex(/^subnet-[0-9a-f]+$/, "must look like subnet-0123abcd"))
      .min(2),
    availabilityZones: z.array(z.string().min(1)).min(2),
  })
  .strict()
  .refine((v) => v.privateSubnetIds.length === v.availabilityZones.length, {
    message: "privateSubnetIds and availabilityZones must have the same length (one subnet per zone)",
  });

const bucketName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "must be an S3 bucket name like team-reports (no s3://, no prefix)",
  );

export const configSchema = z
  .object({
    /** Where runners run: ECS Fargate in a cluster this stack creates, or an existing EKS cluster. */
    compute: z.enum(["ecs", "eks"]).default("ecs"),
    eks: eksSchema.optional(),
    /** "new" creates a VPC with private subnets and endpoints; an object imports one. */
    vpc: z.union([z.literal("new"), existingVpcSchema]).default("new"),
    /** NAT gateways of a new VPC (agents reach model APIs and git hosts through them). */
    natGateways: z.number().int().min(0).max(3).default(1),
    /** Fargate Spot for runners (cheaper; a reclaimed task counts as a failed attempt). */
    fargateSpot: z.boolean().default(false),
    /** Runner task CPU units; with runnerMemoryMiB, a Fargate task size (checked as a pair below). */
    runnerCpu: z
      .number()
      .int()
      .refine((v) => FARGATE_CPU_VALUES.includes(v), {
        message: `must be one of ${FARGATE_CPU_VALUES.join(", ")}`,
      })
      .default(1024),
    runnerMemoryMiB: z.number().int().min(512).max(122880).default(4096),
    /** A prebuilt runner image (e.g. in ECR); by default the image is built from runner/ at deploy. */
    runnerImageUri: z.string().min(1).optional(),
    /**
     * How the runner image is built when runnerImageUri is not set: "local-docker" (a CDK Docker
     * asset: `cdk deploy` needs a Docker engine) or "codebuild" (built in the account by CodeBuild
     * at deploy time: no Docker on the deploying machine).
     */
    runnerImageBuild: z.enum(["local-docker", "codebuild"]).optional(),
    slack: z
      .object({
        enabled: z.boolean().default(false),
        /** Default channel for approval messages (a gate may name its own). */
        channel: z.string().min(1).optional(),
      })
      .strict()
      .default({ enabled: false }),
    /** Slack user ids / IAM principal names allowed to approve when a gate names none. */
    approvers: z.array(z.string().min(1)).default([]),
    /**
     * Budget (USD) of a team whose manifest sets no `lifecycle.budgetLimit`; absent means no
     * default budget. The api function gets it as SQUADRON_DEFAULT_BUDGET_USD.
     */
    defaultBudgetUsd: z.number().positive().optional(),
    /**
     * Timeout of a team whose manifest sets no `lifecycle.timeout`, read as manifests read one
     * (core/manifest/duration.ts). The api function gets it as SQUADRON_DEFAULT_TIMEOUT.
     */
    defaultTimeout: z
      .string()
      .refine(
        (v) => (tryParseDuration(v) ?? 0) > 0,
        "must be a duration longer than zero like 4h, 90m or 1h30m",
      )
      .default("4h"),
    /**
     * Secrets Manager name prefix of the teams' own secrets (`<prefix>/<namespace>/<name>`). Give
     * each deployment in an account its own (e.g. squadron-prod), so none can read another's.
     */
    teamSecretPrefix: z
      .string()
      .regex(SECRET_NAME_PART, 'must be a Secrets Manager name part: letters, digits and _+=.@- (no "/")')
      .default(TEAM_SECRET_PREFIX),
    /**
     * Buckets besides Squadron's own that manifests read inputs and skills from (`s3://bucket/...`):
     * the runner may list and read them. Another account's bucket must also allow it in its policy.
     */
    inputBuckets: z.array(bucketName).default([]),
    /**
     * Buckets besides Squadron's own that manifests deliver outputs to (`workspace.output.s3Prefix`):
     * the outputs function may write them. Another account's bucket must also allow it.
     */
    outputBuckets: z.array(bucketName).default([]),
    /** Agents running at once within one run. */
    maxConcurrentAgents: z.number().int().min(1).max(40).default(20),
    /** CloudWatch Logs retention in days (must be a value CloudWatch accepts). */
    logRetentionDays: z
      .number()
      .int()
      .refine((v) => LOG_RETENTION_DAYS.includes(v), {
        message: "must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)",
      })
      .default(30),
    /** What happens to the table, file system and bucket on stack deletion. */
    removalPolicy: z.enum(["retain", "destroy"]).default("retain"),
    /** E-mail subscribed to the alarm topic. */
    alarmEmail: z.email().optional(),
    /** Attach an AWS WAF web ACL (managed common rules, rate limit) to the API stage. */
    waf: z.boolean().default(false),
    /** API Gateway stage throttling. */
    apiThrottle: z
      .object({
        rateLimit: z.number().positive().default(50),
        burstLimit: z.number().int().positive().default(100),
      })
      .strict()
      .default({ rateLimit: 50, burstLimit: 100 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.compute === "eks" && !c.eks) {
      ctx.addIssue({
        code: "custom",
        path: ["eks"],
        message: 'is required when compute is "eks" (at least clusterName)',
      });
    }
    if (c.eks?.manageKubernetesObjects && !c.eks.kubectlRoleArn) {
      ctx.addIssue({
        code: "custom",
        path: ["eks", "kubectlRoleArn"],
        message:
          "is required to create the namespace, service account and EFS volume on the cluster: an IAM role with cluster-admin there (e.g. an access entry with AmazonEKSClusterAdminPolicy) that CDK's kubectl provider assumes; or set eks.manageKubernetesObjects to false and apply them yourself (docs/deploy.md)",
      });
    }
    if (c.compute === "eks" && c.vpc === "new") {
      // A new VPC would hold the file system's mount targets where no node of the cluster is.
      ctx.addIssue({
        code: "custom",
        path: ["vpc"],
        message:
          "must be the EKS cluster's VPC when compute is \"eks\" ({vpcId, privateSubnetIds, availabilityZones} of the subnets its nodes run in): the file system's mount targets are created there, and pods can mount only mount targets in their own VPC",
      });
    }
    if (c.eks?.endpointAccess === "private") {
      ctx.addIssue({
        code: "custom",
        path: ["eks", "endpointAccess"],
        message:
          'cannot be "private": Step Functions\' EKS integration (eks:runJob) "supports only Kubernetes APIs with public endpoint access" (Step Functions developer guide, Call Amazon EKS with Step Functions), so no run could start. Enable the public endpoint (it may be limited to CIDRs) and set "public-and-private" or "public"',
      });
    }
    if (c.eks?.kubectlSecurityGroupId && c.eks.endpointAccess !== "public-and-private") {
      ctx.addIssue({
        code: "custom",
        path: ["eks", "kubectlSecurityGroupId"],
        message:
          'runs the kubectl provider through the private endpoint: set eks.endpointAccess to "public-and-private" (the public endpoint must stay on for Step Functions\' eks:runJob)',
      });
    }
    if (c.compute === "ecs" && c.eks) {
      ctx.addIssue({ code: "custom", path: ["eks"], message: 'is only allowed when compute is "eks"' });
    }
    // Fargate accepts only the CPU/memory combinations of its task size table
    // (core/fargate-sizes.ts); the base task definition and every agent without resources use
    // this pair, so an invalid one fails synth here rather than RegisterTaskDefinition at deploy.
    if (
      FARGATE_CPU_VALUES.includes(c.runnerCpu) &&
      !isFargateSize({ cpu: c.runnerCpu, memoryMiB: c.runnerMemoryMiB })
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["runnerMemoryMiB"],
        message: `${c.runnerMemoryMiB} is not a Fargate memory size for runnerCpu ${c.runnerCpu}: it takes ${describeFargateMemory(c.runnerCpu)}`,
      });
    }
    if (c.runnerImageUri && c.runnerImageBuild) {
      ctx.addIssue({
        code: "custom",
        path: ["runnerImageBuild"],
        message: "builds the runner image, but runnerImageUri names a prebuilt one: set only one of them",
      });
    }
    if (c.slack.enabled && !c.slack.channel) {
      ctx.addIssue({
        code: "custom",
        path: ["slack", "channel"],
        message: "is required when slack.enabled is true",
      });
    }
  });

export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export type SquadronConfig = z.infer<typeof configSchema>;

/** Context key holding the configuration object. */
export const CONFIG_CONTEXT_KEY = "squadron";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the `squadron` context value (an object, or a JSON string when given with -c).
 * Throws ConfigError listing every problem as `squadron.<key>: <message>`.
 */
export function parseConfig(raw: unknown): SquadronConfig {
  let value = raw ?? {};
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new ConfigError(`Invalid cdk.json context "${CONFIG_CONTEXT_KEY}": not valid JSON.`);
    }
  }
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = [CONFIG_CONTEXT_KEY, ...issue.path.map(String)].join(".");
    const unknownKeys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
    return `  ${key}: ${issue.message}${unknownKeys}`;
  });
  throw new ConfigError(`Invalid Squadron configuration in cdk.json context:\n${lines.join("\n")}`);
}

/**
 * Top-level context keys that look like Squadron options but are not read: `-c compute=eks` or
 * `-c squadron.compute=eks` set a context key of that name, which nothing reads, so the stack
 * would deploy with the default silently. Each problem names the right spelling.
 */
export function strayContextProblems(keys: string[]): string[] {
  const options = Object.keys(configSchema.shape);
  const byLowerCase = new Map(options.map((o) => [o.toLowerCase(), o]));
  const problems: string[] = [];
  for (const key of keys) {
    if (key === CONFIG_CONTEXT_KEY) continue;
    const dotted = /^squadron[.:/_-](.+)$/i.exec(key)?.[1];
    const option = byLowerCase.get((dotted ?? key).toLowerCase());
    if (option) {
      problems.push(
        `  context "${key}" is not read: Squadron's options live in the "${CONFIG_CONTEXT_KEY}" object. Set ${CONFIG_CONTEXT_KEY}.${option} in cdk.json, or pass -c ${CONFIG_CONTEXT_KEY}='{"${option}": ...}'.`,
      );
    } else if (dotted !== undefined) {
      problems.push(
        `  context "${key}" is not read, and "${dotted}" is not a Squadron option (options: ${options.join(", ")}).`,
      );
    }
  }
  return problems;
}
