/**
 * kagents v0.8 pipelines on the control plane (the synthesised state machine, real domain code on
 * DynamoDB Local, scripted runners): a four-stage pipeline — one teammate, a parallel fan-out, a
 * merge, and an approval-gated last stage with two teammates — starts its agents in stage order,
 * holds the gated stage until `stage-<name>` is approved (through the API `squadron approve`
 * calls, or by applying the manifest again with kagents' approval annotation), and never starts
 * it when the gate is denied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlane, startControlPlane, type TeamViewJson, teamReader } from "./control-plane.ts";
import type { TeamScript } from "./scripted-launcher.ts";

const NS = "pipelines";
let plane: ControlPlane;

beforeAll(async () => {
  plane = await startControlPlane();
}, 120_000);

afterAll(async () => {
  await plane?.close();
});

type Team = TeamViewJson;

function manifest(name: string, annotations: Record<string, string> = {}) {
  return {
    apiVersion: "kagents.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, namespace: NS, annotations },
    spec: {
      workspace: { output: { mountPath: "/workspace/output" } },
      lead: { prompt: "Coordinate the stages." },
      teammates: ["plan", "api", "web", "qa", "mail", "post"].map((t) => ({
        name: t,
        prompt: `Do the ${t} part.`,
      })),
      pipeline: {
        stages: [
          { name: "design", teammates: ["plan"] },
          { name: "build", teammates: ["api", "web"], dependsOn: ["design"], fan: "parallel" },
          { name: "verify", teammates: ["qa"], dependsOn: ["build"], fan: "merge" },
          { name: "outreach", teammates: ["mail", "post"], dependsOn: ["verify"], approvalRequired: true },
        ],
      },
      lifecycle: { timeout: "10m", maxRestarts: 0 },
    },
  };
}

/** Each agent takes a little time, so a wrongly released stage would overlap its upstream. */
const SCRIPT: TeamScript = {
  plan: { delayMs: 120 },
  api: { delayMs: 150 },
  web: { delayMs: 60 },
  qa: { delayMs: 100 },
  mail: { delayMs: 30 },
  post: { delayMs: 30 },
  finalize: { result: { action: "notify" } },
};

async function create(name: string, annotations: Record<string, string> = {}) {
  plane.launcher.script(name, SCRIPT);
  const res = await plane.api("POST", `/api/namespaces/${NS}/teams`, { body: manifest(name, annotations) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Team & { approved?: string[] };
}

const { getTeam, until } = teamReader(() => plane, NS);

const stage = (team: Team, name: string) => team.pipeline?.stages.find((s) => s.name === name);
const agent = (team: Team, name: string) => team.teammates.find((a) => a.name === name);
/** Upstream is done and the whole gated stage is shown waiting for stage-outreach. */
const waitingForOutreach = (team: Team) =>
  stage(team, "outreach")?.phase === "PendingApproval" &&
  agent(team, "mail")?.pendingApproval === "stage-outreach" &&
  agent(team, "post")?.pendingApproval === "stage-outreach" &&
  team.events.some((e) => e.reason === "ApprovalRequested");

/** The position of a launcher log entry (`start plan#0`, `exit plan#0 0`); every team's names are the same, so only one run at a time is checked. */
function at(entry: string): number {
  const index = plane.launcher.log.lastIndexOf(entry);
  expect(index, `${entry} in ${plane.launcher.log.join(", ")}`).toBeGreaterThanOrEqual(0);
  return index;
}

function expectStageOrder(runId: string) {
  const started = plane.launcher.started(runId);
  expect(started).toEqual(expect.arrayContaining(["plan#0", "api#0", "web#0", "qa#0", "mail#0", "post#0"]));
  const exit = (n: string) => at(`exit ${n}#0 0`);
  const start = (n: string) => at(`start ${n}#0`);
  for (const n of ["api", "web"]) expect(start(n)).toBeGreaterThan(exit("plan"));
  for (const n of ["api", "web"]) expect(start("qa")).toBeGreaterThan(exit(n));
  for (const n of ["mail", "post"]) {
    expect(start(n)).toBeGreaterThan(exit("qa"));
    // Transitive: the gated stage also follows the stages before verify.
    expect(start(n)).toBeGreaterThan(exit("api"));
  }
}

describe("a four-stage pipeline with an approval-gated last stage", () => {
  it("starts agents in stage order and holds the gated stage until squadron approve", async () => {
    const created = await create("pipe-approve");
    const runId = created.runId;
    expect(created.apiVersion).toBe("kagents.dev/v1alpha1");
    expect(created.gates["stage-outreach"]).toMatchObject({ state: "Pending" });

    let team = await until("pipe-approve", waitingForOutreach);
    // Upstream stages are done; nothing of the gated stage started.
    expect(team.pipeline?.currentStage).toBe("outreach");
    expect(team.pipeline?.stages.map((s) => [s.name, s.phase, s.ready])).toEqual([
      ["design", "Succeeded", "1/1"],
      ["build", "Succeeded", "2/2"],
      ["verify", "Succeeded", "1/1"],
      ["outreach", "PendingApproval", "0/2"],
    ]);
    // (startedAt comes from the runner's Running report, which the scripted launcher does not make.)
    expect(stage(team, "build")?.completedAt).not.toBeNull();
    expect(plane.launcher.started(runId)).not.toContain("mail#0");
    expect(plane.launcher.started(runId)).not.toContain("post#0");
    // Approvers are asked once for the stage, not once per teammate.
    expect(team.events.filter((e) => e.reason === "ApprovalRequested")).toHaveLength(1);
    expect(agent(team, "qa")?.dependsOn.sort()).toEqual(["api", "plan", "web"]);

    const approve = await plane.api(
      "POST",
      `/api/namespaces/${NS}/teams/pipe-approve/gates/stage-outreach/approve`,
    );
    expect(approve).toMatchObject({ status: 200, body: { state: "Approved", decidedBy: "admin" } });

    const report = await plane.ended(runId);
    expect(report.status).toBe("SUCCEEDED");
    expectStageOrder(runId);
    team = await getTeam("pipe-approve");
    expect(team.phase).toBe("Completed");
    expect(team.pipeline?.currentStage).toBeNull();
    expect(team.pipeline?.stages.every((s) => s.phase === "Succeeded")).toBe(true);
    expect(stage(team, "outreach")).toMatchObject({
      gate: "stage-outreach",
      gateState: "Approved",
      ready: "2/2",
    });
    expect(team.events.filter((e) => e.reason === "ApprovalGranted")).toHaveLength(1);
  });

  it("never starts the gated stage when its gate is denied", async () => {
    const { runId } = await create("pipe-deny");
    await until("pipe-deny", waitingForOutreach);
    const deny = await plane.api("POST", `/api/namespaces/${NS}/teams/pipe-deny/gates/stage-outreach/deny`);
    expect(deny).toMatchObject({ status: 200, body: { state: "Denied" } });
    await plane.ended(runId);
    expect(plane.launcher.started(runId)).not.toContain("mail#0");
    expect(plane.launcher.started(runId)).not.toContain("post#0");
    const team = await getTeam("pipe-deny");
    for (const name of ["mail", "post"]) {
      expect(agent(team, name)).toMatchObject({ phase: "Failed", reason: "ApprovalDenied" });
      expect(agent(team, name)?.message).toContain("Gate stage-outreach denied by admin");
    }
    expect(stage(team, "outreach")?.phase).toBe("Failed");
    expect(stage(team, "verify")?.phase).toBe("Succeeded");
  });

  it("is approved by applying the manifest again with approved.kagents.dev/stage-outreach, exactly once", async () => {
    const { runId } = await create("pipe-annotate");
    await until("pipe-annotate", waitingForOutreach);
    expect(plane.launcher.started(runId)).not.toContain("mail#0");

    // A changed spec is not an approval: still a conflict, nothing decided.
    const changed = manifest("pipe-annotate", { "approved.kagents.dev/stage-outreach": "true" });
    changed.spec.lifecycle.timeout = "20m";
    const conflict = await plane.api("POST", `/api/namespaces/${NS}/teams`, { body: changed });
    expect(conflict.status).toBe(409);
    expect((await getTeam("pipe-annotate")).gates["stage-outreach"]?.state).toBe("Pending");

    const annotated = manifest("pipe-annotate", { "approved.kagents.dev/stage-outreach": "true" });
    const applied = await plane.api("POST", `/api/namespaces/${NS}/teams`, { body: annotated });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    expect(applied.body.approved).toEqual(["stage-outreach"]);
    expect(applied.body.gates["stage-outreach"]).toMatchObject({
      state: "Approved",
      decidedBy: "admin (annotation approved.kagents.dev/stage-outreach)",
    });
    // Applying it again changes nothing.
    const again = await plane.api("POST", `/api/namespaces/${NS}/teams`, { body: annotated });
    expect(again.status).toBe(200);
    expect(again.body.approved).toEqual([]);

    await plane.ended(runId);
    expectStageOrder(runId);
    const team = await getTeam("pipe-annotate");
    expect(team.phase).toBe("Completed");
    expect(team.events.filter((e) => e.reason === "ApprovalGranted")).toHaveLength(1);
  });

  it("an annotation with the older prefix on the first apply pre-approves the stage: it runs straight through", async () => {
    const created = await create("pipe-preapproved", {
      "approved.claude.amcheste.io/stage-outreach": "true",
    });
    expect(created.approved).toEqual(["stage-outreach"]);
    await plane.ended(created.runId);
    expectStageOrder(created.runId);
    const team = await getTeam("pipe-preapproved");
    expect(team.phase).toBe("Completed");
    expect(team.gates["stage-outreach"]?.decidedBy).toBe(
      "admin (annotation approved.claude.amcheste.io/stage-outreach)",
    );
  });

  it("an annotation naming no gate of the team is a 400 with its path", async () => {
    const res = await plane.api("POST", `/api/namespaces/${NS}/teams`, {
      body: manifest("pipe-typo", { "approved.kagents.dev/stage-outrech": "true" }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(
      'metadata.annotations[\\"approved.kagents.dev/stage-outrech\\"]',
    );
  });
});
