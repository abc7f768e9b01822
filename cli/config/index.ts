import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/**
 * The user's Squadron settings, `~/.config/squadron/config.json` (or $SQUADRON_CONFIG). Local
 * mode's `squadron up` writes `{endpoint, token}` so the other commands find the local stack.
 */
export interface SquadronConfig {
  /** Base URL of the API, e.g. `http://127.0.0.1:8787` or `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  endpoint?: string;
  /** Bearer token for `endpoint` (local mode). Only ever sent to `endpoint`. */
  token?: string;
  /** Namespace used when neither `-n` nor the manifest names one. */
  namespace?: string;
}

type Env = Record<string, string | undefined>;

/** Where the config lives: $SQUADRON_CONFIG, else `$XDG_CONFIG_HOME/squadron/config.json`, else `~/.config/...`. */
export function configPath(env: Env = process.env): string {
  if (env.SQUADRON_CONFIG) return env.SQUADRON_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "squadron", "config.json");
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The config, or `{}` when the file does not exist. A file that is not a JSON object is an error. */
export async function readConfig(path = configPath()): Promise<SquadronConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (problem) {
    if ((problem as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(`cannot read the config file ${path}: ${(problem as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (problem) {
    throw new ConfigError(`the config file ${path} is not valid JSON: ${(problem as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`the config file ${path} must hold a JSON object`);
  }
  const config: SquadronConfig = {};
  for (const key of ["endpoint", "token", "namespace"] as const) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    if (typeof field !== "string")
      throw new ConfigError(`"${key}" in the config file ${path} must be a string`);
    config[key] = field;
  }
  return config;
}

/**
 * Replaces the config file atomically (temp file + rename), readable by the owner only since it
 * holds a token. Creates the folder as needed.
 */
export async function writeConfig(config: SquadronConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** Merges `patch` into the stored config (undefined values remove a key) and returns the result. */
export async function updateConfig(
  patch: Partial<SquadronConfig>,
  path = configPath(),
): Promise<SquadronConfig> {
  const merged: Record<string, unknown> = { ...(await readConfig(path)) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  await writeConfig(merged as SquadronConfig, path);
  return merged as SquadronConfig;
}
