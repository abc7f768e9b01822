/**
 * Registry credentials from a `kubernetes.io/dockerconfigjson` secret, the form kagents'
 * `spec.imagePullSecrets` name (`kubectl create secret docker-registry`): the value is the
 * `.dockerconfigjson` document `{"auths": {"<registry>": {"auth": base64("user:pass")}}}` or with
 * `username`/`password` instead of `auth` (both as docker's config.json writes them), or
 * `identitytoken` (an OAuth2 refresh token). Also accepted: the Kubernetes Secret's data map
 * `{".dockerconfigjson": "<that document>"}` and the legacy `.dockercfg` map (no `auths` wrapper).
 */

export type RegistryCredentials =
  | { kind: "basic"; username: string; password: string }
  | { kind: "identity-token"; token: string };

/** Thrown for a secret that is not a docker config; the message never contains its value. */
export class DockerConfigError extends Error {
  override name = "DockerConfigError";
}

/** Docker's key for Docker Hub, and the hosts that mean it. */
const DOCKER_HUB_KEYS = [
  "https://index.docker.io/v1/",
  "index.docker.io",
  "docker.io",
  "registry-1.docker.io",
];

/** A config key ("https://ghcr.io", "ghcr.io/v1/", "localhost:5000") as a bare host[:port]. */
function hostOf(key: string): string {
  const withoutScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  return withoutScheme.split("/")[0]?.toLowerCase() ?? "";
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DockerConfigError(
      `${what} is not JSON (a kubernetes.io/dockerconfigjson document is expected)`,
    );
  }
}

function entriesOf(document: unknown, what: string): Record<string, unknown> {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new DockerConfigError(`${what} is not a JSON object with "auths"`);
  }
  const record = document as Record<string, unknown>;
  if (typeof record[".dockerconfigjson"] === "string") {
    return entriesOf(parseJson(record[".dockerconfigjson"], what), what);
  }
  const auths = record.auths ?? record;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
    throw new DockerConfigError(`${what}: "auths" is not an object of registries`);
  }
  return auths as Record<string, unknown>;
}

function credentialsOf(entry: unknown, what: string): RegistryCredentials | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  if (typeof e.identitytoken === "string" && e.identitytoken !== "") {
    return { kind: "identity-token", token: e.identitytoken };
  }
  if (typeof e.username === "string" && typeof e.password === "string") {
    return { kind: "basic", username: e.username, password: e.password };
  }
  if (typeof e.auth === "string" && e.auth !== "") {
    const decoded = Buffer.from(e.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new DockerConfigError(`${what}: an "auth" entry is not base64 of user:password`);
    return { kind: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

/**
 * The credentials `secretValue` holds for `registry` (host[:port]), or undefined when it has none
 * for that registry (the pull is then anonymous). `what` names the secret in errors.
 */
export function registryCredentials(
  secretValue: string,
  registry: string,
  what: string,
): RegistryCredentials | undefined {
  const auths = entriesOf(parseJson(secretValue, what), what);
  const wanted = registry.toLowerCase();
  const hub = DOCKER_HUB_KEYS.includes(wanted);
  for (const [key, entry] of Object.entries(auths)) {
    const host = hostOf(key);
    if (host === wanted || (hub && DOCKER_HUB_KEYS.includes(host))) {
      const credentials = credentialsOf(entry, what);
      if (credentials) return credentials;
    }
  }
  return undefined;
}
