/**
 * A run whose access point, task-definition revision or deadline could not be released. Shared by
 * the handlers (which count it), core/control/lifecycle.ts (which reports it) and infra (which
 * alarms on it), with no dependencies so that none of them pulls in the others.
 */

/** The metric (Count, namespace Squadron, dimension `service`) Cleanup and the events function emit. */
export const RESOURCE_CLEANUP_FAILURES_METRIC = "RunResourceCleanupFailures";

/** The functions that release run resources, i.e. the `service` dimension values of the metric. */
export const RESOURCE_RELEASING_SERVICES = ["cleanup", "events"] as const;

/** Told when a run's resources could not be released. */
export interface CleanupFailureSink {
  resourceCleanupFailed(): void;
}
