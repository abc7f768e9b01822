import { awsObjects, awsRunsDir, awsStore, environmentOf } from "../../core/control/aws-deps.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { MetricUnit } from "../../core/control/observability.ts";
import { deliverRunOutputs } from "../../core/control/run-outputs.ts";
import type { DeliverOutputsPayload, DeliverOutputsResult } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const dependencies = {
  store: awsStore,
  objects: awsObjects,
  runsDir: awsRunsDir,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("outputs", dependencies);

/** DeliverOutputs: a cowork run's output directory (read-only EFS mount) to its bucket prefix. */
export async function handler(payload: DeliverOutputsPayload): Promise<DeliverOutputsResult> {
  return container.invoke({ teamRunId: payload.runId }, async (deps, t) => {
    const result = await deliverRunOutputs(deps, payload);
    t.metrics.addMetric(METRIC.outputFilesDelivered, MetricUnit.Count, result.files);
    return result;
  });
}
