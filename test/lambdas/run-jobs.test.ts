import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadlineScheduler } from "../../core/control/deadline-scheduler.ts";
import { releaseRunResources } from "../../core/control/lifecycle.ts";
import type { RunIndex } from "../../core/control/run-index.ts";
import { EksRunJobs, eksToken, runLabelValue } from "../../core/control/run-jobs.ts";
import { NoopRunWorkspaces } from "../../core/control/run-workspace.ts";
import {
  checkRunnerStart,
  FAILING_WAIT_GRACE_SECONDS,
  RunnerNotStartedError,
} from "../../core/control/runner-start.ts";
import { runnerKubernetesObjects } from "../../infra/constructs/kubernetes-objects.ts";
import { selfSignedCertificate } from "../support/self-signed.ts";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
let server: Server;
let endpoint: string;
let ca: string;
const seen: Array<{ method: string; url: string; authorization: string }> = [];
type Answer = { status: number; body: unknown };
/** The API server's answer: one for every request, or chosen by method and path. */
let answer: Answer | ((method: string, url: URL) => Answer) = { status: 200, body: {} };

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate("localhost", ["subjectAltName=IP:127.0.0.1,DNS:localhost"]);
  ca = cert.toString("base64");
  server = createServer({ key, cert }, (req: IncomingMessage, res) => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      authorization: req.headers.authorization ?? "",
    });
    const a =
      typeof answer === "function" ? answer(req.method ?? "", new URL(req.url ?? "", "https://k8s")) : answer;
    res.writeHead(a.status, { "content-type": "application/json" });
    res.end(JSON.stringify(a.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const jobs = () =>
  new EksRunJobs({
    clusterName: "prod",
    endpoint,
    certificateAuthority: ca,
    namespace: "squadron",
    region: "us-east-1",
    credentials,
  });

describe("a run's Jobs on EKS", () => {
  it("signs an EKS token: a presigned STS GetCallerIdentity bound to the cluster name", async () => {
    const token = await eksToken({ clusterName: "prod", region: "us-east-1", credentials });
    expect(token.startsWith("k8s-aws-v1.")).toBe(true);
    const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString("utf8"));
    expect(url.host).toBe("sts.us-east-1.amazonaws.com");
    expect(url.searchParams.get("Action")).toBe("GetCallerIdentity");
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");
    expect(url.searchParams.get("X-Amz-Expires")).toBe("60");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(
      /^AKIDEXAMPLE\/\d{8}\/us-east-1\/sts\/aws4_request$/,
    );
  });

  it("deletes every Job labelled with the run, pods in the background, and counts them", async () => {
    // The API server's answer to a collection DELETE: the JobList of what it deleted.
    answer = {
      status: 200,
      body: {
        kind: "JobList",
        apiVersion: "batch/v1",
        metadata: { resourceVersion: "48213" },
        items: [
          {
            metadata: {
              name: "squadron-agent-x7k2p",
              namespace: "squadron",
              labels: { "squadron.dev/run": runLabelValue("billing-0a1b2c3d") },
            },
          },
          {
            metadata: {
              name: "squadron-agent-q9d4s",
              namespace: "squadron",
              labels: { "squadron.dev/run": runLabelValue("billing-0a1b2c3d") },
            },
          },
        ],
      },
    };
    seen.length = 0;
    await expect(jobs().deleteRunJobs("billing-0a1b2c3d")).resolves.toBe(2);
    expect(seen).toHaveLength(1);
    const call = seen[0];
    expect(call?.method).toBe("DELETE");
    const url = new URL(call?.url ?? "", endpoint);
    expect(url.pathname).toBe("/apis/batch/v1/namespaces/squadron/jobs");
    expect(url.searchParams.get("labelSelector")).toBe(
      `squadron.dev/run=${runLabelValue("billing-0a1b2c3d")}`,
    );
    expect(url.searchParams.get("propagationPolicy")).toBe("Background");
    expect(call?.authorization).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  });

  it("reports the API server's refusal with its reason", async () => {
    answer = {
      status: 403,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message:
          'jobs.batch is forbidden: User "arn:aws:sts::123456789012:assumed-role/cleanup/x" cannot deletecollection resource "jobs" in API group "batch" in the namespace "squadron"',
        reason: "Forbidden",
        details: { group: "batch", kind: "jobs" },
        code: 403,
      },
    };
    await expect(jobs().deleteRunJobs("billing-0a1b2c3d")).rejects.toThrow(
      /HTTP 403: Forbidden: jobs\.batch is forbidden/,
    );
  });

  it("refuses a server whose certificate the cluster's CA did not sign", async () => {
    const wrongCa = selfSignedCertificate("other").cert.toString("base64");
    const j = new EksRunJobs({
      clusterName: "prod",
      endpoint,
      certificateAuthority: wrongCa,
      namespace: "squadron",
      region: "us-east-1",
      credentials,
    });
    await expect(j.deleteRunJobs("billing-0a1b2c3d")).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it("are deleted when a run's resources are released (Cleanup, and the events function after StopExecution)", async () => {
    answer = { status: 200, body: { kind: "JobList", apiVersion: "batch/v1", metadata: {}, items: [] } };
    seen.length = 0;
    const disarmed: string[] = [];
    await releaseRunResources(
      {
        runs: { details: async () => ({}) } as unknown as RunIndex,
        workspaces: new NoopRunWorkspaces(),
        deadlines: { disarm: async (id: string) => void disarmed.push(id) } as unknown as DeadlineScheduler,
        runJobs: jobs(),
      },
      "billing-0a1b2c3d",
    );
    expect(disarmed).toEqual(["billing-0a1b2c3d"]);
    expect(seen.map((c) => [c.method, new URL(c.url, endpoint).searchParams.get("labelSelector")])).toEqual([
      ["DELETE", `squadron.dev/run=${runLabelValue("billing-0a1b2c3d")}`],
    ]);
  });
});

/**
 * The start watch (core/control/runner-start.ts) reading pods, Jobs and events as the API server
 * answers them. The statuses are the shapes kubelet and the scheduler write (waiting reasons
 * from pkg/kubelet/images, the PodScheduled condition, Warning events), with the messages they
 * print; the launch's labels are the ones the Job carries (state-machines/launchers.ts).
 */
describe("the start watch of a runner pod on EKS", () => {
  const launch = {
    action: "checkStart" as const,
    runId: "billing-0a1b2c3d",
    mode: "agent" as const,
    agentName: "backend",
    attempt: 1,
    since: "2026-12-05T10:00:00Z",
    startTimeoutSeconds: 600,
  };
  const at = (seconds: number) => new Date(Date.parse(launch.since) + seconds * 1000);
  const selector = `squadron.dev/run=${runLabelValue(launch.runId)},squadron.dev/mode=agent,squadron.dev/agent=backend,squadron.dev/attempt=1`;
  const warnings: string[] = [];
  const logger = { warn: (m: string) => void warnings.push(m) };
  const podList = (...items: unknown[]) => ({ kind: "PodList", apiVersion: "v1", metadata: {}, items });
  const pod = (status: Record<string, unknown>, created = "2026-12-05T10:00:02Z") => ({
    metadata: { name: "squadron-agent-x7k2p-8fz2q", namespace: "squadron", creationTimestamp: created },
    status,
  });
  const waitingPod = (reason: string, message: string) =>
    pod({
      phase: "Pending",
      conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "2026-12-05T10:00:02Z" }],
      containerStatuses: [
        {
          name: "runner",
          state: { waiting: { reason, message } },
          lastState: {},
          ready: false,
          restartCount: 0,
          image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/squadron-runner:v1",
          imageID: "",
          started: false,
        },
      ],
    });
  /** Routes: pods, Jobs and events by path; a collection DELETE answers the deleted JobList. */
  function cluster(
    pods: unknown[],
    extra: { jobs?: unknown[]; events?: unknown[]; podsStatus?: number } = {},
  ) {
    seen.length = 0;
    answer = (method, url) => {
      if (method === "DELETE") return { status: 200, body: { kind: "JobList", items: extra.jobs ?? [] } };
      if (url.pathname === "/api/v1/namespaces/squadron/pods") {
        return extra.podsStatus
          ? {
              status: extra.podsStatus,
              body: { kind: "Status", reason: "Forbidden", message: "pods is forbidden" },
            }
          : { status: 200, body: podList(...pods) };
      }
      if (url.pathname === "/apis/batch/v1/namespaces/squadron/jobs") {
        return { status: 200, body: { kind: "JobList", items: extra.jobs ?? [] } };
      }
      if (url.pathname === "/api/v1/namespaces/squadron/events") {
        return { status: 200, body: { kind: "EventList", items: extra.events ?? [] } };
      }
      return { status: 404, body: { kind: "Status", reason: "NotFound" } };
    };
  }
  const calls = () =>
    seen.map((c) => {
      const url = new URL(c.url, endpoint);
      return `${c.method} ${url.pathname}?${[...url.searchParams.values()].join("&")}`;
    });

  it("stops watching once the pod runs, and asks for this launch's pod only", async () => {
    cluster([pod({ phase: "Running", containerStatuses: [{ name: "runner", state: { running: {} } }] })]);
    await expect(checkRunnerStart(jobs(), launch, logger, at(20))).resolves.toEqual({ done: true });
    expect(calls()).toEqual([`GET /api/v1/namespaces/squadron/pods?${selector}`]);
  });

  it("keeps watching a pod that is still being created or pulled, within the grace", async () => {
    cluster([waitingPod("ContainerCreating", "")]);
    await expect(checkRunnerStart(jobs(), launch, logger, at(60))).resolves.toEqual({ done: false });
    cluster([waitingPod("ImagePullBackOff", 'Back-off pulling image "squadron-runner:v1"')]);
    await expect(checkRunnerStart(jobs(), launch, logger, at(60))).resolves.toEqual({ done: false });
    expect(calls().some((c) => c.startsWith("DELETE"))).toBe(false);
  });

  it("fails the launch with kubelet's reason when the image cannot be pulled, and deletes its Job", async () => {
    const message =
      'Back-off pulling image "123456789012.dkr.ecr.us-east-1.amazonaws.com/squadron-runner:v1": ErrImagePull: failed to pull and unpack image: not found';
    cluster([waitingPod("ImagePullBackOff", message)]);
    const failure = checkRunnerStart(jobs(), launch, logger, at(FAILING_WAIT_GRACE_SECONDS + 10));
    await expect(failure).rejects.toBeInstanceOf(RunnerNotStartedError);
    await expect(failure).rejects.toThrow(
      /^ImagePullBackOff: Back-off pulling image .*not found for 3 min \(pod squadron-agent-x7k2p-8fz2q\)$/,
    );
    await expect(failure).rejects.toMatchObject({ name: "RunnerNotStarted" });
    expect(calls()).toContain(`DELETE /apis/batch/v1/namespaces/squadron/jobs?${selector}&Background`);
  });

  it("fails an invalid image name at once", async () => {
    cluster([waitingPod("InvalidImageName", 'Failed to apply default image tag "Squadron:latest"')]);
    await expect(checkRunnerStart(jobs(), launch, logger, at(20))).rejects.toThrow(/^InvalidImageName: /);
  });

  it("fails a pod no node can take when the start timeout has passed, with the scheduler's message", async () => {
    const unschedulable = pod({
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message:
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
          lastTransitionTime: "2026-12-05T10:00:02Z",
        },
      ],
    });
    cluster([unschedulable]);
    await expect(checkRunnerStart(jobs(), launch, logger, at(300))).resolves.toEqual({ done: false });
    await expect(checkRunnerStart(jobs(), launch, logger, at(610))).rejects.toThrow(
      /^Unschedulable: 0\/3 nodes are available: 3 node\(s\) didn't match Pod's node affinity\/selector\..* for 10 min/,
    );
  });

  it("names the mount failure of a scheduled pod that never starts, from its Warning events", async () => {
    cluster([waitingPod("ContainerCreating", "")], {
      events: [
        {
          type: "Warning",
          reason: "FailedMount",
          message:
            'MountVolume.SetUp failed for volume "squadron-team" : rpc error: code = Internal desc = Could not mount "fs-0123456789abcdef0:/" at "/var/lib/kubelet/pods/4f1c/volumes/kubernetes.io~csi/squadron-team/mount": mount failed: exit status 32\nOutput: mount.nfs4: access denied by server while mounting 127.0.0.1:/',
          lastTimestamp: "2026-12-05T10:08:00Z",
          count: 5,
        },
      ],
    });
    await expect(checkRunnerStart(jobs(), launch, logger, at(620))).rejects.toThrow(
      /^FailedMount: MountVolume\.SetUp failed for volume "squadron-team" .*exit status 32 for 10 min/,
    );
    expect(calls()).toContain(
      "GET /api/v1/namespaces/squadron/events?involvedObject.kind=Pod,involvedObject.name=squadron-agent-x7k2p-8fz2q,type=Warning",
    );
  });

  it("fails a Job that created no pod with the Job controller's reason (admission, quota)", async () => {
    cluster([], {
      jobs: [{ metadata: { name: "squadron-agent-x7k2p", creationTimestamp: "2026-12-05T10:00:01Z" } }],
      events: [
        {
          type: "Warning",
          reason: "FailedCreate",
          message:
            'Error creating: pods "squadron-agent-x7k2p-8fz2q" is forbidden: exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=16, limited: requests.cpu=16',
          lastTimestamp: "2026-12-05T10:09:00Z",
        },
      ],
    });
    await expect(checkRunnerStart(jobs(), launch, logger, at(120))).resolves.toEqual({ done: false });
    await expect(checkRunnerStart(jobs(), launch, logger, at(601))).rejects.toThrow(
      /^NoPod: FailedCreate: Error creating: pods "squadron-agent-x7k2p-8fz2q" is forbidden: exceeded quota/,
    );
  });

  it("never fails a launch because it cannot read the cluster: it warns, and stops watching at the timeout", async () => {
    warnings.length = 0;
    cluster([], { podsStatus: 403 });
    await expect(checkRunnerStart(jobs(), launch, logger, at(30))).resolves.toEqual({ done: false });
    await expect(checkRunnerStart(jobs(), launch, logger, at(601))).resolves.toEqual({ done: true });
    expect(warnings).toHaveLength(2);
    expect(calls().some((c) => c.startsWith("DELETE"))).toBe(false);
  });
});

/**
 * Kubernetes RBAC as the API server applies it to the calls above: the request's verb from its
 * HTTP method and whether it names one object or a collection (Kubernetes docs, "Authorization",
 * request verbs: GET collection = list, DELETE collection = deletecollection…), its API group and
 * resource from the path, allowed when one rule of the Role in that namespace lists all three.
 */
describe("the Kubernetes calls of the run's end and of the start watch, against the Roles the stack applies", () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const objects = runnerKubernetesObjects({
    namespace: "squadron",
    serviceAccountName: "squadron-runner",
    claimName: "squadron-team",
    fileSystemId: "fs-0123abcd",
  });
  const rulesOf = (role: Record<string, unknown>) => role.rules as Rule[];

  function authorised(rules: Rule[], namespace: string, method: string, path: string): boolean {
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/([^/]+)\/([^/?]+)(\/[^/?]+)?$/.exec(path);
    if (!m || m[2] !== namespace) return false;
    const [group, resource, named] = [m[1] ?? "", m[3] as string, m[4] !== undefined];
    const verb = {
      GET: named ? "get" : "list",
      DELETE: named ? "delete" : "deletecollection",
      POST: "create",
    }[method];
    return rules.some(
      (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb ?? ""),
    );
  }
  const refused = (rules: Rule[]) =>
    seen
      .map((c) => ({ method: c.method, path: new URL(c.url, endpoint).pathname }))
      .filter((c) => !authorised(rules, "squadron", c.method, c.path))
      .map((c) => `${c.method} ${c.path}`);

  it("lets Cleanup and the events function (squadron-job-cleaners) make every call of deleting a run's Jobs", async () => {
    seen.length = 0;
    answer = { status: 200, body: { kind: "JobList", apiVersion: "batch/v1", metadata: {}, items: [] } };
    await jobs().deleteRunJobs("billing-0a1b2c3d");
    expect(seen).toHaveLength(1);
    expect(refused(rulesOf(objects.jobCleanerRole))).toEqual([]);
  });

  it("lets the start watch (squadron-launch-watchers) read pods, Jobs and events and delete the Jobs, and the cleaners not read", async () => {
    seen.length = 0;
    const events = {
      kind: "EventList",
      items: [{ type: "Warning", reason: "FailedCreate", message: "exceeded quota" }],
    };
    answer = (method, url) => {
      if (url.pathname.endsWith("/pods")) return { status: 200, body: { kind: "PodList", items: [] } };
      if (url.pathname.endsWith("/events")) return { status: 200, body: events };
      const job = { metadata: { name: "squadron-agent-x7k2p", creationTimestamp: "2026-12-05T10:00:01Z" } };
      return { status: 200, body: { kind: "JobList", items: method === "GET" ? [job] : [] } };
    };
    const launch = {
      action: "checkStart" as const,
      runId: "billing-0a1b2c3d",
      mode: "init" as const,
      since: "2026-12-05T10:00:00Z",
      startTimeoutSeconds: 600,
    };
    // No pod after the timeout: pods, then the Job, its events, and the Job's deletion.
    await expect(
      checkRunnerStart(jobs(), launch, { warn: () => undefined }, new Date("2026-12-05T10:11:00Z")),
    ).rejects.toThrow(/^NoPod: FailedCreate/);
    expect(new Set(seen.map((c) => `${c.method} ${new URL(c.url, endpoint).pathname}`))).toEqual(
      new Set([
        "GET /api/v1/namespaces/squadron/pods",
        "GET /apis/batch/v1/namespaces/squadron/jobs",
        "GET /api/v1/namespaces/squadron/events",
        "DELETE /apis/batch/v1/namespaces/squadron/jobs",
      ]),
    );
    expect(refused(rulesOf(objects.launchWatcherRole))).toEqual([]);
    // The check can refuse: the cleaners' Role reads nothing.
    expect(refused(rulesOf(objects.jobCleanerRole))).toHaveLength(3);
  });
});
