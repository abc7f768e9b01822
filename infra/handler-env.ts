/**
 * Environment variables the CDK app gives the Lambda handlers (and the names handlers should
 * read). One place, so infra and lambdas/ cannot drift apart.
 */
export const HANDLER_ENV = {
  tableName: "SQUADRON_TABLE_NAME",
  bucket: "SQUADRON_BUCKET",
  stateMachineArn: "SQUADRON_STATE_MACHINE_ARN",
  fileSystemId: "SQUADRON_FILE_SYSTEM_ID",
  /** Family of the runner's base task definition; Prepare registers per-run revisions in it. */
  taskDefinitionFamily: "SQUADRON_TASK_DEFINITION_FAMILY",
  /** ARN of the base revision Prepare copies. */
  baseTaskDefinitionArn: "SQUADRON_BASE_TASK_DEFINITION_ARN",
  /** ecs | eks */
  compute: "SQUADRON_COMPUTE",
  teamDir: "SQUADRON_TEAM_DIR",
  defaultTimeout: "SQUADRON_DEFAULT_TIMEOUT",
  defaultBudgetUsd: "SQUADRON_DEFAULT_BUDGET_USD",
  /** Comma-separated Slack user ids / principal names allowed to approve. */
  approvers: "SQUADRON_APPROVERS",
  slackChannel: "SQUADRON_SLACK_CHANNEL",
  slackSigningSecretArn: "SQUADRON_SLACK_SIGNING_SECRET_ARN",
  slackBotTokenArn: "SQUADRON_SLACK_BOT_TOKEN_ARN",
  /** EventBridge Scheduler: deadline Lambda ARN, the role Scheduler assumes, and the group. */
  deadlineTargetArn: "SQUADRON_DEADLINE_TARGET_ARN",
  deadlineRoleArn: "SQUADRON_DEADLINE_ROLE_ARN",
  scheduleGroup: "SQUADRON_SCHEDULE_GROUP",
  /** The runner containers' log group; the api function serves `GET .../logs` from it. */
  runnerLogGroup: "SQUADRON_RUNNER_LOG_GROUP",
} as const;

/** Where the team directory (the run's EFS access point) is mounted in the runner. */
export const TEAM_DIR = "/mnt/team";

/** CloudWatch namespace and metric names the handlers and runner emit (Powertools EMF). */
export const METRICS = {
  namespace: "Squadron",
  runsStarted: "RunsStarted",
  runsSucceeded: "RunsSucceeded",
  runsFailed: "RunsFailed",
  runsTimedOut: "RunsTimedOut",
  runsOverBudget: "RunsOverBudget",
  activeAgents: "ActiveAgents",
  costUsd: "CostUsd",
  approvalWaitSeconds: "ApprovalWaitSeconds",
  dependencyReleaseLatencyMs: "DependencyReleaseLatencyMs",
  budgetStops: "BudgetStops",
} as const;
