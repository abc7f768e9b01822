import type { GateRef } from "./slack-interaction.ts";
import { APPROVE_ACTION_ID, DENY_ACTION_ID, encodeGateRef } from "./slack-interaction.ts";

/** The bot token comes from Secrets Manager in AWS; a provider keeps the client ignorant of where. */
export type TokenProvider = () => Promise<string>;

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export class SlackApiError extends Error {
  override name = "SlackApiError";
  constructor(
    readonly method: string,
    readonly slackError: string,
  ) {
    super(`Slack ${method} failed: ${slackError}`);
  }
}

export interface SlackClientOptions {
  token: TokenProvider;
  /** Defaults to https://slack.com/api; tests point it at a local fake. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

/** chat.postMessage and chat.update, the two Web API calls approvals need. */
export class SlackClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: SlackClientOptions) {
    this.baseUrl = (options.baseUrl ?? "https://slack.com/api").replace(/\/$/, "");
    this.fetchFn = options.fetch ?? fetch;
  }

  async postMessage(message: {
    channel: string;
    text: string;
    blocks?: unknown[];
  }): Promise<SlackMessageRef> {
    const body = await this.call("chat.postMessage", message);
    return { channel: String(body.channel ?? message.channel), ts: String(body.ts) };
  }

  async updateMessage(message: {
    channel: string;
    ts: string;
    text: string;
    blocks?: unknown[];
  }): Promise<void> {
    await this.call("chat.update", message);
  }

  private async call(method: string, payload: object): Promise<Record<string, unknown>> {
    const token = await this.options.token();
    const res = await this.fetchFn(`${this.baseUrl}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", authorization: `Bearer ${token}` },
      body: JSON.stringify(payload),
    });
    if (!res.ok) throw new SlackApiError(method, `HTTP ${res.status}`);
    const body = (await res.json()) as Record<string, unknown>;
    // Slack answers 200 with ok:false for application errors (channel_not_found, invalid_auth, ...).
    if (body.ok !== true) throw new SlackApiError(method, String(body.error ?? "unknown_error"));
    return body;
  }
}

export interface ApprovalMessageInput {
  gate: GateRef;
  agent: string;
  summary?: string;
}

/** Block Kit message with Approve/Deny buttons whose values reference the gate. */
export function approvalRequestBlocks(input: ApprovalMessageInput): { text: string; blocks: unknown[] } {
  const text = `Approval needed: team ${input.gate.namespace}/${input.gate.team} wants to run ${input.agent} (${input.gate.gate})`;
  const value = encodeGateRef(input.gate);
  return {
    text,
    blocks: [
      {
        type: "section",
        text: { type: "mrkdwn", text: `*${text}*${input.summary ? `\n${input.summary}` : ""}` },
      },
      {
        type: "actions",
        block_id: "squadron_gate",
        elements: [
          {
            type: "button",
            action_id: APPROVE_ACTION_ID,
            style: "primary",
            text: { type: "plain_text", text: "Approve" },
            value,
          },
          {
            type: "button",
            action_id: DENY_ACTION_ID,
            style: "danger",
            text: { type: "plain_text", text: "Deny" },
            value,
          },
        ],
      },
    ],
  };
}

/** The message after a decision: buttons removed so nobody clicks a settled gate. */
export function approvalDecidedBlocks(
  input: ApprovalMessageInput & { decision: "approved" | "denied"; decidedBy: string },
): { text: string; blocks: unknown[] } {
  const verb = input.decision === "approved" ? "Approved" : "Denied";
  const text = `${verb} by ${input.decidedBy}: team ${input.gate.namespace}/${input.gate.team}, ${input.agent} (${input.gate.gate})`;
  return { text, blocks: [{ type: "section", text: { type: "mrkdwn", text } }] };
}
