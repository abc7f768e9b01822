import { environmentOf } from "../../core/control/aws-deps.ts";
import { cleanupRun } from "../../core/control/lifecycle.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { cleanupFailureMetric, MetricUnit } from "../../core/control/observability.ts";
import type { CleanupPayload, CleanupResult } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";
import { runCleanupDependencies as dependencies } from "./dependencies.ts";

/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("cleanup", dependencies);

/** Cleanup: final phase, completion time, terminal event; deletes the run's AWS resources. */
export async function handler(payload: CleanupPayload): Promise<CleanupResult> {
  return container.invoke({ teamRunId: payload.runId }, async (deps, t) => {
    const result = await cleanupRun(deps, payload, cleanupFailureMetric(t));
    t.metrics.addMetric(
      result.phase === "Completed" ? METRIC.runsCompleted : METRIC.runsFailed,
      MetricUnit.Count,
      1,
    );
    return result;
  });
}
