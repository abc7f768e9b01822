import { createHmac } from "node:crypto";

/**
 * Notification payload. The first four fields are kagents' webhook payload unchanged, so receivers
 * written for kagents keep working; the rest is Squadron's.
 */
export interface WebhookPayload {
  event: string;
  team: string;
  namespace: string;
  phase: string;
  runId?: string;
  agent?: string;
  gate?: string;
  /** Where an approver acts when the channel is a webhook: the API path to POST approve/deny to. */
  approvePath?: string;
  denyPath?: string;
  costUsd?: number;
  budgetUsd?: number;
  message?: string;
  timestamp: string;
}

export const SIGNATURE_HEADER = "X-Squadron-Signature";

/** `sha256=<hex>` over the exact body bytes, the GitHub-style convention receivers already know. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface WebhookDelivery {
  attempts: number;
  status: number;
}

export class WebhookDeliveryError extends Error {
  override name = "WebhookDeliveryError";
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastStatus?: number,
    /** The last attempt's failure without the URL (which may itself be a credential). */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface SendWebhookOptions {
  url: string;
  payload: WebhookPayload;
  /** HMAC secret; without one the request is sent unsigned. */
  secret?: string;
  /** Total attempts, including the first. Defaults to 4. */
  attempts?: number;
  /** First backoff in ms, doubled each retry with full jitter. Defaults to 200. */
  baseDelayMs?: number;
  /** Per-attempt timeout in ms. Defaults to 5000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A 4xx other than 408/429 means the receiver rejected the request; retrying will not change that. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** POSTs the payload, retrying network errors and retryable statuses with exponential backoff. */
export async function sendWebhook(options: SendWebhookOptions): Promise<WebhookDelivery> {
  const attempts = options.attempts ?? 4;
  const baseDelay = options.baseDelayMs ?? 200;
  const fetchFn = options.fetch ?? fetch;
  const sleep = options.sleep ?? defaultSleep;
  const body = JSON.stringify(options.payload);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "squadron-webhook/1",
  };
  if (options.secret) headers[SIGNATURE_HEADER] = signWebhookBody(options.secret, body);
  let lastError = "";
  let lastStatus: number | undefined;
  let made = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    made = attempt;
    try {
      const res = await fetchFn(options.url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { attempts: attempt, status: res.status };
      lastStatus = res.status;
      lastError = `HTTP ${res.status}`;
      if (!retryable(res.status)) break;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      // undici's "fetch failed" says nothing; its cause's code (ECONNREFUSED, ENOTFOUND) does.
      const code = (error as { cause?: { code?: unknown } }).cause?.code;
      if (typeof code === "string") lastError = `${lastError} (${code})`;
    }
    if (attempt < attempts) await sleep(Math.random() * baseDelay * 2 ** (attempt - 1));
  }
  throw new WebhookDeliveryError(
    `webhook ${options.url} failed after ${made} attempt(s): ${lastError}`,
    made,
    lastStatus,
    lastError,
  );
}
