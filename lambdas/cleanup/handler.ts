import { cleanupRun } from "../../core/control/lifecycle.ts";
import { instrumented, MetricUnit } from "../../core/control/observability.ts";
import type { CleanupPayload, CleanupResult } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const container = perContainer("cleanup");

/** Cleanup: final phase, completion time, terminal event; deletes the run's AWS resources. */
export async function handler(payload: CleanupPayload): Promise<CleanupResult> {
  const { deps, t } = container();
  return instrumented(t, { teamRunId: payload.runId }, async () => {
    const result = await cleanupRun(deps, payload);
    t.metrics.addMetric(result.phase === "Completed" ? "RunsCompleted" : "RunsFailed", MetricUnit.Count, 1);
    return result;
  });
}
