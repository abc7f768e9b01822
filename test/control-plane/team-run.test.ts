/**
 * The team-run state machine as CDK synthesises it, executed by aws-local-stepfunctions with
 * every Task state bound to the real domain code on DynamoDB Local (local mode's bindings), the
 * runner replaced by a scripted launcher. Each scenario drives a team through the real API
 * handler and checks what users see in `GET team`: phases, reasons, events.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPROVE_ACTION_ID, DENY_ACTION_ID } from "../../core/control/slack-interaction.ts";
import { ALL_STATE_NAMES, type StateName } from "../../state-machines/contract.ts";
import { stateNamesOf } from "../../state-machines/synth.ts";
import { blockActionsBody } from "../lambdas/support.ts";
import {
  type ControlPlane,
  SLACK_APPROVER,
  startControlPlane,
  type TeamViewJson,
  teamReader,
} from "./control-plane.ts";
import type { TeamScript } from "./scripted-launcher.ts";

const NS = "control-plane";
let plane: ControlPlane;

beforeAll(async () => {
  plane = await startControlPlane();
}, 120_000);

afterAll(async () => {
  if (!plane) return;
  const missed = ALL_STATE_NAMES.filter((s) => !plane.visited.has(s));
  console.log(
    `state coverage ${ALL_STATE_NAMES.length - missed.length}/${ALL_STATE_NAMES.length}` +
      (missed.length ? ` (not visited: ${missed.join(", ")})` : ""),
  );
  await plane.close();
});

interface TeammateInput {
  name: string;
  dependsOn?: string[];
}

function manifest(
  name: string,
  teammates: TeammateInput[],
  lifecycle: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, namespace: NS },
    spec: {
      repository: { url: "https://github.com/acme/backend.git", branch: "main" },
      lead: { prompt: "Coordinate the work and summarise it." },
      teammates: teammates.map((t) => ({
        name: t.name,
        prompt: `Do the ${t.name} part.`,
        ...(t.dependsOn ? { dependsOn: t.dependsOn } : {}),
      })),
      lifecycle: { timeout: "10m", maxRestarts: 0, ...lifecycle },
      ...spec,
    },
  };
}

/** Registers the team's launch script, creates it through the API, and returns its run id. */
async function createTeam(body: Record<string, unknown>, script: TeamScript): Promise<string> {
  const name = (body.metadata as { name: string }).name;
  plane.launcher.script(name, script);
  const res = await plane.api("POST", `/api/namespaces/${NS}/teams`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.runId as string;
}

/** `GET team` as JSON (nulls where the view has them). */
type Team = TeamViewJson;
type AgentView = Team["lead"];

const { getTeam, until } = teamReader(() => plane, NS);

function agentOf(team: Team, name: string): AgentView {
  const agent = [team.lead, ...team.teammates].find((a) => a.name === name);
  if (!agent) throw new Error(`team ${team.name} has no agent ${name}`);
  return agent;
}
const reasons = (team: Team) => team.events.map((e) => e.reason);
/** The gated agent waits and approvers were asked (the event follows the phase write). */
const awaitingApproval = (team: Team) =>
  agentOf(team, "backend-api").phase === "PendingApproval" && reasons(team).includes("ApprovalRequested");

/** Waits for something the system does asynchronously (a notification sent after a write). */
async function eventually<T>(read: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
function eventOf(team: Team, reason: string) {
  const found = team.events.find((e) => e.reason === reason);
  if (!found) throw new Error(`no ${reason} event in ${reasons(team).join(", ")}`);
  return found;
}
const count = (list: string[], item: string) => list.filter((x) => x === item).length;
const gateReleases = (runId: string, gate: string) =>
  plane.releases.filter((r) => r.token.startsWith(`local:${runId}:gate-${gate}:`));

describe("dependencies", () => {
  it("starts test-coverage only after backend-api succeeded, then delivers and completes", async () => {
    const runId = await createTeam(
      manifest("deps-ok", [{ name: "backend-api" }, { name: "test-coverage", dependsOn: ["backend-api"] }]),
      {
        "backend-api": { delayMs: 300 },
        finalize: { result: { action: "push-branch", branch: "squadron/deps-ok", pushed: true } },
      },
    );
    const report = await plane.ended(runId);
    expect(report.status).toBe("SUCCEEDED");

    const log = plane.launcher.log.filter((l) => l.includes("backend-api") || l.includes("test-coverage"));
    expect(log.indexOf("start test-coverage#0")).toBeGreaterThan(log.indexOf("exit backend-api#0 0"));
    expect(plane.launcher.of(runId).map((l) => l.mode)).toEqual([
      "init",
      "agent",
      "agent",
      "agent",
      "finalize",
    ]);
    // The dependant entered its token wait (backend-api was still running: it takes 300 ms).
    expect(report.visited).toContain("WaitForDependencies");

    const team = await getTeam("deps-ok");
    expect(team.phase).toBe("Completed");
    expect(team.reason).toBe("Completed");
    expect(team.ready).toBe("3/3");
    for (const name of ["lead", "backend-api", "test-coverage"])
      expect(agentOf(team, name).phase).toBe("Succeeded");
    const events = reasons(team);
    expect(events).toEqual(
      expect.arrayContaining(["Created", "Initializing", "DependenciesMet", "Delivered", "Completed"]),
    );
    expect(eventOf(team, "DependenciesMet").message).toContain("test-coverage");
    expect(eventOf(team, "Delivered").message).toContain("branch squadron/deps-ok (pushed)");
    // Released once, by backend-api's recorded result.
    const released = plane.releases.filter((r) => r.token.startsWith(`local:${runId}:deps-test-coverage:`));
    expect(released).toEqual([expect.objectContaining({ outcome: "success" })]);
    expect(plane.workspacesDeleted).toContain(`fsap-${runId}`);
    expect(plane.manifests.some((m) => m.runId === runId)).toBe(true);
  });

  it("fails the dependants of a failed dependency with DependencyFailed, without launching them", async () => {
    const runId = await createTeam(
      manifest("deps-fail", [{ name: "backend-api" }, { name: "test-coverage", dependsOn: ["backend-api"] }]),
      { "backend-api": { delayMs: 200, exitCode: 3 } },
    );
    const report = await plane.ended(runId);
    expect(plane.launcher.started(runId)).not.toContain("test-coverage#0");
    expect(report.visited).toContain("TeammateFailed");

    const team = await getTeam("deps-fail");
    const backend = agentOf(team, "backend-api");
    expect(backend.phase).toBe("Failed");
    expect(backend.reason).toBe("AgentFailed");
    expect(backend.message).toContain("exited with code 3");
    const tests = agentOf(team, "test-coverage");
    expect(tests.phase).toBe("Failed");
    expect(tests.reason).toBe("DependencyFailed");
    expect(tests.message).toMatch(/Dependency backend-api failed: .*exited with code 3/);
    const warning = eventOf(team, "DependencyFailed");
    expect(warning.type).toBe("Warning");
    expect(warning.message).toContain("test-coverage will not run");
    // The lead carried on: teammate failures do not fail the team.
    expect(agentOf(team, "lead").phase).toBe("Succeeded");
    expect(team.phase).toBe("Completed");
  });
});

describe("approval gates", () => {
  const gated = (name: string, gate: Record<string, unknown> = {}) =>
    manifest(name, [{ name: "backend-api" }], {
      approvalGates: [{ event: "spawn-backend-api", channel: "api", ...gate }],
    });

  it("waits in PendingApproval until approved through the API; a second approval changes nothing", async () => {
    const runId = await createTeam(gated("gate-api"), {});
    let team = await until("gate-api", awaitingApproval);
    expect(agentOf(team, "backend-api").pendingApproval).toBe("spawn-backend-api");
    expect(team.gates["spawn-backend-api"]?.state).toBe("Pending");
    expect(reasons(team)).toContain("ApprovalRequested");
    // The lead runs meanwhile; the gated agent does not.
    await plane.launcher.waitFor((l) => l.runId === runId && l.name === "lead");
    expect(plane.launcher.started(runId)).not.toContain("backend-api#0");
    expect(JSON.stringify(team)).not.toContain(`local:${runId}`); // tokens never reach users

    const approve = `/api/namespaces/${NS}/teams/gate-api/gates/spawn-backend-api/approve`;
    const first = await plane.api("POST", approve);
    expect(first).toMatchObject({ status: 200, body: { state: "Approved", decidedBy: "admin" } });
    const second = await plane.api("POST", approve);
    expect(second.status).toBe(409);
    expect(second.body.error).toContain("already approved");

    await plane.ended(runId);
    expect(plane.launcher.started(runId)).toContain("backend-api#0");
    expect(gateReleases(runId, "spawn-backend-api")).toEqual([
      expect.objectContaining({ outcome: "success" }),
    ]);
    team = await getTeam("gate-api");
    expect(team.phase).toBe("Completed");
    expect(team.gates["spawn-backend-api"]).toMatchObject({ state: "Approved", decidedBy: "admin" });
    expect(count(reasons(team), "ApprovalGranted")).toBe(1);
  });

  it("resumes on a signed Slack click from an approver; retries, other users and forged requests do nothing", async () => {
    const runId = await createTeam(
      gated("gate-slack", { channel: "slack", slackChannel: "C0APPROVALS", approvers: [SLACK_APPROVER] }),
      {},
    );
    await until("gate-slack", awaitingApproval);
    const slackPosts = () =>
      plane.slackCalls.filter(
        (c) => c.method === "chat.postMessage" && String(c.payload.text).includes("gate-slack"),
      );
    await eventually(() => (slackPosts().length > 0 ? true : undefined), "the Slack approval message");
    const posted = slackPosts();
    expect(posted).toHaveLength(1);
    expect(posted[0]?.payload.channel).toBe("C0APPROVALS");
    expect(JSON.stringify(posted[0])).not.toContain(`local:${runId}`);
    const blocks = posted[0]?.payload.blocks as Array<{
      elements?: Array<{ action_id: string; value: string }>;
    }>;
    const approveButton = blocks
      .flatMap((b) => b.elements ?? [])
      .find((b) => b.action_id === APPROVE_ACTION_ID) as { value: string };

    // A forged request (wrong secret) and a user not on the gate's list change nothing.
    const forged = await plane.slack(
      blockActionsBody(APPROVE_ACTION_ID, approveButton.value, SLACK_APPROVER),
      {
        secret: "not-the-signing-secret",
      },
    );
    expect(forged.statusCode).toBe(401);
    const stranger = await plane.slack(
      blockActionsBody(APPROVE_ACTION_ID, approveButton.value, "U0STRANGER"),
    );
    expect(JSON.parse(stranger.body).text).toContain("not allowed");
    expect((await getTeam("gate-slack")).gates["spawn-backend-api"]?.state).toBe("Pending");

    const click = blockActionsBody(APPROVE_ACTION_ID, approveButton.value, SLACK_APPROVER);
    const approved = await plane.slack(click);
    expect(approved.statusCode).toBe(200);
    expect(JSON.parse(approved.body).text).toBe("spawn-backend-api approved.");
    // Slack's retry of the same click, and a late Deny, find the gate decided.
    const retry = await plane.slack(click);
    expect(JSON.parse(retry.body).text).toContain("already approved");
    const late = await plane.slack(blockActionsBody(DENY_ACTION_ID, approveButton.value, SLACK_APPROVER));
    expect(JSON.parse(late.body).text).toContain("already approved");

    await plane.ended(runId);
    expect(gateReleases(runId, "spawn-backend-api")).toHaveLength(1);
    expect(plane.launcher.started(runId)).toContain("backend-api#0");
    const updates = plane.slackCalls.filter(
      (c) => c.method === "chat.update" && String(c.payload.text).includes("gate-slack"),
    );
    expect(updates).toHaveLength(1);
    expect(String(updates[0]?.payload.text)).toMatch(/^Approved by U0APPROVER \(alice\)/);
    const team = await getTeam("gate-slack");
    expect(team.phase).toBe("Completed");
    expect(team.gates["spawn-backend-api"]?.decidedBy).toBe(`${SLACK_APPROVER} (alice)`);
  });

  it("fails the agent with Denied when the gate is denied, and never launches it", async () => {
    const runId = await createTeam(gated("gate-deny"), {});
    await until("gate-deny", awaitingApproval);
    const deny = await plane.api(
      "POST",
      `/api/namespaces/${NS}/teams/gate-deny/gates/spawn-backend-api/deny`,
    );
    expect(deny).toMatchObject({ status: 200, body: { state: "Denied" } });
    const again = await plane.api(
      "POST",
      `/api/namespaces/${NS}/teams/gate-deny/gates/spawn-backend-api/approve`,
    );
    expect(again.status).toBe(409);

    await plane.ended(runId);
    expect(plane.launcher.started(runId)).not.toContain("backend-api#0");
    expect(gateReleases(runId, "spawn-backend-api")).toEqual([
      expect.objectContaining({ outcome: "failure", error: "Denied" }),
    ]);
    const team = await getTeam("gate-deny");
    const agent = agentOf(team, "backend-api");
    expect(agent.phase).toBe("Failed");
    expect(agent.reason).toBe("ApprovalDenied");
    expect(agent.message).toBe("Denied: Gate spawn-backend-api denied by admin");
    expect(agent.restarts).toBe(0);
    expect(reasons(team)).toContain("ApprovalDenied");
  });
});

describe("budget, timeout and cancellation stop the execution", () => {
  it("warns once at 80% and stops the run with BudgetExceeded when usage crosses the limit", async () => {
    const body = manifest(
      "budget",
      [{ name: "backend-api" }],
      { budgetLimit: "1.00" },
      { observability: { webhook: { url: plane.webhookUrl } } },
    );
    const runId = await createTeam(body, {
      lead: { block: true },
      // 50% (nothing), 85% (warning), 90% (no second warning), 110% (stop).
      "backend-api": { delayMs: 150, usageUsd: [0.5, 0.35, 0.05, 0.2], block: true },
    });
    const report = await plane.ended(runId);
    expect(report.status).toBe("FAILED");
    expect(plane.budgetChecks.filter((c) => c.runId === runId).map((c) => c.action)).toEqual([
      "none",
      "warned",
      "none",
      "stopped",
    ]);
    const stopped = plane.launcher.of(runId).filter((l) => l.mode === "agent");
    expect(stopped.map((l) => l.stoppedBy)).toEqual(["SIGTERM", "SIGTERM"]);

    const team = await getTeam("budget");
    expect(team.phase).toBe("BudgetExceeded");
    expect(team.reason).toBe("BudgetExceeded");
    expect(team.message).toBe("Measured cost $1.10 reached the budget of $1.00.");
    expect(team.cost).toEqual({ usd: expect.closeTo(1.1, 6), budgetUsd: 1, simulated: false });
    expect(team.budgetWarned).toBe(true);
    expect(agentOf(team, "backend-api").costUsd).toBeCloseTo(1.1, 6);
    const events = reasons(team);
    expect(count(events, "BudgetWarning")).toBe(1);
    expect(eventOf(team, "BudgetWarning").message).toContain("85% of the budget");
    expect(count(events, "BudgetExceeded")).toBe(1);
    expect(agentOf(team, "lead").phase).toBe("Stopped");

    // The webhook heard the warning once, then the end of the run.
    expect(plane.webhooks.filter((w) => w.team === "budget").map((w) => w.event)).toEqual([
      "budget-warning",
      "failed",
    ]);
    // Usage reported after the stop (a runner's last report) does not act again.
    expect(await plane.reportUsage(runId, "backend-api", 0.1)).toBe("none");
  });

  it("times out at the run's deadline: TimedOut, agent processes stopped", async () => {
    const runId = await createTeam(manifest("timeout", [{ name: "backend-api" }], { timeout: "2s" }), {
      lead: { block: true },
      "backend-api": { block: true },
    });
    const started = Date.now();
    await plane.ended(runId);
    expect(Date.now() - started).toBeLessThan(8_000);
    // Either the deadline timer or the Tasks' own timeout (the time left, as in AWS) ends it first.
    const launches = plane.launcher.of(runId);
    expect(launches.filter((l) => l.mode === "agent").map((l) => l.stoppedBy)).toEqual([
      "SIGTERM",
      "SIGTERM",
    ]);
    expect(launches.every((l) => l.exit !== undefined)).toBe(true);
    expect(launches.map((l) => l.mode)).not.toContain("finalize");

    const team = await getTeam("timeout");
    expect(team.phase).toBe("TimedOut");
    expect(team.reason).toBe("TimedOut");
    expect(team.message).toBe("The run reached its timeout of 2s.");
    expect(reasons(team)).toContain("TimedOut");
    expect(plane.workspacesDeleted).toContain(`fsap-${runId}`);
  });

  it("cancels through DELETE: Cancelled, processes stopped, deleting again does no harm", async () => {
    const runId = await createTeam(manifest("cancel", [{ name: "backend-api" }]), {
      lead: { block: true },
      "backend-api": { block: true },
    });
    await plane.launcher.waitFor((l) => l.runId === runId && l.name === "backend-api");
    await plane.launcher.waitFor((l) => l.runId === runId && l.name === "lead");
    const del = await plane.api("DELETE", `/api/namespaces/${NS}/teams/cancel`);
    expect(del.status).toBe(202);
    expect(del.body.phase).toBe("Cancelled");
    const report = await plane.ended(runId);
    expect(report.status).toBe("FAILED");
    expect(
      plane.launcher
        .of(runId)
        .filter((l) => l.mode === "agent")
        .map((l) => l.stoppedBy),
    ).toEqual(["SIGTERM", "SIGTERM"]);
    const team = await getTeam("cancel");
    expect(team.phase).toBe("Cancelled");
    expect(team.message).toBe("Cancelled by admin.");
    expect(count(reasons(team), "Cancelled")).toBe(1);
    for (const name of ["lead", "backend-api"]) expect(agentOf(team, name).phase).toBe("Stopped");
    expect(plane.workspacesDeleted).toContain(`fsap-${runId}`);

    // Deleting the ended team removes it, as Kubernetes does: the name is free, the run is kept
    // by its id, and it was cancelled once only.
    const again = await plane.api("DELETE", `/api/namespaces/${NS}/teams/cancel`);
    expect(again.status).toBe(200);
    expect((await plane.api("GET", `/api/namespaces/${NS}/teams/cancel`)).status).toBe(404);
    const kept = await plane.api("GET", `/api/namespaces/${NS}/runs/${runId}`);
    expect(kept.status).toBe(200);
    expect(kept.body.phase).toBe("Cancelled");
  });
});

describe("restarts", () => {
  it("restarts a crashing teammate up to maxRestarts: one recovers, one is failed", async () => {
    const runId = await createTeam(
      manifest("restarts", [{ name: "flaky" }, { name: "broken" }], { maxRestarts: 2 }),
      {
        flaky: [{ exitCode: 137 }, { exitCode: 1 }, {}],
        broken: { exitCode: 1 },
      },
    );
    const report = await plane.ended(runId);
    expect(report.status).toBe("SUCCEEDED");
    const started = plane.launcher.started(runId);
    expect(started.filter((s) => s.startsWith("flaky#"))).toEqual(["flaky#0", "flaky#1", "flaky#2"]);
    expect(started.filter((s) => s.startsWith("broken#"))).toEqual(["broken#0", "broken#1", "broken#2"]);
    expect(started.filter((s) => s.startsWith("lead#"))).toEqual(["lead#0"]);

    const team = await getTeam("restarts");
    expect(agentOf(team, "flaky")).toMatchObject({ phase: "Succeeded", restarts: 2 });
    expect(agentOf(team, "broken")).toMatchObject({ phase: "Failed", restarts: 2, reason: "AgentFailed" });
    expect(agentOf(team, "broken").message).toContain("exited with code 1");
    expect(count(reasons(team), "AgentRestarting")).toBe(4);
    expect(team.phase).toBe("Completed");
  });

  it("never restarts the lead: its failure fails the team with LeadFailed", async () => {
    const runId = await createTeam(manifest("lead-fails", [{ name: "backend-api" }], { maxRestarts: 3 }), {
      lead: { delayMs: 200, exitCode: 2 },
    });
    const report = await plane.ended(runId);
    expect(report.status).toBe("FAILED");
    expect(report.error?.Error).toBe("LeadFailed");
    expect(report.visited).toContain("LeadFailed");
    expect(report.visited.at(-1)).toBe("TeamRunFailed");
    expect(plane.launcher.started(runId).filter((s) => s.startsWith("lead#"))).toEqual(["lead#0"]);
    expect(plane.launcher.of(runId).map((l) => l.mode)).not.toContain("finalize");

    const team = await getTeam("lead-fails");
    expect(team.phase).toBe("Failed");
    expect(team.reason).toBe("LeadFailed");
    expect(team.message).toContain("exited with code 2");
    expect(agentOf(team, "lead")).toMatchObject({ phase: "Failed", restarts: 0 });
    expect(reasons(team)).toEqual(expect.arrayContaining(["AgentFailed", "Failed"]));
  });
});

describe("cowork outputs", () => {
  it("delivers what the agents wrote to the run's own prefix after Finalize, and says where", async () => {
    const body = manifest(
      "report",
      [{ name: "writer" }],
      {},
      {
        repository: undefined,
        workspace: {
          inputs: [{ mountPath: "/workspace/brief", files: { "brief.md": "# Brief\n" } }],
          output: { mountPath: "/workspace/report" },
        },
      },
    );
    const runId = await createTeam(body, {
      writer: {
        files: { "workspace/report/summary.md": "# Summary\n", "workspace/report/data/t.csv": "a\n" },
      },
      lead: { files: { "workspace/notes.md": "not an output\n" } },
    });
    const report = await plane.ended(runId);
    expect(report.status).toBe("SUCCEEDED");
    const team = await getTeam("report");
    expect(team.phase).toBe("Completed");
    const delivered = join(plane.paths.objects, "runs", NS, "report", runId, "output");
    expect(readFileSync(join(delivered, "summary.md"), "utf8")).toBe("# Summary\n");
    expect(readFileSync(join(delivered, "data/t.csv"), "utf8")).toBe("a\n");
    expect(existsSync(join(delivered, "notes.md"))).toBe(false);
    expect(eventOf(team, "OutputsDelivered").message).toBe(`Delivered 2 output files to ${delivered}.`);
    // Delivered before the run completed: Cleanup comes after DeliverOutputs.
    expect(reasons(team).indexOf("OutputsDelivered")).toBeLessThan(reasons(team).indexOf("Completed"));
  });
});

describe("state coverage", () => {
  it("visits every state of the definition across the scenarios", () => {
    const states = stateNamesOf(plane.definition);
    expect([...states].sort()).toEqual([...ALL_STATE_NAMES].sort());
    const missed = states.filter((s) => !plane.visited.has(s as StateName));
    expect(missed).toEqual([]);
    expect(plane.errors).toEqual([]);
  });
});
