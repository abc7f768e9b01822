/**
 * The URL rule of delivery targets, without zod: the cleanup function checks a Slack URL read
 * from a secret with it at send time, and its bundle must not carry the manifest schemas.
 */

/** 127.0.0.0/8, ::1 and "localhost": addresses that never leave the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === "localhost" || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * A delivery target's URL: https, or http to a loopback address only (local mode and tests). A
 * delivery carries the team's artifact list and, for Slack, goes to a credential URL, so it never
 * crosses a network in clear text.
 */
export function isDeliveryUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}

export const DELIVERY_URL_RULE = "an https:// URL (http:// only to a loopback address such as 127.0.0.1)";
