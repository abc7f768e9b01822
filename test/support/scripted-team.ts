/**
 * The small AgentTeam manifests the local-stack tests, fault tests and benchmarks apply: a team
 * on a repository's `main` branch whose agents are scripted (runner/adapters/scripted.ts), so what
 * each agent does is its `script`, not a model's reply.
 */

/** A scripted agent. The scripted CLI never reads the prompt; it is there because a manifest needs one. */
export function scripted(name: string, script?: unknown[], extra: Record<string, unknown> = {}) {
  return { name, cli: "scripted", prompt: `You are ${name}.`, ...(script ? { script } : {}), ...extra };
}

export interface TeamSpec {
  lead: unknown;
  /** None when left out. */
  teammates?: unknown[];
  lifecycle: Record<string, unknown>;
  /** Any other spec field (qualityGates, …). */
  [field: string]: unknown;
}

/** A squadron.dev/v1alpha1 AgentTeam named `name` on `repository` (branch main). */
export function teamManifest(
  name: string,
  repository: string,
  spec: TeamSpec,
  metadata: Record<string, unknown> = {},
) {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, ...metadata },
    spec: { repository: { url: repository, branch: "main" }, teammates: [], ...spec },
  };
}

/** A teammate that waits (up to 10 minutes) for a message: it keeps a run going until stopped. */
export const WAITER = scripted("waiter", [
  { waitFor: "message", timeoutMs: 600_000 },
  { call: "finish", args: { summary: "ok" } },
]);
