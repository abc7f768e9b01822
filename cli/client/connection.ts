import { readConfig, type SquadronConfig } from "../config/index.ts";
import { UnreachableError } from "./errors.ts";

export const AUTH_MODES = ["auto", "token", "sigv4", "none"] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export type Auth = { kind: "token"; token: string } | { kind: "sigv4"; region: string } | { kind: "none" };

export interface Connection {
  endpoint: URL;
  auth: Auth;
  /** Where the endpoint came from, for messages. */
  source: "flag" | "env" | "config";
}

export interface ConnectionFlags {
  endpoint?: string;
  auth?: AuthMode;
}

type Env = Record<string, string | undefined>;

/** `abc123.execute-api.eu-west-1.amazonaws.com` → `eu-west-1`. */
export function regionFromHost(host: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/i.exec(host)?.[1];
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/**
 * Endpoint: `--endpoint`, else $SQUADRON_ENDPOINT, else the config file. Auth (`--auth` or
 * $SQUADRON_AUTH, default auto): a bearer token from $SQUADRON_TOKEN, or the config's token when the
 * endpoint is the config's own (a local token is never sent elsewhere); otherwise SigV4 for any
 * non-loopback host (a deployed API Gateway), none for loopback.
 */
export async function resolveConnection(
  flags: ConnectionFlags,
  env: Env = process.env,
  loadConfig: () => Promise<SquadronConfig> = () => readConfig(),
): Promise<Connection> {
  const config = await loadConfig();
  const chosen = flags.endpoint
    ? { value: flags.endpoint, source: "flag" as const }
    : env.SQUADRON_ENDPOINT
      ? { value: env.SQUADRON_ENDPOINT, source: "env" as const }
      : config.endpoint
        ? { value: config.endpoint, source: "config" as const }
        : undefined;
  if (!chosen) {
    throw new UnreachableError(
      "no endpoint: pass --endpoint URL, set SQUADRON_ENDPOINT, or start the local stack (squadron up) which saves it in the config file",
    );
  }
  let endpoint: URL;
  try {
    endpoint = new URL(chosen.value);
  } catch {
    throw new ConnectionError(`the endpoint "${chosen.value}" (from ${chosen.source}) is not a URL`);
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
    throw new ConnectionError(`the endpoint "${chosen.value}" must be an http:// or https:// URL`);
  }

  const mode = (flags.auth ?? (env.SQUADRON_AUTH as AuthMode | undefined) ?? "auto") as AuthMode;
  if (!(AUTH_MODES as readonly string[]).includes(mode)) {
    throw new ConnectionError(`SQUADRON_AUTH must be one of ${AUTH_MODES.join(", ")} (found "${mode}")`);
  }
  const sameAsConfig = config.endpoint !== undefined && sameEndpoint(config.endpoint, endpoint);
  const token = env.SQUADRON_TOKEN || (sameAsConfig ? config.token : undefined);
  const sigv4 = (): Auth => {
    const region = regionFromHost(endpoint.hostname) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) {
      throw new ConnectionError(
        `cannot tell the AWS region to sign requests for ${endpoint.host}: set AWS_REGION`,
      );
    }
    return { kind: "sigv4", region };
  };
  let auth: Auth;
  if (mode === "token") {
    if (!token) throw new ConnectionError("--auth token needs SQUADRON_TOKEN or a token in the config file");
    auth = { kind: "token", token };
  } else if (mode === "sigv4") auth = sigv4();
  else if (mode === "none") auth = { kind: "none" };
  else if (token) auth = { kind: "token", token };
  else if (isLoopback(endpoint.hostname)) auth = { kind: "none" };
  else auth = sigv4();
  return { endpoint, auth, source: chosen.source };
}

function sameEndpoint(text: string, url: URL): boolean {
  try {
    const other = new URL(text);
    return other.origin === url.origin && trimSlash(other.pathname) === trimSlash(url.pathname);
  } catch {
    return false;
  }
}

function trimSlash(path: string): string {
  return path.replace(/\/+$/, "");
}
