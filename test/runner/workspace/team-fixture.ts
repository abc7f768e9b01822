import type { AgentSpec, AgentTeam, ScopeSpec } from "../../../core/manifest/types.ts";

/** A normalized team as the manifest parser would produce it, for workspace/finalize tests. */
export function agent(name: string, role: "lead" | "teammate", extra: Partial<AgentSpec> = {}): AgentSpec {
  return {
    name,
    role,
    model: role === "lead" ? "opus" : "sonnet",
    prompt: `You are ${name}.`,
    cli: "scripted",
    permissionMode: "acceptEdits",
    dependsOn: [],
    skills: [],
    mcpServers: [],
    ...extra,
  };
}

export function scope(includePaths: string[], excludePaths: string[] = []): ScopeSpec {
  return { includePaths, excludePaths };
}

export function codingTeam(
  url: string,
  teammates: AgentSpec[],
  spec: Partial<AgentTeam["spec"]> = {},
): AgentTeam {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name: "feature-x", namespace: "default", labels: {}, annotations: {} },
    spec: {
      mode: "coding",
      repository: { url, branch: "main" },
      auth: {},
      lead: agent("lead", "lead"),
      teammates,
      coordination: { taskAssignment: "lead-assigns", peerMessaging: true },
      lifecycle: {
        timeout: "1h",
        timeoutSeconds: 3600,
        onComplete: "push-branch",
        approvalGates: [],
        maxRestarts: 3,
      },
      observability: {},
      ...spec,
    },
  };
}
