/**
 * The control plane assembled as local mode assembles it, on DynamoDB Local: the definition CDK
 * synthesises, run by aws-local-stepfunctions through local mode's LocalStepFunctions, every Task
 * state bound by local mode's bindTaskStates to the real domain code (prepare, dependencies,
 * approvals, cleanup), the container states launched by a ScriptedLauncher instead of runner
 * processes. Around it, the other entry points as AWS wires them: the API handler (API Gateway
 * proxy events), the Slack interactivity endpoint (signed requests), the budget function fed
 * the stream record of each usage write, the deadline timer, and the end-of-execution handler.
 * The only fakes are at the edges: the Slack Web API (recorded response shapes) and the runner.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttributeValue, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { APIGatewayProxyResult, DynamoDBRecord } from "aws-lambda";
import { expect } from "vitest";
import { TimerDeadlineScheduler } from "../../core/control/deadline-scheduler.ts";
import type { ControlDeps, ControlLogger } from "../../core/control/deps.ts";
import type { TaskTokenResolver } from "../../core/control/execution.ts";
import { type BudgetAction, checkBudget, onDeadline, onExecutionStatus } from "../../core/control/guards.ts";
import { bearerTokenAuthorizer } from "../../core/control/http.ts";
import { IdempotencyKeys } from "../../core/control/idempotency.ts";
import { ChannelGateNotifier } from "../../core/control/notifications.ts";
import { RunIndex } from "../../core/control/run-index.ts";
import type { RunManifest } from "../../core/control/run-manifest.ts";
import { posixUidFor, type RunWorkspace, type RunWorkspaces } from "../../core/control/run-workspace.ts";
import { handleSlackInteraction } from "../../core/control/slack-approvals.ts";
import { SlackClient } from "../../core/control/slack-client.ts";
import { slackSignature } from "../../core/control/slack-signature.ts";
import { DirectoryTeamFiles } from "../../core/control/team-files.ts";
import type { teamView } from "../../core/control/team-runs.ts";
import { RUN_SK, teamPk } from "../../core/store/items.ts";
import { TeamStore } from "../../core/store/team-store.ts";
import { type ApiDeps, apiHandler } from "../../lambdas/api/routes.ts";
import { type LocalPaths, localPaths } from "../../local/paths.ts";
import { type ExecutionReport, LocalStepFunctions } from "../../local/step-functions.ts";
import { bindTaskStates } from "../../local/task-bindings.ts";
import type { StateName } from "../../state-machines/contract.ts";
import { type AslDefinition, extractTeamRunDefinition } from "../../state-machines/synth.ts";
import { event, newTable, TOKENS } from "../lambdas/harness.ts";
import { ScriptedLauncher } from "./scripted-launcher.ts";

export const SLACK_SIGNING_SECRET = "control-plane-test-signing-secret";
export const SLACK_APPROVER = "U0APPROVER";

/** One usage write and what the budget function decided on its stream record. */
export interface BudgetCheck {
  runId: string;
  agent: string;
  usd: number;
  action: BudgetAction;
}

/** A SendTaskSuccess / SendTaskFailure the domain code made. */
export interface TokenRelease {
  token: string;
  outcome: "success" | "failure";
  error?: string;
}

export interface SlackCall {
  method: string;
  payload: Record<string, unknown>;
}

export interface ControlPlane {
  /** The definition extracted from the synthesised template. */
  definition: AslDefinition;
  deps: ControlDeps & ApiDeps;
  sfn: LocalStepFunctions;
  launcher: ScriptedLauncher;
  /** The data directory: run directories (`runs/`) and the object store (`objects/`). */
  paths: LocalPaths;
  /** The API handler, called with API Gateway proxy events (bearer token `admin` unless told). */
  api(
    method: string,
    path: string,
    options?: { body?: string | object; token?: string | null },
    // biome-ignore lint/suspicious/noExplicitAny: JSON of many routes; each test reads the fields it checks.
  ): Promise<{ status: number; body: any }>;
  /** Posts a Slack `block_actions` body to the interactivity endpoint, signed with `secret`. */
  slack(rawBody: string, options?: { secret?: string; timestamp?: number }): Promise<APIGatewayProxyResult>;
  slackCalls: SlackCall[];
  /** Where `spec.observability.webhook.url` may point: payloads land in `webhooks`. */
  webhookUrl: string;
  webhooks: Array<Record<string, unknown>>;
  /** A runner's usage report: the write, then the budget function on its stream record. */
  reportUsage(runId: string, agent: string, usd: number): Promise<BudgetAction>;
  budgetChecks: BudgetCheck[];
  releases: TokenRelease[];
  deadlinesFired: string[];
  workspacesDeleted: string[];
  manifests: RunManifest[];
  /** States entered by every execution that ended, by run id. */
  reports: Map<string, ExecutionReport>;
  visited: Set<StateName>;
  /** Resolves when the run's execution ended and its end was handled (EventBridge's status change). */
  ended(runId: string): Promise<ExecutionReport>;
  errors: string[];
  close(): Promise<void>;
}

class RecordingLogger implements ControlLogger {
  constructor(private readonly errors: string[]) {}
  info() {}
  warn() {}
  error(message: string, ...extra: unknown[]) {
    this.errors.push(`${message} ${extra.map((e) => JSON.stringify(e)).join(" ")}`);
  }
}

/** The Slack Web API, answering in its documented response shapes. */
function slackWebApi(calls: SlackCall[]): typeof fetch {
  let ts = 1_700_000_000;
  return (async (url: string | URL | Request, init?: RequestInit) => {
    const method = String(url).split("/").pop() as string;
    const payload = JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>;
    calls.push({ method, payload });
    const body =
      method === "chat.postMessage"
        ? { ok: true, channel: "C0APPROVALS", ts: `${ts++}.000100`, message: { text: payload.text } }
        : { ok: true, channel: payload.channel, ts: payload.ts, text: payload.text };
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export async function startControlPlane(
  options: {
    definition?: AslDefinition;
    /** Team secrets by name, as local mode reads them (`SQUADRON_SECRET_<NAME>`). */
    secrets?: Record<string, string>;
  } = {},
): Promise<ControlPlane> {
  const definition = options.definition ?? extractTeamRunDefinition({ compute: "ecs" });
  const table: { client: DynamoDBClient; tableName: string } = await newTable();
  const dataDir = mkdtempSync(join(tmpdir(), "squadron-control-plane-"));
  const paths = localPaths(dataDir);
  const errors: string[] = [];
  const logger = new RecordingLogger(errors);
  const store = new TeamStore({ client: table.client, tableName: table.tableName });
  const teamFiles = new DirectoryTeamFiles(paths.runs);

  const slackCalls: SlackCall[] = [];
  const budgetChecks: BudgetCheck[] = [];
  const releases: TokenRelease[] = [];
  const deadlinesFired: string[] = [];
  const workspacesDeleted: string[] = [];
  const manifests: RunManifest[] = [];
  const reports = new Map<string, ExecutionReport>();
  const visited = new Set<StateName>();
  const endings = new Map<string, ReturnType<typeof deferred<ExecutionReport>>>();
  const ending = (runId: string) => {
    let d = endings.get(runId);
    if (!d) {
      d = deferred<ExecutionReport>();
      endings.set(runId, d);
    }
    return d;
  };

  let deps!: ControlDeps & ApiDeps;

  /** A runner's usage report, then the budget function on the stream record the write produced. */
  /** Budget checks in flight, by run: a check that stops the run settles after the run has ended. */
  const checksInFlight = new Map<string, Set<Promise<unknown>>>();
  const settledChecks = async (runId: string) => {
    await Promise.allSettled([...(checksInFlight.get(runId) ?? [])]);
  };
  const writeUsage = (runId: string, agent: string, usd: number): Promise<BudgetAction> => {
    const check = writeUsageAndCheck(runId, agent, usd);
    const inFlight = checksInFlight.get(runId) ?? new Set<Promise<unknown>>();
    checksInFlight.set(runId, inFlight);
    inFlight.add(check);
    void check.finally(() => inFlight.delete(check)).catch(() => undefined);
    return check;
  };
  const writeUsageAndCheck = async (runId: string, agent: string, usd: number): Promise<BudgetAction> => {
    const ref = await deps.runs.resolve(runId);
    const Key = { pk: { S: teamPk(ref.namespace, ref.name) }, sk: { S: RUN_SK } };
    const read = async () =>
      (await table.client.send(new GetItemCommand({ TableName: table.tableName, Key, ConsistentRead: true })))
        .Item as Record<string, AttributeValue>;
    const OldImage = await read();
    await store.addUsage(ref, agent, {
      costUsd: usd,
      inputTokens: Math.round(usd * 100_000),
      outputTokens: Math.round(usd * 10_000),
    });
    const NewImage = await read();
    // As the budget Lambda receives it (stream view NEW_AND_OLD_IMAGES).
    const record: DynamoDBRecord = {
      eventID: randomBytes(16).toString("hex"),
      eventName: "MODIFY",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: "us-east-1",
      eventSourceARN: `arn:aws:dynamodb:us-east-1:123456789012:table/${table.tableName}/stream/2026-01-01T00:00:00.000`,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: Key as never,
        OldImage: OldImage as never,
        NewImage: NewImage as never,
        SequenceNumber: String(Date.now()),
        SizeBytes: 1024,
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    };
    const action = await checkBudget(deps, {
      eventName: record.eventName as string,
      dynamodb: {
        OldImage: record.dynamodb?.OldImage as Record<string, AttributeValue>,
        NewImage: record.dynamodb?.NewImage as Record<string, AttributeValue>,
      },
    });
    budgetChecks.push({ runId, agent, usd, action });
    return action;
  };
  const launcherUsage = async (runId: string, agent: string, usd: number) => {
    await writeUsage(runId, agent, usd);
  };
  const launcher = new ScriptedLauncher(launcherUsage);

  const sfn: LocalStepFunctions = new LocalStepFunctions({
    definition,
    maxConcurrentRuns: 8,
    handlersFor: (execution) =>
      bindTaskStates(
        {
          deps,
          sfn,
          paths,
          baseDir: dataDir,
          runnerEnv: {},
          stopGraceMs: 1_000,
          launcher: launcher.launcher,
          log: () => {},
        },
        execution,
      ),
    onExecuted: (runId, report) => {
      reports.set(runId, report);
      for (const state of report.visited) visited.add(state);
    },
    onStatusChange: async (detail) => {
      try {
        await onExecutionStatus(deps, detail);
      } finally {
        ending(detail.name).resolve(reports.get(detail.name) as ExecutionReport);
      }
    },
  });

  /** Counts every token release the domain code makes, then hands it to the local Step Functions. */
  const tokens: TaskTokenResolver = {
    succeed: async (token, output) => {
      releases.push({ token, outcome: "success" });
      await sfn.succeed(token, output);
    },
    fail: async (token, error, cause) => {
      releases.push({ token, outcome: "failure", error });
      await sfn.fail(token, error, cause);
    },
  };
  const workspaces: RunWorkspaces = {
    create: async (run): Promise<RunWorkspace> => ({
      accessPointId: `fsap-${run.runId}`,
      posixUid: posixUidFor(run.runId),
      taskDefinitionArn: "",
    }),
    delete: async (workspace) => {
      workspacesDeleted.push(workspace.accessPointId);
    },
  };

  deps = {
    store,
    runs: new RunIndex(table.client, table.tableName),
    starter: sfn,
    stopper: sfn,
    tokens,
    notifier: new ChannelGateNotifier({
      slack: new SlackClient({ token: async () => "xoxb-test", fetch: slackWebApi(slackCalls) }),
      logger,
      webhookAttempts: 1,
      secret: async (name) => options.secrets?.[name],
    }),
    workspaces,
    deadlines: new TimerDeadlineScheduler(async (fired) => {
      deadlinesFired.push(fired.runId);
      await onDeadline(deps, fired.runId).catch((error: unknown) =>
        logger.error("deadline handling failed", (error as Error).message),
      );
    }),
    runManifests: {
      write: async (m) => {
        manifests.push(m);
        return `memory://${m.runId}`;
      },
    },
    teamFiles,
    logger,
    idempotency: new IdempotencyKeys(table.client, table.tableName),
    authorize: bearerTokenAuthorizer(TOKENS),
  };
  const handler = apiHandler(deps, logger);

  const webhooks: Array<Record<string, unknown>> = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      webhooks.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  return {
    definition,
    deps,
    sfn,
    launcher,
    paths,
    api: async (method, path, opts = {}) => {
      const res = await handler(
        event(method, path, {
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          ...(opts.token !== undefined ? { token: opts.token } : {}),
        }),
      );
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
    },
    slack: async (rawBody, opts = {}) => {
      const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
      return handleSlackInteraction(
        deps,
        event("POST", "/webhooks/slack", {
          body: rawBody,
          token: null,
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slackSignature(opts.secret ?? SLACK_SIGNING_SECRET, timestamp, rawBody),
          },
        }),
        { signingSecret: async () => SLACK_SIGNING_SECRET, defaultApprovers: [] },
      );
    },
    slackCalls,
    webhookUrl,
    webhooks,
    reportUsage: writeUsage,
    budgetChecks,
    releases,
    deadlinesFired,
    workspacesDeleted,
    manifests,
    reports,
    visited,
    // The end as the tests read it includes the budget checks that ended it (the stop is made
    // inside checkBudget, which records its action only after the stop has ended the run).
    ended: async (runId) => {
      const report = await ending(runId).promise;
      await settledChecks(runId);
      return report;
    },
    errors,
    close: async () => {
      await sfn.shutdown();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
      table.client.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `GET team` as JSON (nulls where the view has them). */
export type TeamViewJson = ReturnType<typeof teamView>;

/**
 * Reads a namespace's teams through the API, and waits until one satisfies a condition (the test
 * waits; nothing in the product polls). `planeOf` because suites start the plane in beforeAll.
 */
export function teamReader(planeOf: () => ControlPlane, namespace: string) {
  async function getTeam(name: string): Promise<TeamViewJson> {
    const res = await planeOf().api("GET", `/api/namespaces/${namespace}/teams/${name}`);
    expect(res.status).toBe(200);
    return res.body as TeamViewJson;
  }
  async function until(name: string, ready: (team: TeamViewJson) => boolean, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const team = await getTeam(name);
      if (ready(team)) return team;
      if (Date.now() > deadline) throw new Error(`timed out waiting on ${name}: ${JSON.stringify(team)}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }
  return { getTeam, until };
}
