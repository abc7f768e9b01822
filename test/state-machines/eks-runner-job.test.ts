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
import {
  type AgentItem,
  type CleanupPayload,
  type RecordAgentResultPayload,
  type RecordAgentResultResult,
  STATE_NAMES,
} from "../../state-machines/contract.ts";
import { EKS_LAUNCH_ERRORS } from "../../state-machines/launchers.ts";
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

/** Runs the EKS definition; `launch` decides each container launch (throw = the Task's error). */
async function runEks(agents: AgentItem[], launch: (state: string, attempt: number) => void = () => {}) {
  const jobs: Record<string, RunJobParameters[]> = {};
  let cleanup: CleanupPayload | undefined;
  const container = (state: string) => async (input: RunJobParameters) => {
    jobs[state] ??= [];
    jobs[state].push(input);
    launch(state, jobs[state].length);
    // runJob.sync's output is the Job; the state's ResultSelector keeps nothing of it.
    return { status: { succeeded: 1 } };
  };
  const handlers: TaskHandlers = {
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
  const result = await executeLocally(
    definition,
    { runId, namespace: "payments", teamName: "billing" },
    handlers,
  );
  return { result, jobs, runId, cleanup: () => cleanup };
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
    // fakePrepareResult's posixUid: the run's uid, also the group that owns the emptyDir home.
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 20001,
      runAsGroup: 20001,
      fsGroup: 20001,
    });
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux" });
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
    });
    expect((job.spec as { template: { metadata: unknown } }).template.metadata).toEqual({
      labels: job.metadata.labels,
    });
  });
});

describe("launch retries on EKS", () => {
  it("retries the error names runJob reports for Kubernetes API failures (EKS.<HTTP status>)", () => {
    const runAgent = (
      definition.States.RunAgents as { ItemProcessor: { States: Record<string, { Retry?: unknown[] }> } }
    ).ItemProcessor.States[STATE_NAMES.runAgent];
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
