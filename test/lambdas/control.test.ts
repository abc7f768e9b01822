import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitApproval } from "../../core/control/approvals.ts";
import { recordAgentResult, waitForDependencies } from "../../core/control/dependencies.ts";
import { checkBudget, onDeadline, onExecutionStatus } from "../../core/control/guards.ts";
import { cleanupRun, prepareRun } from "../../core/control/lifecycle.ts";
import { handleSlackInteraction } from "../../core/control/slack-approvals.ts";
import { SlackClient } from "../../core/control/slack-client.ts";
import { APPROVE_ACTION_ID, DENY_ACTION_ID, encodeGateRef } from "../../core/control/slack-interaction.ts";
import { slackSignature } from "../../core/control/slack-signature.ts";
import { createTeamRun, deleteTeam } from "../../core/control/team-runs.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { RUN_SK, teamPk } from "../../core/store/items.ts";
import { call, event, type Harness, harness, newTable, teamYaml } from "./harness.ts";
import { blockActionsBody } from "./support.ts";

async function startRun(h: Harness, name: string, yaml = teamYaml(name)) {
  const record = await createTeamRun(h.deps, parseTeam(yaml));
  const prepared = await prepareRun(h.deps, {
    runId: record.runId,
    namespace: record.namespace,
    teamName: record.name,
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:squadron-team-run:${record.runId}`,
    startedAt: new Date().toISOString(),
  });
  return { record, prepared, ref: { namespace: record.namespace, name: record.name } };
}

const taskFailures = (h: Harness) => h.sfn.of("SendTaskFailure");
const taskSuccesses = (h: Harness) => h.sfn.of("SendTaskSuccess");

/** RecordAgentResult for one agent of the run, as the state machine invokes it after the agent's task. */
function recordResult(
  h: Harness,
  runId: string,
  agentName: string,
  state: Parameters<typeof recordAgentResult>[1]["state"],
  maxRestarts = 3,
) {
  return recordAgentResult(h.deps, {
    action: "record",
    runId,
    agentName,
    role: agentName === "lead" ? "lead" : "teammate",
    maxRestarts,
    state,
  });
}

/** WaitForDependencies of the sample team's test-coverage, which depends on backend-api. */
function testCoverageWaits(h: Harness, runId: string, taskToken: string) {
  return waitForDependencies(h.deps, {
    action: "wait",
    taskToken,
    runId,
    agentName: "test-coverage",
    dependsOn: ["backend-api"],
  });
}

/** What ECS reports for a runner container that exited with code 1. */
const EXITED_1 = { Error: "States.TaskFailed", Cause: "Essential container exited with code 1" };

describe("control plane against DynamoDB Local", () => {
  let h: Harness;
  let slackServer: Server;
  const slackCalls: Array<{ path: string; body: Record<string, unknown> }> = [];
  let hookServer: Server;
  const hookBodies: Array<Record<string, unknown>> = [];
  let hookUrl = "";

  beforeAll(async () => {
    slackServer = createServer(async (req, res) => {
      let body = "";
      for await (const c of req) body += c;
      const parsed = JSON.parse(body) as Record<string, unknown>;
      slackCalls.push({ path: req.url ?? "", body: parsed });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ok: true, channel: parsed.channel, ts: "1700000000.000100" }));
    });
    hookServer = createServer(async (req, res) => {
      let body = "";
      for await (const c of req) body += c;
      hookBodies.push(JSON.parse(body));
      res.statusCode = 200;
      res.end();
    });
    await new Promise<void>((r) => slackServer.listen(0, "127.0.0.1", () => r()));
    await new Promise<void>((r) => hookServer.listen(0, "127.0.0.1", () => r()));
    hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
    const slack = new SlackClient({
      token: async () => "xoxb-test",
      baseUrl: `http://127.0.0.1:${(slackServer.address() as AddressInfo).port}/api`,
    });
    h = harness(await newTable(), { notifier: { slack, defaultSlackChannel: "C-approvals" } });
  });
  afterAll(async () => {
    await new Promise<void>((r) => slackServer.close(() => r()));
    await new Promise<void>((r) => hookServer.close(() => r()));
  });

  it("prepare returns agents dependencies-first, arms the deadline, writes the run manifest, phase Initializing", async () => {
    const { record, prepared } = await startRun(h, "prep");
    expect(prepared.agents.map((a) => a.name).indexOf("backend-api")).toBeLessThan(
      prepared.agents.map((a) => a.name).indexOf("test-coverage"),
    );
    expect(prepared.agents.find((a) => a.name === "backend-api")).toMatchObject({
      approvalGate: "spawn-backend-api",
      waitForDependencies: false,
      maxRestarts: 3,
    });
    expect(prepared.agents.find((a) => a.name === "lead")?.maxRestarts).toBe(0);
    expect(prepared.run.timeoutSeconds).toBeGreaterThan(7000);
    expect(h.armed.has(record.runId)).toBe(true);
    expect(h.manifests.at(-1)?.runId).toBe(record.runId);
    expect((await h.deps.store.getRun(record)).status.phase).toBe("Initializing");
  });

  it("releases a dependant when its dependency succeeds (dependant registered first)", async () => {
    const { record, ref } = await startRun(h, "deps-a");
    await testCoverageWaits(h, record.runId, "tok-deps-a-test");
    expect(taskSuccesses(h).some((c) => c.taskToken === "tok-deps-a-test")).toBe(false);
    expect((await h.deps.store.getRun(ref)).status.agents["test-coverage"]?.phase).toBe(
      "WaitingForDependencies",
    );
    const result = await recordResult(h, record.runId, "backend-api", {
      attempt: 0,
      result: { taskArn: "arn:aws:ecs:us-east-1:123456789012:task/squadron/abc" },
    });
    expect(result).toEqual({ attempt: 0, outcome: "Succeeded", restart: false, reason: "" });
    expect(taskSuccesses(h).filter((c) => c.taskToken === "tok-deps-a-test")).toHaveLength(1);
  });

  it("releases at once when the dependency finished before the dependant registered (the race)", async () => {
    const { record } = await startRun(h, "deps-b");
    await recordResult(h, record.runId, "backend-api", { attempt: 0, result: { taskArn: "" } });
    await testCoverageWaits(h, record.runId, "tok-deps-b-test");
    expect(taskSuccesses(h).filter((c) => c.taskToken === "tok-deps-b-test")).toHaveLength(1);
  });

  it("releases exactly once when registration and recording run concurrently", async () => {
    for (let i = 0; i < 5; i++) {
      const { record } = await startRun(h, `deps-race-${i}`);
      const token = `tok-race-${i}`;
      await Promise.all([
        testCoverageWaits(h, record.runId, token),
        recordResult(h, record.runId, "backend-api", { attempt: 0, result: { taskArn: "" } }),
      ]);
      expect(taskSuccesses(h).filter((c) => c.taskToken === token)).toHaveLength(1);
    }
  });

  it("restarts a failed teammate up to maxRestarts, then fails its dependants with a clear reason", async () => {
    const { record, ref } = await startRun(h, "deps-fail");
    await testCoverageWaits(h, record.runId, "tok-fail");
    const crash = (attempt: number) =>
      recordResult(h, record.runId, "backend-api", { attempt, error: EXITED_1 }, 1);
    expect(await crash(0)).toMatchObject({ restart: true, attempt: 1, outcome: "Failed" });
    expect(taskFailures(h).some((c) => c.taskToken === "tok-fail")).toBe(false);
    expect((await h.deps.store.getRun(ref)).status.agents["backend-api"]).toMatchObject({
      phase: "Starting",
      restarts: 1,
    });
    expect(await crash(1)).toMatchObject({ restart: false, attempt: 1, outcome: "Failed" });
    const failure = taskFailures(h).find((c) => c.taskToken === "tok-fail");
    expect(failure?.error).toBe("DependencyFailed");
    expect(String(failure?.cause)).toMatch(/Dependency backend-api failed: .*exited with code 1/);
    // The lead is never restarted.
    const lead = await recordResult(h, record.runId, "lead", {
      attempt: 0,
      error: { Error: "States.TaskFailed" },
    });
    expect(lead.restart).toBe(false);
  });

  it("keeps the reason the runner recorded for its own failure (a budget cap), not just the exit", async () => {
    const { record, ref } = await startRun(h, "own-reason");
    // The runner's own writes, one at a time: Starting, Running, then its failure with the reason.
    const leadUpdates = [
      { phase: "Starting" },
      { phase: "Running" },
      { phase: "Failed", reason: "BudgetExceeded", message: "The CLI stopped at its budget cap of $0.50." },
    ] as const;
    for (const update of leadUpdates) {
      await h.deps.store.updateStatus(ref, (status) => {
        Object.assign(status.agents.lead!, update);
        return status;
      });
    }
    await recordResult(h, record.runId, "lead", { attempt: 0, error: EXITED_1 });
    expect((await h.deps.store.getRun(ref)).status.agents.lead).toMatchObject({
      phase: "Failed",
      reason: "BudgetExceeded",
      message: "The CLI stopped at its budget cap of $0.50.",
    });
  });

  it("records a launch that could not start (EKS start check) with the function's message, not its JSON and trace", async () => {
    const { record, ref } = await startRun(h, "never-started");
    const message =
      'ImagePullBackOff: Back-off pulling image "squadron-runner:v1" for 3 min (pod squadron-agent-x7k2p-8fz2q)';
    await recordResult(h, record.runId, "lead", {
      attempt: 0,
      // What Step Functions puts in the state when a Lambda task throws.
      error: {
        Error: "RunnerNotStarted",
        Cause: JSON.stringify({
          errorType: "RunnerNotStarted",
          errorMessage: message,
          trace: [
            "RunnerNotStarted: ImagePullBackOff",
            "    at checkRunnerStart (file:///var/task/index.mjs:1:2)",
          ],
        }),
      },
    });
    const lead = (await h.deps.store.getRun(ref)).status.agents.lead;
    expect(lead).toMatchObject({ phase: "Failed", message: `RunnerNotStarted: ${message}` });
  });

  it("approval gate: stores the token, notifies Slack once, a double click resolves once and updates the message", async () => {
    const { record, ref } = await startRun(
      h,
      "gate-slack",
      teamYaml("gate-slack").replace('channel: "api"', 'channel: "slack"'),
    );
    const payload = {
      action: "awaitApproval" as const,
      taskToken: "tok-gate-1",
      runId: record.runId,
      agentName: "backend-api",
      gate: "spawn-backend-api",
    };
    await awaitApproval(h.deps, payload);
    await awaitApproval(h.deps, { ...payload, taskToken: "tok-gate-2" }); // a retried invocation
    const posts = slackCalls.filter(
      (c) => c.path.endsWith("chat.postMessage") && JSON.stringify(c.body).includes("gate-slack"),
    );
    expect(posts).toHaveLength(1);
    expect(JSON.stringify(posts[0]?.body)).not.toContain("tok-gate");
    const view = (await call(h, "GET", "/api/namespaces/dev-agents/teams/gate-slack")).body;
    expect(view.teammates.find((t: { name: string }) => t.name === "backend-api")).toMatchObject({
      phase: "PendingApproval",
      pendingApproval: "spawn-backend-api",
    });

    const now = Math.floor(Date.now() / 1000);
    const body = blockActionsBody(
      APPROVE_ACTION_ID,
      encodeGateRef({ namespace: "dev-agents", team: "gate-slack", gate: "spawn-backend-api" }),
      "U-APPROVER",
    );
    const signed = {
      "X-Slack-Request-Timestamp": String(now),
      "X-Slack-Signature": slackSignature("signing", String(now), body),
    };
    const options = { signingSecret: async () => "signing", defaultApprovers: ["U-APPROVER"] };
    const click = () =>
      handleSlackInteraction(
        h.deps,
        event("POST", "/webhooks/slack", { body, token: null, headers: signed }),
        options,
      );
    const [a, b] = await Promise.all([click(), click()]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(taskSuccesses(h).filter((c) => c.taskToken === "tok-gate-2")).toHaveLength(1);
    expect(taskSuccesses(h).filter((c) => c.taskToken === "tok-gate-1")).toHaveLength(0);
    expect([a.body, b.body].join(" ")).toMatch(/already approved/);
    const gate = (await h.deps.store.getRun(ref)).status.gates["spawn-backend-api"];
    expect(gate).toMatchObject({ state: "Approved", decidedBy: "U-APPROVER (alice)" });
    const updates = slackCalls.filter((c) => c.path.endsWith("chat.update"));
    expect(updates.at(-1)?.body.text).toMatch(/Approved by U-APPROVER \(alice\)/);

    // Wrong signature or a user outside the allow-list changes nothing.
    const forged = await handleSlackInteraction(
      h.deps,
      event("POST", "/webhooks/slack", {
        body,
        token: null,
        headers: { ...signed, "X-Slack-Signature": "v0=00" },
      }),
      options,
    );
    expect(forged.statusCode).toBe(401);
  });

  it("Slack: a user outside the allow-list cannot decide; a denial fails the agent with reason Denied", async () => {
    const { record, ref } = await startRun(h, "gate-deny");
    await awaitApproval(h.deps, {
      action: "awaitApproval",
      taskToken: "tok-deny",
      runId: record.runId,
      agentName: "backend-api",
      gate: "spawn-backend-api",
    });
    const now = Math.floor(Date.now() / 1000);
    const send = (user: string) => {
      const body = blockActionsBody(
        DENY_ACTION_ID,
        encodeGateRef({ namespace: "dev-agents", team: "gate-deny", gate: "spawn-backend-api" }),
        user,
      );
      const headers = {
        "X-Slack-Request-Timestamp": String(now),
        "X-Slack-Signature": slackSignature("signing", String(now), body),
      };
      return handleSlackInteraction(
        h.deps,
        event("POST", "/webhooks/slack", { body, token: null, headers }),
        {
          signingSecret: async () => "signing",
          defaultApprovers: ["U-BOSS"],
        },
      );
    };
    const outsider = await send("U-MALLORY");
    expect(outsider.body).toMatch(/not allowed/);
    expect((await h.deps.store.getRun(ref)).status.gates["spawn-backend-api"]?.state).toBe("Pending");
    await send("U-BOSS");
    const failure = taskFailures(h).find((c) => c.taskToken === "tok-deny");
    expect(failure?.error).toBe("Denied");
    const result = await recordResult(h, record.runId, "backend-api", {
      attempt: 0,
      error: { Error: "Denied", Cause: String(failure?.cause) },
    });
    expect(result.restart).toBe(false);
    expect((await h.deps.store.getRun(ref)).status.agents["backend-api"]).toMatchObject({
      phase: "Failed",
      reason: "ApprovalDenied",
    });
  });

  it("an approval given before the gate is reached resumes the execution at once", async () => {
    const { record } = await startRun(h, "gate-early");
    expect(
      (await call(h, "POST", "/api/namespaces/dev-agents/teams/gate-early/gates/spawn-backend-api/approve"))
        .status,
    ).toBe(200);
    await awaitApproval(h.deps, {
      action: "awaitApproval",
      taskToken: "tok-early",
      runId: record.runId,
      agentName: "backend-api",
      gate: "spawn-backend-api",
    });
    expect(taskSuccesses(h).filter((c) => c.taskToken === "tok-early")).toHaveLength(1);
  });

  it("webhook gates are notified once with a signed kagents-compatible payload", async () => {
    const yaml = teamYaml("gate-hook").replace(
      'channel: "api"',
      `channel: "webhook"\n        webhookUrl: "${hookUrl}"`,
    );
    const { record } = await startRun(h, "gate-hook", yaml);
    const p = {
      action: "awaitApproval" as const,
      taskToken: "tok-hook",
      runId: record.runId,
      agentName: "backend-api",
      gate: "spawn-backend-api",
    };
    await awaitApproval(h.deps, p);
    await awaitApproval(h.deps, { ...p, taskToken: "tok-hook-2" });
    const mine = hookBodies.filter((b) => b.team === "gate-hook");
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ event: "spawn-backend-api", namespace: "dev-agents", phase: "Running" });
    expect(JSON.stringify(mine[0])).not.toContain("tok-hook");
  });

  it("budget: the 80% warning fires once, the limit stops the execution with BudgetExceeded", async () => {
    const { record, ref } = await startRun(h, "budget");
    const tableName = (h.deps.store as unknown as { tableName: string }).tableName;
    expect(tableName).toMatch(/\S/);
    const streamRecord = async (before: number, after: number) => {
      const item = await readItem(h, ref);
      const old = { ...item, "usageTotal#costUsd": before };
      const next = { ...item, "usageTotal#costUsd": after };
      return checkBudget(h.deps, {
        eventName: "MODIFY",
        dynamodb: {
          OldImage: marshall(old, { removeUndefinedValues: true }),
          NewImage: marshall(next, { removeUndefinedValues: true }),
        },
      });
    };
    await h.deps.store.addUsage(ref, "lead", { costUsd: 8.5 });
    expect(await streamRecord(7, 8.5)).toBe("warned");
    expect(await streamRecord(8.5, 8.6)).toBe("none");
    const events = (await h.deps.store.listEvents(ref)).items.filter((e) => e.reason === "BudgetWarning");
    expect(events).toHaveLength(1);
    await h.deps.store.addUsage(ref, "lead", { costUsd: 2 });
    const [x, y] = await Promise.all([streamRecord(9.5, 10.5), streamRecord(9.5, 10.5)]);
    expect([x, y].sort()).toEqual(["none", "stopped"]);
    const stops = h.sfn.of("StopExecution").filter((s) => String(s.executionArn).endsWith(record.runId));
    expect(stops).toHaveLength(1);
    expect(stops[0]?.error).toBe("BudgetExceeded");
    const after = await h.deps.store.getRun(ref);
    expect(after.status.phase).toBe("BudgetExceeded");
    expect((await h.deps.store.listEvents(ref)).items.some((e) => e.reason === "BudgetExceeded")).toBe(true);
  });

  it("deadline: stops the execution, phase TimedOut; the execution-status event then releases resources", async () => {
    const { record, ref } = await startRun(h, "deadline");
    expect(await onDeadline(h.deps, record.runId)).toBe(true);
    expect(await onDeadline(h.deps, record.runId)).toBe(false);
    expect((await h.deps.store.getRun(ref)).status.phase).toBe("TimedOut");
    const phase = await onExecutionStatus(h.deps, {
      executionArn: "x",
      name: record.runId,
      status: "ABORTED",
    });
    expect(phase).toBe("TimedOut");
    expect(h.armed.has(record.runId)).toBe(false);
  });

  it("EKS: a run stopped for its budget, its deadline or a DELETE has its Jobs deleted by the execution-status event; an ended run's by Cleanup", async () => {
    // runJob.sync's cancellation is not documented to delete the Job (Step Functions developer
    // guide, "Call Amazon EKS": only "does not terminate an Amazon EKS cluster automatically if
    // execution is stopped"): the run's end does, whatever stopped it.
    const deleted: string[] = [];
    const deps = {
      ...h.deps,
      runJobs: {
        deleteRunJobs: async (runId: string) => {
          deleted.push(runId);
          return 2;
        },
      },
    };
    const stops: Record<string, (run: Awaited<ReturnType<typeof startRun>>) => Promise<unknown>> = {
      BudgetExceeded: async ({ ref }) => {
        const item = await readItem(h, ref);
        await h.deps.store.addUsage(ref, "lead", { costUsd: 10.5 });
        const image = (cost: number) =>
          marshall({ ...item, "usageTotal#costUsd": cost }, { removeUndefinedValues: true });
        return checkBudget(deps, {
          eventName: "MODIFY",
          dynamodb: { OldImage: image(9), NewImage: image(10.5) },
        });
      },
      TimedOut: ({ record }) => onDeadline(deps, record.runId),
      Cancelled: ({ ref }) => deleteTeam(deps, ref, "alice"),
    };
    for (const [phase, stop] of Object.entries(stops)) {
      const run = await startRun(h, `eks-${phase.toLowerCase()}`);
      await stop(run);
      expect(h.sfn.of("StopExecution").some((s) => String(s.executionArn).endsWith(run.record.runId))).toBe(
        true,
      );
      // Stopping alone deletes nothing: the Jobs go when the execution's end is reported.
      expect(deleted).not.toContain(run.record.runId);
      await onExecutionStatus(deps, { executionArn: "x", name: run.record.runId, status: "ABORTED" });
      expect(deleted.filter((id) => id === run.record.runId)).toHaveLength(1);
      expect((await h.deps.store.getRun(run.ref)).status.phase).toBe(phase);
    }
    const ended = await startRun(h, "eks-ended");
    await cleanupRun(deps, { runId: ended.record.runId, namespace: "dev-agents", teamName: "eks-ended" });
    expect(deleted.at(-1)).toBe(ended.record.runId);
  });

  it("events: an execution aborted from outside marks the run Cancelled", async () => {
    const { record, ref } = await startRun(h, "aborted");
    expect(
      await onExecutionStatus(h.deps, { executionArn: "x", name: record.runId, status: "ABORTED" }),
    ).toBe("Cancelled");
    const after = await h.deps.store.getRun(ref);
    expect(after.status.reason).toBe("ExecutionAborted");
    expect(Object.values(after.status.agents).every((a) => a.phase === "Stopped")).toBe(true);
  });

  it("cleanup: Completed on success, Failed with the caught reason, with completion time and a terminal event", async () => {
    const ok = await startRun(h, "clean-ok");
    expect(
      await cleanupRun(h.deps, { runId: ok.record.runId, namespace: "dev-agents", teamName: "clean-ok" }),
    ).toEqual({ phase: "Completed" });
    const okRun = await h.deps.store.getRun(ok.ref);
    expect(Date.parse(okRun.status.completedAt ?? "")).not.toBeNaN();
    const bad = await startRun(h, "clean-bad");
    const res = await cleanupRun(h.deps, {
      runId: bad.record.runId,
      namespace: "dev-agents",
      teamName: "clean-bad",
      failure: { Error: "LeadFailed", Cause: "lead exited with code 2" },
    });
    expect(res.phase).toBe("Failed");
    const badRun = await h.deps.store.getRun(bad.ref);
    // A short reason, the detail one command away.
    expect(badRun.status).toMatchObject({
      reason: "LeadFailed",
      message: "lead exited with code 2 (details: squadron logs team clean-bad -n dev-agents)",
    });
    const reasons = (await h.deps.store.listEvents(bad.ref)).items.map((e) => e.reason);
    expect(reasons).toContain("Failed");
    expect(h.armed.has(bad.record.runId)).toBe(false);
  });

  it("cleanup and events: resources that cannot be released are a Warning event and a metric, not a log line", async () => {
    const denied = new Error(
      "User: arn:aws:sts::123456789012:assumed-role/cleanup/x is not authorized to perform: elasticfilesystem:DeleteAccessPoint",
    );
    const deps = {
      ...h.deps,
      deadlines: { ...h.deps.deadlines, disarm: () => Promise.reject(denied) },
    };
    let counted = 0;
    const sink = { resourceCleanupFailed: () => void counted++ };
    const a = await startRun(h, "leak-cleanup");
    expect(
      await cleanupRun(
        deps,
        { runId: a.record.runId, namespace: "dev-agents", teamName: "leak-cleanup" },
        sink,
      ),
    ).toEqual({ phase: "Completed" });
    const b = await startRun(h, "leak-events");
    await onExecutionStatus(deps, { executionArn: "x", name: b.record.runId, status: "ABORTED" }, sink);
    expect(counted).toBe(2);
    for (const ref of [a.ref, b.ref]) {
      const warning = (await h.deps.store.listEvents(ref)).items.find(
        (e) => e.reason === "ResourceCleanupFailed",
      );
      expect(warning).toMatchObject({ type: "Warning" });
      expect(warning?.message).toContain("elasticfilesystem:DeleteAccessPoint");
    }
  });
});

async function readItem(h: Harness, ref: { namespace: string; name: string }) {
  const { GetCommand } = await import("@aws-sdk/lib-dynamodb");
  const store = h.deps.store as unknown as { doc: DynamoDBDocumentClient; tableName: string };
  const { Item } = await store.doc.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: teamPk(ref.namespace, ref.name), sk: RUN_SK } }),
  );
  return Item as Record<string, unknown>;
}
