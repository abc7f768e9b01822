/**
 * Deleting a run's Jobs through the Kubernetes API, as the functions that end a run do on EKS.
 * The edge is a local HTTPS server (its own CA, made with openssl) answering with the shapes the
 * API server answers (a JobList for a collection DELETE, a Status on refusal); the token, TLS
 * verification against the cluster's CA, the request and its parsing are the real code.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadlineScheduler } from "../../core/control/deadline-scheduler.ts";
import { releaseRunResources } from "../../core/control/lifecycle.ts";
import type { RunIndex } from "../../core/control/run-index.ts";
import { EksRunJobs, eksToken, runLabelValue } from "../../core/control/run-jobs.ts";
import { NoopRunWorkspaces } from "../../core/control/run-workspace.ts";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
let server: Server;
let endpoint: string;
let ca: string;
const seen: Array<{ method: string; url: string; authorization: string }> = [];
let answer: { status: number; body: unknown } = { status: 200, body: {} };

/** A self-signed certificate and its key from openssl, as a cluster's CA would sign its API. */
function selfSignedCertificate(commonName: string, extensions: string[] = []): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "squadron-k8s-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-subj",
      `/CN=${commonName}`,
      ...extensions.flatMap((e) => ["-addext", e]),
    ],
    { stdio: "ignore" },
  );
  const pair = { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  rmSync(dir, { recursive: true, force: true });
  return pair;
}

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate("localhost", ["subjectAltName=IP:127.0.0.1,DNS:localhost"]);
  ca = cert.toString("base64");
  server = createServer({ key, cert }, (req: IncomingMessage, res) => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      authorization: req.headers.authorization ?? "",
    });
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(JSON.stringify(answer.body));
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
