import { ResourceNotFoundException } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretArnResolver, secretReader, teamSecretReader } from "../../core/control/aws-deps.ts";
import { ChannelGateNotifier } from "../../core/control/notifications.ts";
import { EfsEcsRunWorkspaces } from "../../core/control/run-workspace.ts";
import {
  mcpSecretVariable,
  runnerSecrets,
  teamSecretArn,
  teamSecretId,
} from "../../core/control/team-secrets.ts";
import { signWebhookBody } from "../../core/control/webhook.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { secretVariable } from "../../runner/session/agent-setup.ts";
import { type ReceivedWebhook, startWebhookReceiver } from "../support/webhook-receiver.ts";
import { recorder } from "./harness.ts";

const TEAM = `apiVersion: claude.amcheste.io/v1alpha1
kind: AgentTeam
metadata:
  name: billing
  namespace: payments
spec:
  repository:
    url: "https://github.com/acme/billing.git"
    credentialsSecret: "billing-git-token"
  auth:
    apiKeySecret: "anthropic-key"
    cliSecrets:
      codex: "openai-key"
  lead:
    prompt: "Coordinate."
    mcpServers:
      - name: linear
        url: "https://mcp.linear.app/mcp"
        authSecret: "linear.token"
  teammates:
    - name: "backend"
      prompt: "Implement."
      mcpServers:
        - name: linear
          url: "https://mcp.linear.app/mcp"
          authSecret: "linear.token"
  observability:
    webhook:
      url: "https://hooks.example.com/squadron"
      secretRef: "billing-webhook"
`;

const EXPECTED_SECRETS = [
  { env: "ANTHROPIC_API_KEY", secret: "anthropic-key" },
  { env: "OPENAI_API_KEY", secret: "openai-key" },
  { env: "SQUADRON_GIT_TOKEN", secret: "billing-git-token" },
  { env: "SQUADRON_GITHUB_TOKEN", secret: "billing-git-token" },
  { env: "SQUADRON_SECRET_LINEAR_TOKEN", secret: "linear.token" },
  { env: "SQUADRON_WEBHOOK_SECRET", secret: "billing-webhook" },
];

describe("team secret naming scheme", () => {
  it("maps (namespace, name) to squadron/<namespace>/<name> and its ARN in the deployment's account", () => {
    expect(teamSecretId("payments", "billing-git-token")).toBe("squadron/payments/billing-git-token");
    expect(
      teamSecretArn("arn:aws:ecs:eu-west-1:123456789012:task-definition/squadron-runner:7", "payments", "x"),
    ).toBe("arn:aws:secretsmanager:eu-west-1:123456789012:secret:squadron/payments/x");
  });

  it("refuses names that would leave the namespace's part of the prefix or are not secret names", () => {
    expect(() => teamSecretId("payments", "../other/token")).toThrow(
      /secret name "..\/other\/token" cannot name a Secrets Manager secret/,
    );
    expect(() => teamSecretId("pay ments", "x")).toThrow(/namespace "pay ments"/);
    expect(() => teamSecretArn("squadron-runner", "payments", "x")).toThrow(/not a regional ARN/);
  });

  it("puts them under the deployment's own prefix when it has one", () => {
    expect(teamSecretId("payments", "billing-git-token", "squadron-prod")).toBe(
      "squadron-prod/payments/billing-git-token",
    );
    expect(() => teamSecretId("payments", "x", "squadron/prod")).toThrow(
      /team secret prefix "squadron\/prod"/,
    );
  });

  it("names MCP secrets' variables exactly as the runner reads them", () => {
    for (const name of ["linear.token", "github-pat", "Notion_Key2"]) {
      expect(mcpSecretVariable(name)).toBe(secretVariable(name));
    }
  });

  it("lists each referenced secret once, under the variable the runner reads", () => {
    expect(runnerSecrets(parseTeam(TEAM))).toEqual(EXPECTED_SECRETS);
    const bare = parseTeam(
      TEAM.replace(/ {2}repository:\n.*\n.*\n/, "  workspace: {}\n")
        .replace(/ {2}auth:\n.*\n.*\n.*\n/, "")
        .replace(/ {4}mcpServers:[\s\S]*?authSecret: "linear.token"\n/, "")
        .replace(/ {6}mcpServers:[\s\S]*?authSecret: "linear.token"\n/, "")
        .replace(/ {2}observability:[\s\S]*$/, ""),
    );
    expect(runnerSecrets(bare)).toEqual([]);
  });
});

describe("Prepare's per-run task definition", () => {
  it("adds the team's secrets to the runner container as ARNs under squadron/<namespace>/", async () => {
    const efs = recorder({
      CreateAccessPoint: () => ({ AccessPointId: "fsap-0123456789abcdef0", LifeCycleState: "available" }),
    });
    const deploymentKey =
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:Squadron/anthropic-api-key-AbCdEf";
    const githubToken = "arn:aws:secretsmanager:us-east-1:123456789012:secret:Squadron/github-token-GhIjKl";
    const ecs = recorder({
      DescribeTaskDefinition: () => ({
        taskDefinition: {
          taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/Squadron-runner:7",
          family: "Squadron-runner",
          revision: 7,
          taskRoleArn: "arn:aws:iam::123456789012:role/runner",
          executionRoleArn: "arn:aws:iam::123456789012:role/runner-exec",
          networkMode: "awsvpc",
          containerDefinitions: [
            {
              name: "runner",
              image: "runner:latest",
              environment: [{ name: "SQUADRON_TABLE_NAME", value: "squadron" }],
              secrets: [
                { name: "ANTHROPIC_API_KEY", valueFrom: deploymentKey },
                { name: "GITHUB_TOKEN", valueFrom: githubToken },
              ],
              mountPoints: [{ sourceVolume: "team", containerPath: "/mnt/team" }],
            },
          ],
          volumes: [{ name: "team", efsVolumeConfiguration: { fileSystemId: "fs-12345678" } }],
          requiresCompatibilities: ["FARGATE"],
          cpu: "1024",
          memory: "4096",
          status: "ACTIVE",
        },
      }),
      RegisterTaskDefinition: (i) => ({
        taskDefinition: {
          ...i,
          taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/Squadron-runner:8",
          revision: 8,
        },
      }),
    });
    const workspaces = new EfsEcsRunWorkspaces(efs, ecs, {
      fileSystemId: "fs-12345678",
      baseTaskDefinition: "Squadron-runner",
      volumeName: "team",
    });
    const team = parseTeam(TEAM);
    await workspaces.create({ runId: "billing-1a2b3c4d", namespace: "payments", teamName: "billing", team });
    const registered = ecs.calls.find((c) => c.command === "RegisterTaskDefinition")?.input as {
      containerDefinitions: Array<{ name: string; secrets: Array<{ name: string; valueFrom: string }> }>;
    };
    const arn = (name: string) =>
      `arn:aws:secretsmanager:us-east-1:123456789012:secret:squadron/payments/${name}`;
    expect(registered.containerDefinitions[0]?.secrets).toEqual([
      { name: "GITHUB_TOKEN", valueFrom: githubToken },
      ...EXPECTED_SECRETS.map((s) => ({ name: s.env, valueFrom: arn(s.secret) })),
    ]);

    // Without team secrets the base container is registered as it is.
    ecs.calls.length = 0;
    await workspaces.create({ runId: "plain-1a2b3c4d", namespace: "payments", teamName: "plain" });
    const plain = ecs.calls.find((c) => c.command === "RegisterTaskDefinition")?.input as typeof registered;
    expect(plain.containerDefinitions[0]?.secrets).toEqual([
      { name: "ANTHROPIC_API_KEY", valueFrom: deploymentKey },
      { name: "GITHUB_TOKEN", valueFrom: githubToken },
    ]);

    // With a resolver (AWS: DescribeSecret) the revision names each secret by its full ARN.
    ecs.calls.length = 0;
    const resolving = new EfsEcsRunWorkspaces(efs, ecs, {
      fileSystemId: "fs-12345678",
      baseTaskDefinition: "Squadron-runner",
      volumeName: "team",
      resolveSecretArn: async (partial) => `${partial}-Xy12Zq`,
    });
    await resolving.create({ runId: "billing-2b3c4d5e", namespace: "payments", teamName: "billing", team });
    const full = ecs.calls.find((c) => c.command === "RegisterTaskDefinition")?.input as typeof registered;
    expect(full.containerDefinitions[0]?.secrets.slice(1).map((s) => s.valueFrom)).toEqual(
      EXPECTED_SECRETS.map((s) => `${arn(s.secret)}-Xy12Zq`),
    );

    // A deployment with its own prefix names its own team secrets, not another deployment's.
    ecs.calls.length = 0;
    const prod = new EfsEcsRunWorkspaces(efs, ecs, {
      fileSystemId: "fs-12345678",
      baseTaskDefinition: "Squadron-runner",
      volumeName: "team",
      teamSecretPrefix: "squadron-prod",
    });
    await prod.create({ runId: "billing-3c4d5e6f", namespace: "payments", teamName: "billing", team });
    const prefixed = ecs.calls.find((c) => c.command === "RegisterTaskDefinition")
      ?.input as typeof registered;
    expect(prefixed.containerDefinitions[0]?.secrets.slice(1).map((s) => s.valueFrom)).toEqual(
      EXPECTED_SECRETS.map(
        (s) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:squadron-prod/payments/${s.secret}`,
      ),
    );
  });
});

describe("team secrets' full ARNs (Prepare, DescribeSecret)", () => {
  const existing = new Set(["squadron/payments/billing-git-token"]);
  const secretsManager = recorder({
    DescribeSecret: (i) => {
      const name = String(i.SecretId).split(":secret:")[1] as string;
      if (!existing.has(name)) {
        throw new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret.",
          $metadata: { httpStatusCode: 400 },
        });
      }
      return {
        ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-Xy12Zq`,
        Name: name,
        LastChangedDate: new Date("2026-11-01T00:00:00Z"),
        VersionIdsToStages: { "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111": ["AWSCURRENT"] },
      };
    },
  });
  const resolve = secretArnResolver(secretsManager as never);

  it("puts the full ARN (with its suffix) in the task definition", async () => {
    await expect(
      resolve("arn:aws:secretsmanager:us-east-1:123456789012:secret:squadron/payments/billing-git-token"),
    ).resolves.toBe(
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:squadron/payments/billing-git-token-Xy12Zq",
    );
  });

  it("fails Prepare naming the missing secret and where to create it", async () => {
    await expect(
      resolve("arn:aws:secretsmanager:us-east-1:123456789012:secret:squadron/payments/billing-webhook"),
    ).rejects.toThrow(
      /the team's secret squadron\/payments\/billing-webhook does not exist in Secrets Manager: create it \(docs\/deploy.md/,
    );
  });
});

describe("run-level webhooks in AWS", () => {
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let url: string;
  let received: ReceivedWebhook[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    ({ url, received } = receiver);
  });
  afterAll(() => receiver.close());

  it("are signed with webhook.secretRef read from squadron/<namespace>/<secretRef>", async () => {
    const asked: string[] = [];
    // Secrets Manager double answering GetSecretValue as the API does (SecretString).
    const secretsManager = {
      send: async (command: { input: { SecretId: string } }) => {
        asked.push(command.input.SecretId);
        if (command.input.SecretId !== "squadron/payments/billing-webhook") {
          throw Object.assign(new Error("Secrets Manager can't find the specified secret."), {
            name: "ResourceNotFoundException",
          });
        }
        return { Name: command.input.SecretId, SecretString: "team-hmac-key", VersionStages: ["AWSCURRENT"] };
      },
    };
    const notifier = new ChannelGateNotifier({
      teamSecret: teamSecretReader(secretReader(secretsManager as never)),
      webhookAttempts: 1,
    });
    const team = parseTeam(TEAM.replace("https://hooks.example.com/squadron", url));
    await notifier.teamEvent(team, {
      event: "budget-warning",
      phase: "Running",
      message: "80% of the budget",
    });
    await notifier.teamEvent(team, { event: "finished", phase: "Succeeded", message: "done" });
    expect(asked).toEqual(["squadron/payments/billing-webhook"]);
    expect(received).toHaveLength(2);
    for (const r of received) expect(r.signature).toBe(signWebhookBody("team-hmac-key", r.body));
    expect(JSON.parse(received[0]?.body ?? "{}")).toMatchObject({
      event: "budget-warning",
      team: "billing",
      namespace: "payments",
    });
  });
});
