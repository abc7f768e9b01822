import type { EventBridgeEvent } from "aws-lambda";
import { awsOnceClaims, environmentOf } from "../../core/control/aws-deps.ts";
import { type ExecutionStatusDetail, onExecutionStatus } from "../../core/control/guards.ts";
import { cleanupFailureMetric } from "../../core/control/observability.ts";
import {
  type EcsTaskStateDetail,
  onTaskStateChange,
  runnerTaskOf,
  type TaskStopOutcome,
} from "../../core/control/task-stops.ts";
import { runCleanupDependencies } from "../cleanup/dependencies.ts";
import { perContainer } from "../shared.ts";

const dependencies = { ...runCleanupDependencies, claims: awsOnceClaims };
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("events", dependencies);

export type StatusEvent =
  | EventBridgeEvent<"Step Functions Execution Status Change", ExecutionStatusDetail>
  | EventBridgeEvent<"ECS Task State Change", EcsTaskStateDetail>;

/**
 * EventBridge → the team's status stays true:
 * - "Step Functions Execution Status Change": an execution that ended without Cleanup;
 * - "ECS Task State Change": why a runner task stopped (OOM, Spot, exit code), as an event.
 */
export async function handler(event: StatusEvent): Promise<{ phase?: string; taskStop?: TaskStopOutcome }> {
  if (event["detail-type"] === "Step Functions Execution Status Change") {
    const detail = event.detail;
    return container.invoke({ teamRunId: detail.name }, async (deps, t) => {
      const phase = await onExecutionStatus(deps, detail, cleanupFailureMetric(t));
      return phase ? { phase } : {};
    });
  }
  if (event["detail-type"] === "ECS Task State Change") {
    const detail = event.detail;
    const task = runnerTaskOf(detail);
    return container.invoke({ teamRunId: task?.runId, agent: task?.agent ?? task?.mode }, async (deps) => ({
      taskStop: await onTaskStateChange(deps, detail),
    }));
  }
  return {};
}
