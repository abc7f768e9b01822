import { describe, expect, it } from "vitest";
import {
  ManifestError,
  type ManifestOptions,
  normalizeResource,
  validateResource,
} from "../../core/manifest/index.ts";
import { baseTeam } from "./fixtures.ts";

const DNS =
  'is not a DNS-1123 label: use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit.';

function issuesOf(manifest: unknown, options?: ManifestOptions) {
  return validateResource(manifest, options).issues.map(({ path, message, severity }) => ({
    path,
    message,
    severity,
  }));
}

const err = (path: string, message: string) => ({ path, message, severity: "error" });
const warn = (path: string, message: string) => ({ path, message, severity: "warning" });

describe("validation rules, each reported with its path and a sentence", () => {
  it("the base team is valid", () => {
    expect(validateResource(baseTeam())).toMatchObject({ issues: [], resource: { kind: "AgentTeam" } });
  });

  it("unknown dependsOn", () => {
    const team = baseTeam();
    team.spec.teammates[1].dependsOn = ["api", "mobile"];
    expect(issuesOf(team)).toEqual([
      err(
        "spec.teammates[1].dependsOn[1]",
        '"mobile" names no teammate of this team (teammates: api, web, qa).',
      ),
    ]);
  });

  it("self dependsOn", () => {
    const team = baseTeam();
    team.spec.teammates[0].dependsOn = ["api"];
    expect(issuesOf(team)).toEqual([
      err("spec.teammates[0].dependsOn[0]", "A teammate cannot depend on itself."),
    ]);
  });

  it("dependsOn on the lead", () => {
    const team = baseTeam();
    team.spec.teammates[0].dependsOn = ["lead"];
    expect(issuesOf(team)).toEqual([
      err(
        "spec.teammates[0].dependsOn[0]",
        "A teammate cannot depend on the lead: the lead finishes after every teammate.",
      ),
    ]);
  });

  it("the lead may not depend on anyone", () => {
    const team = baseTeam();
    team.spec.lead.dependsOn = ["api"];
    expect(issuesOf(team)).toEqual([
      err(
        "spec.lead.dependsOn",
        "The lead cannot depend on other agents: it starts first and coordinates the teammates.",
      ),
    ]);
  });

  it("dependency cycles, each named", () => {
    const team = baseTeam();
    team.spec.teammates[0].dependsOn = ["qa"];
    team.spec.teammates.push(
      { name: "x", prompt: "x", dependsOn: ["y"] },
      { name: "y", prompt: "y", dependsOn: ["x"] },
    );
    expect(issuesOf(team)).toEqual([
      err(
        "spec.teammates[0].dependsOn",
        "Dependency cycle: api → qa → api; none of these teammates could ever start.",
      ),
      err(
        "spec.teammates[3].dependsOn",
        "Dependency cycle: x → y → x; none of these teammates could ever start.",
      ),
    ]);
  });

  it("duplicate names, the lead included", () => {
    const team = baseTeam();
    team.spec.teammates[2].name = "api";
    team.spec.teammates[2].dependsOn = ["web"];
    team.spec.teammates.push({ name: "lead", prompt: "Also lead." });
    expect(issuesOf(team)).toEqual([
      err("spec.teammates[2].name", 'The name "api" is already used by spec.teammates[0].'),
      err("spec.teammates[3].name", 'The name "lead" is already used by the lead (spec.lead).'),
    ]);
  });

  it("names that are not DNS-1123 labels", () => {
    const team = baseTeam();
    team.metadata.name = "Demo_Team";
    team.metadata.namespace = "-dev";
    team.spec.lead.name = "The Lead";
    team.spec.teammates[2].name = "a".repeat(64);
    team.spec.teammates[1].dependsOn = [];
    expect(issuesOf(team)).toEqual([
      err("metadata.name", `The name "Demo_Team" ${DNS}`),
      err("metadata.namespace", `The name "-dev" ${DNS}`),
      err("spec.lead.name", `The name "The Lead" ${DNS}`),
      err("spec.teammates[2].name", `The name "${"a".repeat(64)}" ${DNS}`),
    ]);
  });

  it("unparseable and zero durations", () => {
    const bad = baseTeam();
    bad.spec.lifecycle = { timeout: "2 hours" };
    expect(issuesOf(bad)).toEqual([
      err(
        "spec.lifecycle.timeout",
        '"2 hours" is not a duration; write hours, minutes and seconds such as "2h", "90m", "1h30m" or "45s".',
      ),
    ]);
    const zero = baseTeam();
    zero.spec.lifecycle = { timeout: "0m" };
    expect(issuesOf(zero)).toEqual([err("spec.lifecycle.timeout", "The timeout must be longer than zero.")]);
    const mixedUp = baseTeam();
    mixedUp.spec.lifecycle = { timeout: "30m1h" };
    expect(issuesOf(mixedUp)[0]?.path).toBe("spec.lifecycle.timeout");
  });

  it("timeoutSeconds that disagrees with timeout", () => {
    const team = baseTeam();
    team.spec.lifecycle = { timeout: "1h", timeoutSeconds: 60 };
    expect(issuesOf(team)).toEqual([
      err(
        "spec.lifecycle.timeoutSeconds",
        'timeoutSeconds 60 disagrees with timeout "1h" (3600 seconds); give only one of them.',
      ),
    ]);
  });

  it.each([
    ["-5", 'The budget limit must be more than zero US dollars (found "-5").'],
    [0, "The budget limit must be more than zero US dollars (found 0)."],
    ["thirty", 'The budget limit "thirty" is not a number of US dollars; write it like "30.00".'],
    [true, 'The budget limit true is not a number of US dollars; write it like "30.00".'],
  ])("non-positive or non-numeric budget %j", (budgetLimit, message) => {
    const team = baseTeam();
    team.spec.lifecycle = { budgetLimit };
    expect(issuesOf(team)).toEqual([err("spec.lifecycle.budgetLimit", message)]);
  });

  it("both or neither of repository and workspace", () => {
    const both = baseTeam();
    both.spec.workspace = {};
    expect(issuesOf(both)).toEqual([
      err(
        "spec",
        "Set exactly one of spec.repository (a coding team) or spec.workspace (a cowork team); both are set.",
      ),
    ]);
    const neither = baseTeam();
    delete neither.spec.repository;
    expect(issuesOf(neither)).toEqual([
      err(
        "spec",
        "Set exactly one of spec.repository (a coding team) or spec.workspace (a cowork team); neither is set.",
      ),
    ]);
  });

  it("an approval gate whose event names no teammate", () => {
    const team = baseTeam();
    team.spec.lifecycle = {
      approvalGates: [
        { event: "spawn-web" },
        { event: "spawn-mobile" },
        { event: "deploy" },
        { event: "spawn-web" },
      ],
    };
    expect(issuesOf(team)).toEqual([
      err(
        "spec.lifecycle.approvalGates[1].event",
        'The event "spawn-mobile" names no teammate: "mobile" is not in spec.teammates (teammates: api, web, qa).',
      ),
      err(
        "spec.lifecycle.approvalGates[2].event",
        'The event "deploy" is not a gate event; write spawn-<teammate>, e.g. "spawn-reviewer".',
      ),
      err(
        "spec.lifecycle.approvalGates[3].event",
        'The event "spawn-web" already has a gate (approvalGates[0]).',
      ),
    ]);
  });

  it("prompts over the size limit, default 32 KiB and configurable", () => {
    const team = baseTeam();
    team.spec.teammates[0].prompt = "é".repeat(16 * 1024 + 1); // two bytes each in UTF-8
    expect(issuesOf(team)).toEqual([
      err("spec.teammates[0].prompt", "The prompt is 32770 bytes; the limit is 32768 bytes (32 KiB)."),
    ]);
    expect(issuesOf(baseTeam(), { maxPromptBytes: 10 })).toEqual([
      err("spec.lead.prompt", "The prompt is 14 bytes; the limit is 10 bytes."),
      err("spec.teammates[0].prompt", "The prompt is 14 bytes; the limit is 10 bytes."),
      err("spec.teammates[1].prompt", "The prompt is 18 bytes; the limit is 10 bytes."),
      err("spec.teammates[2].prompt", "The prompt is 16 bytes; the limit is 10 bytes."),
    ]);
  });

  it("more teammates than the configured maximum (default 32)", () => {
    const team = baseTeam();
    team.spec.teammates = Array.from({ length: 33 }, (_, i) => ({ name: `t${i}`, prompt: "Work." }));
    expect(issuesOf(team)).toEqual([
      err("spec.teammates", "The team has 33 teammates; at most 32 are allowed."),
    ]);
    expect(issuesOf(baseTeam(), { maxTeammates: 2 })).toEqual([
      err("spec.teammates", "The team has 3 teammates; at most 2 are allowed."),
    ]);
  });

  it("unknown fields are warnings, not fatal, and are dropped", () => {
    const team = baseTeam();
    team.status = { phase: "Running" };
    team.spec.teammates[0].temperature = 0.2;
    const result = validateResource(team);
    expect(result.issues.map(({ path, message, severity }) => ({ path, message, severity }))).toEqual([
      warn("spec.teammates[0].temperature", 'Unknown field "temperature" is ignored.'),
      warn("status", 'Unknown field "status" is ignored.'),
    ]);
    expect(result.resource).toBeDefined();
    expect(JSON.stringify(result.resource)).not.toContain("temperature");
  });

  it("shape errors become sentences with paths", () => {
    const team = baseTeam();
    team.spec.teammates[0].cli = "cursor";
    team.spec.teammates[1].prompt = 42;
    team.spec.lifecycle = { onComplete: "merge", maxRestarts: -1 };
    delete team.spec.teammates[2].prompt;
    expect(issuesOf(team)).toEqual([
      err(
        "spec.teammates[0].cli",
        'Must be one of "claude", "codex", "gemini", "aider", "scripted" (found "cursor").',
      ),
      err("spec.teammates[1].prompt", "Expected a string but found number 42."),
      err("spec.teammates[2].prompt", "This field is required."),
      err(
        "spec.lifecycle.onComplete",
        'Must be one of "create-pr", "push-branch", "notify", "deliver", "none" (found "merge").',
      ),
      err("spec.lifecycle.maxRestarts", "Must be at least 0."),
    ]);
  });

  it("kind, apiVersion and document shape", () => {
    expect(issuesOf("hello")).toEqual([
      err("", "A manifest must be a mapping with apiVersion, kind, metadata and spec."),
    ]);
    expect(issuesOf({ ...baseTeam(), kind: "Pod" })).toEqual([
      err(
        "kind",
        'The kind "Pod" is not one; use AgentTeam, AgentTeamTemplate, AgentTeamRun, AgentTeamSchedule or AgentTeamTrigger.',
      ),
    ]);
    expect(issuesOf({ ...baseTeam(), apiVersion: "v1" })).toEqual([
      err(
        "apiVersion",
        'apiVersion "v1" is not supported; use "squadron.dev/v1alpha1" (or kagents\' "kagents.dev/v1alpha1" or "claude.amcheste.io/v1alpha1").',
      ),
    ]);
    // All three groups are first-class and kept as written.
    for (const apiVersion of [
      "kagents.dev/v1alpha1",
      "claude.amcheste.io/v1alpha1",
      "squadron.dev/v1alpha1",
    ]) {
      const result = validateResource({ ...baseTeam(), apiVersion });
      expect(result.issues).toEqual([]);
      expect(result.resource?.apiVersion).toBe(apiVersion);
    }
  });

  it("cowork inputs need exactly one source and safe file names", () => {
    const team = baseTeam();
    delete team.spec.repository;
    team.spec.workspace = {
      inputs: [
        { mountPath: "/in/a" },
        { mountPath: "/in/b", configMap: "x", s3Prefix: "s3://bucket-1/x/" },
        { mountPath: "in/c", files: { "../escape.md": "no" } },
      ],
    };
    expect(issuesOf(team)).toEqual([
      err(
        "spec.workspace.inputs[0]",
        "An input needs exactly one source, configMap, s3Prefix or files; none is set.",
      ),
      err(
        "spec.workspace.inputs[1]",
        "An input needs exactly one source, configMap, s3Prefix or files; 2 are set.",
      ),
      err("spec.workspace.inputs[2].mountPath", '"in/c" must be an absolute path without ".." segments.'),
    ]);
  });

  it("relative S3 prefixes stay in the team's areas of Squadron's bucket", () => {
    const team = baseTeam();
    team.metadata.namespace = "analysts";
    delete team.spec.repository;
    team.spec.workspace = {
      inputs: [
        { mountPath: "/in/ok", s3Prefix: "inputs/q3/data/" },
        { mountPath: "/in/other-bucket", s3Prefix: "s3://partner-data/q3/" },
        { mountPath: "/in/configmap", s3Prefix: "configmaps/finance/ledger/" },
        { mountPath: "/in/outputs", s3Prefix: "runs/finance/payroll/r1/output/" },
      ],
      output: { mountPath: "/workspace/output", s3Prefix: "outputs/finance/q3/" },
    };
    team.spec.teammates[0].skills = [
      { name: "style", source: { s3Prefix: "inputs/skills/style/" } },
      { name: "leak", source: { s3Prefix: "run-manifests/" } },
    ];
    const outsideInputs = (prefix: string) =>
      `"${prefix}" is outside inputs/: a relative prefix names Squadron's bucket, where runners read only inputs/ (name a ConfigMap with configMap, another bucket with s3://bucket/prefix/).`;
    expect(issuesOf(team)).toEqual([
      err("spec.workspace.inputs[2].s3Prefix", outsideInputs("configmaps/finance/ledger/")),
      err("spec.workspace.inputs[3].s3Prefix", outsideInputs("runs/finance/payroll/r1/output/")),
      err(
        "spec.workspace.output.s3Prefix",
        '"outputs/finance/q3/" is outside outputs/analysts/: in Squadron\'s bucket a team in namespace "analysts" delivers outputs only there (leave s3Prefix out for the run\'s own prefix, or use s3://bucket/prefix/ for another bucket).',
      ),
      err("spec.teammates[0].skills[1].source.s3Prefix", outsideInputs("run-manifests/")),
    ]);
    team.spec.workspace.inputs = [{ mountPath: "/in/ok", s3Prefix: "inputs/q3/data/" }];
    team.spec.workspace.output = { mountPath: "/workspace/output", s3Prefix: "outputs/analysts/q3/" };
    team.spec.teammates[0].skills = [];
    expect(issuesOf(team)).toEqual([]);
    team.spec.workspace.output = { mountPath: "/workspace/output", s3Prefix: "s3://partner-reports/q3/" };
    expect(issuesOf(team)).toEqual([]);
  });

  it("reports every problem of a manifest at once", () => {
    const team = baseTeam();
    team.metadata.name = "Bad";
    team.spec.teammates[0].dependsOn = ["ghost"];
    team.spec.teammates[1].name = "qa";
    team.spec.lifecycle = { timeout: "soon", budgetLimit: "lots" };
    team.spec.extra = 1;
    expect(issuesOf(team).map((issue) => issue.path)).toEqual([
      "metadata.name",
      "spec.lifecycle.timeout",
      "spec.lifecycle.budgetLimit",
      "spec.teammates[2].name",
      "spec.teammates[0].dependsOn[0]",
      "spec.teammates[2].dependsOn[1]",
      "spec.extra",
    ]);
  });

  it("normalizeResource throws only ManifestError, carrying every issue", () => {
    const team = baseTeam();
    team.metadata.name = "Bad";
    team.spec.teammates[0].dependsOn = ["ghost"];
    let thrown: unknown;
    try {
      normalizeResource(team);
    } catch (problem) {
      thrown = problem;
    }
    expect(thrown).toBeInstanceOf(ManifestError);
    expect((thrown as ManifestError).issues.map((issue) => issue.path)).toEqual([
      "metadata.name",
      "spec.teammates[0].dependsOn[0]",
    ]);
    expect((thrown as ManifestError).message).toContain("2 errors");
  });
});
