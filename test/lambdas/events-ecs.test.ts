import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import {
  DynamoOnceClaims,
  type EcsTaskStateDetail,
  onTaskStateChange,
  runnerTaskOf,
} from "../../core/control/task-stops.ts";
import type { TeamRunRef } from "../../core/store/items.ts";
import { runnerEnvironment } from "../../state-machines/launchers.ts";
import { event, type Harness, harness, newTable, teamYaml } from "./harness.ts";

const NS = "dev-agents";
const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/squadron-runners";

/**
 * An "ECS Task State Change" event as EventBridge delivers it for a Fargate task (the shape of
 * the AWS documentation's sample: attachments, containers, overrides, ISO times, detail.version),
 * for a runner task launched by the state machine: the container override carries the
 * environment launchers.ts passes.
 */
function ecsEvent(options: {
  runId: string;
  taskId: string;
  mode?: "agent" | "init" | "finalize";
  agent?: string;
  attempt?: number;
  lastStatus?: string;
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number;
  containerReason?: string;
  version?: number;
}) {
  const mode = options.mode ?? "agent";
  // The names the launcher passes, with the values Step Functions resolves from the state.
  const values: Record<string, string> = {
    SQUADRON_MODE: mode,
    SQUADRON_RUN_ID: options.runId,
    SQUADRON_TEAM_DIR: "/mnt/team",
    SQUADRON_TABLE_NAME: "squadron-team",
    SQUADRON_BUCKET: "squadron-artifacts-123456789012",
    SQUADRON_AGENT_NAME: options.agent ?? "",
    SQUADRON_ATTEMPT: String(options.attempt ?? 0),
  };
  const names = runnerEnvironment(
    { mode, runPath: "$.run", resultPath: "$.result" },
    { tableName: "t", bucketName: "b" },
  ).map((e) => e.name);
  const taskArn = `arn:aws:ecs:us-east-1:123456789012:task/squadron-runners/${options.taskId}`;
  const lastStatus = options.lastStatus ?? "STOPPED";
  const stopped = lastStatus === "STOPPED";
  const container: Record<string, unknown> = {
    containerArn: `arn:aws:ecs:us-east-1:123456789012:container/squadron-runners/${options.taskId}/8f2e6c1a-3b4d-4e5f-9a0b-1c2d3e4f5a6b`,
    lastStatus,
    name: "runner",
    image:
      "123456789012.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-123456789012-us-east-1:4e1f",
    imageDigest: "sha256:74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6",
    runtimeId: `${options.taskId}-2531612879`,
    taskArn,
    networkInterfaces: [
      { attachmentId: "1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8", privateIpv4Address: "10.0.2.139" },
    ],
    cpu: "0",
  };
  if (options.exitCode !== undefined) container.exitCode = options.exitCode;
  if (options.containerReason) container.reason = options.containerReason;
  const detail: Record<string, unknown> = {
    attachments: [
      {
        id: "1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8",
        type: "eni",
        status: stopped ? "DELETED" : "ATTACHED",
        details: [
          { name: "subnetId", value: "subnet-0a1b2c3d4e5f60718" },
          { name: "networkInterfaceId", value: "eni-0abcd1234ef567890" },
        ],
      },
    ],
    availabilityZone: "us-east-1b",
    capacityProviderName: "FARGATE_SPOT",
    clusterArn: CLUSTER,
    connectivity: "CONNECTED",
    connectivityAt: "2026-01-01T10:00:04.118Z",
    containers: [container],
    cpu: "1024",
    createdAt: "2026-01-01T10:00:01.402Z",
    desiredStatus: stopped ? "STOPPED" : "RUNNING",
    enableExecuteCommand: false,
    ephemeralStorage: { sizeInGiB: 20 },
    group: "family:squadron-runner",
    launchType: "FARGATE",
    lastStatus,
    memory: "2048",
    overrides: {
      containerOverrides: [
        {
          name: "runner",
          environment: names.map((name) => ({ name, value: values[name] ?? "" })),
        },
      ],
      cpu: "1024",
      memory: "2048",
    },
    platformVersion: "1.4.0",
    pullStartedAt: "2026-01-01T10:00:12.103Z",
    pullStoppedAt: "2026-01-01T10:00:25.103Z",
    startedAt: "2026-01-01T10:00:28.746Z",
    startedBy: "AWS Step Functions",
    taskArn,
    taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/squadron-runner:42",
    updatedAt: stopped ? "2026-01-01T10:14:07.867Z" : "2026-01-01T10:00:28.746Z",
    version: options.version ?? (stopped ? 6 : 4),
  };
  if (stopped) {
    detail.executionStoppedAt = "2026-01-01T10:14:02.511Z";
    detail.stoppingAt = "2026-01-01T10:14:03.001Z";
    detail.stoppedAt = "2026-01-01T10:14:07.867Z";
    detail.stopCode = options.stopCode ?? "EssentialContainerExited";
    detail.stoppedReason = options.stoppedReason ?? "Essential container in task exited";
  }
  return {
    version: "0",
    id: `3317b2af-7005-947d-b652-${options.taskId.slice(0, 12)}`,
    "detail-type": "ECS Task State Change" as const,
    source: "aws.ecs",
    account: "123456789012",
    time: stopped ? "2026-01-01T10:14:08Z" : "2026-01-01T10:00:29Z",
    region: "us-east-1",
    resources: [taskArn],
    detail: detail as unknown as EcsTaskStateDetail,
  };
}

describe("ECS task state changes of runner tasks", () => {
  let h: Harness;
  let claims: DynamoOnceClaims;
  let deps: Parameters<typeof onTaskStateChange>[0];

  async function newRun(name: string): Promise<{ ref: TeamRunRef; runId: string }> {
    const res = await h.api(event("POST", `/api/namespaces/${NS}/teams`, { body: teamYaml(name) }));
    return { ref: { namespace: NS, name }, runId: JSON.parse(res.body).runId };
  }

  async function taskEvents(ref: TeamRunRef) {
    const page = await h.deps.store.listEvents(ref, { limit: 100 });
    return page.items.filter((e) => e.reason.startsWith("Task"));
  }

  beforeAll(async () => {
    const table = await newTable();
    h = harness(table);
    claims = new DynamoOnceClaims(table.client, table.tableName);
    deps = { store: h.deps.store, runs: h.deps.runs, claims };
  });

  it("identifies the run and agent from the runner container's environment overrides", () => {
    const e = ecsEvent({ runId: "team-abc123", taskId: "a1", agent: "backend-api", attempt: 2 });
    expect(runnerTaskOf(e.detail)).toEqual({
      runId: "team-abc123",
      mode: "agent",
      agent: "backend-api",
      attempt: 2,
    });
    expect(runnerTaskOf(ecsEvent({ runId: "team-abc123", taskId: "a2", mode: "init" }).detail)).toEqual({
      runId: "team-abc123",
      mode: "init",
    });
    // Without overrides, a `squadron:` task group is the fallback.
    const bare = { ...e.detail, overrides: { containerOverrides: [{ name: "runner" }] } };
    expect(runnerTaskOf({ ...bare, group: "squadron:team-abc123:agent:lead" })).toEqual({
      runId: "team-abc123",
      mode: "agent",
      agent: "lead",
    });
    expect(runnerTaskOf({ ...bare, group: "squadron:team-abc123:finalize" })).toEqual({
      runId: "team-abc123",
      mode: "finalize",
    });
    expect(runnerTaskOf(bare)).toBeUndefined();
  });

  it("records an out-of-memory stop as a Warning on the agent, once, without touching the status", async () => {
    const { ref, runId } = await newRun("oom");
    const before = await h.deps.store.getRun(ref);
    const oom = ecsEvent({
      runId,
      taskId: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
      agent: "backend-api",
      exitCode: 137,
      containerReason: "OutOfMemoryError: Container killed due to memory usage",
    });
    expect(await onTaskStateChange(deps, oom.detail)).toBe("recorded");
    // EventBridge delivers at least once, and ECS may send another STOPPED version of the task.
    expect(await onTaskStateChange(deps, oom.detail)).toBe("duplicate");
    expect(await onTaskStateChange(deps, { ...oom.detail, ...{ version: 7 } })).toBe("duplicate");
    const events = await taskEvents(ref);
    expect(events.map(({ runId: _r, ...e }) => e)).toEqual([
      {
        type: "Warning",
        reason: "TaskOutOfMemory",
        agent: "backend-api",
        time: "2026-01-01T10:14:07.867Z",
        message:
          "agent backend-api's task stopped: Essential container in task exited; OutOfMemoryError: Container killed due to memory usage; exit code 137.",
      },
    ]);
    const after = await h.deps.store.getRun(ref);
    expect(after.version).toBe(before.version);
    expect(after.status).toEqual(before.status);
  });

  it("names a Spot interruption and the restart, a failed start, and a non-zero exit of init", async () => {
    const { ref, runId } = await newRun("spot");
    const spot = ecsEvent({
      runId,
      taskId: "b99d40b351764f719a529dbd6f1cebef",
      agent: "test-coverage",
      attempt: 1,
      stopCode: "SpotInterruption",
      stoppedReason: "Your Spot Task was interrupted.",
    });
    const failedStart = ecsEvent({
      runId,
      taskId: "c13b4cb40f1f4fe4a2971f76ae5a47ad",
      agent: "lead",
      stopCode: "TaskFailedToStart",
      stoppedReason:
        "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: Failed to resolve fs-0123456789abcdef0.efs.us-east-1.amazonaws.com",
    });
    const init = ecsEvent({ runId, taskId: "d24c5db51f2a4e6b8c7d9e0f1a2b3c4d", mode: "init", exitCode: 1 });
    for (const e of [spot, failedStart, init])
      expect(await onTaskStateChange(deps, e.detail)).toBe("recorded");
    const events = await taskEvents(ref);
    expect(events.map((e) => [e.reason, e.agent, e.message])).toEqual([
      [
        "TaskSpotInterrupted",
        "test-coverage",
        "agent test-coverage's task (restart 1) stopped: Your Spot Task was interrupted.",
      ],
      [
        "TaskFailedToStart",
        "lead",
        "agent lead's task stopped: ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: Failed to resolve fs-0123456789abcdef0.efs.us-east-1.amazonaws.com.",
      ],
      [
        "TaskStopped",
        undefined,
        "the workspace init task stopped: Essential container in task exited; exit code 1.",
      ],
    ]);
    expect(events.every((e) => e.type === "Warning")).toBe(true);
  });

  it("ignores normal exits, running tasks, other tasks and unknown runs", async () => {
    const { ref, runId } = await newRun("quiet");
    const done = ecsEvent({ runId, taskId: "e1", agent: "lead", exitCode: 0 });
    expect(await onTaskStateChange(deps, done.detail)).toBe("normal");
    const running = ecsEvent({ runId, taskId: "e2", agent: "lead", lastStatus: "RUNNING" });
    expect(await onTaskStateChange(deps, running.detail)).toBe("ignored");
    const web = ecsEvent({ runId, taskId: "e3", agent: "lead", exitCode: 1 });
    const other = {
      ...web.detail,
      group: "service:web",
      overrides: { containerOverrides: [{ name: "web" }] },
      containers: [{ name: "web", exitCode: 1 }],
    };
    expect(await onTaskStateChange(deps, other)).toBe("ignored");
    const ghost = ecsEvent({ runId: "ghost-0000000000", taskId: "e4", agent: "lead", exitCode: 1 });
    expect(await onTaskStateChange(deps, ghost.detail)).toBe("unknown-run");
    expect(await taskEvents(ref)).toEqual([]);
  });

  it("leaves a stop the run asked for (cancel, budget, timeout) unreported once the run has ended", async () => {
    const { ref, runId } = await newRun("stopped");
    const userStop = (taskId: string) =>
      ecsEvent({
        runId,
        taskId,
        agent: "lead",
        stopCode: "UserInitiated",
        stoppedReason: "Task stopped by user",
        exitCode: 143,
      }).detail;
    // While the run goes on, someone stopping its task from outside is worth a line.
    expect(await onTaskStateChange(deps, userStop("f1"))).toBe("recorded");
    await h.deps.store.cancelRun(ref);
    const phase = (await h.deps.store.getRun(ref)).status.phase;
    expect(await onTaskStateChange(deps, userStop("f2"))).toBe("normal");
    // An OOM is still reported after the end, and the phase stays where the run put it.
    const oom = ecsEvent({
      runId,
      taskId: "f3",
      agent: "lead",
      exitCode: 137,
      containerReason: "OutOfMemoryError",
    });
    expect(await onTaskStateChange(deps, oom.detail)).toBe("recorded");
    expect((await h.deps.store.getRun(ref)).status.phase).toBe(phase);
    expect((await taskEvents(ref)).map((e) => e.reason)).toEqual(["TaskStoppedByRequest", "TaskOutOfMemory"]);
  });
});

describe("events handler", () => {
  it("routes an ECS Task State Change to the task-stop recorder, through the per-container AWS deps", async () => {
    const { inject } = await import("vitest");
    const table = await newTable();
    const h = harness(table);
    const res = await h.api(event("POST", `/api/namespaces/${NS}/teams`, { body: teamYaml("via-handler") }));
    const runId = JSON.parse(res.body).runId as string;
    // The handler builds its clients from the environment, as in Lambda; the endpoint is DynamoDB Local.
    const saved = { ...process.env };
    onTestFinished(() => {
      process.env = saved;
    });
    Object.assign(process.env, {
      SQUADRON_TABLE_NAME: table.tableName,
      AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoDbLocalEndpoint"),
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    });
    const { handler } = await import("../../lambdas/events/handler.ts");
    const oom = ecsEvent({
      runId,
      taskId: "9a8b7c6d",
      agent: "lead",
      exitCode: 137,
      containerReason: "OutOfMemoryError",
    });
    expect(await handler(oom)).toEqual({ taskStop: "recorded" });
    expect(await handler(oom)).toEqual({ taskStop: "duplicate" });
    const events = await h.deps.store.listEvents({ namespace: NS, name: "via-handler" }, { limit: 100 });
    expect(events.items.filter((e) => e.reason === "TaskOutOfMemory").map((e) => e.agent)).toEqual(["lead"]);
  });
});
