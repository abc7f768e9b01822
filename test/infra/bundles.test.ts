/**
 * Every Lambda bundle, built with the app's own esbuild settings (the ones the CDK construct
 * passes to NodejsFunction), loads in a real `node` process and its handler answers a minimal
 * event. DynamoDB Local stands in for the team table; every other AWS endpoint points at a closed
 * port, so a handler that reached for the control plane would fail here rather than pass.
 *
 * Which answers are which:
 * - real successes: api (health 200, unknown team 404 from DynamoDB Local), budget (a stream
 *   record that is not a run: no action), events (a running execution, a running ECS task:
 *   nothing to do);
 * - clear errors for events the handler must refuse (a run id the table does not know, a
 *   Slack request without a configured signing secret, an unknown action): dependencies,
 *   approvals, prepare, outputs, cleanup, deadline. Their happy paths call Step Functions, EFS, ECS,
 *   S3 or Scheduler, which are not reachable offline; test/lambdas covers them with recorded shapes.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ENV } from "../../core/control/aws-deps.ts";
import { createTable } from "../../core/store/table-definition.ts";
import {
  bundleHandler,
  HANDLER_NAMES,
  type HandlerBundle,
  type HandlerName,
  LAMBDA_NODE_OPTIONS,
} from "../../infra/bundling.ts";
import { localDynamoDbClient } from "../support/dynamodb-local.ts";

const outRoot = mkdtempSync(join(tmpdir(), "squadron-bundles-"));
const bundles = new Map<HandlerName, HandlerBundle>();
let tableName = "";
let endpoint = "";

beforeAll(async () => {
  endpoint = inject("dynamoDbLocalEndpoint");
  tableName = `bundles-${randomBytes(5).toString("hex")}`;
  const client = localDynamoDbClient(endpoint);
  const built = Promise.all(
    HANDLER_NAMES.map(async (name) => bundles.set(name, await bundleHandler(name, join(outRoot, name)))),
  );
  await Promise.all([built, createTable(client, tableName)]);
  client.destroy();
}, 60_000);

afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

type Answer = { ok: true; value: unknown } | { ok: false; name: string; message: string };

/** The child imports the bundle, calls `handler(event)` once and prints what came back. */
const CHILD = `
const [file, event] = [process.argv[1], JSON.parse(process.argv[2])];
const { handler } = await import(file);
try {
  console.log("ANSWER " + JSON.stringify({ ok: true, value: (await handler(event)) ?? null }));
} catch (error) {
  console.log("ANSWER " + JSON.stringify({ ok: false, name: error.name, message: error.message }));
}`;

function invoke(name: HandlerName, event: unknown, env: Record<string, string> = {}): Promise<Answer> {
  const bundle = bundles.get(name);
  if (!bundle) throw new Error(`no bundle for ${name}`);
  const closed = "http://127.0.0.1:9";
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", CHILD, pathToFileURL(bundle.file).href, JSON.stringify(event)],
      {
        timeout: 20_000,
        env: {
          PATH: process.env.PATH ?? "",
          NODE_OPTIONS: LAMBDA_NODE_OPTIONS,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "local",
          AWS_SECRET_ACCESS_KEY: "local",
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_MAX_ATTEMPTS: "1",
          AWS_ENDPOINT_URL: closed,
          AWS_ENDPOINT_URL_DYNAMODB: endpoint,
          POWERTOOLS_LOG_LEVEL: "ERROR",
          POWERTOOLS_METRICS_DISABLED: "true",
          [ENV.table]: tableName,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const line = stdout.split("\n").find((l) => l.startsWith("ANSWER "));
        if (!line) {
          reject(new Error(`${name} bundle crashed (${error?.message ?? "no answer"}):\n${stderr}`));
          return;
        }
        resolve(JSON.parse(line.slice("ANSWER ".length)) as Answer);
      },
    );
  });
}

function proxyEvent(method: string, path: string) {
  return {
    httpMethod: method,
    path,
    resource: "/{proxy+}",
    headers: { accept: "application/json" },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: path.replace(/^\//, "") },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      httpMethod: method,
      path: `/prod${path}`,
      stage: "prod",
      requestId: randomBytes(8).toString("hex"),
      identity: { userArn: "arn:aws:iam::123456789012:user/bundle-test", caller: "AIDATEST" },
    },
  };
}

const unknownRun = {
  runId: "run-unknown-0000",
  namespace: "default",
  teamName: "no-such-team",
  executionArn: "arn:aws:states:us-east-1:123456789012:execution:squadron-team-run:run-unknown-0000",
  startedAt: "2025-01-01T00:00:00.000Z",
};

function expectValue(answer: Answer): unknown {
  if (!answer.ok) throw new Error(`expected a result, got ${answer.name}: ${answer.message}`);
  return answer.value;
}

function expectError(answer: Answer): { name: string; message: string } {
  if (answer.ok) throw new Error(`expected an error, got ${JSON.stringify(answer.value)}`);
  return { name: answer.name, message: answer.message };
}

describe("Lambda bundles", () => {
  it("holds only each handler's own domain modules and SDK clients", () => {
    const has = (name: HandlerName, fragment: string) =>
      bundles.get(name)?.inputs.some((input) => input.includes(fragment)) ?? false;
    for (const name of HANDLER_NAMES) {
      expect(bundles.get(name)?.inputs.length, name).toBeGreaterThan(0);
      expect(readFileSync(`${bundles.get(name)?.file}.map`, "utf8")).toContain('"mappings"');
    }
    // Small handlers: no manifest schemas, no Slack client, no S3/EFS/ECS/Scheduler clients.
    for (const name of ["budget", "deadline", "dependencies"] as const) {
      expect(has(name, "core/manifest/schema.ts"), name).toBe(false);
      expect(has(name, "node_modules/zod/"), name).toBe(false);
      expect(has(name, "node_modules/yaml/"), name).toBe(false);
      expect(has(name, "@aws-sdk/client-s3/"), name).toBe(false);
      expect(has(name, "@aws-sdk/client-efs/"), name).toBe(false);
      expect(has(name, "@aws-sdk/client-ecs/"), name).toBe(false);
      expect(has(name, "@aws-sdk/client-scheduler/"), name).toBe(false);
      expect(has(name, "@aws-sdk/client-cloudwatch-logs/"), name).toBe(false);
    }
    // The Slack Web API client is constructed only by the api and approvals functions.
    const callsSlack = (name: HandlerName) =>
      readFileSync(bundles.get(name)?.file as string, "utf8").includes("https://slack.com/api");
    expect(HANDLER_NAMES.filter(callsSlack)).toEqual(["api", "approvals"]);
    expect(has("dependencies", "@aws-sdk/client-secrets-manager/")).toBe(false);
    // Only Prepare (run manifests) and the outputs function (a run's outputs) write to S3; only the
    // api reads CloudWatch Logs.
    expect(HANDLER_NAMES.filter((n) => has(n, "@aws-sdk/client-s3/"))).toEqual(["prepare", "outputs"]);
    expect(HANDLER_NAMES.filter((n) => has(n, "@aws-sdk/client-cloudwatch-logs/"))).toEqual(["api"]);
    // The manifest schemas are the api's alone.
    expect(HANDLER_NAMES.filter((n) => has(n, "core/manifest/schema.ts"))).toEqual(["api"]);
  });

  it("api: GET /api/health answers 200 and an unknown team 404 from the table", async () => {
    const [health, missing] = await Promise.all([
      invoke("api", proxyEvent("GET", "/api/health")),
      invoke("api", proxyEvent("GET", "/api/namespaces/default/teams/no-such-team")),
    ]);
    expect(expectValue(health)).toMatchObject({ statusCode: 200 });
    expect(JSON.parse((expectValue(health) as { body: string }).body)).toEqual({ status: "ok" });
    const notFound = expectValue(missing) as { statusCode: number; body: string };
    expect(notFound.statusCode).toBe(404);
    expect(notFound.body).toContain("no-such-team");
  });

  it("budget: a stream record that is not a run is no action", async () => {
    const event = {
      Records: [
        {
          eventName: "INSERT",
          dynamodb: {
            NewImage: { pk: { S: "TEAM#default#demo" }, sk: { S: "EVENT#0001" }, type: { S: "Normal" } },
          },
        },
        { eventName: "REMOVE", dynamodb: { OldImage: { pk: { S: "TEAM#default#demo" }, sk: { S: "RUN" } } } },
      ],
    };
    expect(expectValue(await invoke("budget", event))).toBeNull();
  });

  it("events: a running execution and a running ECS task need nothing", async () => {
    const [execution, task] = await Promise.all([
      invoke("events", {
        "detail-type": "Step Functions Execution Status Change",
        source: "aws.states",
        detail: { executionArn: unknownRun.executionArn, name: unknownRun.runId, status: "RUNNING" },
      }),
      invoke("events", {
        "detail-type": "ECS Task State Change",
        source: "aws.ecs",
        detail: { lastStatus: "RUNNING", taskArn: "arn:aws:ecs:us-east-1:123456789012:task/c/0" },
      }),
    ]);
    expect(expectValue(execution)).toEqual({});
    expect(expectValue(task)).toEqual({ taskStop: "ignored" });
  });

  it("dependencies, approvals, deadline: an unknown run id is a clear error", async () => {
    const agent = { runId: unknownRun.runId, agentName: "lead" };
    const answers = await Promise.all([
      invoke("dependencies", { action: "wait", taskToken: "token", ...agent }),
      invoke("approvals", { action: "awaitApproval", taskToken: "token", gate: "spawn-lead", ...agent }),
      invoke("deadline", { runId: unknownRun.runId }),
    ]);
    for (const answer of answers) {
      expect(expectError(answer)).toEqual({
        name: "UnknownRunError",
        message: `No team run has run id ${unknownRun.runId}.`,
      });
    }
  });

  it("dependencies: an unknown action and approvals: Slack without a signing secret are refused", async () => {
    const [action, slack] = await Promise.all([
      invoke("dependencies", { action: "jump", runId: unknownRun.runId, agentName: "lead" }),
      invoke("approvals", { ...proxyEvent("POST", "/webhooks/slack"), body: "payload=%7B%7D" }),
    ]);
    expect(expectError(action).message).toBe("unknown action jump");
    expect(expectError(slack).message).toBe(`${ENV.slackSigningSecret} is not configured`);
  });

  it("prepare, outputs and cleanup: a team the table does not hold is a clear error", async () => {
    const [prepare, outputs, cleanup] = await Promise.all([
      invoke("prepare", unknownRun),
      invoke(
        "outputs",
        { runId: unknownRun.runId, namespace: unknownRun.namespace, teamName: unknownRun.teamName },
        { [ENV.bucket]: "squadron-data", [ENV.runsMount]: outRoot },
      ),
      invoke("cleanup", { ...unknownRun, failure: { Error: "States.TaskFailed", Cause: "test" } }),
    ]);
    for (const answer of [prepare, outputs, cleanup]) {
      const error = expectError(answer);
      expect(error.name).toBe("NotFoundError");
      expect(error.message).toContain("no-such-team");
    }
  });
});
