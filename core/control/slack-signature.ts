import { createHmac, timingSafeEqual } from "node:crypto";

/** Slack rejects requests older than this; we do too, so a captured request cannot be replayed later. */
export const SLACK_REPLAY_WINDOW_SECONDS = 5 * 60;

export type SlackVerification =
  | { ok: true }
  | { ok: false; reason: "missing-headers" | "stale-timestamp" | "bad-signature"; message: string };

export interface SlackSignatureInput {
  signingSecret: string;
  /** Header names are matched case-insensitively (API Gateway keeps the client's casing). */
  headers: Record<string, string | undefined> | null | undefined;
  /** The body exactly as received: Slack signs the bytes, not a re-serialisation. */
  rawBody: string;
  /** Seconds since the epoch; injectable for tests. */
  nowSeconds?: number;
}

export function headerValue(
  headers: Record<string, string | undefined> | null | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The v0 signature Slack sends in X-Slack-Signature. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string): string {
  const digest = createHmac("sha256", signingSecret).update(`v0:${timestamp}:${rawBody}`).digest("hex");
  return `v0=${digest}`;
}

/** Constant-time comparison that does not leak the expected length through an exception. */
export function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  if (left.length !== right.length) {
    // Compare against itself anyway so the time taken does not depend on where they differ.
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/**
 * Verifies a request from Slack (https://api.slack.com/authentication/verifying-requests-from-slack):
 * HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the app's signing secret, within the replay window.
 */
export function verifySlackSignature(input: SlackSignatureInput): SlackVerification {
  const timestamp = headerValue(input.headers, "x-slack-request-timestamp");
  const signature = headerValue(input.headers, "x-slack-signature");
  if (!timestamp || !signature) {
    return {
      ok: false,
      reason: "missing-headers",
      message: "X-Slack-Signature and X-Slack-Request-Timestamp headers are required",
    };
  }
  const sent = Number(timestamp);
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (!/^\d+$/.test(timestamp) || Math.abs(now - sent) > SLACK_REPLAY_WINDOW_SECONDS) {
    return {
      ok: false,
      reason: "stale-timestamp",
      message: `X-Slack-Request-Timestamp is outside the ${SLACK_REPLAY_WINDOW_SECONDS / 60}-minute window`,
    };
  }
  const expected = slackSignature(input.signingSecret, timestamp, input.rawBody);
  if (!constantTimeEquals(expected, signature)) {
    return { ok: false, reason: "bad-signature", message: "X-Slack-Signature does not match the request" };
  }
  return { ok: true };
}
