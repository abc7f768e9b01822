import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";

function agent(name: string, role: "lead" | "teammate", cli: AgentSpec["cli"] = "claude"): AgentSpec {
  return {
    name,
    role,
    model: role === "lead" ? "opus" : "sonnet",
    prompt: "do it",
    cli,
    permissionMode: "acceptEdits",
    dependsOn: [],
    skills: [],
    mcpServers: [],
  };
}

/** A valid normalized coding team: lead, a codex teammate and a gated teammate. */
export function sampleTeam(name = "auth-refactor", namespace = "default"): AgentTeam {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec: {
      mode: "coding",
      repository: { url: "https://github.com/example/app.git", branch: "main" },
      auth: {},
      lead: agent("lead", "lead"),
      teammates: [agent("backend", "teammate", "codex"), agent("tests", "teammate")],
      coordination: { taskAssignment: "lead-assigns", peerMessaging: true },
      lifecycle: {
        timeout: "4h",
        timeoutSeconds: 14400,
        onComplete: "notify",
        approvalGates: [{ event: "spawn-tests", channel: "api", approvers: [] }],
        maxRestarts: 3,
      },
      observability: {},
    },
  };
}
