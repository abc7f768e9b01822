/**
 * onComplete "deliver": kagents v0.8's `lifecycle.delivery[]` targets, sent once when a run
 * completes. Each target is independent: one that fails is recorded as Failed in
 * `status.delivery` with a Warning event, and the team keeps its phase (kagents' rule too:
 * "the team is not rolled back to Failed if a target rejects the request").
 */
import type { DeliverOutputsResult } from "../../state-machines/contract.ts";
import { isDeliveryUrl } from "../manifest/delivery-url.ts";
import type { AgentTeam, DeliveryTargetSpec } from "../manifest/types.ts";
import { normalEvent, warningEvent } from "../status/status.ts";
import type { DeliveryStatus } from "../status/types.ts";
import type { TeamRunRecord } from "../store/items.ts";
import { boundedText } from "./bounded-text.ts";
import type { ControlDeps } from "./deps.ts";
import { recordEvent } from "./team-runs.ts";
import { sendWebhook, WebhookDeliveryError, type WebhookPayload } from "./webhook.ts";

/** kagents' event name for a delivery (internal/delivery/webhook.go). */
export const DELIVERY_EVENT = "team.completed";

/** The key of a slack target's secret that holds the incoming-webhook URL (kagents' name). */
export const SLACK_WEBHOOK_URL_KEY = "slack-webhook-url";

/**
 * Bounds per target: 3 attempts of at most 5 s each, backoff 200 ms then 400 ms (full jitter), so
 * one target takes at most ~16 s. Targets are sent in parallel, which keeps the whole delivery
 * inside the cleanup function's 60 s.
 */
export const DELIVERY_ATTEMPTS = 3;
export const DELIVERY_TIMEOUT_MS = 5_000;

/** One file the run delivered, as the envelope and the Slack message list it. */
export interface DeliveredArtifact {
  name: string;
  /** Bytes, when known. */
  size?: number;
  /** Where it was delivered (an s3:// URL, a directory locally, or the producer's path). */
  location?: string;
  producer?: string;
}

/** The JSON body a webhook target receives: kagents' envelope plus Squadron's run id and time. */
export interface DeliveryEnvelope extends WebhookPayload {
  message?: string;
  artifacts: DeliveredArtifact[];
}

/** What the senders need from the deployment: secrets, resolved at send time, never stored. */
export interface DeliverySecrets {
  /** A team's named secret in its namespace (AWS: Secrets Manager `<prefix>/<namespace>/<name>`). */
  teamSecret(team: AgentTeam, name: string): Promise<string | undefined>;
}

export interface DeliveryOptions {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

/**
 * The artifacts of a run: `status.artifacts` when the run recorded them (teammates' declared
 * outputs), else the files DeliverOutputs wrote. Tolerant of either being absent or partial.
 */
export function runArtifacts(record: TeamRunRecord, outputs?: DeliverOutputsResult): DeliveredArtifact[] {
  const recorded = (record.status as { artifacts?: unknown }).artifacts;
  if (Array.isArray(recorded) && recorded.length > 0) {
    const out: DeliveredArtifact[] = [];
    for (const item of recorded) {
      if (!item || typeof item !== "object") continue;
      const a = item as Record<string, unknown>;
      const name = str(a.name) ?? str(a.path);
      if (!name) continue;
      const size =
        typeof a.size === "number" ? a.size : typeof a.sizeBytes === "number" ? a.sizeBytes : undefined;
      const location = str(a.location) ?? str(a.deliveredTo) ?? str(a.where) ?? str(a.path);
      const producer = str(a.producer) ?? str(a.producedBy);
      out.push({
        name,
        ...(size !== undefined ? { size } : {}),
        ...(location ? { location } : {}),
        ...(producer ? { producer } : {}),
      });
    }
    return out;
  }
  return (outputs?.artifacts ?? []).map((a) => ({ name: a.name, size: a.size, location: a.location }));
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** A webhook target as status shows it: scheme, host and path, never credentials or query. */
export function webhookLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid url)";
  }
}

function targetLabel(target: DeliveryTargetSpec): string {
  return target.type === "webhook"
    ? webhookLabel(target.url)
    : `slack ${target.channel ?? "(the webhook's channel)"}`;
}

/**
 * Sends every target of a completed run with `onComplete: deliver`, records `status.delivery`
 * and one event per target. Never throws for a target's failure; the run's phase is left as is.
 */
export async function deliverOnComplete(
  deps: Pick<ControlDeps, "store" | "logger"> & { delivery?: DeliverySecrets },
  record: TeamRunRecord,
  outputs?: DeliverOutputsResult,
  options: DeliveryOptions = {},
): Promise<DeliveryStatus[]> {
  const { team } = record;
  const targets = team.spec.lifecycle.delivery ?? [];
  if (team.spec.lifecycle.onComplete !== "deliver" || targets.length === 0) return [];
  const artifacts = runArtifacts(record, outputs);
  const envelope = (target: DeliveryTargetSpec): DeliveryEnvelope => ({
    event: DELIVERY_EVENT,
    team: team.metadata.name,
    namespace: team.metadata.namespace,
    phase: record.status.phase,
    runId: record.runId,
    ...((target.message ?? record.status.message)
      ? { message: target.message ?? record.status.message }
      : {}),
    artifacts,
    timestamp: new Date().toISOString(),
  });
  const results = await Promise.all(
    targets.map((target) =>
      sendTarget(deps.delivery, team, target, envelope(target), options).catch(
        (error: unknown): DeliveryStatus => ({
          type: target.type,
          target: targetLabel(target),
          phase: "Failed",
          error: boundedText((error as Error).message ?? String(error), 512),
          attempts: 0,
          deliveredAt: new Date().toISOString(),
        }),
      ),
    ),
  );
  const ref = { namespace: record.namespace, name: record.name };
  try {
    await deps.store.updateStatus(ref, (status, current) => {
      if (current.runId !== record.runId) return undefined;
      status.delivery = results;
      return status;
    });
  } catch (error) {
    deps.logger?.error("could not record the delivery status", { error: (error as Error).message });
  }
  for (const r of results) {
    const event =
      r.phase === "Delivered"
        ? normalEvent("DeliverySucceeded", `Delivered to ${r.type} ${r.target} (HTTP ${r.httpStatus}).`)
        : warningEvent("DeliveryFailed", `Could not deliver to ${r.type} ${r.target}: ${r.error}`);
    await recordEvent(deps, { ...ref, runId: record.runId }, event);
    if (r.phase === "Failed")
      deps.logger?.warn("delivery failed", { type: r.type, target: r.target, error: r.error });
  }
  return results;
}

async function sendTarget(
  secrets: DeliverySecrets | undefined,
  team: AgentTeam,
  target: DeliveryTargetSpec,
  envelope: DeliveryEnvelope,
  options: DeliveryOptions,
): Promise<DeliveryStatus> {
  const label = targetLabel(target);
  if (!secrets) throw new Error("this deployment cannot send deliveries (no secret reader configured)");
  let url: string;
  let secret: string | undefined;
  let payload: WebhookPayload;
  if (target.type === "webhook") {
    url = target.url;
    // The target's own key, else the team's observability key: the same X-Squadron-Signature
    // (HMAC-SHA256 of the body) as observability.webhook, and like it unsigned when the team names
    // no key (status says signed: false). A named key that cannot be read fails the target.
    const named = target.credentialsSecret ?? team.spec.observability.webhook?.secretRef;
    secret = named ? await secrets.teamSecret(team, named) : undefined;
    if (named && !secret) throw new Error(`the signing secret "${named}" has no value`);
    payload = envelope;
  } else {
    url = slackWebhookUrl(target.credentialsSecret, await secrets.teamSecret(team, target.credentialsSecret));
    payload = slackMessage(target, envelope) as unknown as WebhookPayload;
  }
  try {
    const sent = await sendWebhook({
      url,
      payload,
      ...(secret ? { secret } : {}),
      attempts: options.attempts ?? DELIVERY_ATTEMPTS,
      baseDelayMs: options.baseDelayMs ?? 200,
      timeoutMs: options.timeoutMs ?? DELIVERY_TIMEOUT_MS,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
    return {
      type: target.type,
      target: label,
      phase: "Delivered",
      httpStatus: sent.status,
      attempts: sent.attempts,
      ...(target.type === "webhook" ? { signed: secret !== undefined } : {}),
      deliveredAt: new Date().toISOString(),
    };
  } catch (error) {
    // WebhookDeliveryError's message names the URL, which for Slack is the credential: use its
    // parts instead.
    const e = error instanceof WebhookDeliveryError ? error : undefined;
    return {
      type: target.type,
      target: label,
      phase: "Failed",
      ...(e?.lastStatus !== undefined ? { httpStatus: e.lastStatus } : {}),
      error: boundedText(
        e ? `${e.reason ?? "failed"} after ${e.attempts} attempt(s)` : String((error as Error).message),
        512,
      ),
      attempts: e?.attempts ?? 0,
      ...(target.type === "webhook" ? { signed: secret !== undefined } : {}),
      deliveredAt: new Date().toISOString(),
    };
  }
}

/**
 * The incoming-webhook URL of a slack target from its secret's value: a JSON object with the key
 * `slack-webhook-url` (Secrets Manager's key/value form; kagents reads the same key of a
 * Kubernetes Secret). Errors name the secret and key, never the value.
 */
export function slackWebhookUrl(secretName: string, value: string | undefined): string {
  if (!value) throw new Error(`the secret "${secretName}" has no value`);
  let url: unknown;
  try {
    url = (JSON.parse(value) as Record<string, unknown>)?.[SLACK_WEBHOOK_URL_KEY];
  } catch {
    url = undefined;
  }
  if (typeof url !== "string" || url === "") {
    throw new Error(
      `the secret "${secretName}" is not a JSON object with the key "${SLACK_WEBHOOK_URL_KEY}"`,
    );
  }
  if (!isDeliveryUrl(url)) {
    throw new Error(
      `the key "${SLACK_WEBHOOK_URL_KEY}" of the secret "${secretName}" is not an https:// URL (http:// only to a loopback address)`,
    );
  }
  return url;
}

/** Slack's escaping of message text: &, < and > (docs.slack.dev, "Formatting text for app surfaces"). */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * An incoming-webhook message: `text` in mrkdwn with the artifact list, and `channel` when the
 * target names one (kagents sends it too; Slack posts to the webhook's own channel when it cannot
 * be overridden). Slack answers a bad message with a 4xx status (docs.slack.dev, "Sending messages
 * using incoming webhooks", Handling errors), which sendWebhook does not retry.
 */
export function slackMessage(
  target: Extract<DeliveryTargetSpec, { type: "slack" }>,
  envelope: DeliveryEnvelope,
): { text: string; channel?: string } {
  const lines = [
    slackEscape(target.message ?? `Team ${envelope.namespace}/${envelope.team} finished.`),
    `*${slackEscape(`${envelope.namespace}/${envelope.team}`)}* — ${slackEscape(envelope.phase)} (run ${slackEscape(envelope.runId ?? "")})`,
  ];
  if (envelope.artifacts.length === 0) lines.push("No artifacts were delivered.");
  else {
    lines.push("*Artifacts*");
    for (const a of envelope.artifacts) {
      const detail = [a.size !== undefined ? formatBytes(a.size) : undefined, a.location]
        .filter(Boolean)
        .join(", ");
      lines.push(`• ${slackEscape(a.name)}${detail ? ` (${slackEscape(detail)})` : ""}`);
    }
  }
  return { text: lines.join("\n"), ...(target.channel ? { channel: target.channel } : {}) };
}
