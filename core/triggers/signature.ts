/**
 * GitHub-style webhook signatures, as kagents' trigger verifies them:
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the key
 * `hmac-secret` of the trigger's secret. GitHub documents the scheme and asks receivers to compare
 * in constant time
 * (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** kagents' Secret key (`kubectl create secret generic ... --from-literal=hmac-secret=...`). */
export const HMAC_SECRET_KEY = "hmac-secret";

const HEADER_FORM = /^sha256=([0-9a-fA-F]{64})$/;

export type SignatureVerdict = { ok: true } | { ok: false; reason: "missing" | "malformed" | "mismatch" };

/**
 * Checks `header` against the HMAC of `body` (the bytes as received). Both sides are 32-byte
 * buffers when compared, so crypto.timingSafeEqual never sees different lengths.
 */
export function verifyHubSignature(body: Buffer, header: string | undefined, key: string): SignatureVerdict {
  if (header === undefined || header.trim() === "") return { ok: false, reason: "missing" };
  const m = HEADER_FORM.exec(header.trim());
  if (!m) return { ok: false, reason: "malformed" };
  const given = Buffer.from(m[1] as string, "hex");
  const expected = createHmac("sha256", key).update(body).digest();
  return timingSafeEqual(given, expected) ? { ok: true } : { ok: false, reason: "mismatch" };
}

/** The header a sender puts on `body` (tests, docs' curl example). */
export function hubSignature(body: Buffer | string, key: string): string {
  return `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
}

export function sha256Hex(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

/**
 * The HMAC key in a secret's value. A Kubernetes Secret has keys; a Secrets Manager secret (or a
 * local environment variable) has one string, which is either a JSON object of keys (the form
 * Secrets Manager's console writes key/value secrets in), whose `hmac-secret` is used, or the key
 * itself. Throws a sentence for the trigger's events when there is none.
 */
export function hmacKeyOf(value: string | undefined, secretName: string): string {
  if (value === undefined || value.trim() === "") {
    throw new Error(`the secret ${secretName} has no value`);
  }
  const text = value.trim();
  if (text.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return value; // not JSON after all: the value is the key
    }
    const key = (parsed as Record<string, unknown>)[HMAC_SECRET_KEY];
    if (typeof key !== "string" || key === "") {
      throw new Error(
        `the secret ${secretName} is a JSON object without a non-empty "${HMAC_SECRET_KEY}" key`,
      );
    }
    return key;
  }
  return value;
}
