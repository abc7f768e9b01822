/**
 * AWS bindings of the control-plane dependencies, one {@link AwsDependency} per dependency so that
 * each Lambda bundles, evaluates and constructs only the SDK clients it calls: a handler that
 * imports `awsStore` alone gets the DynamoDB client and nothing of S3, ECS or Slack (esbuild drops
 * the unused ones and, the SDK packages being side-effect free, their clients). Clients are
 * created on first use and shared by every dependency of the container. Each dependency names
 * the variables it reads, so a handler's environment is derived from the dependencies it builds
 * (`environmentOf`) and test/infra checks the stack sets it.
 */

import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EFSClient } from "@aws-sdk/client-efs";
import { S3Client } from "@aws-sdk/client-s3";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { SFNClient } from "@aws-sdk/client-sfn";
import { type FargateSize, isFargateSize } from "../fargate-sizes.ts";
import { type ManifestDefaults, parseManifestDefaults } from "../manifest/options.ts";
import { type ObjectStore, S3ObjectStore } from "../run-files/object-store.ts";
import { ScheduleStore } from "../schedules/store.ts";
import { EventBridgeScheduleTimers, type ScheduleTimers } from "../schedules/timers.ts";
import { TeamStore } from "../store/team-store.ts";
import { triggerSecretId } from "../triggers/trigger-secrets.ts";
import { TriggerStore } from "../triggers/trigger-store.ts";
import { type DeadlineScheduler, EventBridgeDeadlineScheduler } from "./deadline-scheduler.ts";
import type { ControlLogger } from "./deps.ts";
import { EFS_RUNS_ROOT, ENV, type EnvNeeds, mergeNeeds } from "./env-names.ts";
import {
  type ExecutionStarter,
  type ExecutionStopper,
  SfnExecutionStarter,
  SfnExecutionStopper,
  SfnTaskTokenResolver,
  type TaskTokenResolver,
} from "./execution.ts";
import { IdempotencyKeys } from "./idempotency.ts";
import { ChannelGateNotifier, type GateNotifier } from "./notifications.ts";
import { RunIndex } from "./run-index.ts";
import { EksRunJobs, type RunJobs, type RunnerWorkloads } from "./run-jobs.ts";
import { type RunManifestWriter, S3RunManifestWriter } from "./run-manifest.ts";
import {
  EfsEcsRunWorkspaces,
  NoopRunWorkspaces,
  PosixRunDirectories,
  type RunWorkspaces,
} from "./run-workspace.ts";
import type { SlackInteractivityOptions } from "./slack-approvals.ts";
import { SlackClient } from "./slack-client.ts";
import { DynamoOnceClaims, type OnceClaims } from "./task-stops.ts";
import { DirectoryTeamFiles, NoTeamFiles, type TeamFilesReader } from "./team-files.ts";
import { CloudWatchTeamLogs, type TeamLogsReader } from "./team-logs.ts";
import { TEAM_SECRET_PREFIX, teamSecretId } from "./team-secrets.ts";

export { ENV, type EnvNeeds } from "./env-names.ts";

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

function required(name: string): string {
  const v = env(name);
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

const unconfigured = (what: string) => () =>
  Promise.reject(new Error(`${what} is not configured for this function`));

// One client per service and container, created by the first factory that needs it.
let dynamoDb: DynamoDBClient | undefined;
let sfn: SFNClient | undefined;
let secretsManager: SecretsManagerClient | undefined;
const dynamoDbClient = () => (dynamoDb ??= new DynamoDBClient({}));
const sfnClient = () => (sfn ??= new SFNClient({}));
const secretsManagerClient = () => (secretsManager ??= new SecretsManagerClient({}));

/** Secrets Manager values, fetched once per container and cached. */
export function secretReader(client: SecretsManagerClient): (id: string) => Promise<string | undefined> {
  const cache = new Map<string, Promise<string | undefined>>();
  return (id) => {
    let hit = cache.get(id);
    if (!hit) {
      hit = client.send(new GetSecretValueCommand({ SecretId: id })).then((r) => r.SecretString);
      hit.catch(() => cache.delete(id));
      cache.set(id, hit);
    }
    return hit;
  };
}

let sharedSecret: ((id: string) => Promise<string | undefined>) | undefined;
/** The container's cached Secrets Manager reader. */
export function awsSecret(): (id: string) => Promise<string | undefined> {
  sharedSecret ??= secretReader(secretsManagerClient());
  return sharedSecret;
}

/** Reads a team's named secret through the naming scheme (`<prefix>/<namespace>/<name>`). */
export function teamSecretReader(
  read: (id: string) => Promise<string | undefined>,
  prefix: string = teamSecretPrefix(),
): (namespace: string, name: string) => Promise<string | undefined> {
  return (namespace, name) => read(teamSecretId(namespace, name, prefix));
}

/**
 * The deployment's team secret prefix. Declared "always" by the dependencies that use it, so the
 * stack must set it (test/infra); the default only serves handlers run outside a deployment.
 */
function teamSecretPrefix(): string {
  return env(ENV.teamSecretPrefix) ?? TEAM_SECRET_PREFIX;
}

/**
 * Full ARN of a team secret from its partial ARN (DescribeSecret: metadata, never the value), so
 * that the runner's task definition names it as ECS documents and a missing secret fails Prepare
 * with its name instead of the task failing to start.
 */
export function secretArnResolver(
  client: Pick<SecretsManagerClient, "send">,
): (partialArn: string) => Promise<string> {
  return async (partialArn) => {
    try {
      const out = await client.send(new DescribeSecretCommand({ SecretId: partialArn }));
      if (!out.ARN) throw new Error(`Secrets Manager described ${partialArn} without an ARN`);
      return out.ARN;
    } catch (error) {
      if (
        error instanceof ResourceNotFoundException ||
        (error as Error).name === "ResourceNotFoundException"
      ) {
        const name = partialArn.slice(partialArn.indexOf(":secret:") + ":secret:".length);
        throw new Error(
          `the team's secret ${name} does not exist in Secrets Manager: create it (docs/deploy.md, "A team's own secrets")`,
        );
      }
      throw error;
    }
  };
}

/**
 * One dependency of a handler: how to build it and which variables that reads. An object literal
 * (not a function with a property assigned) so that esbuild can drop the ones a handler does not
 * import, clients and all.
 */
export interface AwsDependency<T> {
  readonly env: EnvNeeds;
  make(logger: ControlLogger): T;
}

export type Built<D> = { [K in keyof D]: D[K] extends AwsDependency<infer T> ? T : never };

/** Builds a handler's dependencies (once per container, through `perContainer`). */
export function buildDependencies<D extends Record<string, AwsDependency<unknown>>>(
  dependencies: D,
  logger: ControlLogger,
): Built<D> & { logger: ControlLogger } {
  const built: Record<string, unknown> = { logger };
  for (const [key, dependency] of Object.entries(dependencies)) built[key] = dependency.make(logger);
  return built as Built<D> & { logger: ControlLogger };
}

/** What a handler built from these dependencies reads: infra must set its required variables. */
export function environmentOf(dependencies: Record<string, AwsDependency<unknown>>): EnvNeeds {
  return mergeNeeds(...Object.values(dependencies).map((d) => d.env));
}

/** The team table. */
export const awsStore: AwsDependency<TeamStore> = {
  env: { table: "always" },
  make: () => new TeamStore({ client: dynamoDbClient(), tableName: required(ENV.table) }),
};

/** AgentTeamTriggers, in the team table. */
export const awsTriggerStore: AwsDependency<TriggerStore> = {
  env: { table: "always" },
  make: () => new TriggerStore({ client: dynamoDbClient(), tableName: required(ENV.table) }),
};

/** A trigger's HMAC key: `<prefix>/<namespace>/triggers/<name>` (GetSecretValue, cached). */
export const awsTriggerSecret: AwsDependency<
  (namespace: string, name: string) => Promise<string | undefined>
> = {
  env: { teamSecretPrefix: "always" },
  make: () => triggerSecretReader(awsSecret()),
};

/** Reads a trigger's HMAC key through its naming scheme (core/triggers/trigger-secrets.ts). */
export function triggerSecretReader(
  read: (id: string) => Promise<string | undefined>,
  prefix: string = teamSecretPrefix(),
): (namespace: string, name: string) => Promise<string | undefined> {
  return (namespace, name) => read(triggerSecretId(namespace, name, prefix));
}

export const awsRunIndex: AwsDependency<RunIndex> = {
  env: { table: "always" },
  make: () => new RunIndex(dynamoDbClient(), required(ENV.table)),
};

/** Once-only claims (one ECS task stop reported once) in the team table. */
export const awsOnceClaims: AwsDependency<OnceClaims> = {
  env: { table: "always" },
  make: () => new DynamoOnceClaims(dynamoDbClient(), required(ENV.table)),
};

export const awsIdempotency: AwsDependency<IdempotencyKeys> = {
  env: { table: "always" },
  make: () => new IdempotencyKeys(dynamoDbClient(), required(ENV.table)),
};

export const awsStarter: AwsDependency<ExecutionStarter> = {
  env: { stateMachine: "always" },
  make: () => {
    const stateMachineArn = env(ENV.stateMachine);
    return stateMachineArn
      ? new SfnExecutionStarter(sfnClient(), stateMachineArn)
      : { start: unconfigured(ENV.stateMachine) };
  },
};

/** Stops executions by the ARN stored on the run: no variable. */
export const awsStopper: AwsDependency<ExecutionStopper> = {
  env: {},
  make: () => new SfnExecutionStopper(sfnClient()),
};

/** Resolves task tokens stored on the run: no variable. */
export const awsTokens: AwsDependency<TaskTokenResolver> = {
  env: {},
  make: () => new SfnTaskTokenResolver(sfnClient()),
};

function slackClient(): SlackClient | undefined {
  const tokenSecret = env(ENV.slackTokenSecret);
  if (!tokenSecret) return undefined;
  const secret = awsSecret();
  return new SlackClient({
    token: async () => {
      const token = await secret(tokenSecret);
      if (!token) throw new Error(`secret ${tokenSecret} (${ENV.slackTokenSecret}) has no value`);
      return token;
    },
  });
}

/**
 * Run-level webhooks only (`teamEvent`, signed with the team's own `webhook.secretRef`); for
 * functions that never post to Slack nor ask for approvals.
 */
export const awsWebhookNotifier: AwsDependency<GateNotifier> = {
  env: { teamSecretPrefix: "always" },
  make: (logger) => new ChannelGateNotifier({ teamSecret: teamSecretReader(awsSecret()), logger }),
};

/** Webhooks and, with a bot token, Slack messages: updates a decided gate's message (api). */
export const awsSlackNotifier: AwsDependency<GateNotifier> = {
  env: { slackTokenSecret: "slack", teamSecretPrefix: "always" },
  make: (logger) => {
    const slack = slackClient();
    return new ChannelGateNotifier({
      teamSecret: teamSecretReader(awsSecret()),
      logger,
      ...(slack ? { slack } : {}),
    });
  },
};

/**
 * Everything that asks for an approval (approvals): Slack messages to the default channel and
 * gate webhooks signed with the stack's webhook secret.
 */
export const awsApprovalNotifier: AwsDependency<GateNotifier> = {
  env: {
    slackTokenSecret: "slack",
    slackChannel: "slack",
    webhookSecret: "always",
    teamSecretPrefix: "always",
  },
  make: (logger) => {
    const secret = awsSecret();
    const slack = slackClient();
    const channel = env(ENV.slackChannel);
    const webhookSecretId = env(ENV.webhookSecret);
    return new ChannelGateNotifier({
      teamSecret: teamSecretReader(secret),
      logger,
      ...(slack ? { slack } : {}),
      ...(channel ? { defaultSlackChannel: channel } : {}),
      ...(webhookSecretId ? { gateWebhookSecret: () => secret(webhookSecretId) } : {}),
    });
  },
};

/** The Slack interactivity route's signing secret and default approvers (approvals). */
export const awsSlackInteractivity: AwsDependency<SlackInteractivityOptions> = {
  env: { slackSigningSecret: "slack", slackApprovers: "slack" },
  make: () => {
    const secret = awsSecret();
    const signingSecretId = env(ENV.slackSigningSecret);
    return {
      signingSecret: async () => {
        const value = signingSecretId ? await secret(signingSecretId) : undefined;
        if (!value) throw new Error(`${ENV.slackSigningSecret} is not configured`);
        return value;
      },
      defaultApprovers: (env(ENV.slackApprovers) ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    };
  },
};

/**
 * EFS access point and task-definition revision per run (ECS); a no-op without them (EKS, where
 * the Job mounts `runs/<runId>` of the claim).
 */
export const awsWorkspaces: AwsDependency<RunWorkspaces> = {
  env: { fileSystem: "ecs", taskDefinition: "ecs", volume: "ecs", teamSecretPrefix: "ecs" },
  make: () => {
    const fileSystemId = env(ENV.fileSystem);
    const baseTaskDefinition = env(ENV.taskDefinition);
    const volumeName = env(ENV.volume);
    if (!fileSystemId && !baseTaskDefinition && !volumeName) return new NoopRunWorkspaces();
    return new EfsEcsRunWorkspaces(new EFSClient({}), new ECSClient({}), {
      fileSystemId: required(ENV.fileSystem),
      baseTaskDefinition: required(ENV.taskDefinition),
      volumeName: required(ENV.volume),
      runsRoot: EFS_RUNS_ROOT,
      resolveSecretArn: secretArnResolver(secretsManagerClient()),
      teamSecretPrefix: teamSecretPrefix(),
    });
  },
};

/**
 * Prepare's workspaces: on ECS as {@link awsWorkspaces}; on EKS the run's own directory (uid,
 * 0700) under Prepare's root mount of the runs' root, which the Jobs mount as `runs/<runId>`.
 */
export const awsPrepareWorkspaces: AwsDependency<RunWorkspaces> = {
  // Written out, not spread from awsWorkspaces.env: a spread at module level would keep the ECS
  // and EFS clients in every bundle that imports this module (esbuild cannot drop it).
  env: {
    fileSystem: "ecs",
    taskDefinition: "ecs",
    volume: "ecs",
    teamSecretPrefix: "ecs",
    runDirectories: "eks",
  },
  make: (logger) => {
    const mount = env(ENV.runDirectories);
    const ecs = awsWorkspaces.make(logger);
    return mount && ecs instanceof NoopRunWorkspaces ? new PosixRunDirectories(mount) : ecs;
  },
};

/**
 * EKS: the runner Jobs a run left, deleted when the run ends (Cleanup, and the events function
 * after StopExecution); none on ECS, where stopping the execution stops the `.sync` tasks.
 */
export const awsRunJobs: AwsDependency<(RunJobs & RunnerWorkloads) | undefined> = {
  env: { eksCluster: "eks", eksEndpoint: "eks", eksCertificateAuthority: "eks", eksNamespace: "eks" },
  make: () => {
    const clusterName = env(ENV.eksCluster);
    const endpoint = env(ENV.eksEndpoint);
    const certificateAuthority = env(ENV.eksCertificateAuthority);
    const namespace = env(ENV.eksNamespace);
    if (!clusterName || !endpoint || !certificateAuthority || !namespace) return undefined;
    return new EksRunJobs({
      clusterName,
      endpoint,
      certificateAuthority,
      namespace,
      region: process.env.AWS_REGION ?? "us-east-1",
      // Lambda gives its role's session in these variables; read at each call, never stored.
      credentials: async () => ({
        accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "",
        secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "",
        sessionToken: process.env.AWS_SESSION_TOKEN,
      }),
    });
  },
};

/** Per-run deadline schedules (armed by Prepare, disarmed by Cleanup and the events function). */
export const awsDeadlines: AwsDependency<DeadlineScheduler> = {
  env: { deadlineTarget: "always", deadlineRole: "always", scheduleGroup: "always" },
  make: () => {
    const targetArn = env(ENV.deadlineTarget);
    const roleArn = env(ENV.deadlineRole);
    const groupName = env(ENV.scheduleGroup);
    return targetArn && roleArn
      ? new EventBridgeDeadlineScheduler(new SchedulerClient({}), {
          targetArn,
          roleArn,
          ...(groupName ? { groupName } : {}),
        })
      : { arm: unconfigured("the deadline scheduler"), disarm: async () => {} };
  },
};

/**
 * The api function's own ARN, as Lambda gave it in the invocation context: the target of the
 * Scheduler schedules it creates. (Its own ARN in its environment would be a circular reference
 * in the template.) lambdas/api/handler.ts sets it on every invocation.
 */
export const invokedFunction: { arn?: string } = {};

/** AgentTeamSchedule: the store and the EventBridge Scheduler schedules that make them fire. */
export const awsSchedules: AwsDependency<{ schedules: ScheduleStore; scheduleTimers: ScheduleTimers }> = {
  env: { table: "always", teamScheduleGroup: "always", teamSchedulerRole: "always" },
  make: () => {
    const roleArn = env(ENV.teamSchedulerRole);
    const groupName = env(ENV.teamScheduleGroup);
    const scheduleTimers: ScheduleTimers =
      roleArn && groupName
        ? new EventBridgeScheduleTimers(new SchedulerClient({}), {
            roleArn,
            groupName,
            targetArn: () => {
              if (!invokedFunction.arn) throw new Error("the api function's ARN is not known yet");
              return invokedFunction.arn;
            },
          })
        : { sync: unconfigured("the schedule timers"), remove: unconfigured("the schedule timers") };
    return { schedules: new ScheduleStore(dynamoDbClient(), required(ENV.table)), scheduleTimers };
  },
};

export const awsRunManifests: AwsDependency<RunManifestWriter> = {
  env: { bucket: "always" },
  make: () => {
    const bucket = env(ENV.bucket);
    return bucket ? new S3RunManifestWriter(new S3Client({}), bucket) : { write: unconfigured(ENV.bucket) };
  },
};

/** Squadron's bucket as an object store (the outputs function writes a run's outputs to it). */
export const awsObjects: AwsDependency<ObjectStore> = {
  env: { bucket: "always" },
  make: () => new S3ObjectStore(new S3Client({}), required(ENV.bucket)),
};

/** The runs' root through the function's read-only EFS mount (`<mount>/<runId>` is a run's directory). */
export const awsRunsDir: AwsDependency<string> = {
  env: { runsMount: "always" },
  make: () => required(ENV.runsMount),
};

/** The runs' team directories through the api function's read-only EFS mount. */
export const awsTeamFiles: AwsDependency<TeamFilesReader> = {
  env: { runsMount: "always" },
  make: () => {
    const runsMount = env(ENV.runsMount);
    return runsMount ? new DirectoryTeamFiles(runsMount) : new NoTeamFiles();
  },
};

/** Runner output from CloudWatch Logs; undefined (no logs route) without a runner log group. */
export const awsTeamLogs: AwsDependency<TeamLogsReader | undefined> = {
  env: { runnerLogGroup: "always" },
  make: () => {
    const logGroup = env(ENV.runnerLogGroup);
    return logGroup ? new CloudWatchTeamLogs(new CloudWatchLogsClient({}), logGroup) : undefined;
  },
};

/** Where the runner mounts the team directory, as Prepare tells the runner (SQUADRON_TEAM_DIR). */
export const awsRunnerLayout: AwsDependency<{ teamDir?: string; runnerSize?: FargateSize }> = {
  env: { teamDir: "always", runnerCpu: "always", runnerMemory: "always" },
  make: () => {
    const teamDir = env(ENV.teamDir);
    const cpu = Number(env(ENV.runnerCpu));
    const memoryMiB = Number(env(ENV.runnerMemory));
    const runnerSize = { cpu, memoryMiB };
    // A size Fargate would refuse fails the container at start with the variables' names.
    if ((env(ENV.runnerCpu) || env(ENV.runnerMemory)) && !isFargateSize(runnerSize))
      throw new Error(
        `${ENV.runnerCpu}=${env(ENV.runnerCpu)} / ${ENV.runnerMemory}=${env(ENV.runnerMemory)} is not a Fargate task size`,
      );
    return {
      ...(teamDir ? { teamDir } : {}),
      ...(env(ENV.runnerCpu) ? { runnerSize } : {}),
    };
  },
};

/**
 * The deployment's default timeout and budget for manifests that set none (api). Checked when the
 * container starts: a bad value fails every request with the variable's name rather than passing.
 */
export const awsManifestDefaults: AwsDependency<ManifestDefaults> = {
  env: { defaultTimeout: "optional", defaultBudget: "optional" },
  make: () =>
    parseManifestDefaults(
      { timeout: env(ENV.defaultTimeout), budgetLimit: env(ENV.defaultBudget) },
      { timeout: ENV.defaultTimeout, budgetLimit: ENV.defaultBudget },
    ),
};
