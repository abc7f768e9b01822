import { describe, expect, it } from "vitest";
import { type AgentTeam, mergeTemplateRun, validateResource } from "../../core/manifest/index.ts";
import {
  allApprovalGates,
  effectiveDependsOn,
  stageGateOf,
  stagesInOrder,
} from "../../core/manifest/pipeline.ts";
import { baseTeam } from "./fixtures.ts";

function issuesOf(manifest: unknown) {
  return validateResource(manifest).issues.map(({ path, message, severity }) => ({
    path,
    message,
    severity,
  }));
}
const err = (path: string, message: string) => ({ path, message, severity: "error" });

/** A four-stage pipeline: fan-out (api, web in parallel), merge (qa), an approval-gated last stage. */
function pipelineTeam() {
  const team = baseTeam();
  team.apiVersion = "kagents.dev/v1alpha1";
  team.spec.teammates = [
    { name: "plan", prompt: "Plan." },
    { name: "api", prompt: "Build the API." },
    { name: "web", prompt: "Build the web app." },
    { name: "qa", prompt: "Test everything." },
    { name: "mail", prompt: "Draft the emails." },
  ];
  team.spec.pipeline = {
    stages: [
      { name: "design", teammates: ["plan"] },
      { name: "build", teammates: ["api", "web"], dependsOn: ["design"], fan: "parallel" },
      { name: "verify", teammates: ["qa"], dependsOn: ["build"], fan: "merge" },
      { name: "outreach", teammates: ["mail"], dependsOn: ["verify"], approvalRequired: true },
    ],
  };
  return team;
}

describe("spec.pipeline (kagents v0.8)", () => {
  it("is kept as written with defaults, and its stages become dependencies and a stage gate", () => {
    const result = validateResource(pipelineTeam());
    expect(result.issues).toEqual([]);
    const team = result.resource as AgentTeam;
    expect(team.apiVersion).toBe("kagents.dev/v1alpha1");
    expect(team.spec.pipeline?.stages[0]).toEqual({
      name: "design",
      teammates: ["plan"],
      dependsOn: [],
      fan: "parallel",
      approvalRequired: false,
    });
    const deps = Object.fromEntries(
      team.spec.teammates.map((t) => [t.name, effectiveDependsOn(team.spec, t).sort()]),
    );
    // Transitive: mail waits for every teammate of every upstream stage, not only qa.
    expect(deps).toEqual({
      plan: [],
      api: ["plan"],
      web: ["plan"],
      qa: ["api", "plan", "web"],
      mail: ["api", "plan", "qa", "web"],
    });
    expect(effectiveDependsOn(team.spec, team.spec.lead)).toEqual([]);
    expect(stageGateOf(team.spec, "mail")).toBe("stage-outreach");
    expect(stageGateOf(team.spec, "qa")).toBeUndefined();
    expect(allApprovalGates(team.spec)).toEqual([{ event: "stage-outreach", channel: "api", approvers: [] }]);
    expect(stagesInOrder(team.spec).map((s) => s.name)).toEqual(["design", "build", "verify", "outreach"]);
  });

  it("a declared stage-<name> gate chooses the stage gate's channel", () => {
    const team = pipelineTeam();
    team.spec.lifecycle = {
      approvalGates: [{ event: "stage-outreach", channel: "webhook", webhookUrl: "https://h.example/a" }],
    };
    const result = validateResource(team);
    expect(result.issues).toEqual([]);
    expect(allApprovalGates((result.resource as AgentTeam).spec)).toEqual([
      { event: "stage-outreach", channel: "webhook", webhookUrl: "https://h.example/a", approvers: [] },
    ]);
  });

  it("pipeline and teammates[].dependsOn are mutually exclusive (the error names both)", () => {
    const team = pipelineTeam();
    team.spec.teammates[3].dependsOn = ["api"];
    expect(issuesOf(team)).toEqual([
      err(
        "spec.teammates[3].dependsOn",
        "spec.pipeline and spec.teammates[].dependsOn are mutually exclusive: order teammates with pipeline stages or with dependsOn, not both.",
      ),
    ]);
  });

  it("unknown teammates, the lead, a teammate in two stages, duplicate stages, unknown and self upstreams", () => {
    const team = pipelineTeam();
    team.spec.pipeline.stages[0].teammates = ["plan", "ghost", "lead"];
    team.spec.pipeline.stages[1].teammates = ["api", "web", "plan"];
    team.spec.pipeline.stages[2].dependsOn = ["build", "nowhere", "verify"];
    team.spec.pipeline.stages.push({ name: "design", teammates: ["qa"] });
    expect(issuesOf(team)).toEqual([
      err("spec.pipeline.stages[4].name", 'The stage "design" is already defined (stages[0]).'),
      err(
        "spec.pipeline.stages[0].teammates[1]",
        '"ghost" names no teammate of this team (teammates: plan, api, web, qa, mail); the lead is never in a stage (it coordinates every stage).',
      ),
      err(
        "spec.pipeline.stages[0].teammates[2]",
        '"lead" names no teammate of this team (teammates: plan, api, web, qa, mail); the lead is never in a stage (it coordinates every stage).',
      ),
      err(
        "spec.pipeline.stages[1].teammates[2]",
        '"plan" is already in stage "design"; a teammate belongs to at most one stage.',
      ),
      err(
        "spec.pipeline.stages[2].dependsOn[1]",
        '"nowhere" names no stage of this pipeline (stages: design, build, verify, outreach).',
      ),
      err("spec.pipeline.stages[2].dependsOn[2]", "A stage cannot depend on itself."),
      err(
        "spec.pipeline.stages[4].teammates[0]",
        '"qa" is already in stage "verify"; a teammate belongs to at most one stage.',
      ),
    ]);
  });

  it("stage cycles are named with the path of the first stage of the cycle", () => {
    const team = pipelineTeam();
    team.spec.pipeline.stages[0].dependsOn = ["verify"];
    expect(issuesOf(team)).toEqual([
      err(
        "spec.pipeline.stages[0].dependsOn",
        "Stage cycle: design → verify → build → design; none of these stages could ever start.",
      ),
    ]);
  });

  it("shape: no stages, a stage without teammates, a bad fan, a bad stage name", () => {
    const team = pipelineTeam();
    team.spec.pipeline = { stages: [] };
    expect(issuesOf(team)).toEqual([err("spec.pipeline.stages", "A pipeline needs at least one stage.")]);
    const other = pipelineTeam();
    other.spec.pipeline.stages[0] = { name: "Design!", teammates: [], fan: "zip" };
    expect(issuesOf(other)).toEqual([
      err(
        "spec.pipeline.stages[0].name",
        'The name "Design!" is not a DNS-1123 label: use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit.',
      ),
      err("spec.pipeline.stages[0].teammates", "A stage needs at least one teammate."),
      err("spec.pipeline.stages[0].fan", 'Must be one of "parallel", "merge" (found "zip").'),
      err(
        "spec.pipeline.stages[1].dependsOn[0]",
        '"design" names no stage of this pipeline (stages: Design!, build, verify, outreach).',
      ),
    ]);
  });

  it("stage gates: unknown stage, a stage that does not require approval", () => {
    const team = pipelineTeam();
    team.spec.lifecycle = { approvalGates: [{ event: "stage-nope" }, { event: "stage-build" }] };
    expect(issuesOf(team)).toEqual([
      err(
        "spec.lifecycle.approvalGates[0].event",
        'The event "stage-nope" names no stage: "nope" is not in spec.pipeline.stages (stages: design, build, verify, outreach).',
      ),
      err(
        "spec.lifecycle.approvalGates[1].event",
        'The stage "build" does not require approval; set approvalRequired: true on it to gate it, or remove this gate.',
      ),
    ]);
  });

  it("a template's pipeline reaches the team of every run", () => {
    const template = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamTemplate",
      metadata: { name: "t" },
      spec: {
        teammates: [
          { name: "a", prompt: "A." },
          { name: "b", prompt: "B." },
        ],
        pipeline: {
          stages: [
            { name: "one", teammates: ["a"] },
            { name: "two", teammates: ["b"], dependsOn: ["one"], approvalRequired: true },
          ],
        },
      },
    });
    expect(template.issues).toEqual([]);
    const run = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamRun",
      metadata: { name: "r" },
      spec: { templateRef: { name: "t" }, workspace: {}, lead: { prompt: "Lead." } },
    });
    // biome-ignore lint/suspicious/noExplicitAny: the validated resources are of the kinds given.
    const team = mergeTemplateRun(template.resource as any, run.resource as any);
    expect(team.spec.pipeline?.stages.map((s) => s.name)).toEqual(["one", "two"]);
    expect(stageGateOf(team.spec, "b")).toBe("stage-two");
    // A run cannot bring its own pipeline: it takes the template's.
    const withPipeline = validateResource({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamRun",
      metadata: { name: "r" },
      spec: {
        templateRef: { name: "t" },
        workspace: {},
        lead: { prompt: "Lead." },
        pipeline: { stages: [] },
      },
    });
    expect(withPipeline.issues.map((i) => [i.path, i.severity])).toEqual([["spec.pipeline", "error"]]);
  });
});

describe("spec.harness (kagents v0.8)", () => {
  it("claude-code is kept and means cli: claude", () => {
    const team = baseTeam();
    team.spec.harness = "claude-code";
    const result = validateResource(team);
    expect(result.issues).toEqual([]);
    const spec = (result.resource as AgentTeam).spec;
    expect(spec.harness).toBe("claude-code");
    expect([spec.lead, ...spec.teammates].map((a) => a.cli)).toEqual([
      "claude",
      "claude",
      "claude",
      "claude",
    ]);
  });

  it("any other harness, or an agent on another CLI beside it, is an error", () => {
    const team = baseTeam();
    team.spec.harness = "codex-cli";
    expect(issuesOf(team)).toEqual([
      err(
        "spec.harness",
        'The harness "codex-cli" is not supported; kagents (and Squadron) know only "claude-code", which runs every agent with cli: claude.',
      ),
    ]);
    const mixed = baseTeam();
    mixed.spec.harness = "claude-code";
    mixed.spec.teammates[1].cli = "gemini";
    expect(issuesOf(mixed)).toEqual([
      err(
        "spec.teammates[1].cli",
        'cli "gemini" contradicts spec.harness "claude-code", which runs every agent with cli: claude; remove one of them.',
      ),
    ]);
  });
});

describe("kagents v0.8 fields Squadron does not support yet are rejected, never dropped", () => {
  it("lead outputs/inputs and email delivery: errors with paths", () => {
    const team = baseTeam();
    team.spec.lead.outputs = [{ path: "/workspace/output/a.md" }];
    team.spec.lead.inputs = [{ from: "api", artifact: "a.md", mountPath: "/in" }];
    team.spec.lifecycle = { onComplete: "deliver", delivery: [{ type: "email", to: ["a@b.c"] }] };
    const issues = issuesOf(team);
    expect(issues.map((i) => [i.path, i.severity])).toEqual([
      ["spec.lead.outputs", "error"],
      ["spec.lead.inputs", "error"],
      ["spec.lifecycle.delivery[0].type", "error"],
    ]);
    expect(issues.find((i) => i.path === "spec.lifecycle.delivery[0].type")?.message).toBe(
      'Delivery type "email" is not supported by Squadron; the supported types are "webhook" and "slack".',
    );
  });

  it("knows both v0.8 kinds; an unknown kind names every kind Squadron runs", () => {
    const [issue] = issuesOf({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamCron",
      metadata: { name: "x" },
      spec: {},
    });
    expect(issue).toMatchObject({ path: "kind", severity: "error" });
    for (const kind of [
      "AgentTeam",
      "AgentTeamTemplate",
      "AgentTeamRun",
      "AgentTeamSchedule",
      "AgentTeamTrigger",
    ]) {
      expect(issue?.message).toContain(kind);
    }
  });
});

const message_ = (issues: { path: string; message: string }[], path: string) =>
  issues.find((i) => i.path === path)?.message;

/** kagents' output-routing sample shape: researcher → writer, cowork. */
function routingTeam() {
  const team = baseTeam();
  team.apiVersion = "kagents.dev/v1alpha1";
  delete team.spec.repository;
  team.spec.workspace = { output: { mountPath: "/workspace/output" } };
  team.spec.teammates = [
    {
      name: "researcher",
      prompt: "Research.",
      outputs: [{ path: "/workspace/output/findings.md", description: "Findings." }],
    },
    {
      name: "writer",
      prompt: "Write.",
      inputs: [{ from: "researcher", artifact: "findings.md", mountPath: "/workspace/stage/research" }],
      outputs: [{ path: "/workspace/output/summary.md" }],
    },
  ];
  return team;
}

describe("teammates' outputs and inputs (kagents v0.8 artifact routing)", () => {
  it("are kept as written, and each input's producer becomes a dependency", () => {
    const result = validateResource(routingTeam());
    expect(result.issues).toEqual([]);
    const team = result.resource as AgentTeam;
    expect(team.spec.teammates[1]?.inputs).toEqual([
      { from: "researcher", artifact: "findings.md", mountPath: "/workspace/stage/research" },
    ]);
    expect(team.spec.teammates[0]?.outputs).toEqual([
      { path: "/workspace/output/findings.md", description: "Findings." },
    ]);
    expect(effectiveDependsOn(team.spec, team.spec.teammates[1]!)).toEqual(["researcher"]);
    expect(effectiveDependsOn(team.spec, team.spec.teammates[0]!)).toEqual([]);
  });

  it("a producer's artifact adds to pipeline ordering (kagents: inputs[].from contributes regardless)", () => {
    const team = routingTeam();
    team.spec.teammates.push({ name: "editor", prompt: "Edit." });
    team.spec.pipeline = {
      stages: [
        { name: "one", teammates: ["researcher"] },
        { name: "two", teammates: ["editor"], dependsOn: ["one"] },
      ],
    };
    team.spec.teammates[1].inputs.push({
      from: "editor",
      artifact: "x.md",
      mountPath: "/workspace/stage/editor",
    });
    team.spec.teammates[2].outputs = [{ path: "output/x.md" }];
    const result = validateResource(team);
    expect(result.issues).toEqual([]);
    const spec = (result.resource as AgentTeam).spec;
    expect(effectiveDependsOn(spec, spec.teammates[1]!).sort()).toEqual(["editor", "researcher"]);
  });

  it("reports every problem with its field path", () => {
    const team = routingTeam();
    team.spec.teammates.push({
      name: "bad",
      prompt: "Bad.",
      outputs: [
        { path: "/etc/passwd" },
        { path: "/workspace/a/x.md" },
        { path: "/workspace/b/x.md" },
        { path: "/workspace/../x" },
      ],
      inputs: [
        { from: "bad", artifact: "x.md", mountPath: "/workspace/in" },
        { from: "lead", artifact: "x.md", mountPath: "/workspace/in" },
        { from: "nobody", artifact: "x.md", mountPath: "/workspace/in" },
        { from: "researcher", artifact: "missing.md", mountPath: "/workspace/in" },
        { from: "researcher", artifact: "findings.md", mountPath: "/workspace/../../etc" },
        { from: "researcher", artifact: "findings.md", mountPath: "/workspace" },
        { from: "researcher", artifact: "findings.md", mountPath: "/workspace/output" },
        { from: "researcher", artifact: "a/b.md", mountPath: "/workspace/in" },
        { from: "writer", artifact: "findings.md", mountPath: "/workspace/stage/research" },
      ],
    });
    team.spec.teammates[1].outputs.push({ path: "/workspace/output/extra/findings.md" });
    const issues = issuesOf(team);
    expect(issues.map((i) => i.path)).toEqual([
      "spec.teammates[2].outputs[0].path",
      "spec.teammates[2].outputs[3].path",
      "spec.teammates[2].inputs[4].mountPath",
      "spec.teammates[2].inputs[5].mountPath",
      "spec.teammates[2].inputs[7].artifact",
      "spec.teammates[2].outputs[2].path",
      "spec.teammates[2].inputs[0].from",
      "spec.teammates[2].inputs[1].from",
      "spec.teammates[2].inputs[2].from",
      "spec.teammates[2].inputs[3].artifact",
      "spec.teammates[2].inputs[6].mountPath",
      "spec.teammates[2].inputs[8].mountPath",
    ]);
    expect(message_(issues, "spec.teammates[2].inputs[7].artifact")).toMatch(
      /must be the basename of one of the producer's output paths/,
    );
    const message = (path: string) => message_(issues, path);
    expect(message("spec.teammates[2].outputs[0].path")).toBe(
      'The output path "/etc/passwd" must be a path under /workspace (e.g. /workspace/output/findings.md) or relative to it, without ".." segments.',
    );
    expect(message("spec.teammates[2].outputs[2].path")).toBe(
      'outputs[1] already declares an artifact named "x.md"; inputs name artifacts by basename, so each output of a teammate needs its own.',
    );
    expect(message("spec.teammates[2].inputs[0].from")).toBe("A teammate cannot consume its own artifact.");
    expect(message("spec.teammates[2].inputs[2].from")).toMatch(/^"nobody" names no teammate of this team/);
    expect(message("spec.teammates[2].inputs[3].artifact")).toBe(
      '"researcher" declares no output named "missing.md" (its artifacts: findings.md); an artifact is the basename of an output path.',
    );
    expect(message("spec.teammates[2].inputs[6].mountPath")).toMatch(
      /is \(or holds\) the workspace's output directory/,
    );
    expect(message("spec.teammates[2].inputs[8].mountPath")).toBe(
      'spec.teammates[1].inputs[0] already stages researcher\'s "findings.md" at /workspace/stage/research/findings.md; the workspace is shared, so give this input another mountPath.',
    );
  });

  it("a cycle through inputs (with dependsOn) is reported, naming it", () => {
    const team = routingTeam();
    team.spec.teammates[0].dependsOn = ["writer"];
    const issues = issuesOf(team);
    expect(issues).toEqual([
      err(
        "spec.teammates[0].inputs",
        'Dependency cycle through artifact inputs (each input\'s "from" is a dependency): researcher → writer → researcher; none of these teammates could ever start.',
      ),
    ]);
  });

  it("a coding team may stage at /workspace/output (it has no output directory), in the consumer's checkout", () => {
    const team = routingTeam();
    delete team.spec.workspace;
    team.spec.repository = { url: "https://github.com/acme/app.git" };
    team.spec.teammates[1].inputs[0].mountPath = "/workspace/output";
    expect(issuesOf(team)).toEqual([]);
  });
});
