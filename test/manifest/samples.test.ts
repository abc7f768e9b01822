import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type AgentTeam,
  type AgentTeamRun,
  type AgentTeamTemplate,
  mergeTemplateRun,
  parseManifests,
  parseResource,
  parseTeam,
} from "../../core/manifest/index.ts";
import { examplesDir, hasKagents, kagentsDir, kagentsSkipReason, yamlFiles } from "./fixtures.ts";

const read = (path: string) => readFileSync(path, "utf8");

describe("examples/", () => {
  const files = yamlFiles(examplesDir);

  it("holds a coding team, a cowork team, a template, a run and the hello-team demo", () => {
    const kinds = files.map((file) => {
      const resource = parseResource(read(file));
      return resource.kind === "AgentTeam" ? `${resource.kind}/${resource.spec.mode}` : resource.kind;
    });
    expect(new Set(kinds)).toEqual(
      new Set(["AgentTeam/coding", "AgentTeam/cowork", "AgentTeamTemplate", "AgentTeamRun"]),
    );
    expect(files.map((file) => basename(file))).toContain("hello-team.yaml");
  });

  it.each(files.map((file) => [basename(file), file]))("%s parses without errors or warnings", (_, file) => {
    const { resources, issues } = parseManifests(read(file));
    expect(issues).toEqual([]);
    expect(resources).toHaveLength(1);
  });

  it("hello-team is scripted agents, one dependsOn and one approval gate on a teammate", () => {
    const team = parseTeam(read(`${examplesDir}/hello-team.yaml`));
    expect([team.spec.lead, ...team.spec.teammates].map((agent) => agent.cli)).toEqual([
      "scripted",
      "scripted",
      "scripted",
    ]);
    expect(team.spec.teammates.map((agent) => [agent.name, agent.dependsOn])).toEqual([
      ["greeter", []],
      ["reviewer", ["greeter"]],
    ]);
    expect(team.spec.lifecycle.approvalGates).toEqual([
      { event: "spawn-reviewer", channel: "api", approvers: [] },
    ]);
    expect(team.spec.lead.script?.length).toBeGreaterThan(0);
  });

  it("the fullstack-review run merges with its template into the review team", () => {
    const template = parseResource(
      read(`${examplesDir}/fullstack-review-template.yaml`),
    ) as AgentTeamTemplate;
    const run = parseResource(read(`${examplesDir}/q4-security-review-run.yaml`)) as AgentTeamRun;
    const team = mergeTemplateRun(template, run);
    expect(team.metadata.name).toBe("q4-security-review");
    expect(team.spec.teammates.map((agent) => agent.name)).toEqual([
      "security",
      "performance",
      "test-quality",
    ]);
    expect(team.spec.lifecycle).toMatchObject({ timeout: "1h", timeoutSeconds: 3600, budgetLimit: 20 });
    expect(team.spec.repository).toEqual({
      url: "git@github.com:acme/platform.git",
      branch: "release/4.0",
      credentialsSecret: "git-credentials",
    });
  });
});

describe.skipIf(!hasKagents)(hasKagents ? "kagents README samples" : kagentsSkipReason, () => {
  const files = hasKagents ? yamlFiles(kagentsDir) : [];

  it("finds the three v0.7 samples and the two v0.8 ones", () => {
    expect(files.map((file) => basename(file))).toEqual([
      "auth-refactor.yaml",
      "delivery-team.yaml",
      "q3-report.yaml",
      "q4-security-review-run.yaml",
      "weekly-schedule.yaml",
    ]);
  });

  const v07 = ["auth-refactor.yaml", "q3-report.yaml", "q4-security-review-run.yaml"];
  it.each(v07)("%s parses unchanged, with no issue, its apiVersion kept as written", (file) => {
    const { resources, issues } = parseManifests(read(`${kagentsDir}/${file}`));
    expect(issues).toEqual([]);
    expect(resources[0]?.apiVersion).toBe("claude.amcheste.io/v1alpha1");
  });

  // No kagents field is ever dropped with an "ignored" warning: what Squadron cannot do yet is
  // rejected, with the field's path and a sentence saying so.
  it.each(files.map((file) => [basename(file), file]))("%s: nothing is silently ignored", (_, file) => {
    const { issues } = parseManifests(read(file));
    expect(issues.filter((issue) => /ignored/.test(issue.message))).toEqual([]);
    for (const issue of issues) expect(issue.severity).toBe("error");
  });

  it("delivery-team (v0.8) validates with no issue: its delivery targets and its writer's outputs are supported", () => {
    const { resources, issues } = parseManifests(read(`${kagentsDir}/delivery-team.yaml`));
    expect(issues).toEqual([]);
    expect((resources[0] as AgentTeam).spec.teammates[0]?.outputs).toEqual([
      { path: "/workspace/output/digest.md", description: "Weekly status digest." },
    ]);
  });

  it("delivery-team without its delivery targets validates with no issue, the writer's output kept", () => {
    const text = read(`${kagentsDir}/delivery-team.yaml`);
    const withoutDelivery = text.slice(0, text.indexOf("  lifecycle:"));
    const { resources, issues } = parseManifests(withoutDelivery);
    expect(issues).toEqual([]);
    const team = resources[0] as AgentTeam;
    expect(team.spec.teammates[0]?.outputs).toEqual([
      { path: "/workspace/output/digest.md", description: "Weekly status digest." },
    ]);
  });

  it("weekly-schedule (v0.8) validates with no issue at all, kept as written", () => {
    const { resources, issues } = parseManifests(read(`${kagentsDir}/weekly-schedule.yaml`));
    expect(issues).toEqual([]);
    expect(resources[0]).toMatchObject({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamSchedule",
      metadata: { name: "weekly-standup-summary", namespace: "cowork-agents" },
      spec: {
        schedule: "0 6 * * MON",
        timeZone: "UTC",
        templateRef: { name: "standup-summarizer" },
        historyLimit: 5,
        suspend: false,
        lifecycle: { timeout: "1h", budgetLimit: 10 },
      },
    });
  });

  it("normalizes auth-refactor field by field, defaults included", () => {
    const team: AgentTeam = parseTeam(read(`${kagentsDir}/auth-refactor.yaml`));
    const defaults = { cli: "claude", permissionMode: "acceptEdits", skills: [], mcpServers: [] };
    expect(team).toStrictEqual({
      apiVersion: "claude.amcheste.io/v1alpha1",
      kind: "AgentTeam",
      metadata: { name: "auth-refactor", namespace: "dev-agents", labels: {}, annotations: {} },
      spec: {
        mode: "coding",
        repository: {
          url: "git@github.com:acme/backend.git",
          branch: "main",
          credentialsSecret: "git-credentials",
        },
        auth: { apiKeySecret: "anthropic-api-key" },
        lead: {
          name: "lead",
          role: "lead",
          model: "opus",
          prompt:
            "Coordinate the migration from JWT to OAuth2.\nAssign backend-api, frontend-auth, and test-coverage to their tracks.\nValidate integration when all tracks complete.\n",
          cli: "claude",
          permissionMode: "acceptEdits",
          dependsOn: [],
          skills: [],
          mcpServers: [],
        },
        teammates: [
          {
            name: "backend-api",
            role: "teammate",
            model: "sonnet",
            prompt: "Implement OAuth2 endpoints. Remove JWT middleware.",
            ...defaults,
            scope: { includePaths: ["src/api/auth/", "src/middleware/"], excludePaths: [] },
            dependsOn: [],
          },
          {
            name: "test-coverage",
            role: "teammate",
            model: "sonnet",
            prompt: "Write comprehensive tests for the OAuth2 migration.",
            ...defaults,
            dependsOn: ["backend-api"],
          },
        ],
        coordination: { taskAssignment: "lead-assigns", peerMessaging: true },
        lifecycle: {
          timeout: "2h",
          timeoutSeconds: 7200,
          budgetLimit: 30,
          onComplete: "create-pr",
          pullRequest: {
            targetBranch: "main",
            titleTemplate: "feat(auth): migrate from JWT to OAuth2",
            reviewers: [],
            labels: [],
            draft: false,
          },
          approvalGates: [],
          maxRestarts: 3,
        },
        observability: {},
      },
    });
  });

  it("normalizes the cowork sample: configMap input, output defaults, skill, MCP server, webhook gate", () => {
    const team = parseTeam(read(`${kagentsDir}/q3-report.yaml`));
    expect(team.spec.mode).toBe("cowork");
    expect(team.spec.workspace).toEqual({
      inputs: [{ configMap: "quarterly-data", mountPath: "/workspace/data" }],
      output: { mountPath: "/workspace/output", size: "5Gi" },
    });
    expect(team.spec.teammates[0]?.skills).toEqual([
      { name: "data-analysis", source: { configMap: "data-analysis-skill" } },
    ]);
    expect(team.spec.teammates[1]?.mcpServers).toEqual([
      {
        name: "gmail",
        url: "https://gmail.mcp.example.com/mcp",
        transport: "http",
        authHeader: "Authorization",
      },
    ]);
    expect(team.spec.lifecycle).toEqual({
      timeout: "3h",
      timeoutSeconds: 10800,
      budgetLimit: 15,
      onComplete: "notify",
      approvalGates: [
        {
          event: "spawn-email-drafter",
          channel: "webhook",
          webhookUrl: "https://hooks.example.com/approvals",
          approvers: [],
        },
      ],
      maxRestarts: 3,
    });
  });

  it("merges kagents' run with the fullstack-review template from examples/", () => {
    const template = parseResource(
      read(`${examplesDir}/fullstack-review-template.yaml`),
    ) as AgentTeamTemplate;
    const run = parseResource(read(`${kagentsDir}/q4-security-review-run.yaml`)) as AgentTeamRun;
    const team = mergeTemplateRun(template, run);
    expect(team.apiVersion).toBe("claude.amcheste.io/v1alpha1");
    expect(team.metadata).toEqual({
      name: "q4-security-review",
      namespace: "default",
      labels: {},
      annotations: { "squadron.dev/template": "fullstack-review" },
    });
    expect(team.spec.lead.prompt).toBe("Run a full security, performance, and test quality review.");
  });
});
