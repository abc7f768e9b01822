import type { EventBridgeEvent } from "aws-lambda";
import { type ExecutionStatusDetail, onExecutionStatus } from "../../core/control/guards.ts";
import { instrumented } from "../../core/control/observability.ts";
import { perContainer } from "../shared.ts";

const container = perContainer("events");

/** EventBridge "Step Functions Execution Status Change": keeps the team's status true. */
export async function handler(
  event: EventBridgeEvent<"Step Functions Execution Status Change", ExecutionStatusDetail>,
): Promise<{ phase?: string }> {
  const { deps, t } = container();
  if (event["detail-type"] !== "Step Functions Execution Status Change") return {};
  return instrumented(t, { teamRunId: event.detail.name }, async () => {
    const phase = await onExecutionStatus(deps, event.detail);
    return phase ? { phase } : {};
  });
}
