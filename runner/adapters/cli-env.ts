/**
 * What an agent CLI inherits from its runner. The runner needs the team state store, the object
 * store, git and GitHub tokens and webhook secrets to do its own work; the agent (a model driving
 * a shell) needs none of them: it coordinates through the team MCP server, and whatever secret an
 * MCP server of its spec needs is passed explicitly in the turn's environment (mcp-config.ts).
 * So these are removed from the CLI's environment, in AWS and locally alike.
 */
const RUNNER_ONLY: ReadonlySet<string> = new Set([
  // The team state store and the object store (locally: the embedded store's endpoint and its
  // static credentials; the data directory's object-store path).
  "SQUADRON_TABLE_NAME",
  "SQUADRON_DYNAMODB_ENDPOINT",
  "SQUADRON_OBJECT_STORE_DIR",
  "SQUADRON_BUCKET",
  "SQUADRON_RUN_MANIFEST",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  // Repository and GitHub credentials: Finalize pushes, agents only commit.
  "SQUADRON_GIT_TOKEN",
  "SQUADRON_GITHUB_TOKEN",
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "SSH_AUTH_SOCK",
  "SQUADRON_WEBHOOK_SECRET",
]);

/** Declared secrets (`SQUADRON_SECRET_<NAME>`): an MCP server gets its own through the turn's env. */
const RUNNER_ONLY_PREFIXES = ["SQUADRON_SECRET_"];

/** `env` without the runner's own store endpoints, credentials and secrets. */
export function agentCliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (RUNNER_ONLY.has(name) || RUNNER_ONLY_PREFIXES.some((p) => name.startsWith(p))) continue;
    out[name] = value;
  }
  return out;
}
