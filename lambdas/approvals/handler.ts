import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { awaitApproval } from "../../core/control/approvals.ts";
import {
  awsRunIndex,
  awsSecret,
  awsSlackNotifier,
  awsStore,
  awsTokens,
  ENV,
} from "../../core/control/aws-deps.ts";
import { instrumented } from "../../core/control/observability.ts";
import { handleSlackInteraction } from "../../core/control/slack-approvals.ts";
import type { ApprovalGatePayload } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const container = perContainer("approvals", (logger) => ({
  store: awsStore(),
  runs: awsRunIndex(),
  tokens: awsTokens(),
  notifier: awsSlackNotifier(logger),
  secret: awsSecret(),
  logger,
}));

/** ApprovalGate (state machine, `awaitApproval`) and the Slack interactivity route (API Gateway). */
export async function handler(
  event: ApprovalGatePayload | APIGatewayProxyEvent,
): Promise<APIGatewayProxyResult | Record<string, never>> {
  const { deps, t } = container();
  if ("action" in event && event.action === "awaitApproval") {
    return instrumented(t, { teamRunId: event.runId, agent: event.agentName }, async () => {
      await awaitApproval(deps, event);
      return {};
    });
  }
  const signingSecretId = process.env[ENV.slackSigningSecret];
  return instrumented(t, { route: "slack" }, () =>
    handleSlackInteraction(deps, event as APIGatewayProxyEvent, {
      signingSecret: async () => {
        const value = signingSecretId ? await deps.secret(signingSecretId) : undefined;
        if (!value) throw new Error(`${ENV.slackSigningSecret} is not configured`);
        return value;
      },
      defaultApprovers: (process.env[ENV.slackApprovers] ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    }),
  );
}
