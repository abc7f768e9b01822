/**
 * Parsing of Slack interactivity requests (form-encoded `payload=<json>`), limited to what an
 * approval needs. Button values carry a reference to the gate, never a task token: tokens stay in
 * the store.
 */

import { isDnsLabel } from "../manifest/limits.ts";
import { MAX_OTHER_PARAM_CHARS } from "./path-params.ts";

export const APPROVE_ACTION_ID = "squadron_approve";
export const DENY_ACTION_ID = "squadron_deny";

/** What a button's value points at: one gate of one team run. */
export interface GateRef {
  namespace: string;
  team: string;
  gate: string;
}

export interface SlackDecision {
  decision: "approve" | "deny";
  gate: GateRef;
  /**
   * Who clicked: `id` and `teamId` are Slack's and cannot be chosen by the user; `name` is a
   * display name the user controls, recorded for people to read but never used to authorize.
   */
  user: { id: string; teamId?: string; name?: string };
  channelId?: string;
  messageTs?: string;
  responseUrl?: string;
}

export class SlackPayloadError extends Error {
  override name = "SlackPayloadError";
}

export function encodeGateRef(ref: GateRef): string {
  return JSON.stringify({ n: ref.namespace, t: ref.team, g: ref.gate });
}

export function decodeGateRef(value: string): GateRef {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new SlackPayloadError("button value is not a gate reference");
  }
  const o = parsed as Record<string, unknown> | null;
  if (!o || typeof o.n !== "string" || typeof o.t !== "string" || typeof o.g !== "string") {
    throw new SlackPayloadError("button value is not a gate reference");
  }
  // A reference Squadron wrote names a namespace, a team (DNS-1123 labels) and a gate: anything
  // else is forged and must not reach the store (a 5,000-character key would fail there with a 5xx).
  if (!isDnsLabel(o.n) || !isDnsLabel(o.t) || o.g.length === 0 || o.g.length > MAX_OTHER_PARAM_CHARS) {
    throw new SlackPayloadError("button value is not a gate reference");
  }
  return { namespace: o.n, team: o.t, gate: o.g };
}

interface BlockActionsPayload {
  type?: unknown;
  user?: { id?: unknown; username?: unknown; name?: unknown; team_id?: unknown };
  team?: { id?: unknown };
  channel?: { id?: unknown };
  container?: { channel_id?: unknown; message_ts?: unknown };
  message?: { ts?: unknown };
  response_url?: unknown;
  actions?: Array<{ action_id?: unknown; value?: unknown }>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Parses a `block_actions` request body into the approval decision it carries. */
export function parseSlackInteraction(rawBody: string): SlackDecision {
  const form = new URLSearchParams(rawBody);
  const payloadText = form.get("payload");
  if (!payloadText) throw new SlackPayloadError("body has no payload field");
  let payload: BlockActionsPayload;
  try {
    payload = JSON.parse(payloadText) as BlockActionsPayload;
  } catch {
    throw new SlackPayloadError("payload is not JSON");
  }
  if (!payload || typeof payload !== "object") throw new SlackPayloadError("payload is not an object");
  if (payload.type !== "block_actions") {
    throw new SlackPayloadError(`unsupported interaction type ${JSON.stringify(payload.type)}`);
  }
  const user = isObject(payload.user) ? payload.user : {};
  const userId = str(user.id);
  if (!userId) throw new SlackPayloadError("payload has no user id");
  if (!Array.isArray(payload.actions)) throw new SlackPayloadError("payload actions is not a list");
  const action = (payload.actions as unknown[])
    .filter(isObject)
    .find((a) => a.action_id === APPROVE_ACTION_ID || a.action_id === DENY_ACTION_ID);
  if (!action) throw new SlackPayloadError("payload has no approve or deny action");
  const value = str(action.value);
  if (!value) throw new SlackPayloadError("the action has no value");
  const decision: SlackDecision = {
    decision: action.action_id === APPROVE_ACTION_ID ? "approve" : "deny",
    gate: decodeGateRef(value),
    user: { id: userId },
  };
  // Slack's block_actions payload carries the workspace as team.id and, for the user, team_id.
  const teamId = str(isObject(payload.team) ? payload.team.id : undefined) ?? str(user.team_id);
  if (teamId) decision.user.teamId = teamId;
  const name = str(user.username) ?? str(user.name);
  if (name) decision.user.name = name.slice(0, 100);
  const channel = isObject(payload.channel) ? payload.channel : {};
  const container = isObject(payload.container) ? payload.container : {};
  const message = isObject(payload.message) ? payload.message : {};
  const channelId = str(channel.id) ?? str(container.channel_id);
  if (channelId) decision.channelId = channelId;
  const messageTs = str(container.message_ts) ?? str(message.ts);
  if (messageTs) decision.messageTs = messageTs;
  const responseUrl = str(payload.response_url);
  if (responseUrl) decision.responseUrl = responseUrl;
  return decision;
}
