import { describe, expect, it } from "vitest";
import {
  type AgentTeamRun,
  type AgentTeamTemplate,
  ManifestError,
  mergeTemplateRun,
  normalizeResource,
  teamFromTask,
} from "../../core/manifest/index.ts";

function template(overrides: Record<string, unknown> = {}): AgentTeamTemplate {
  return normalizeResource({
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeamTemplate",
    metadata: { name: "review" },
    spec: {
      teammates: [
        { name: "security", prompt: "Audit security." },
        { name: "docs", prompt: "Review docs.", dependsOn: ["security"] },
      ],
      coordination: { taskAssignment: "self-claim" },
      qualityGates: { requireLint: true },
      lifecycle: { timeout: "1h", budgetLimit: "20.00", onComplete: "create-pr" },
      lead: {
        scope: { includePaths: ["docs/"] },
        maxTurns: 40,
        skills: [{ name: "s", source: { inline: "x" } }],
      },
      ...overrides,
    },
  }) as AgentTeamTemplate;
}

function run(spec: Record<string, unknown> = {}): AgentTeamRun {
  return normalizeResource({
    apiVersion: "claude.amcheste.io/v1alpha1",
    kind: "AgentTeamRun",
    metadata: { name: "review-42", namespace: "qa", labels: { ticket: "42" } },
    spec: {
      templateRef: { name: "review" },
      repository: { url: "https://github.com/acme/app.git", branch: "dev" },
      auth: { apiKeySecret: "key" },
      lead: { prompt: "Run the review.", model: "sonnet" },
      observability: { webhook: { url: "https://hooks.example.com/x" } },
      ...spec,
    },
  }) as AgentTeamRun;
}

describe("mergeTemplateRun", () => {
  it("takes teammates, coordination and quality gates from the template; the rest from the run", () => {
    const team = mergeTemplateRun(template(), run());
    expect(team.kind).toBe("AgentTeam");
    expect(team.apiVersion).toBe("claude.amcheste.io/v1alpha1");
    expect(team.metadata).toEqual({
      name: "review-42",
      namespace: "qa",
      labels: { ticket: "42" },
      annotations: { "squadron.dev/template": "review" },
    });
    expect(team.spec.mode).toBe("coding");
    expect(team.spec.repository).toEqual({ url: "https://github.com/acme/app.git", branch: "dev" });
    expect(team.spec.auth).toEqual({ apiKeySecret: "key" });
    expect(team.spec.teammates.map((t) => [t.name, t.dependsOn])).toEqual([
      ["security", []],
      ["docs", ["security"]],
    ]);
    expect(team.spec.coordination).toEqual({ taskAssignment: "self-claim", peerMessaging: true });
    expect(team.spec.qualityGates).toEqual({ requireTests: false, requireLint: true });
    expect(team.spec.lifecycle).toMatchObject({ timeout: "1h", budgetLimit: 20, onComplete: "create-pr" });
    expect(team.spec.observability).toEqual({ webhook: { url: "https://hooks.example.com/x" } });
    // The run's lead wins; the template's lead hints fill what it left empty.
    expect(team.spec.lead).toMatchObject({
      name: "lead",
      model: "sonnet",
      prompt: "Run the review.",
      scope: { includePaths: ["docs/"], excludePaths: [] },
      maxTurns: 40,
      skills: [{ name: "s", source: { inline: "x" } }],
    });
  });

  it("a run's lifecycle replaces the template's whole", () => {
    const team = mergeTemplateRun(template(), run({ lifecycle: { timeout: "30m" } }));
    expect(team.spec.lifecycle).toEqual({
      timeout: "30m",
      timeoutSeconds: 1800,
      onComplete: "notify",
      approvalGates: [],
      maxRestarts: 3,
    });
  });

  it("does not share objects with its inputs", () => {
    const t = template();
    const team = mergeTemplateRun(t, run());
    team.spec.teammates[0]!.dependsOn.push("x");
    expect(t.spec.teammates[0]!.dependsOn).toEqual([]);
  });

  it("validates the merged team: a run's gate must name a template teammate", () => {
    const gate = (event: string) => run({ lifecycle: { approvalGates: [{ event }] } });
    expect(mergeTemplateRun(template(), gate("spawn-docs")).spec.lifecycle.approvalGates).toHaveLength(1);
    let thrown: unknown;
    try {
      mergeTemplateRun(template(), gate("spawn-qa"));
    } catch (problem) {
      thrown = problem;
    }
    expect(thrown).toBeInstanceOf(ManifestError);
    expect((thrown as ManifestError).issues).toEqual([
      {
        path: "spec.lifecycle.approvalGates[0].event",
        message:
          'The event "spawn-qa" names no teammate: "qa" is not in spec.teammates (teammates: security, docs).',
        severity: "error",
      },
    ]);
  });

  it("refuses a template other than the one the run names", () => {
    expect(() => mergeTemplateRun(template(), run({ templateRef: { name: "other" } }))).toThrow(
      'The run refers to the template "other" but was merged with "review".',
    );
  });

  it("a run lead named like a template teammate is a duplicate", () => {
    expect(() => mergeTemplateRun(template(), run({ lead: { name: "docs", prompt: "p" } }))).toThrow(
      /spec\.teammates\[1\]\.name: The name "docs" is already used by the lead/,
    );
  });
});

describe("teamFromTask", () => {
  it("builds a one-agent cowork team from a task", () => {
    const team = teamFromTask("Summarise the README.", { name: "summary" });
    expect(team.metadata).toEqual({ name: "summary", namespace: "default", labels: {}, annotations: {} });
    expect(team.spec.mode).toBe("cowork");
    expect(team.spec.workspace).toEqual({
      inputs: [],
      output: { mountPath: "/workspace/output", size: "5Gi" },
    });
    expect(team.spec.teammates).toEqual([]);
    expect(team.spec.lead).toMatchObject({
      name: "lead",
      model: "opus",
      cli: "claude",
      prompt: "Summarise the README.",
    });
    expect(team.spec.lifecycle.timeoutSeconds).toBe(4 * 3600);
  });

  it("names teams uniquely and takes a repository, model, cli and limits", () => {
    const a = teamFromTask("Fix the bug.", {
      repository: { url: "https://github.com/acme/app.git" },
      model: "sonnet",
      cli: "codex",
      timeout: "20m",
      budgetLimit: "2.50",
    });
    expect(a.metadata.name).toMatch(/^task-[0-9a-f]{8}$/);
    expect(teamFromTask("Fix the bug.").metadata.name).not.toBe(a.metadata.name);
    expect(a.spec.mode).toBe("coding");
    expect(a.spec.lead).toMatchObject({ model: "sonnet", cli: "codex" });
    expect(a.spec.lifecycle).toMatchObject({ timeoutSeconds: 1200, budgetLimit: 2.5 });
  });

  it.each([
    ["", "The task is empty; say what the agent should do."],
    ["  \n\t", "The task is empty; say what the agent should do."],
    [undefined, 'The task is missing; send {"task": "..."}.'],
    [42, "The task must be a string (found number 42)."],
  ])("rejects %j with a clear error", (task, message) => {
    expect(() => teamFromTask(task)).toThrow(ManifestError);
    try {
      teamFromTask(task);
    } catch (problem) {
      expect((problem as ManifestError).issues).toEqual([{ path: "task", message, severity: "error" }]);
    }
  });

  it("applies the prompt limit to the task", () => {
    expect(() => teamFromTask("x".repeat(100), { maxPromptBytes: 50 })).toThrow(
      "spec.lead.prompt: The prompt is 100 bytes; the limit is 50 bytes.",
    );
  });
});
