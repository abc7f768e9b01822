/**
 * A run whose access point, task-definition revision or deadline could not be released. Shared by
 * the handlers (which count it), core/control/lifecycle.ts (which reports it) and infra (which
 * alarms on it), depending only on the dependency-free metric catalogue so that none of them pulls
 * in the others.
 */

import { METRIC } from "./metric-names.ts";

/**
 * The metric (Count, namespace Squadron, dimension `service`) Cleanup and the events function emit:
 * the shared catalogue's name, so the observability contract test covers its alarm.
 */
export const RESOURCE_CLEANUP_FAILURES_METRIC = METRIC.resourceCleanupFailures;

/** The functions that release run resources, i.e. the `service` dimension values of the metric. */
export const RESOURCE_RELEASING_SERVICES = ["cleanup", "events"] as const;

/** Told when a run's resources could not be released. */
export interface CleanupFailureSink {
  resourceCleanupFailed(): void;
}
