/**
 * The runner Jobs a run left on an EKS cluster, deleted by the functions that end a run (Cleanup,
 * and the events function after StopExecution). The Step Functions guide does not say that
 * stopping an execution deletes the Job an `eks:runJob.sync` Task created, and a Job left running
 * keeps its agent working (and spending) until its activeDeadlineSeconds: so the run's end
 * deletes every Job labelled with the run, whatever the Task did.
 *
 * The Kubernetes API is called directly (one DELETE of a collection), authenticated the way EKS
 * authenticates IAM principals: a bearer token that is a presigned STS GetCallerIdentity URL
 * carrying the cluster name in the signed `x-k8s-aws-id` header (aws-iam-authenticator's
 * "k8s-aws-v1." token, what `aws eks get-token` prints). The function's role reaches the
 * namespace through an EKS access entry (infra/constructs/compute.ts).
 */
import { createHash } from "node:crypto";
import { request } from "node:https";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The label every runner Job and pod carries: the SHA-1 of the run id (a label value is ≤ 63). */
export const RUN_LABEL = "squadron.dev/run";

export function runLabelValue(runId: string): string {
  return createHash("sha1").update(runId).digest("hex");
}

export interface RunJobs {
  /** Deletes the run's Jobs and, in the background, their pods; how many Jobs were deleted. */
  deleteRunJobs(runId: string): Promise<number>;
}

export interface EksRunJobsOptions {
  clusterName: string;
  /** `https://…` from DescribeCluster. */
  endpoint: string;
  /** DescribeCluster's certificateAuthority.data (base64 PEM). */
  certificateAuthority: string;
  namespace: string;
  region: string;
  credentials: AwsCredentials | (() => Promise<AwsCredentials>);
}

/** aws-iam-authenticator's token: `k8s-aws-v1.` + base64url of the presigned GetCallerIdentity URL. */
export async function eksToken(options: Pick<EksRunJobsOptions, "clusterName" | "region" | "credentials">) {
  const signer = new SignatureV4({
    service: "sts",
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const hostname = `sts.${options.region}.amazonaws.com`;
  const presigned = await signer.presign(
    {
      method: "GET",
      protocol: "https:",
      hostname,
      path: "/",
      query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      headers: { host: hostname, "x-k8s-aws-id": options.clusterName },
    },
    // EKS accepts tokens for 15 minutes; 60 s is what aws eks get-token signs for.
    { expiresIn: 60 },
  );
  const query = new URLSearchParams(presigned.query as Record<string, string>).toString();
  const url = `https://${hostname}/?${query}`;
  return `k8s-aws-v1.${Buffer.from(url).toString("base64url")}`;
}

/** What the start watch reads of a Job's pods (core/control/runner-start.ts). */
export interface KubernetesPod {
  metadata: { name: string; creationTimestamp?: string };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string } } }>;
    initContainerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}

export interface KubernetesJob {
  metadata: { name: string; creationTimestamp?: string };
}

export interface KubernetesEvent {
  reason?: string;
  message?: string;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  count?: number;
}

/** The runners' Jobs and pods in the namespace, as the start watch and the run's end see them. */
export interface RunnerWorkloads {
  listPods(labelSelector: string): Promise<KubernetesPod[]>;
  listJobs(labelSelector: string): Promise<KubernetesJob[]>;
  /** Warning events about one object, newest last (FailedMount, FailedCreate, FailedScheduling). */
  warningEvents(kind: "Pod" | "Job", name: string): Promise<KubernetesEvent[]>;
  /** Deletes the matching Jobs (pods in the background); how many. */
  deleteJobs(labelSelector: string): Promise<number>;
}

/** A refusal or failure of the Kubernetes API, with its HTTP status and Status reason. */
export class KubernetesApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "KubernetesApiError";
  }
}

export class EksRunJobs implements RunJobs, RunnerWorkloads {
  constructor(private readonly options: EksRunJobsOptions) {}

  async deleteRunJobs(runId: string): Promise<number> {
    const selector = `${RUN_LABEL}=${runLabelValue(runId)}`;
    try {
      return await this.deleteJobs(selector);
    } catch (error) {
      if (!(error instanceof KubernetesApiError)) throw error;
      throw new Error(`deleting the Jobs of run ${runId} (${selector}) ${error.message}`);
    }
  }

  async deleteJobs(labelSelector: string): Promise<number> {
    // Background: the Job goes now, the garbage collector deletes its pods (SIGTERM, grace).
    const list = await this.call<{ items?: unknown[] }>("DELETE", this.jobsPath(), {
      labelSelector,
      propagationPolicy: "Background",
    });
    return list.items?.length ?? 0;
  }

  async listPods(labelSelector: string): Promise<KubernetesPod[]> {
    const ns = encodeURIComponent(this.options.namespace);
    const list = await this.call<{ items?: KubernetesPod[] }>("GET", `/api/v1/namespaces/${ns}/pods`, {
      labelSelector,
    });
    return list.items ?? [];
  }

  async listJobs(labelSelector: string): Promise<KubernetesJob[]> {
    const list = await this.call<{ items?: KubernetesJob[] }>("GET", this.jobsPath(), { labelSelector });
    return list.items ?? [];
  }

  async warningEvents(kind: "Pod" | "Job", name: string): Promise<KubernetesEvent[]> {
    const ns = encodeURIComponent(this.options.namespace);
    const list = await this.call<{ items?: KubernetesEvent[] }>("GET", `/api/v1/namespaces/${ns}/events`, {
      fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name},type=Warning`,
    });
    const at = (e: KubernetesEvent) => Date.parse(e.lastTimestamp ?? e.eventTime ?? "") || 0;
    return (list.items ?? []).sort((a, b) => at(a) - at(b));
  }

  private jobsPath(): string {
    return `/apis/batch/v1/namespaces/${encodeURIComponent(this.options.namespace)}/jobs`;
  }

  private async call<T>(method: string, path: string, query: Record<string, string>): Promise<T> {
    const token = await eksToken(this.options);
    const { status, body } = await this.send(method, `${path}?${new URLSearchParams(query)}`, token);
    if (status >= 200 && status < 300) return JSON.parse(body) as T;
    // A Kubernetes Status object says why (e.g. 403 Forbidden: the access entry is missing).
    let message = body;
    try {
      const s = JSON.parse(body) as { reason?: string; message?: string };
      message = `${s.reason ?? ""}: ${s.message ?? body}`;
    } catch {}
    throw new KubernetesApiError(status, `failed with HTTP ${status}: ${message}`);
  }

  private send(method: string, path: string, token: string): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.options.endpoint);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: Buffer.from(this.options.certificateAuthority, "base64").toString("utf8"),
          headers: { authorization: `Bearer ${token}`, accept: "application/json" },
          timeout: 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`the Kubernetes API did not answer ${method} ${url.pathname} in 15 s`)),
      );
      req.on("error", reject);
      req.end();
    });
  }
}
