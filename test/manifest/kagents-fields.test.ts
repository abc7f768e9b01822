/**
 * kagents' v0.7 fields that used to be read and ignored (a warning): each is now acted on or
 * refused at its path with the reason, so no kagents field is accepted and then dropped.
 * Field meanings from kagents' api/v1alpha1/agentteam_types.go.
 */
import { describe, expect, it } from "vitest";
import { type AgentTeam, validateResource } from "../../core/manifest/index.ts";
import { renderBranchTemplate } from "../../core/manifest/templates.ts";
import { baseTeam } from "./fixtures.ts";

function check(edit: (team: Record<string, any>) => void) {
  const team = baseTeam();
  team.apiVersion = "kagents.dev/v1alpha1";
  edit(team);
  const result = validateResource(team);
  return {
    team: result.resource as AgentTeam | undefined,
    issues: result.issues.map(({ path, message, severity }) => ({ path, message, severity })),
  };
}

function cowork(team: Record<string, any>) {
  delete team.spec.repository;
  team.spec.workspace = { inputs: [{ configMap: "data", mountPath: "/workspace/data" }], output: {} };
}

describe("kagents fields Squadron does not act on are refused at their path, with the reason", () => {
  const refused: Array<[string, (team: Record<string, any>) => void, RegExp]> = [
    [
      "spec.auth.oauthSecret",
      (t) => (t.spec.auth = { oauthSecret: "claude-oauth" }),
      /API keys; give auth\.apiKeySecret/,
    ],
    [
      "spec.repository.worktreeStrategy",
      (t) => (t.spec.repository.worktreeStrategy = "shared"),
      /own worktree/,
    ],
    [
      "spec.workspace.inputs[0].pvc",
      (t) => {
        cowork(t);
        t.spec.workspace.inputs[0].pvc = "shared-data";
      },
      /PersistentVolumeClaim/,
    ],
    [
      "spec.workspace.output.pvc",
      (t) => {
        cowork(t);
        t.spec.workspace.output.pvc = "team-output";
      },
      /Squadron's bucket/,
    ],
    [
      "spec.workspace.output.storageClass",
      (t) => {
        cowork(t);
        t.spec.workspace.output.storageClass = "nfs";
      },
      /storageClass is not supported/,
    ],
    ["spec.coordination.beads", (t) => (t.spec.coordination = { beads: { enabled: true } }), /Beads/],
    [
      "spec.observability.metrics",
      (t) => (t.spec.observability = { metrics: { enabled: true, port: 9090 } }),
      /CloudWatch/,
    ],
    ["spec.observability.logLevel", (t) => (t.spec.observability = { logLevel: "debug" }), /logs at info/],
    [
      "spec.lifecycle.githubTokenSecret",
      (t) => (t.spec.lifecycle = { githubTokenSecret: "gh" }),
      /github-token/,
    ],
    [
      "spec.lifecycle.gitCredentialsSecret",
      (t) => (t.spec.lifecycle = { gitCredentialsSecret: "git" }),
      /credentialsSecret/,
    ],
    [
      "spec.observability.webhook.events[1]",
      (t) =>
        (t.spec.observability = {
          webhook: { url: "https://hooks.example.com/team", events: ["team.completed", "team.started"] },
        }),
      /"team\.started" is not an event Squadron sends.*team\.completed.*budget\.warning/,
    ],
    [
      "spec.coordination.mailboxBackend",
      (t) => (t.spec.coordination = { mailboxBackend: "redis" }),
      /mailboxBackend "redis" is not supported.*shared file system/,
    ],
    [
      "spec.coordination.taskBackend",
      (t) => (t.spec.coordination = { taskBackend: "beads" }),
      /taskBackend "beads" is not supported.*shared file system/,
    ],
    [
      "spec.lifecycle.onComplete",
      (t) => {
        cowork(t);
        t.spec.lifecycle = { onComplete: "create-pr" };
      },
      /onComplete "create-pr" needs spec\.repository.*cowork team.*"deliver"/,
    ],
    [
      "spec.lifecycle.onComplete",
      (t) => {
        cowork(t);
        t.spec.lifecycle = { onComplete: "push-branch" };
      },
      /onComplete "push-branch" needs spec\.repository/,
    ],
    [
      "spec.teammates[0].resources.claims",
      (t) => (t.spec.teammates[0].resources = { claims: [{ name: "gpu" }] }),
      /dynamic resource allocation/,
    ],
  ];
  for (const [path, edit, why] of refused) {
    it(`${path}`, () => {
      const { issues, team } = check(edit);
      expect(team).toBeUndefined();
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ path, severity: "error" });
      expect(issues[0]?.message).toMatch(why);
    });
  }

  it("accepts, with no warning, the values that ask for what Squadron does anyway", () => {
    const { issues, team } = check((t) => {
      t.spec.repository.worktreeStrategy = "per-teammate";
      t.spec.coordination = { beads: { enabled: false } };
      t.spec.observability = { metrics: { enabled: false }, logLevel: "info" };
    });
    expect(issues).toEqual([]);
    expect(JSON.stringify(team?.spec)).not.toMatch(/worktreeStrategy|beads|metrics|logLevel/);
  });
});

describe("kagents' onComplete settings that another onComplete does not read", () => {
  it("pullRequest, prTitleTemplate and consolidatedBranchTemplate get a warning saying they have no effect", () => {
    const { issues, team } = check((t) => {
      t.spec.lifecycle = {
        onComplete: "notify",
        pullRequest: { reviewers: ["alice"] },
        prTitleTemplate: "feat: {{.TeamName}}",
        consolidatedBranchTemplate: "teams/{{.TeamName}}",
      };
    });
    expect(team).toBeDefined();
    expect(issues).toEqual([
      {
        path: "spec.lifecycle.pullRequest",
        severity: "warning",
        message:
          'pullRequest is read only with onComplete "create-pr" (this team\'s is "notify"): no pull request is opened.',
      },
      {
        path: "spec.lifecycle.prTitleTemplate",
        severity: "warning",
        message:
          'prTitleTemplate is read only with onComplete "create-pr" (this team\'s is "notify"): no pull request is opened.',
      },
      {
        path: "spec.lifecycle.consolidatedBranchTemplate",
        severity: "warning",
        message:
          'consolidatedBranchTemplate is read only with onComplete "push-branch" or "create-pr" (this team\'s is "notify"): no branch is pushed.',
      },
    ]);
  });

  it("no warning where they are read", () => {
    for (const onComplete of ["create-pr", "push-branch"]) {
      const { issues } = check((t) => {
        t.spec.lifecycle = {
          onComplete,
          consolidatedBranchTemplate: "teams/{{.TeamName}}",
          ...(onComplete === "create-pr"
            ? { pullRequest: { reviewers: ["alice"] }, prTitleTemplate: "x" }
            : {}),
        };
      });
      expect(issues).toEqual([]);
    }
  });
});

describe("kagents' pull-request title and consolidated branch templates", () => {
  it("prTitleTemplate becomes the pull request's title template (over pullRequest.titleTemplate, as in kagents)", () => {
    const { issues, team } = check((t) => {
      t.spec.lifecycle = {
        onComplete: "create-pr",
        prTitleTemplate: "claude-teams: {{.TeamName}}",
        pullRequest: { titleTemplate: "ignored {{team}}", labels: ["bot"] },
      };
    });
    expect(issues).toEqual([]);
    expect(team?.spec.lifecycle.pullRequest).toMatchObject({
      titleTemplate: "claude-teams: {{.TeamName}}",
      labels: ["bot"],
    });
  });

  it("consolidatedBranchTemplate is kept, and renders kagents' and Squadron's names", () => {
    const { issues, team } = check((t) => {
      t.spec.lifecycle = {
        onComplete: "push-branch",
        consolidatedBranchTemplate: "teams/{{.Namespace}}/{{.TeamName}}",
      };
    });
    expect(issues).toEqual([]);
    const template = team?.spec.lifecycle.consolidatedBranchTemplate as string;
    expect(renderBranchTemplate(template, { team: "demo", namespace: "dev", runId: "demo-1" })).toBe(
      "teams/dev/demo",
    );
  });

  it("refuses a branch template that cannot make a branch name", () => {
    for (const template of ["teams/{{.Owner}}", "teams/../{{.TeamName}}", "teams {{.TeamName}}"]) {
      const { issues } = check((t) => {
        t.spec.lifecycle = { onComplete: "push-branch", consolidatedBranchTemplate: template };
      });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({
        path: "spec.lifecycle.consolidatedBranchTemplate",
        severity: "error",
      });
      expect(issues[0]?.message).toContain("does not make a valid branch name");
    }
  });
});
