import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { NotFoundError } from "../store/errors.ts";
import { decideGate, GateDecisionError } from "./approvals.ts";
import type { ControlDeps } from "./deps.ts";
import { parseSlackInteraction, SlackPayloadError } from "./slack-interaction.ts";
import { verifySlackSignature } from "./slack-signature.ts";

export interface SlackInteractivityOptions {
  signingSecret: () => Promise<string>;
  /**
   * Slack user ids allowed when a gate lists no approvers of its own. Empty: nobody. An entry is a
   * user id (`U0123`) or a workspace and user id (`T0456/U0123`), which also requires the click to
   * come from that workspace. Display names are never matched: the user chooses them.
   */
  defaultApprovers: string[];
  nowSeconds?: () => number;
}

const reply = (statusCode: number, text: string): APIGatewayProxyResult => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ response_type: "ephemeral", replace_original: false, text }),
});

/**
 * The Slack interactivity endpoint: signature first (nothing is parsed before it), then the
 * allow-list, then the same exactly-once decision as API approvals. Slack retries and double
 * clicks find the gate decided and change nothing.
 */
export async function handleSlackInteraction(
  deps: Pick<ControlDeps, "store" | "runs" | "tokens" | "notifier" | "logger">,
  event: APIGatewayProxyEvent,
  options: SlackInteractivityOptions,
): Promise<APIGatewayProxyResult> {
  const rawBody =
    event.body == null
      ? ""
      : event.isBase64Encoded
        ? Buffer.from(event.body, "base64").toString("utf8")
        : event.body;
  const verified = verifySlackSignature({
    signingSecret: await options.signingSecret(),
    headers: event.headers,
    rawBody,
    ...(options.nowSeconds ? { nowSeconds: options.nowSeconds() } : {}),
  });
  if (!verified.ok) {
    deps.logger?.warn("rejected Slack request", { reason: verified.reason });
    return {
      statusCode: 401,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ error: verified.message }),
    };
  }
  let decision: ReturnType<typeof parseSlackInteraction>;
  try {
    decision = parseSlackInteraction(rawBody);
  } catch (error) {
    if (error instanceof SlackPayloadError) return reply(400, error.message);
    throw error;
  }
  // The id first: it is what was authorized; the name is the user's own choice, shown for people.
  const who = decision.user.name ? `${decision.user.id} (${decision.user.name})` : decision.user.id;
  try {
    const result = await decideGate(deps, {
      ref: { namespace: decision.gate.namespace, name: decision.gate.team },
      gate: decision.gate.gate,
      decision: decision.decision,
      decidedBy: who,
      allowed: (spec) => {
        const list = spec.approvers.length > 0 ? spec.approvers : options.defaultApprovers;
        return list.some((entry) => approverMatches(entry, decision.user));
      },
    });
    if (!result.changed) {
      return reply(
        200,
        `${decision.gate.gate} was already ${result.gate.state.toLowerCase()} by ${result.gate.decidedBy ?? "someone"}.`,
      );
    }
    return reply(200, `${decision.gate.gate} ${result.gate.state.toLowerCase()}.`);
  } catch (error) {
    if (error instanceof GateDecisionError) return reply(200, error.message);
    if (error instanceof NotFoundError) return reply(200, error.message);
    throw error;
  }
}

/** An allow-list entry `U…` matches the user id; `T…/U…` matches the workspace id and user id. */
export function approverMatches(entry: string, user: { id: string; teamId?: string }): boolean {
  const slash = entry.indexOf("/");
  if (slash === -1) return entry === user.id;
  return entry.slice(0, slash) === user.teamId && entry.slice(slash + 1) === user.id;
}
