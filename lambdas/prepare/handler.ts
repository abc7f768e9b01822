import {
  awsDeadlines,
  awsPrepareWorkspaces,
  awsRunIndex,
  awsRunManifests,
  awsRunnerLayout,
  awsStore,
  environmentOf,
} from "../../core/control/aws-deps.ts";
import { prepareRun } from "../../core/control/lifecycle.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { MetricUnit } from "../../core/control/observability.ts";
import type { PreparePayload, PrepareResult } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const dependencies = {
  store: awsStore,
  runs: awsRunIndex,
  workspaces: awsPrepareWorkspaces,
  deadlines: awsDeadlines,
  runManifests: awsRunManifests,
  layout: awsRunnerLayout,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("prepare", dependencies);

/** Prepare: access point, task-definition revision, deadline, run manifest, phase Initializing. */
export async function handler(payload: PreparePayload): Promise<PrepareResult> {
  return container.invoke({ teamRunId: payload.runId }, async (deps, t) => {
    const prepared = await prepareRun(deps, payload, deps.layout);
    t.metrics.addMetric(METRIC.runsStarted, MetricUnit.Count, 1);
    return prepared;
  });
}
