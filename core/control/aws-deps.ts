/**
 * AWS bindings of the control-plane dependencies, one factory per dependency so that each Lambda
 * bundles, evaluates and constructs only the SDK clients it calls: a handler that imports
 * `awsStore` alone gets the DynamoDB client and nothing of S3, ECS or Slack (esbuild drops the
 * unused factories and, the SDK packages being side-effect free, their clients). Clients are
 * created on first use and shared by every factory of the container.
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EFSClient } from "@aws-sdk/client-efs";
import { S3Client } from "@aws-sdk/client-s3";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SFNClient } from "@aws-sdk/client-sfn";
import { TeamStore } from "../store/team-store.ts";
import { type DeadlineScheduler, EventBridgeDeadlineScheduler } from "./deadline-scheduler.ts";
import type { ControlDeps, ControlLogger } from "./deps.ts";
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
import { type RunManifestWriter, S3RunManifestWriter } from "./run-manifest.ts";
import { EfsEcsRunWorkspaces, NoopRunWorkspaces, type RunWorkspaces } from "./run-workspace.ts";
import { SlackClient } from "./slack-client.ts";
import { DynamoOnceClaims, type OnceClaims } from "./task-stops.ts";
import { DirectoryTeamFiles, NoTeamFiles, type TeamFilesReader } from "./team-files.ts";
import { CloudWatchTeamLogs, type TeamLogsReader } from "./team-logs.ts";

/**
 * Environment of the control-plane functions (set by infra/). Everything optional is only
 * needed by the functions that use it.
 */
export const ENV = {
  table: "SQUADRON_TABLE_NAME",
  stateMachine: "SQUADRON_STATE_MACHINE_ARN",
  bucket: "SQUADRON_BUCKET",
  fileSystem: "SQUADRON_EFS_FILE_SYSTEM_ID",
  taskDefinition: "SQUADRON_RUNNER_TASK_DEFINITION",
  volume: "SQUADRON_RUNNER_VOLUME",
  runsMount: "SQUADRON_RUNS_MOUNT",
  deadlineTarget: "SQUADRON_DEADLINE_FUNCTION_ARN",
  deadlineRole: "SQUADRON_SCHEDULER_ROLE_ARN",
  scheduleGroup: "SQUADRON_SCHEDULE_GROUP",
  slackTokenSecret: "SQUADRON_SLACK_BOT_TOKEN_SECRET",
  slackSigningSecret: "SQUADRON_SLACK_SIGNING_SECRET",
  slackChannel: "SQUADRON_SLACK_CHANNEL",
  slackApprovers: "SQUADRON_SLACK_APPROVERS",
  webhookSecret: "SQUADRON_WEBHOOK_SECRET",
  /** The runner containers' log group (awslogs driver); the api function reads `logs` from it. */
  runnerLogGroup: "SQUADRON_RUNNER_LOG_GROUP",
} as const;

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

/** The team table (`SQUADRON_TABLE_NAME`). */
export function awsStore(): TeamStore {
  return new TeamStore({ client: dynamoDbClient(), tableName: required(ENV.table) });
}

export function awsRunIndex(): RunIndex {
  return new RunIndex(dynamoDbClient(), required(ENV.table));
}

/** Once-only claims (one ECS task stop reported once) in the team table. */
export function awsOnceClaims(): OnceClaims {
  return new DynamoOnceClaims(dynamoDbClient(), required(ENV.table));
}

export function awsIdempotency(): IdempotencyKeys {
  return new IdempotencyKeys(dynamoDbClient(), required(ENV.table));
}

export function awsStarter(): ExecutionStarter {
  const stateMachineArn = env(ENV.stateMachine);
  return stateMachineArn
    ? new SfnExecutionStarter(sfnClient(), stateMachineArn)
    : { start: unconfigured(ENV.stateMachine) };
}

export function awsStopper(): ExecutionStopper {
  return new SfnExecutionStopper(sfnClient());
}

export function awsTokens(): TaskTokenResolver {
  return new SfnTaskTokenResolver(sfnClient());
}

function notifierOptions(logger: ControlLogger) {
  const secret = awsSecret();
  const webhookSecretId = env(ENV.webhookSecret);
  return {
    ...(env(ENV.slackChannel) ? { defaultSlackChannel: env(ENV.slackChannel) as string } : {}),
    secret,
    ...(webhookSecretId ? { gateWebhookSecret: () => secret(webhookSecretId) } : {}),
    logger,
  };
}

/** Run-level webhooks only (`teamEvent`); for functions that never post to Slack. */
export function awsWebhookNotifier(logger: ControlLogger): GateNotifier {
  return new ChannelGateNotifier(notifierOptions(logger));
}

/** Webhooks and, when a bot token secret is configured, Slack approval messages. */
export function awsSlackNotifier(logger: ControlLogger): GateNotifier {
  const tokenSecret = env(ENV.slackTokenSecret);
  const secret = awsSecret();
  const slack = tokenSecret
    ? new SlackClient({
        token: async () => {
          const token = await secret(tokenSecret);
          if (!token) throw new Error(`secret ${tokenSecret} has no value`);
          return token;
        },
      })
    : undefined;
  return new ChannelGateNotifier({ ...notifierOptions(logger), ...(slack ? { slack } : {}) });
}

/** EFS access point and task-definition revision per run; a no-op where none is configured. */
export function awsWorkspaces(): RunWorkspaces {
  const fileSystemId = env(ENV.fileSystem);
  return fileSystemId && env(ENV.taskDefinition)
    ? new EfsEcsRunWorkspaces(new EFSClient({}), new ECSClient({}), {
        fileSystemId,
        baseTaskDefinition: required(ENV.taskDefinition),
        volumeName: env(ENV.volume) ?? "team",
      })
    : new NoopRunWorkspaces();
}

export function awsDeadlines(): DeadlineScheduler {
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
}

export function awsRunManifests(): RunManifestWriter {
  const bucket = env(ENV.bucket);
  return bucket ? new S3RunManifestWriter(new S3Client({}), bucket) : { write: unconfigured(ENV.bucket) };
}

export function awsTeamFiles(): TeamFilesReader {
  const runsMount = env(ENV.runsMount);
  return runsMount ? new DirectoryTeamFiles(runsMount) : new NoTeamFiles();
}

/** Runner output from CloudWatch Logs; undefined (no logs route) without a runner log group. */
export function awsTeamLogs(): TeamLogsReader | undefined {
  const logGroup = env(ENV.runnerLogGroup);
  return logGroup ? new CloudWatchTeamLogs(new CloudWatchLogsClient({}), logGroup) : undefined;
}

/**
 * Every dependency at once (all eight SDK clients). Handlers build only their own part from the
 * factories above; this stays for callers that want the whole set.
 */
export function awsControlDeps(logger: ControlLogger): ControlDeps & {
  idempotency: IdempotencyKeys;
  secret: (id: string) => Promise<string | undefined>;
} {
  const teamLogs = awsTeamLogs();
  return {
    store: awsStore(),
    runs: awsRunIndex(),
    idempotency: awsIdempotency(),
    starter: awsStarter(),
    stopper: awsStopper(),
    tokens: awsTokens(),
    notifier: awsSlackNotifier(logger),
    workspaces: awsWorkspaces(),
    deadlines: awsDeadlines(),
    runManifests: awsRunManifests(),
    teamFiles: awsTeamFiles(),
    ...(teamLogs ? { teamLogs } : {}),
    logger,
    secret: awsSecret(),
  };
}
