import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { awaitApproval } from "../../core/control/approvals.ts";
import {
  awsApprovalNotifier,
  awsRunIndex,
  awsSlackInteractivity,
  awsStore,
  awsTokens,
  environmentOf,
} from "../../core/control/aws-deps.ts";
import { handleSlackInteraction } from "../../core/control/slack-approvals.ts";
import type { ApprovalGatePayload } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const dependencies = {
  store: awsStore,
  runs: awsRunIndex,
  tokens: awsTokens,
  notifier: awsApprovalNotifier,
  slack: awsSlackInteractivity,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("approvals", dependencies);

/** ApprovalGate (state machine, `awaitApproval`) and the Slack interactivity route (API Gateway). */
export async function handler(
  event: ApprovalGatePayload | APIGatewayProxyEvent,
): Promise<APIGatewayProxyResult | Record<string, never>> {
  if ("action" in event && event.action === "awaitApproval") {
    return container.invoke({ teamRunId: event.runId, agent: event.agentName }, async (deps) => {
      await awaitApproval(deps, event);
      return {};
    });
  }
  return container.invoke({ route: "slack" }, (deps) =>
    handleSlackInteraction(deps, event as APIGatewayProxyEvent, deps.slack),
  );
}
