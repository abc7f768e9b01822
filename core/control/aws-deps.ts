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
import { SfnExecutionStarter, SfnExecutionStopper, SfnTaskTokenResolver } from "./execution.ts";
import { IdempotencyKeys } from "./idempotency.ts";
import { ChannelGateNotifier } from "./notifications.ts";
import { RunIndex } from "./run-index.ts";
import { S3RunManifestWriter } from "./run-manifest.ts";
import { EfsEcsRunWorkspaces, NoopRunWorkspaces } from "./run-workspace.ts";
import { SlackClient } from "./slack-client.ts";
import { DirectoryTeamFiles, NoTeamFiles } from "./team-files.ts";
import { CloudWatchTeamLogs } from "./team-logs.ts";

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

const unconfigured = (what: string) => () =>
  Promise.reject(new Error(`${what} is not configured for this function`));

/** Builds the AWS-bound dependencies once per container. */
export function awsControlDeps(logger: ControlLogger): ControlDeps & {
  idempotency: IdempotencyKeys;
  secret: (id: string) => Promise<string | undefined>;
} {
  const ddb = new DynamoDBClient({});
  const sfn = new SFNClient({});
  const tableName = required(ENV.table);
  const secret = secretReader(new SecretsManagerClient({}));
  const stateMachineArn = env(ENV.stateMachine);
  const slackTokenSecret = env(ENV.slackTokenSecret);
  const webhookSecretId = env(ENV.webhookSecret);
  const slack = slackTokenSecret
    ? new SlackClient({
        token: async () => {
          const token = await secret(slackTokenSecret);
          if (!token) throw new Error(`secret ${slackTokenSecret} has no value`);
          return token;
        },
      })
    : undefined;
  const fileSystemId = env(ENV.fileSystem);
  const deadlineTarget = env(ENV.deadlineTarget);
  const deadlines: DeadlineScheduler =
    deadlineTarget && env(ENV.deadlineRole)
      ? new EventBridgeDeadlineScheduler(new SchedulerClient({}), {
          targetArn: deadlineTarget,
          roleArn: required(ENV.deadlineRole),
          ...(env(ENV.scheduleGroup) ? { groupName: env(ENV.scheduleGroup) as string } : {}),
        })
      : { arm: unconfigured("the deadline scheduler"), disarm: async () => {} };
  const bucket = env(ENV.bucket);
  const runsMount = env(ENV.runsMount);
  const runnerLogGroup = env(ENV.runnerLogGroup);
  return {
    store: new TeamStore({ client: ddb, tableName }),
    runs: new RunIndex(ddb, tableName),
    idempotency: new IdempotencyKeys(ddb, tableName),
    starter: stateMachineArn
      ? new SfnExecutionStarter(sfn, stateMachineArn)
      : { start: unconfigured("SQUADRON_STATE_MACHINE_ARN") },
    stopper: new SfnExecutionStopper(sfn),
    tokens: new SfnTaskTokenResolver(sfn),
    notifier: new ChannelGateNotifier({
      ...(slack ? { slack } : {}),
      ...(env(ENV.slackChannel) ? { defaultSlackChannel: env(ENV.slackChannel) as string } : {}),
      secret,
      ...(webhookSecretId ? { gateWebhookSecret: () => secret(webhookSecretId) } : {}),
      logger,
    }),
    workspaces:
      fileSystemId && env(ENV.taskDefinition)
        ? new EfsEcsRunWorkspaces(new EFSClient({}), new ECSClient({}), {
            fileSystemId,
            baseTaskDefinition: required(ENV.taskDefinition),
            volumeName: env(ENV.volume) ?? "team",
          })
        : new NoopRunWorkspaces(),
    deadlines,
    runManifests: bucket
      ? new S3RunManifestWriter(new S3Client({}), bucket)
      : { write: unconfigured("SQUADRON_BUCKET") },
    teamFiles: runsMount ? new DirectoryTeamFiles(runsMount) : new NoTeamFiles(),
    ...(runnerLogGroup
      ? { teamLogs: new CloudWatchTeamLogs(new CloudWatchLogsClient({}), runnerLogGroup) }
      : {}),
    logger,
    secret,
  };
}
