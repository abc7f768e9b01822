/**
 * The environment of the control-plane Lambda functions: the one list of names. The handlers read
 * them (core/control/aws-deps.ts) and infra/ sets them, both from here, so the two cannot spell a
 * name differently. Dependency-free, so the CDK app imports it without the AWS SDK.
 */
export const ENV = {
  table: "SQUADRON_TABLE_NAME",
  stateMachine: "SQUADRON_STATE_MACHINE_ARN",
  bucket: "SQUADRON_BUCKET",
  fileSystem: "SQUADRON_EFS_FILE_SYSTEM_ID",
  /** ARN of the base revision of the runner task definition; Prepare copies it for each run. */
  taskDefinition: "SQUADRON_RUNNER_TASK_DEFINITION_ARN",
  /** Name of the EFS volume in that task definition; Prepare points it at the run's access point. */
  volume: "SQUADRON_RUNNER_VOLUME",
  /** Where the runner container mounts the team directory (the runner gets it as SQUADRON_TEAM_DIR). */
  teamDir: "SQUADRON_TEAM_DIR",
  /**
   * The deployment's runner size (runnerCpu units, runnerMemoryMiB): Prepare gives it to agents
   * whose manifest sets no resources, and rounds requests to a Fargate size from it.
   */
  runnerCpu: "SQUADRON_RUNNER_CPU",
  runnerMemory: "SQUADRON_RUNNER_MEMORY_MIB",
  /** Where the api function mounts the runs' root (read-only): `<mount>/<runId>` is a run's team dir. */
  runsMount: "SQUADRON_RUNS_MOUNT",
  /** EKS: where Prepare mounts the runs' root as root, to create each run's own directory. */
  runDirectories: "SQUADRON_RUN_DIRECTORIES_MOUNT",
  /** EKS: the cluster, API endpoint, CA (base64) and namespace where a run's ending deletes its Jobs. */
  eksCluster: "SQUADRON_EKS_CLUSTER",
  eksEndpoint: "SQUADRON_EKS_ENDPOINT",
  eksCertificateAuthority: "SQUADRON_EKS_CERTIFICATE_AUTHORITY",
  eksNamespace: "SQUADRON_EKS_NAMESPACE",
  /** EventBridge Scheduler: the deadline function, the role Scheduler assumes, the schedule group. */
  deadlineTarget: "SQUADRON_DEADLINE_FUNCTION_ARN",
  deadlineRole: "SQUADRON_SCHEDULER_ROLE_ARN",
  scheduleGroup: "SQUADRON_SCHEDULE_GROUP",
  /**
   * AgentTeamSchedule: the group of the Scheduler schedules the api function creates (one per
   * Squadron schedule) and the role those schedules assume to invoke the api function.
   */
  teamScheduleGroup: "SQUADRON_TEAM_SCHEDULE_GROUP",
  teamSchedulerRole: "SQUADRON_TEAM_SCHEDULER_ROLE_ARN",
  /** Secrets Manager ARNs (any SecretId works: the handlers pass the value to GetSecretValue). */
  slackTokenSecret: "SQUADRON_SLACK_BOT_TOKEN_SECRET_ARN",
  slackSigningSecret: "SQUADRON_SLACK_SIGNING_SECRET_ARN",
  slackChannel: "SQUADRON_SLACK_CHANNEL",
  /** Comma-separated Slack user ids allowed to approve when a gate names none. */
  slackApprovers: "SQUADRON_SLACK_APPROVERS",
  /** Name prefix of the teams' own secrets in Secrets Manager (`<prefix>/<namespace>/<name>`). */
  teamSecretPrefix: "SQUADRON_TEAM_SECRET_PREFIX",
  /** HMAC key of signed approval-gate webhooks (a gate's `webhookUrl`). */
  webhookSecret: "SQUADRON_WEBHOOK_SECRET_ARN",
  /** The runner containers' log group (awslogs driver); the api function reads `logs` from it. */
  runnerLogGroup: "SQUADRON_RUNNER_LOG_GROUP",
  /** The deployment's timeout for manifests that set none (a duration such as "2h"; else "4h"). */
  defaultTimeout: "SQUADRON_DEFAULT_TIMEOUT",
  /** The deployment's budget in USD for manifests that set none (else no budget). */
  defaultBudget: "SQUADRON_DEFAULT_BUDGET_USD",
} as const;

export type EnvKey = keyof typeof ENV;
export type EnvName = (typeof ENV)[EnvKey];

/**
 * When a function must have a variable set: in every deployment, only when runners run on ECS
 * (per-run access points and task definitions) or on EKS (per-run directories), only when Slack
 * approvals are on; `optional` is read when present and has a working default.
 */
export type EnvCondition = "always" | "ecs" | "eks" | "slack" | "optional";

/** The variables a dependency (or a whole handler) reads, by key of {@link ENV}. */
export type EnvNeeds = Partial<Record<EnvKey, EnvCondition>>;

/** What a deployment turns on, as far as the handlers' environment is concerned. */
export interface DeploymentShape {
  compute: "ecs" | "eks";
  slack: boolean;
}

/** Merges needs; the stricter condition wins where two dependencies read the same variable. */
export function mergeNeeds(...all: EnvNeeds[]): EnvNeeds {
  const out: EnvNeeds = {};
  for (const needs of all) {
    for (const [key, condition] of Object.entries(needs) as Array<[EnvKey, EnvCondition]>) {
      const before = out[key];
      out[key] =
        before === undefined || CONDITION_ORDER[condition] < CONDITION_ORDER[before] ? condition : before;
    }
  }
  return out;
}

const CONDITION_ORDER: Record<EnvCondition, number> = { always: 0, ecs: 1, eks: 1, slack: 1, optional: 2 };

/** The names a function with these needs must have set in this deployment. */
export function requiredNames(needs: EnvNeeds, deployment: DeploymentShape): EnvName[] {
  return (Object.entries(needs) as Array<[EnvKey, EnvCondition]>)
    .filter(
      ([, condition]) =>
        condition === "always" ||
        (condition === "ecs" && deployment.compute === "ecs") ||
        (condition === "eks" && deployment.compute === "eks") ||
        (condition === "slack" && deployment.slack),
    )
    .map(([key]) => ENV[key]);
}

/** Every name a function with these needs may read. */
export function declaredNames(needs: EnvNeeds): EnvName[] {
  return (Object.keys(needs) as EnvKey[]).map((key) => ENV[key]);
}

/** Root directory of the runs on the EFS file system: a run's access point is `<root>/<runId>`. */
export const EFS_RUNS_ROOT = "/runs";
