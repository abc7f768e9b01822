import * as z from "zod";
import { DELIVERY_URL_RULE, isDeliveryUrl } from "./delivery-url.ts";
import { durationMessage, tryParseDuration } from "./duration.ts";
import {
  DNS_1123_LABEL,
  dnsLabelMessage,
  isDnsLabel,
  MAX_BUDGET_USD,
  MAX_TIMEOUT_SECONDS,
} from "./limits.ts";

/** Small field schemas shared by the resource schemas, each with a message a person can act on. */

export const dnsLabel = z.string().refine(isDnsLabel, { error: (issue) => dnsLabelMessage(issue.input) });

export const nonBlank = (what: string) =>
  z.string().refine((value) => value.trim().length > 0, { error: `${what} is empty.` });

/** A name used as a directory or config key (skills, MCP servers): no path separators or dots-only. */
export const safeName = z.string().refine((value) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value), {
  error: (issue) =>
    `The name ${JSON.stringify(issue.input)} must start with a letter or digit and hold at most 63 letters, digits, ".", "_" or "-".`,
});

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

export const httpUrl = z.string().refine(isHttpUrl, {
  error: (issue) => `${JSON.stringify(issue.input)} is not an http:// or https:// URL.`,
});

export const deliveryUrl = z.string().refine(isDeliveryUrl, {
  error: (issue) => `${JSON.stringify(issue.input)} is not ${DELIVERY_URL_RULE}.`,
});

const GIT_URL = /^(?:(?:https?|ssh|git|file):\/\/\S+|[\w.-]+@[\w.-]+:\S+|\/\S*)$/;

export const gitUrl = z.string().refine((value) => GIT_URL.test(value), {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a git repository URL; use https://, ssh://, git@host:path, file:// or an absolute path.`,
});

export const gitBranch = z
  .string()
  .refine((value) => /^[^\s~^:?*[\\]+$/.test(value) && !value.includes("..") && !value.startsWith("-"), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid git branch name.`,
  });

function hasDotDot(path: string): boolean {
  return path.split("/").some((segment) => segment === "..");
}

export const absolutePath = z
  .string()
  .refine((value) => value.startsWith("/") && !hasDotDot(value) && !/\s$/.test(value), {
    error: (issue) => `${JSON.stringify(issue.input)} must be an absolute path without ".." segments.`,
  });

export function isRelativeFilePath(value: string): boolean {
  return value.length > 0 && !value.startsWith("/") && !value.includes("\\") && !hasDotDot(value);
}

const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/;

/** `s3://bucket/prefix/` or a relative prefix inside Squadron's own bucket. */
export const s3Prefix = z
  .string()
  .refine((value) => (value.startsWith("s3://") ? S3_URI.test(value) : isRelativeFilePath(value)), {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not an S3 prefix; use s3://bucket/prefix/ or a relative prefix without ".." segments.`,
  });

/** Kubernetes resource quantities ("500m", "2", "4Gi"); numbers are accepted and kept as text. */
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)([KMGTPE]i|[numkMGTPE])?$/;

export const quantity = z.unknown().transform((value, ctx) => {
  const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
  if (typeof text === "string" && QUANTITY.test(text)) return text;
  ctx.issues.push({
    code: "custom",
    input: value,
    message: `${JSON.stringify(value)} is not a resource quantity; write it like "500m", "2" or "4Gi".`,
  });
  return z.NEVER;
});

export { DNS_1123_LABEL, dnsLabelMessage, isDnsLabel, MAX_BUDGET_USD, MAX_TIMEOUT_SECONDS };

export const duration = z
  .string()
  .max(64, { error: "A duration is at most 64 characters." })
  .refine((value) => tryParseDuration(value) !== undefined, {
    error: (issue) => durationMessage(String(issue.input)),
    abort: true,
  })
  .refine((value) => (tryParseDuration(value) ?? 0) > 0, {
    error: "The timeout must be longer than zero.",
    abort: true,
  })
  .refine((value) => (tryParseDuration(value) ?? 0) <= MAX_TIMEOUT_SECONDS, {
    error: (issue) =>
      `The timeout ${JSON.stringify(issue.input)} is longer than the most a team may run, 30 days ("720h").`,
  });

/** Seconds, whole, from 1 to {@link MAX_TIMEOUT_SECONDS}. */
export const timeoutSeconds = z
  .number()
  .int()
  .positive()
  .max(MAX_TIMEOUT_SECONDS, { error: `timeoutSeconds is at most ${MAX_TIMEOUT_SECONDS} (30 days).` });

const DECIMAL = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/;

/** kagents writes budgets as strings ("30.00"); numbers are accepted too. Normalized to a number. */
export const budget = z.unknown().transform((value, ctx) => {
  const amount =
    typeof value === "number"
      ? value
      : typeof value === "string" && DECIMAL.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isFinite(amount)) {
    ctx.issues.push({
      code: "custom",
      input: value,
      message: `The budget limit ${JSON.stringify(value)} is not a number of US dollars; write it like "30.00".`,
    });
    return z.NEVER;
  }
  if (amount <= 0) {
    ctx.issues.push({
      code: "custom",
      input: value,
      message: `The budget limit must be more than zero US dollars (found ${JSON.stringify(value)}).`,
    });
    return z.NEVER;
  }
  if (amount > MAX_BUDGET_USD) {
    ctx.issues.push({
      code: "custom",
      input: value,
      message: `The budget limit ${JSON.stringify(value)} is more than the largest allowed, ${MAX_BUDGET_USD} US dollars.`,
    });
    return z.NEVER;
  }
  return amount;
});

/** Drops keys whose value is undefined, so normalized objects hold only what is set. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
