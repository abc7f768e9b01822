/**
 * onComplete "deliver" in the cleanup function as AWS wires it: the team's secrets read through
 * Secrets Manager under the deployment's prefix (recorded response shapes), the run on DynamoDB
 * Local, the targets on 127.0.0.1. Its GetSecretValue calls are in test/fixtures/aws-calls.json,
 * so test/infra/iam-evaluation.test.ts checks the cleanup role may make them.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretReader, teamSecretReader } from "../../core/control/aws-deps.ts";
import { runArtifacts, slackMessage } from "../../core/control/delivery.ts";
import { cleanupRun, prepareRun } from "../../core/control/lifecycle.ts";
import { createTeamRun } from "../../core/control/team-runs.ts";
import { SIGNATURE_HEADER, signWebhookBody } from "../../core/control/webhook.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import type { TeamRunRecord } from "../../core/store/items.ts";
import { type Harness, harness, newTable, recorder } from "./harness.ts";

const NS = "reports";
const HOOK_KEY = "hook-hmac-key";

function teamYaml(name: string, hookUrl: string): string {
  return `apiVersion: kagents.dev/v1alpha1
kind: AgentTeam
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  workspace:
    output:
      mountPath: /workspace/output
  lead:
    prompt: "Write the digest."
  teammates:
    - name: writer
      prompt: "Write."
  lifecycle:
    onComplete: deliver
    delivery:
      - type: webhook
        url: "${hookUrl}"
        credentialsSecret: hook-key
      - type: slack
        channel: "#digest"
        credentialsSecret: slack-creds
`;
}

interface Post {
  path: string;
  signature?: string;
  raw: string;
}

describe("cleanup delivers with the team's Secrets Manager secrets", () => {
  let h: Harness;
  let server: Server;
  let base: string;
  const posts: Post[] = [];
  const secrets = recorder({
    GetSecretValue: (input) => {
      const values: Record<string, string> = {
        [`squadron/${NS}/hook-key`]: HOOK_KEY,
        [`squadron/${NS}/slack-creds`]: JSON.stringify({ "slack-webhook-url": `${base}/services/T1/B2/xyz` }),
      };
      const value = values[input.SecretId as string];
      if (value === undefined) throw new Error(`ResourceNotFoundException: ${String(input.SecretId)}`);
      // GetSecretValue's response shape (Secrets Manager API reference).
      return {
        ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${input.SecretId}-AbCdEf`,
        Name: input.SecretId,
        SecretString: value,
        VersionId: "00000000-0000-0000-0000-000000000001",
        VersionStages: ["AWSCURRENT"],
        CreatedDate: new Date(0),
      };
    },
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const signature = req.headers[SIGNATURE_HEADER.toLowerCase()];
        posts.push({
          path: req.url ?? "",
          raw: Buffer.concat(chunks).toString("utf8"),
          ...(typeof signature === "string" ? { signature } : {}),
        });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    h = harness(await newTable(), {
      notifier: {
        // What awsWebhookNotifier builds, on a recorded Secrets Manager client.
        teamSecret: teamSecretReader(secretReader(secrets as unknown as SecretsManagerClient)),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function start(name: string) {
    const record = await createTeamRun(h.deps, parseTeam(teamYaml(name, `${base}/hooks/done`)));
    await prepareRun(h.deps, {
      runId: record.runId,
      namespace: NS,
      teamName: name,
      executionArn: `arn:aws:states:us-east-1:123456789012:execution:squadron-team-run:${record.runId}`,
      startedAt: new Date().toISOString(),
    });
    return record;
  }

  it("a completed run: one signed envelope, one Slack message, both Delivered in status", async () => {
    const record = await start("digest");
    const outputs = {
      location: `s3://squadron-bucket/runs/${NS}/digest/${record.runId}/output/`,
      files: 1,
      artifacts: [
        {
          name: "digest.md",
          size: 120,
          location: `s3://squadron-bucket/runs/${NS}/digest/${record.runId}/output/digest.md`,
        },
      ],
    };
    await cleanupRun(h.deps, { runId: record.runId, namespace: NS, teamName: "digest", outputs });

    expect(secrets.calls.map((c) => c.input.SecretId).sort()).toEqual([
      `squadron/${NS}/hook-key`,
      `squadron/${NS}/slack-creds`,
    ]);
    const hook = posts.filter((p) => p.path === "/hooks/done");
    expect(hook).toHaveLength(1);
    expect(hook[0]?.signature).toBe(signWebhookBody(HOOK_KEY, hook[0]?.raw ?? ""));
    expect(JSON.parse(hook[0]?.raw ?? "")).toMatchObject({
      event: "team.completed",
      phase: "Completed",
      artifacts: outputs.artifacts,
    });
    const slack = posts.filter((p) => p.path === "/services/T1/B2/xyz");
    expect(slack).toHaveLength(1);
    expect(slack[0]?.signature).toBeUndefined();
    expect(JSON.parse(slack[0]?.raw ?? "").text).toContain(
      `• digest.md (120 B, ${outputs.artifacts[0]?.location})`,
    );

    const after = await h.deps.store.getRun({ namespace: NS, name: "digest" });
    expect(after.status.phase).toBe("Completed");
    expect(after.status.delivery?.map((d) => [d.type, d.phase, d.httpStatus])).toEqual([
      ["webhook", "Delivered", 200],
      ["slack", "Delivered", 200],
    ]);
  });

  it("a failed run delivers nothing: onComplete runs only when the team completed", async () => {
    const record = await start("digest-failed");
    const before = posts.length;
    await cleanupRun(h.deps, {
      runId: record.runId,
      namespace: NS,
      teamName: "digest-failed",
      failure: { Error: "LeadFailed", Cause: "lead exited with code 2" },
    });
    expect(posts.length).toBe(before);
    const after = await h.deps.store.getRun({ namespace: NS, name: "digest-failed" });
    expect(after.status.phase).toBe("Failed");
    expect(after.status.delivery).toBeUndefined();
  });
});

describe("the artifact list", () => {
  const record = (status: Record<string, unknown>) => ({ status }) as unknown as TeamRunRecord;
  const outputs = {
    location: "s3://b/p/",
    files: 1,
    artifacts: [{ name: "a.md", size: 3, location: "s3://b/p/a.md" }],
  };

  it("prefers status.artifacts when a run recorded them, tolerating missing or partial fields", () => {
    expect(
      runArtifacts(
        record({
          artifacts: [
            {
              name: "findings.md",
              path: "/workspace/output/findings.md",
              producedBy: "researcher",
              size: 42,
            },
            { path: "/workspace/output/b.csv" },
            { nothing: true },
            "junk",
          ],
        }),
        outputs,
      ),
    ).toEqual([
      { name: "findings.md", size: 42, location: "/workspace/output/findings.md", producer: "researcher" },
      { name: "/workspace/output/b.csv", location: "/workspace/output/b.csv" },
    ]);
  });

  it("falls back to the files DeliverOutputs wrote, and to none", () => {
    expect(runArtifacts(record({}), outputs)).toEqual(outputs.artifacts);
    expect(runArtifacts(record({ artifacts: [] }), outputs)).toEqual(outputs.artifacts);
    expect(runArtifacts(record({}), undefined)).toEqual([]);
  });

  it("escapes Slack's control characters in names and messages", () => {
    const { text } = slackMessage(
      { type: "slack", credentialsSecret: "s", message: "<!channel> done & dusted" },
      {
        event: "team.completed",
        team: "t",
        namespace: "n",
        phase: "Completed",
        runId: "t-1",
        timestamp: "",
        artifacts: [{ name: "<b>.md" }],
      },
    );
    expect(text).toContain("&lt;!channel&gt; done &amp; dusted");
    expect(text).toContain("• &lt;b&gt;.md");
    expect(text).not.toContain("<!channel>");
  });
});
