import { InvalidPageTokenError } from "./errors.ts";

/**
 * Opaque pagination tokens: DynamoDB's LastEvaluatedKey, tagged with the listing it came from
 * so a token from one list cannot be replayed against another.
 */
export type PageKind = "teams" | "templates" | "events" | "triggers" | "trigger-events" | "schedules";

type Key = Record<string, string>;

export function encodePageToken(
  kind: PageKind,
  key: Record<string, unknown> | undefined,
): string | undefined {
  if (!key) return undefined;
  return Buffer.from(JSON.stringify({ k: kind, key }), "utf8").toString("base64url");
}

export function decodePageToken(kind: PageKind, token: string | undefined, partition: Key): Key | undefined {
  if (token === undefined || token === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidPageTokenError();
  }
  const { k, key } = (parsed ?? {}) as { k?: unknown; key?: unknown };
  if (k !== kind || typeof key !== "object" || key === null) throw new InvalidPageTokenError();
  const entries = Object.entries(key as Record<string, unknown>);
  if (entries.length === 0 || entries.length > 4 || entries.some(([, v]) => typeof v !== "string")) {
    throw new InvalidPageTokenError();
  }
  // The key must belong to the partition being listed, or the Query would silently jump elsewhere.
  for (const [attr, value] of Object.entries(partition)) {
    if ((key as Key)[attr] !== value) throw new InvalidPageTokenError();
  }
  return key as Key;
}
