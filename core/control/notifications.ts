import type { AgentTeam, ApprovalGateSpec } from "../manifest/types.ts";
import { webhookWants } from "../manifest/webhook-events.ts";
import type { DeliverySecrets } from "./delivery.ts";
import type { ControlLogger } from "./deps.ts";
import type { SlackClient, SlackMessageRef } from "./slack-client.ts";
import { approvalDecidedBlocks, approvalRequestBlocks } from "./slack-client.ts";
import { sendWebhook, type WebhookPayload } from "./webhook.ts";

export interface GateNotice {
  team: AgentTeam;
  runId: string;
  phase: string;
  agent: string;
  gate: ApprovalGateSpec;
}

/** How approvers and watchers hear about a run. */
export interface GateNotifier {
  /** Asks for a decision; returns the Slack message when one was posted. */
  approvalRequested(notice: GateNotice): Promise<{ slack?: SlackMessageRef }>;
  /** Replaces the Slack message once a gate is decided (buttons removed, who decided). */
  approvalDecided(
    notice: GateNotice & { decision: "approved" | "denied"; decidedBy: string; slack?: SlackMessageRef },
  ): Promise<void>;
  /** A run-level notification to `spec.observability.webhook` (budget warning, finished). */
  teamEvent(
    team: AgentTeam,
    payload: Omit<WebhookPayload, "team" | "namespace" | "timestamp">,
  ): Promise<void>;
  /** The team secrets onComplete "deliver" reads (signing keys, Slack webhook URLs). */
  readonly delivery?: DeliverySecrets;
}

export interface ChannelNotifierOptions {
  slack?: SlackClient;
  /** Slack channel used when a gate names none. */
  defaultSlackChannel?: string;
  /** Resolves a webhook secret reference to its value (local mode: an environment lookup). */
  secret?: (ref: string) => Promise<string | undefined>;
  /**
   * Resolves a team's named secret in its namespace (AWS: `squadron/<namespace>/<name>` in
   * Secrets Manager, see team-secrets.ts); preferred to `secret` when given.
   */
  teamSecret?: (namespace: string, name: string) => Promise<string | undefined>;
  /** HMAC secret for gate webhooks (which have no secretRef of their own). */
  gateWebhookSecret?: () => Promise<string | undefined>;
  logger?: ControlLogger;
  webhookAttempts?: number;
  webhookBaseDelayMs?: number;
}

/** Sends to the gate's channel: Slack, a signed webhook, or nothing (API approvals). */
export class ChannelGateNotifier implements GateNotifier {
  constructor(private readonly options: ChannelNotifierOptions) {}

  readonly delivery: DeliverySecrets = {
    teamSecret: (team, name) => this.resolveSecret(team, name),
  };

  async approvalRequested(notice: GateNotice): Promise<{ slack?: SlackMessageRef }> {
    const { team, gate } = notice;
    const ref = { namespace: team.metadata.namespace, team: team.metadata.name, gate: gate.event };
    const out: { slack?: SlackMessageRef } = {};
    const slackChannel = gate.slackChannel ?? this.options.defaultSlackChannel;
    if ((gate.channel === "slack" || gate.slackChannel) && this.options.slack && slackChannel) {
      const message = approvalRequestBlocks({ gate: ref, agent: notice.agent });
      out.slack = await this.options.slack.postMessage({ channel: slackChannel, ...message });
    } else if (gate.channel === "slack") {
      this.options.logger?.warn("gate asks for Slack but Slack is not configured", { gate: gate.event });
    }
    const url =
      gate.webhookUrl ?? (gate.channel === "webhook" ? team.spec.observability.webhook?.url : undefined);
    if (url) {
      const base = `/api/namespaces/${ref.namespace}/teams/${ref.team}/gates/${encodeURIComponent(gate.event)}`;
      const secret = gate.webhookUrl
        ? await this.options.gateWebhookSecret?.()
        : await this.resolveSecret(team, team.spec.observability.webhook?.secretRef);
      await sendWebhook({
        url,
        payload: {
          event: gate.event,
          team: ref.team,
          namespace: ref.namespace,
          phase: notice.phase,
          runId: notice.runId,
          agent: notice.agent,
          gate: gate.event,
          approvePath: `${base}/approve`,
          denyPath: `${base}/deny`,
          message: `Approval needed to run ${notice.agent}`,
          timestamp: new Date().toISOString(),
        },
        ...(secret ? { secret } : {}),
        ...this.retryOptions(),
      });
    }
    return out;
  }

  async approvalDecided(
    notice: GateNotice & { decision: "approved" | "denied"; decidedBy: string; slack?: SlackMessageRef },
  ): Promise<void> {
    if (!notice.slack || !this.options.slack) return;
    const message = approvalDecidedBlocks({
      gate: {
        namespace: notice.team.metadata.namespace,
        team: notice.team.metadata.name,
        gate: notice.gate.event,
      },
      agent: notice.agent,
      decision: notice.decision,
      decidedBy: notice.decidedBy,
    });
    await this.options.slack.updateMessage({ ...notice.slack, ...message });
  }

  async teamEvent(
    team: AgentTeam,
    payload: Omit<WebhookPayload, "team" | "namespace" | "timestamp">,
  ): Promise<void> {
    const hook = team.spec.observability.webhook;
    if (!hook || !webhookWants(hook.events, payload.event)) return;
    const secret = await this.resolveSecret(team, hook.secretRef);
    await sendWebhook({
      url: hook.url,
      payload: {
        ...payload,
        team: team.metadata.name,
        namespace: team.metadata.namespace,
        timestamp: new Date().toISOString(),
      },
      ...(secret ? { secret } : {}),
      ...this.retryOptions(),
    });
  }

  private async resolveSecret(team: AgentTeam, ref: string | undefined): Promise<string | undefined> {
    if (!ref) return undefined;
    if (this.options.teamSecret) return this.options.teamSecret(team.metadata.namespace, ref);
    return this.options.secret?.(ref);
  }

  private retryOptions() {
    return {
      ...(this.options.webhookAttempts !== undefined ? { attempts: this.options.webhookAttempts } : {}),
      ...(this.options.webhookBaseDelayMs !== undefined
        ? { baseDelayMs: this.options.webhookBaseDelayMs }
        : {}),
    };
  }
}
