/**
 * The EKS branch at its seam: the definition CDK synthesises for `compute: eks`, executed by
 * aws-local-stepfunctions (as local mode executes the ECS one), with the container states bound
 * to a recorder of their `eks:runJob` Parameters. The Job each launch would create is then
 * checked field by field and against Kubernetes' own schema (kubernetes-models 5.1.0, generated
 * from the Kubernetes 1.34 OpenAPI; clusters 1.32-1.34 are supported, docs/deploy.md).
 */
import { createHash } from "node:crypto";
import { Job } from "kubernetes-models/batch/v1/Job";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunnerStartCheckPayload, RunnerStartCheckResult } from "../../core/control/runner-start.ts";
import { RUNNER_IMAGE_ASSET } from "../../infra/constructs/compute.ts";
import {
  type AgentItem,
  type CleanupPayload,
  type RecordAgentResultPayload,
  type RecordAgentResultResult,
  STATE_NAMES,
} from "../../state-machines/contract.ts";
import {
  EKS_LAUNCH_ERRORS,
  EKS_START_WATCH_SUFFIX,
  RUNNER_ARCHITECTURE,
} from "../../state-machines/launchers.ts";
import { executeLocally, StatesError, type TaskHandlers } from "../../state-machines/local.ts";
import { type AslDefinition, extractTeamRunDefinition } from "../../state-machines/synth.ts";
import { agentItem, fakePrepareResult } from "../support/state-machine-fakes.ts";

interface RunJobParameters {
  ClusterName: string;
  Namespace: string;
  Endpoint: string;
  CertificateAuthority: string;
  Job: Record<string, unknown>;
}

let definition: AslDefinition;

beforeAll(() => {
  definition = extractTeamRunDefinition({ compute: "eks" });
}, 120_000);

/**
 * Runs the EKS definition; `launch` decides each container launch (throw = the Task's error,
 * a promise that never settles = a Job whose pod never finishes), `check` each start check.
 */
async function runEks(
  agents: AgentItem[],
  launch: (state: string, attempt: number) => unknown = () => undefined,
  check: (payload: RunnerStartCheckPayload) => RunnerStartCheckResult = () => ({ done: true }),
) {
  const jobs: Record<string, RunJobParameters[]> = {};
  const checks: RunnerStartCheckPayload[] = [];
  let cleanup: CleanupPayload | undefined;
  const container = (state: string) => async (input: RunJobParameters) => {
    jobs[state] ??= [];
    jobs[state].push(input);
    await launch(state, jobs[state].length);
    // runJob.sync's output is the Job; the state's ResultSelector keeps nothing of it.
    return { status: { succeeded: 1 } };
  };
  const startCheck = async (payload: RunnerStartCheckPayload) => {
    checks.push(payload);
    return check(payload);
  };
  const handlers: TaskHandlers & Record<string, (input: never) => Promise<unknown>> = {
    [`${STATE_NAMES.workspaceInit}StartCheck`]: startCheck,
    [`${STATE_NAMES.runAgent}StartCheck`]: startCheck,
    [`${STATE_NAMES.finalize}StartCheck`]: startCheck,
    Prepare: async (input) => fakePrepareResult(input, agents),
    WorkspaceInit: container("WorkspaceInit"),
    WaitForDependencies: async () => ({}),
    ApprovalGate: async () => ({ approvedBy: "U1" }),
    RunAgent: container("RunAgent"),
    RecordAgentResult: async (input: RecordAgentResultPayload): Promise<RecordAgentResultResult> => ({
      attempt: input.state.attempt,
      outcome: input.state.error ? "Failed" : "Succeeded",
      restart: false,
      reason: input.state.error?.Cause ?? "",
    }),
    Finalize: container("Finalize"),
    DeliverOutputs: async () => ({ location: "s3://b/p/", files: 0 }),
    Cleanup: async (input: CleanupPayload) => {
      cleanup = input;
      return { phase: input.failure ? "Failed" : "Succeeded" };
    },
  };
  const runId = `billing-${Math.random().toString(16).slice(2, 10)}`;
  // The watch waits EKS_START_CHECK_INTERVAL_SECONDS between looks; here it looks at once.
  const waitTimeOverrides = Object.fromEntries(
    [STATE_NAMES.workspaceInit, STATE_NAMES.runAgent, STATE_NAMES.finalize].map((s) => [`${s}StartWait`, 0]),
  );
  const result = await executeLocally(
    definition,
    { runId, namespace: "payments", teamName: "billing" },
    handlers,
    { waitTimeOverrides },
  );
  return { result, jobs, checks, runId, cleanup: () => cleanup };
}

type PodSpec = {
  securityContext: Record<string, unknown>;
  nodeSelector: Record<string, string>;
  containers: Array<{
    env: Array<{ name: string; value: string }>;
    envFrom: unknown[];
    terminationMessagePolicy: string;
    volumeMounts: Array<Record<string, unknown>>;
    resources: unknown;
    securityContext: Record<string, unknown>;
  }>;
  volumes: Array<Record<string, unknown>>;
};

function podOf(job: Record<string, unknown>): PodSpec {
  return (job.spec as { template: { spec: PodSpec } }).template.spec;
}

describe("eks:runJob parameters rendered by the synthesised definition", () => {
  it("creates, for every launch, a Job that Kubernetes' schema accepts", async () => {
    const { result, jobs } = await runEks([agentItem("lead"), agentItem("backend")]);
    expect(result.status).toBe("SUCCEEDED");
    const launches = [...(jobs.WorkspaceInit ?? []), ...(jobs.RunAgent ?? []), ...(jobs.Finalize ?? [])];
    expect(launches).toHaveLength(4);
    for (const launch of launches) {
      expect(launch).toMatchObject({ ClusterName: "squadron-test", Namespace: "squadron" });
      // Throws with every schema violation and its path (e.g. runAsUser must be integer).
      expect(() => new Job(launch.Job as never).validate()).not.toThrow();
    }
  });

  it("would be refused by the schema if a value had the wrong type (the check can fail)", () => {
    const bad = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "x" },
      spec: {
        template: {
          spec: {
            restartPolicy: "Never",
            securityContext: { runAsUser: "100000" },
            containers: [{ name: "runner", image: "i" }],
          },
        },
      },
    };
    expect(() => new Job(bad as never).validate()).toThrow(/runAsUser must be integer/);
  });

  it("runs the agent as the run's uid with a writable home, on amd64 nodes, until the run's deadline", async () => {
    const { jobs, runId } = await runEks([agentItem("lead")]);
    const job = jobs.RunAgent?.[0]?.Job as Record<string, unknown>;
    const spec = job.spec as Record<string, unknown>;
    expect(spec.activeDeadlineSeconds).toBe(3600); // fakePrepareResult's timeoutSeconds
    expect(spec.backoffLimit).toBe(0);
    const pod = podOf(job);
    // fakePrepareResult's posixUid: the run's uid and gid. No fsGroup: it would let kubelet
    // chgrp the whole shared team volume to this run's gid on a driver with fsGroupPolicy File,
    // and the emptyDir home is writable by any uid without it.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 20001, runAsGroup: 20001 });
    expect(pod.securityContext).not.toHaveProperty("fsGroup");
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux" });
    // The nodes it selects are the ones the image is built for (both build paths use this asset).
    expect(RUNNER_IMAGE_ASSET.platform.platform).toBe(`linux/${RUNNER_ARCHITECTURE}`);
    const [runner] = pod.containers;
    if (!runner) throw new Error("no runner container");
    expect(runner.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    const env = Object.fromEntries(runner.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      HOME: "/home/run",
      SQUADRON_MODE: "agent",
      SQUADRON_RUN_ID: runId,
      SQUADRON_AGENT_NAME: "lead",
      SQUADRON_ATTEMPT: "0",
      SQUADRON_TEAM_DIR: "/mnt/team",
      SQUADRON_RUNNER_SECRET_NAME: "squadron-runner",
    });
    // The runner's keys come from the Kubernetes Secret (docs/deploy.md says how it is made);
    // optional, so a missing one fails the runner at once (it checks the Secret's self-name)
    // instead of holding the pod in CreateContainerConfigError until the run's deadline.
    expect(runner.envFrom).toEqual([{ secretRef: { name: "squadron-runner", optional: true } }]);
    expect(runner.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(runner.resources).toEqual({ requests: { cpu: "1", memory: "2Gi" } });
    // The team volume: the run's own directory of the EFS claim; the home: an emptyDir.
    expect(runner.volumeMounts).toEqual([
      { name: "team", mountPath: "/mnt/team", subPath: `runs/${runId}` },
      { name: "home", mountPath: "/home/run" },
    ]);
    expect(pod.volumes).toEqual([
      { name: "team", persistentVolumeClaim: { claimName: "squadron-team" } },
      { name: "home", emptyDir: { sizeLimit: "2Gi" } },
    ]);
  });

  it("labels the Job and its pod with the run, so Cleanup can find what a run left", async () => {
    const { jobs, runId } = await runEks([agentItem("lead")]);
    const job = jobs.RunAgent?.[0]?.Job as { metadata: { labels: Record<string, string> }; spec: unknown };
    const sha1 = createHash("sha1").update(runId).digest("hex");
    expect(job.metadata.labels).toEqual({
      "app.kubernetes.io/name": "squadron-runner",
      "squadron.dev/mode": "agent",
      "squadron.dev/run": sha1,
      // One launch of one agent, for the start watch (the attempt as a label value: a string).
      "squadron.dev/agent": "lead",
      "squadron.dev/attempt": "0",
    });
    expect((job.spec as { template: { metadata: unknown } }).template.metadata).toEqual({
      labels: job.metadata.labels,
    });
  });
});

describe("launch retries on EKS", () => {
  it("retries the error names runJob reports for Kubernetes API failures (EKS.<HTTP status>)", () => {
    type States = Record<string, { Retry?: unknown[]; Branches?: Array<{ States: States }> }>;
    const launch = (definition.States.RunAgents as { ItemProcessor: { States: States } }).ItemProcessor
      .States[`${STATE_NAMES.runAgent}${EKS_START_WATCH_SUFFIX}`];
    const runAgent = launch?.Branches?.[0]?.States[STATE_NAMES.runAgent];
    expect(runAgent?.Retry?.[0]).toMatchObject({ ErrorEquals: ["EKS.429", "EKS.500", "EKS.503"] });
    expect(EKS_LAUNCH_ERRORS).toEqual(["EKS.429", "EKS.500", "EKS.503"]);
  });

  it("launches again after EKS.429 and EKS.503, and not after EKS.403", async () => {
    const throttled = await runEks([agentItem("lead")], (state, n) => {
      if (state === "RunAgent" && n === 1) throw new StatesError("EKS.429", "Too Many Requests");
      if (state === "RunAgent" && n === 2) throw new StatesError("EKS.503", "Service Unavailable");
    });
    expect(throttled.result.status).toBe("SUCCEEDED");
    expect(throttled.jobs.RunAgent).toHaveLength(3);

    const forbidden = await runEks([agentItem("lead")], (state) => {
      if (state === "RunAgent") throw new StatesError("EKS.403", "jobs.batch is forbidden");
    });
    expect(forbidden.jobs.RunAgent).toHaveLength(1);
    expect(forbidden.cleanup()?.failure).toEqual({ Error: "LeadFailed", Cause: "jobs.batch is forbidden" });
  });
});

describe("the start watch beside every launch on EKS", () => {
  it("looks at each launch's pod (init, every agent's attempt, finalize) until it has started", async () => {
    const { result, checks, runId } = await runEks([agentItem("lead"), agentItem("backend")]);
    expect(result.status).toBe("SUCCEEDED");
    const seen = checks.map((c) => `${c.mode}:${c.agentName ?? ""}:${c.attempt ?? ""}`).sort();
    expect(seen).toEqual(["agent:backend:0", "agent:lead:0", "finalize::", "init::"]);
    for (const c of checks) {
      expect(c).toMatchObject({ action: "checkStart", runId, startTimeoutSeconds: 600 });
      // The watch's own entry time: when this launch began.
      expect(Date.now() - Date.parse(c.since)).toBeLessThan(600_000);
    }
  });

  it("keeps looking while the pod is still starting", async () => {
    let looks = 0;
    const { result, checks } = await runEks([agentItem("lead")], undefined, (c) => {
      if (c.mode !== "agent") return { done: true };
      looks += 1;
      return { done: looks >= 3 };
    });
    expect(result.status).toBe("SUCCEEDED");
    expect(checks.filter((c) => c.mode === "agent")).toHaveLength(3);
  });

  it("fails an agent whose pod cannot start with Kubernetes' reason, instead of waiting for the run's deadline", async () => {
    const reason =
      'ImagePullBackOff: Back-off pulling image "squadron-runner:v1" for 3 min (pod squadron-agent-x7k2p-8fz2q)';
    const { cleanup } = await runEks(
      [agentItem("lead")],
      // The Job's pod never finishes: runJob.sync alone would wait until the deadline.
      (state) => (state === "RunAgent" ? new Promise<never>(() => {}) : undefined),
      (c) => {
        if (c.mode === "agent") throw new StatesError("RunnerNotStarted", reason);
        return { done: true };
      },
    );
    expect(cleanup()?.failure).toEqual({ Error: "LeadFailed", Cause: reason });
  });

  it("fails the run when WorkspaceInit's pod cannot start", async () => {
    const { cleanup, jobs } = await runEks(
      [agentItem("lead")],
      (state) => (state === "WorkspaceInit" ? new Promise<never>(() => {}) : undefined),
      (c) => {
        if (c.mode === "init")
          throw new StatesError("RunnerNotStarted", "Unschedulable: 0/3 nodes are available");
        return { done: true };
      },
    );
    expect(jobs.RunAgent).toBeUndefined();
    expect(cleanup()?.failure).toMatchObject({
      Error: "RunnerNotStarted",
      Cause: "Unschedulable: 0/3 nodes are available",
    });
  });
});
