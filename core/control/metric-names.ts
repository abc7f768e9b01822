/**
 * The custom metrics Squadron's functions emit (Powertools Metrics, CloudWatch embedded metric
 * format), in one dependency-free list the handlers and infra/constructs/observability.ts share.
 *
 * Every record carries the dimension `service` (Powertools adds it to every metric: the
 * function's short name, e.g. `budget`), so a CloudWatch query must name it too: a metric is
 * identified by namespace, name and the exact set of dimensions. test/infra/observability-contract
 * checks every dashboard widget and alarm against what the handlers write in the tests.
 */
export const METRICS_NAMESPACE = "Squadron";

/** The `service` dimension Powertools adds to every metric (its serviceName option). */
export const SERVICE_DIMENSION = "service";

/** The extra dimension of the per-team cost metric: `<namespace>/<team name>`. */
export const TEAM_DIMENSION = "team";

export const METRIC = {
  /** prepare: a run's Prepare step succeeded (the run started). */
  runsStarted: "RunsStarted",
  /** cleanup: a run ended Completed / Failed through Cleanup. */
  runsCompleted: "RunsCompleted",
  runsFailed: "RunsFailed",
  /** deadline: a run was stopped at its timeout. */
  runsTimedOut: "RunsTimedOut",
  /** budget: the 80% warning, and a stop at the limit. */
  budgetWarnings: "BudgetWarnings",
  budgetStops: "BudgetStops",
  /** budget: measured cost (USD) added by a usage write; also per team with `team`. */
  costUsd: "CostUsd",
  /** dependencies (RecordAgentResult): agent attempts by outcome, and restarts. */
  agentsSucceeded: "AgentsSucceeded",
  agentsFailed: "AgentsFailed",
  agentRestarts: "AgentRestarts",
  /** api / approvals: seconds from asking the approvers to a decision that took effect. */
  approvalWaitSeconds: "ApprovalWaitSeconds",
  /** api: the handler's own time and 5xx answers. */
  apiLatency: "ApiLatency",
  apiServerErrors: "ApiServerErrors",
  /** outputs: files a cowork run delivered. */
  outputFilesDelivered: "OutputFilesDelivered",
  /**
   * cleanup, events: a run whose access point, task-definition revision or deadline could not be
   * released (core/control/cleanup-failures.ts; alarmed by infra/constructs/cleanup-alarm.ts).
   */
  resourceCleanupFailures: "RunResourceCleanupFailures",
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

export type MetricUnitName = "Count" | "Seconds" | "Milliseconds" | "None";

/**
 * Where domain code (core/control) reports a measurement it alone can see (a gate's wait, the cost
 * a write added); the handlers bind it to Powertools Metrics, local mode to nothing.
 */
export interface MetricSink {
  add(name: MetricName, unit: MetricUnitName, value: number, dimensions?: Record<string, string>): void;
}
