import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ResourceNotFoundException } from "@aws-sdk/client-scheduler";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { secretReader, triggerSecretReader } from "../../core/control/aws-deps.ts";
import type { DeadlineScheduler } from "../../core/control/deadline-scheduler.ts";
import type { ControlDeps } from "../../core/control/deps.ts";
import {
  SfnExecutionStarter,
  SfnExecutionStopper,
  SfnTaskTokenResolver,
} from "../../core/control/execution.ts";
import { type BearerToken, bearerTokenAuthorizer } from "../../core/control/http.ts";
import { IdempotencyKeys } from "../../core/control/idempotency.ts";
import { ChannelGateNotifier, type ChannelNotifierOptions } from "../../core/control/notifications.ts";
import { RunIndex } from "../../core/control/run-index.ts";
import type { RunManifest } from "../../core/control/run-manifest.ts";
import { NoopRunWorkspaces } from "../../core/control/run-workspace.ts";
import { NoTeamFiles, type TeamFilesReader } from "../../core/control/team-files.ts";
import { ScheduleStore } from "../../core/schedules/store.ts";
import { EventBridgeScheduleTimers } from "../../core/schedules/timers.ts";
import { createTable } from "../../core/store/table-definition.ts";
import { TeamStore } from "../../core/store/team-store.ts";
import { TriggerStore } from "../../core/triggers/trigger-store.ts";
import { type ApiDeps, apiHandler } from "../../lambdas/api/routes.ts";
import { proxyEvent } from "../../local/http-gateway.ts";
import { noteAwsCall } from "../support/aws-call-recorder.ts";
import { localDynamoDbClient } from "../support/dynamodb-local.ts";

/** The service of an SDK command (the client package it comes from), for the call recorder. */
function serviceOfCommand(command: object): string {
  // The command's name is unique across the services these stand-ins answer.
  const name = command.constructor.name;
  for (const [service, commands] of Object.entries(STAND_IN_SERVICES)) {
    if (commands.includes(name.replace(/Command$/, ""))) return service;
  }
  return "unknown";
}

const STAND_IN_SERVICES: Record<string, string[]> = {
  EFS: ["CreateAccessPoint", "DescribeAccessPoints", "DeleteAccessPoint"],
  ECS: [
    "DescribeTaskDefinition",
    "RegisterTaskDefinition",
    "DeregisterTaskDefinition",
    "DeleteTaskDefinitions",
    "StopTask",
    "DescribeTasks",
  ],
  Scheduler: ["CreateSchedule", "UpdateSchedule", "DeleteSchedule"],
  "Secrets Manager": ["GetSecretValue", "DescribeSecret"],
  "CloudWatch Logs": ["FilterLogEvents", "GetLogEvents"],
  S3: ["PutObject", "GetObject", "ListObjectsV2"],
  SFN: ["StartExecution", "StopExecution", "SendTaskSuccess", "SendTaskFailure", "DescribeExecution"],
};

/**
 * An AWS SDK client stand-in (EFS, ECS, Scheduler, Secrets Manager...) that answers each
 * command with a response shape recorded from the real API and keeps the calls; a command with
 * no recorded answer fails the test.
 */
export function recorder(responses: Record<string, (input: Record<string, unknown>) => unknown>) {
  const calls: Array<{ command: string; input: Record<string, unknown> }> = [];
  return {
    calls,
    async send(command: { constructor: { name: string }; input: unknown }): Promise<never> {
      const name = command.constructor.name.replace(/Command$/, "");
      const input = command.input as Record<string, unknown>;
      calls.push({ command: name, input });
      noteAwsCall(serviceOfCommand(command), name, input);
      const respond = responses[name];
      if (!respond) throw new Error(`unexpected ${name}`);
      return { $metadata: { httpStatusCode: 200 }, ...(respond(input) as object) } as never;
    },
  };
}

/**
 * An EventBridge Scheduler client recorder: the schedules it holds (by name, group `group`),
 * answering Create/Update/DeleteSchedule as the real API does (UpdateSchedule and DeleteSchedule
 * of a schedule it does not hold: ResourceNotFoundException).
 */
export function schedulerStandIn(group = "squadron-team-schedules") {
  const held = new Set<string>();
  const arn = (name: string) => `arn:aws:scheduler:us-east-1:123456789012:schedule/${group}/${name}`;
  const notFound = (name: string) =>
    new ResourceNotFoundException({
      message: `Schedule ${name} does not exist.`,
      Message: `Schedule ${name} does not exist.`,
      $metadata: { httpStatusCode: 404 },
    });
  const rec = recorder({
    CreateSchedule: (input) => {
      held.add(input.Name as string);
      return { ScheduleArn: arn(input.Name as string) };
    },
    UpdateSchedule: (input) => {
      if (!held.has(input.Name as string)) throw notFound(input.Name as string);
      return { ScheduleArn: arn(input.Name as string) };
    },
    DeleteSchedule: (input) => {
      if (!held.delete(input.Name as string)) throw notFound(input.Name as string);
      return {};
    },
  });
  return { ...rec, held };
}

/** The deployed names the api's AgentTeamSchedule timers use (the Scheduler target, its role, its group). */
export const SCHEDULE_TARGET = {
  targetArn: "arn:aws:lambda:us-east-1:123456789012:function:squadron-api",
  roleArn: "arn:aws:iam::123456789012:role/squadron-team-scheduler",
  groupName: "squadron-team-schedules",
};

/**
 * The api handler with AgentTeamSchedule wired as deployed: the schedule store on the harness's
 * table and EventBridge Scheduler timers on a recorder (`scheduler`).
 */
export function scheduleApi(h: Harness, table: { client: DynamoDBClient; tableName: string }) {
  const schedules = new ScheduleStore(table.client, table.tableName);
  const scheduler = schedulerStandIn(SCHEDULE_TARGET.groupName);
  const scheduleTimers = new EventBridgeScheduleTimers(scheduler, {
    targetArn: () => SCHEDULE_TARGET.targetArn,
    roleArn: SCHEDULE_TARGET.roleArn,
    groupName: SCHEDULE_TARGET.groupName,
  });
  const api = apiHandler({ ...h.deps, schedules: { schedules, scheduleTimers } });
  return { schedules, scheduler, api };
}

/**
 * A fake Step Functions client that answers with the shapes the real API returns (recorded from
 * StartExecution / StopExecution / SendTaskSuccess / SendTaskFailure responses), and keeps calls.
 */
export class RecordedSfn {
  calls: Array<{ command: string; input: Record<string, unknown> }> = [];
  async send(command: { constructor: { name: string }; input: unknown }): Promise<never> {
    const name = command.constructor.name.replace(/Command$/, "");
    const input = command.input as Record<string, unknown>;
    this.calls.push({ command: name, input });
    noteAwsCall("SFN", name, input);
    const meta = {
      $metadata: { httpStatusCode: 200, requestId: randomBytes(8).toString("hex"), attempts: 1 },
    };
    switch (name) {
      case "StartExecution":
        return {
          ...meta,
          executionArn: `arn:aws:states:us-east-1:123456789012:execution:squadron-team-run:${input.name}`,
          startDate: new Date(),
        } as never;
      case "StopExecution":
        return { ...meta, stopDate: new Date() } as never;
      default:
        return meta as never;
    }
  }
  of(command: string) {
    return this.calls.filter((c) => c.command === command).map((c) => c.input);
  }
}

export async function newTable(): Promise<{ client: DynamoDBClient; tableName: string }> {
  const { inject } = await import("vitest");
  const client = localDynamoDbClient(inject("dynamoDbLocalEndpoint"));
  const tableName = `lambdas-${randomBytes(6).toString("hex")}`;
  await createTable(client, tableName);
  return { client, tableName };
}

export interface Harness {
  deps: ControlDeps & ApiDeps;
  /** Secrets Manager stand-in behind the triggers' HMAC keys: `<prefix>/<namespace>/triggers/<name>` → value. */
  secrets: Map<string, string>;
  sfn: RecordedSfn;
  manifests: RunManifest[];
  armed: Map<string, Date>;
  api: ReturnType<typeof apiHandler>;
}

export const TOKENS: Record<string, BearerToken> = {
  admin: { name: "admin", namespaces: "*" },
  "dev-token": { name: "dev", namespaces: ["dev-agents", "default"] },
};

export function harness(
  table: { client: DynamoDBClient; tableName: string },
  options: { notifier?: ChannelNotifierOptions; teamFiles?: TeamFilesReader } = {},
): Harness {
  const sfn = new RecordedSfn();
  // Triggers read their HMAC key as the deployed api does (teamSecretReader over GetSecretValue).
  const secrets = new Map<string, string>();
  const secretsManager = recorder({
    GetSecretValue: (input) => {
      const value = secrets.get(input.SecretId as string);
      if (value === undefined) {
        throw Object.assign(new Error("Secrets Manager can't find the specified secret."), {
          name: "ResourceNotFoundException",
        });
      }
      return {
        ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${input.SecretId}-AbCdEf`,
        Name: input.SecretId,
        SecretString: value,
      };
    },
  });
  const manifests: RunManifest[] = [];
  const armed = new Map<string, Date>();
  const deadlines: DeadlineScheduler = {
    arm: async (runId, at) => {
      armed.set(runId, at);
    },
    disarm: async (runId) => {
      armed.delete(runId);
    },
  };
  const deps: ControlDeps & ApiDeps = {
    store: new TeamStore({ client: table.client, tableName: table.tableName }),
    runs: new RunIndex(table.client, table.tableName),
    idempotency: new IdempotencyKeys(table.client, table.tableName),
    starter: new SfnExecutionStarter(
      sfn,
      "arn:aws:states:us-east-1:123456789012:stateMachine:squadron-team-run",
    ),
    stopper: new SfnExecutionStopper(sfn),
    tokens: new SfnTaskTokenResolver(sfn),
    notifier: new ChannelGateNotifier({ webhookAttempts: 2, webhookBaseDelayMs: 1, ...options.notifier }),
    workspaces: new NoopRunWorkspaces(),
    deadlines,
    runManifests: {
      write: async (m) => {
        manifests.push(m);
        return `memory://${m.runId}`;
      },
    },
    teamFiles: options.teamFiles ?? new NoTeamFiles(),
    authorize: bearerTokenAuthorizer(TOKENS),
    triggers: new TriggerStore(table),
    triggerSecret: triggerSecretReader(secretReader(secretsManager as never), "squadron"),
  };
  return { deps, secrets, sfn, manifests, armed, api: apiHandler(deps) };
}

export function event(
  method: string,
  path: string,
  options: {
    body?: string | object;
    token?: string | null;
    headers?: Record<string, string>;
    query?: Record<string, string>;
  } = {},
): APIGatewayProxyEvent {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== null) headers.Authorization = `Bearer ${options.token ?? "admin"}`;
  const body =
    options.body === undefined
      ? null
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  return proxyEvent({
    method,
    path,
    headers,
    multiValueHeaders: {},
    query: options.query ?? null,
    multiQuery: null,
    body,
    isBase64Encoded: false,
    stage: "prod",
    protocol: "HTTP/1.1",
    sourceIp: "127.0.0.1",
    userAgent: "vitest",
    requestId: randomBytes(8).toString("hex"),
    requestTimeEpoch: Date.now(),
    accountId: "123456789012",
    apiId: "a1b2c3d4e5",
    resourceId: "abc123",
  });
}

export async function call(h: Harness, ...args: Parameters<typeof event>) {
  const res = await h.api(event(...args));
  return {
    status: res.statusCode,
    body: res.body ? JSON.parse(res.body) : undefined,
    headers: res.headers ?? {},
  };
}

export const TEAM_YAML = `apiVersion: claude.amcheste.io/v1alpha1
kind: AgentTeam
metadata:
  name: auth-refactor
  namespace: dev-agents
spec:
  repository:
    url: "git@github.com:acme/backend.git"
  auth:
    apiKeySecret: "anthropic-api-key"
  lead:
    prompt: "Coordinate the migration."
  teammates:
    - name: "backend-api"
      prompt: "Implement OAuth2 endpoints."
    - name: "test-coverage"
      prompt: "Write tests."
      dependsOn: ["backend-api"]
  lifecycle:
    timeout: "2h"
    budgetLimit: "10.00"
    approvalGates:
      - event: "spawn-backend-api"
        channel: "api"
`;

export function teamYaml(name: string, extra: { namespace?: string } = {}): string {
  return TEAM_YAML.replace("name: auth-refactor", `name: ${name}`).replace(
    "namespace: dev-agents",
    `namespace: ${extra.namespace ?? "dev-agents"}`,
  );
}
