import { awsRunIndex, awsRunJobs, awsStore, awsTokens, environmentOf } from "../../core/control/aws-deps.ts";
import { recordAgentResult, waitForDependencies } from "../../core/control/dependencies.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { MetricUnit } from "../../core/control/observability.ts";
import {
  checkRunnerStart,
  type RunnerStartCheckPayload,
  type RunnerStartCheckResult,
} from "../../core/control/runner-start.ts";
import type {
  RecordAgentResultPayload,
  RecordAgentResultResult,
  WaitForDependenciesPayload,
} from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const dependencies = {
  store: awsStore,
  runs: awsRunIndex,
  tokens: awsTokens,
  // EKS: the start check reads the launch's pod and deletes a Job that cannot start.
  runJobs: awsRunJobs,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("dependencies", dependencies);

/**
 * WaitForDependencies (`wait`, returns at once), RecordAgentResult (`record`), and on EKS the
 * start check of a runner launch (`checkStart`, core/control/runner-start.ts).
 */
export async function handler(
  payload: WaitForDependenciesPayload | RecordAgentResultPayload | RunnerStartCheckPayload,
): Promise<RecordAgentResultResult | RunnerStartCheckResult | Record<string, never>> {
  return container.invoke({ teamRunId: payload.runId, agent: payload.agentName }, async (deps, t) => {
    if (payload.action === "checkStart") {
      if (!deps.runJobs) throw new Error("checkStart needs the EKS cluster (SQUADRON_EKS_* variables)");
      return checkRunnerStart(deps.runJobs, payload, deps.logger);
    }
    if (payload.action === "wait") {
      await waitForDependencies(deps, payload);
      return {};
    }
    if (payload.action === "record") {
      const result = await recordAgentResult(deps, payload);
      t.metrics.addMetric(
        result.outcome === "Succeeded" ? METRIC.agentsSucceeded : METRIC.agentsFailed,
        MetricUnit.Count,
        1,
      );
      if (result.restart) t.metrics.addMetric(METRIC.agentRestarts, MetricUnit.Count, 1);
      return result;
    }
    throw new Error(`unknown action ${(payload as { action?: unknown }).action}`);
  });
}
