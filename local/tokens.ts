import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
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
  legacyPath?: string,
): Promise<{ tokens: TokenFile; admin: string; created: boolean }> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await chmod(dirname(path), 0o700);
  if (legacyPath) await moveLegacyTokenFile(legacyPath, path);
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

/**
 * Earlier versions kept `tokens.json` in the data directory, the parent of every run directory
 * and of the object store, where an agent found it at `$SQUADRON_OBJECT_STORE_DIR/../tokens.json`.
 * It moves to the private directory once (tokens keep working); it is never left in both places.
 */
async function moveLegacyTokenFile(legacyPath: string, path: string): Promise<void> {
  const exists = (p: string) =>
    stat(p).then(
      () => true,
      () => false,
    );
  if (!(await exists(legacyPath))) return;
  if (await exists(path)) {
    await rm(legacyPath, { force: true });
    return;
  }
  try {
    await rename(legacyPath, path);
  } catch {
    await copyFile(legacyPath, path);
    await rm(legacyPath, { force: true });
  }
  await chmod(path, 0o600);
}
