import { randomBytes } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import type { BearerToken } from "../core/control/http.ts";

/** `tokens.json`: bearer token → its name and namespaces. */
export type TokenFile = Record<string, BearerToken>;

export function newToken(): string {
  return `sqd_${randomBytes(24).toString("base64url")}`;
}

/**
 * The tokens local mode accepts. The first start creates one admin token (`*` namespaces);
 * later starts reuse the file, so a saved CLI config keeps working across restarts.
 */
export async function loadOrCreateTokens(
  path: string,
): Promise<{ tokens: TokenFile; admin: string; created: boolean }> {
  let tokens: TokenFile | undefined;
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) tokens = parsed as TokenFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new Error(`cannot read the token file ${path}: ${(error as Error).message}`);
    }
  }
  if (tokens) {
    const admin = Object.entries(tokens).find(([, t]) => t.name === "admin")?.[0] ?? Object.keys(tokens)[0];
    if (admin) return { tokens, admin, created: false };
  }
  const admin = newToken();
  const fresh: TokenFile = { [admin]: { name: "admin", namespaces: "*" } };
  await writeFile(path, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return { tokens: fresh, admin, created: true };
}
