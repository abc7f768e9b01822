/**
 * Where a team's named secrets live and how they reach the runner.
 *
 * Manifests name secrets by name only (`repository.credentialsSecret`, `auth.apiKeySecret`,
 * `auth.cliSecrets`, an MCP server's `authSecret`, `observability.webhook.secretRef`). In AWS the
 * secret `<name>` of a team in namespace `<namespace>` is the Secrets Manager secret
 * `<prefix>/<namespace>/<name>`, the prefix being the deployment's `teamSecretPrefix` ("squadron"
 * unless configured): one prefix per deployment, so IAM grants (the webhook-signing functions, the
 * runner's task execution role) cover that deployment's team secrets and nothing else, and a
 * namespace cannot name another namespace's secret.
 */
import type { AgentSpec, AgentTeam } from "../manifest/types.ts";

/** The default Secrets Manager name prefix of team secrets (IAM grants `secret:<prefix>/*`). */
export const TEAM_SECRET_PREFIX = "squadron";

// Secrets Manager allows [A-Za-z0-9/_+=.@-]; "/" is left out so a name cannot reach into
// another namespace's part of the prefix.
export const SECRET_NAME_PART = /^[A-Za-z0-9_+=.@-]+$/;

/** The Secrets Manager secret id (its name) of the team secret `name` in `namespace`. */
export function teamSecretId(namespace: string, name: string, prefix: string = TEAM_SECRET_PREFIX): string {
  for (const [what, value] of [
    ["team secret prefix", prefix],
    ["namespace", namespace],
    ["secret name", name],
  ] as const) {
    if (!SECRET_NAME_PART.test(value)) {
      throw new Error(
        `${what} "${value}" cannot name a Secrets Manager secret: use only letters, digits and _+=.@- (no "/" or spaces)`,
      );
    }
  }
  return `${prefix}/${namespace}/${name}`;
}

/**
 * The partial ARN of a team secret in the account and region of `sameAccountArn` (any ARN there,
 * e.g. the runner's task definition): ECS `secrets[].valueFrom` and GetSecretValue both accept
 * it (Secrets Manager adds a 6-character suffix to full ARNs).
 */
export function teamSecretArn(
  sameAccountArn: string,
  namespace: string,
  name: string,
  prefix: string = TEAM_SECRET_PREFIX,
): string {
  const [arn, partition, , region, account] = sameAccountArn.split(":");
  if (arn !== "arn" || !partition || !region || !account) {
    throw new Error(`"${sameAccountArn}" is not a regional ARN to take the account and region from`);
  }
  return `arn:${partition}:secretsmanager:${region}:${account}:secret:${teamSecretId(namespace, name, prefix)}`;
}

/**
 * The variable the runner reads an MCP server's secret from (runner/session/agent-setup.ts
 * `secretVariable`; a test keeps the two equal).
 */
export function mcpSecretVariable(secretName: string): string {
  return `SQUADRON_SECRET_${secretName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * The imagePullSecret the runner pulls `source.oci` skills with: the first listed (kagents'
 * rule), and only when some agent has such a skill (no secret is handed over for nothing).
 */
export function imagePullSecretName(team: AgentTeam): string | undefined {
  const first = team.spec.imagePullSecrets?.[0]?.name;
  const agents: AgentSpec[] = [team.spec.lead, ...team.spec.teammates];
  return first && agents.some((a) => a.skills.some((s) => s.source.oci !== undefined)) ? first : undefined;
}

/** One team secret the runner needs: the environment variable and the secret's name. */
export interface RunnerSecret {
  env: string;
  secret: string;
}

/**
 * The team's secrets as the runner's environment:
 * - `repository.credentialsSecret` → SQUADRON_GIT_TOKEN (clone, push) and SQUADRON_GITHUB_TOKEN
 *   (pull requests), which the runner prefers to the deployment's GITHUB_TOKEN;
 * - `auth.cliSecrets.claude`, else `auth.apiKeySecret`, else `auth.cliSecrets.aider` →
 *   ANTHROPIC_API_KEY; `cliSecrets.codex` → OPENAI_API_KEY; `cliSecrets.gemini` → GEMINI_API_KEY
 *   (each replaces the deployment-wide key of that name);
 * - each MCP server's `authSecret` → SQUADRON_SECRET_<NAME>;
 * - the first of `imagePullSecrets` (kagents pulls with the first one), when an agent has a
 *   `source.oci` skill → SQUADRON_SECRET_<NAME>: the dockerconfigjson the runner pulls skills
 *   with (runner/workspace/oci-skill.ts), never given to an agent's CLI (runner/adapters/cli-env.ts);
 * - `observability.webhook.secretRef` → SQUADRON_WEBHOOK_SECRET (the runner's run webhooks).
 * Sorted by variable, one entry per variable.
 */
export function runnerSecrets(team: AgentTeam): RunnerSecret[] {
  const out = new Map<string, string>();
  const set = (env: string, secret: string | undefined) => {
    if (secret && !out.has(env)) out.set(env, secret);
  };
  const { spec } = team;
  set("SQUADRON_GIT_TOKEN", spec.repository?.credentialsSecret);
  set("SQUADRON_GITHUB_TOKEN", spec.repository?.credentialsSecret);
  set("ANTHROPIC_API_KEY", spec.auth.cliSecrets?.claude);
  set("ANTHROPIC_API_KEY", spec.auth.apiKeySecret);
  set("ANTHROPIC_API_KEY", spec.auth.cliSecrets?.aider);
  set("OPENAI_API_KEY", spec.auth.cliSecrets?.codex);
  set("GEMINI_API_KEY", spec.auth.cliSecrets?.gemini);
  const agents: AgentSpec[] = [spec.lead, ...spec.teammates];
  for (const agent of agents) {
    for (const server of agent.mcpServers) {
      if (server.authSecret) set(mcpSecretVariable(server.authSecret), server.authSecret);
    }
  }
  const pullSecret = imagePullSecretName(team);
  if (pullSecret) set(mcpSecretVariable(pullSecret), pullSecret);
  set("SQUADRON_WEBHOOK_SECRET", spec.observability.webhook?.secretRef);
  return [...out].map(([env, secret]) => ({ env, secret })).sort((a, b) => a.env.localeCompare(b.env));
}
