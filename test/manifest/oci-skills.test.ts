import { describe, expect, it } from "vitest";
import { imagePullSecretName, runnerSecrets } from "../../core/control/team-secrets.ts";
import { type AgentTeam, mergeTemplateRun, validateResource } from "../../core/manifest/index.ts";
import { parseOciReference } from "../../core/manifest/oci-reference.ts";
import { runFromSchedule } from "../../core/schedules/fire.ts";
import { baseTeam } from "./fixtures.ts";

/** kagents v0.8 `skills[].source.oci` and `spec.imagePullSecrets`: validation and where they go. */

function issuesOf(manifest: unknown) {
  return validateResource(manifest).issues.map(({ path, message, severity }) => ({
    path,
    message,
    severity,
  }));
}

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("source.oci references", () => {
  it.each([
    [
      "ghcr.io/myorg/skills/my-skill:v1",
      { registry: "ghcr.io", repository: "myorg/skills/my-skill", tag: "v1" },
    ],
    [
      `ghcr.io/myorg/my-skill@${DIGEST}`,
      { registry: "ghcr.io", repository: "myorg/my-skill", digest: DIGEST },
    ],
    [
      `localhost:5000/a/b:v1.0.3@${DIGEST}`,
      { registry: "localhost:5000", repository: "a/b", tag: "v1.0.3", digest: DIGEST },
    ],
    [
      "127.0.0.1:41247/kagents/skills/x_y-z.w:latest",
      { registry: "127.0.0.1:41247", repository: "kagents/skills/x_y-z.w", tag: "latest" },
    ],
  ])("accepts %s", (value, expected) => {
    expect(parseOciReference(value)).toEqual({ reference: expected });
  });

  it.each([
    ["myorg/skill:v1", /names no registry|must start with a registry host/],
    ["skill:v1", /names no registry/],
    ["ghcr.io/myorg/skill", /needs a tag or a digest/],
    ["ghcr.io/MyOrg/skill:v1", /must be lowercase path components/],
    ["ghcr.io/myorg/skill:v1@sha256:abc", /must be sha256: and 64 lowercase hex digits/],
    ["ghcr.io/myorg/skill:-bad", /is not a valid tag/],
    ["ghcr.io//skill:v1", /must be lowercase path components/],
    ["https://ghcr.io/myorg/skill:v1", /registry host|lowercase/],
  ])("refuses %s", (value, problem) => {
    const parsed = parseOciReference(value);
    expect("problem" in parsed && parsed.problem).toMatch(problem);
  });

  it("a bad reference is an error at its field path; oci is exclusive with the other sources", () => {
    const team = baseTeam();
    team.spec.teammates[0].skills = [
      { name: "a", source: { oci: "ghcr.io/acme/skill" } },
      { name: "b", source: { oci: "ghcr.io/acme/skill:v1", inline: "# B" } },
      { name: "c", source: { oci: "ghcr.io/acme/skill:v1" } },
    ];
    expect(issuesOf(team)).toEqual([
      {
        path: "spec.teammates[0].skills[0].source.oci",
        message:
          'The OCI reference "ghcr.io/acme/skill" needs a tag or a digest: "ghcr.io/myorg/skills/my-skill:v1" or "ghcr.io/myorg/skills/my-skill@sha256:<64 hex digits>".',
        severity: "error",
      },
      {
        path: "spec.teammates[0].skills[1].source",
        message: "A skill needs exactly one source, configMap, s3Prefix, inline or oci; 2 are set.",
        severity: "error",
      },
    ]);
  });
});

describe("spec.imagePullSecrets", () => {
  // biome-ignore lint/suspicious/noExplicitAny: a raw manifest, as baseTeam() gives it
  function ociTeam(): Record<string, any> {
    const team = baseTeam();
    team.apiVersion = "kagents.dev/v1alpha1";
    team.spec.imagePullSecrets = [{ name: "ghcr-creds" }, { name: "other" }];
    team.spec.teammates[0].skills = [{ name: "s", source: { oci: "ghcr.io/acme/skill:v1" } }];
    return team;
  }

  it("is kept on the team, and its first secret reaches the runner as SQUADRON_SECRET_<NAME>", () => {
    const result = validateResource(ociTeam());
    // Only the first is used (kagents' rule); the others are said to be unused, never kept silently.
    expect(result.issues.map(({ path, message, severity }) => ({ path, message, severity }))).toEqual([
      {
        path: "spec.imagePullSecrets[1]",
        message:
          "Only the first imagePullSecret is used for skills from OCI (as in kagents): put every registry's credentials in that one dockerconfigjson.",
        severity: "warning",
      },
    ]);
    const team = result.resource as AgentTeam;
    expect(team.spec.imagePullSecrets).toEqual([{ name: "ghcr-creds" }, { name: "other" }]);
    expect(team.spec.teammates[0]?.skills[0]?.source).toEqual({ oci: "ghcr.io/acme/skill:v1" });
    expect(imagePullSecretName(team)).toBe("ghcr-creds");
    expect(runnerSecrets(team)).toContainEqual({ env: "SQUADRON_SECRET_GHCR_CREDS", secret: "ghcr-creds" });
    expect(runnerSecrets(team).map((s) => s.secret)).not.toContain("other");
  });

  it("is handed to no runner when no skill comes from OCI", () => {
    const raw = ociTeam();
    raw.spec.teammates[0].skills = [{ name: "s", source: { inline: "# S" } }];
    const result = validateResource(raw);
    expect(result.issues.map((i) => [i.path, i.severity, i.message])).toEqual([
      [
        "spec.imagePullSecrets",
        "warning",
        expect.stringMatching(/^imagePullSecrets is not used: .* no agent of this team has one/),
      ],
    ]);
    const team = result.resource as AgentTeam;
    expect(imagePullSecretName(team)).toBeUndefined();
    expect(runnerSecrets(team)).toEqual([]);
  });

  it("needs a name; other keys are errors with their paths", () => {
    const team = ociTeam();
    team.spec.imagePullSecrets = [{ name: " " }, {}];
    expect(issuesOf(team).filter((i) => i.severity === "error")).toEqual([
      { path: "spec.imagePullSecrets[0].name", message: "The secret name is empty.", severity: "error" },
      { path: "spec.imagePullSecrets[1].name", message: expect.any(String), severity: "error" },
    ]);
  });

  it("comes with the run when a template is instantiated; a template cannot carry credentials", () => {
    const template = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamTemplate",
      metadata: { name: "research" },
      spec: {
        teammates: [
          { name: "r", prompt: "Research.", skills: [{ name: "s", source: { oci: "ghcr.io/a/s:v1" } }] },
        ],
      },
    });
    expect(template.issues).toEqual([]);
    const run = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamRun",
      metadata: { name: "r1" },
      spec: {
        templateRef: { name: "research" },
        workspace: { output: { mountPath: "/workspace/output" } },
        imagePullSecrets: [{ name: "ghcr-creds" }],
        lead: { prompt: "Lead." },
      },
    });
    expect(run.issues).toEqual([]);
    // biome-ignore lint/suspicious/noExplicitAny: the validated resources of known kinds
    const team = mergeTemplateRun(template.resource as any, run.resource as any);
    expect(team.spec.imagePullSecrets).toEqual([{ name: "ghcr-creds" }]);
    expect(imagePullSecretName(team)).toBe("ghcr-creds");

    const withCredentials = issuesOf({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamTemplate",
      metadata: { name: "research" },
      spec: { teammates: [{ name: "r", prompt: "R." }], imagePullSecrets: [{ name: "x" }] },
    });
    expect(withCredentials).toEqual([
      { path: "spec.imagePullSecrets", message: expect.stringMatching(/a run brings/), severity: "error" },
    ]);
  });

  it("an AgentTeamSchedule's and an AgentTeamTrigger's runs carry it", () => {
    const runFields = {
      templateRef: { name: "research" },
      workspace: { output: { mountPath: "/workspace/output" } },
      imagePullSecrets: [{ name: "ghcr-creds" }],
      lead: { prompt: "Lead." },
    };
    const schedule = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamSchedule",
      metadata: { name: "weekly" },
      spec: { schedule: "0 6 * * 1", ...runFields },
    });
    expect(schedule.issues).toEqual([]);
    // biome-ignore lint/suspicious/noExplicitAny: a validated AgentTeamSchedule
    const run = runFromSchedule(schedule.resource as any, new Date("2026-12-07T06:00:00Z"));
    expect(run.spec.imagePullSecrets).toEqual([{ name: "ghcr-creds" }]);
    const trigger = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamTrigger",
      metadata: { name: "hook" },
      spec: { trigger: { webhook: { path: "/hooks/x", secret: "hmac" } }, ...runFields },
    });
    expect(trigger.issues).toEqual([]);
    expect((trigger.resource as { spec: { imagePullSecrets?: unknown } }).spec.imagePullSecrets).toEqual([
      { name: "ghcr-creds" },
    ]);
  });
});
