/**
 * Observability contract: the dashboard and the alarms query what the code emits.
 *
 * 1. Every handler runs its real code path (lambdas/<name>/handler.ts on dependencies against
 *    DynamoDB Local and recorded AWS shapes, `container.use`) through a scenario that reaches each
 *    metric it can emit; the EMF lines Powertools writes to stdout are captured and parsed as
 *    CloudWatch would (namespace, name, dimension set with values).
 * 2. The synthesized template's dashboard widgets and alarms are read back from CloudFormation.
 * 3. Every Squadron-namespace metric a widget or alarm names is one that was emitted with exactly
 *    that namespace, name and dimensions (CloudWatch matches all dimensions: a query without
 *    Powertools' `service` dimension shows nothing); a SEARCH names a schema some emitted metric
 *    has; every emitted metric is on the dashboard or listed in NOT_ON_DASHBOARD with a reason;
 *    every METRIC the code declares was emitted by the scenario; AWS-namespace metrics carry a
 *    documented dimension set; the alarm topic's key admits CloudWatch.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRIC, METRICS_NAMESPACE } from "../../core/control/metric-names.ts";
import { APPROVE_ACTION_ID, encodeGateRef } from "../../core/control/slack-interaction.ts";
import { slackSignature } from "../../core/control/slack-signature.ts";
import { createTeamRun } from "../../core/control/team-runs.ts";
import { parseTeam } from "../../core/manifest/parse.ts";
import { LocalDirectoryStore } from "../../core/run-files/object-store.ts";
import { RUN_SK, teamPk } from "../../core/store/items.ts";
import type { TeamStore } from "../../core/store/team-store.ts";
import { EMITTERS } from "../../infra/constructs/observability.ts";
import * as apiFn from "../../lambdas/api/handler.ts";
import * as approvalsFn from "../../lambdas/approvals/handler.ts";
import * as budgetFn from "../../lambdas/budget/handler.ts";
import * as cleanupFn from "../../lambdas/cleanup/handler.ts";
import * as deadlineFn from "../../lambdas/deadline/handler.ts";
import * as dependenciesFn from "../../lambdas/dependencies/handler.ts";
import * as eventsFn from "../../lambdas/events/handler.ts";
import * as outputsFn from "../../lambdas/outputs/handler.ts";
import * as prepareFn from "../../lambdas/prepare/handler.ts";
import { event, type Harness, harness, newTable, teamYaml } from "../lambdas/harness.ts";
import { blockActionsBody } from "../lambdas/support.ts";
import { captureEmf, type EmittedMetric, metricKey } from "../support/emf.ts";
import { tempDir } from "../support/git-fixtures.ts";
import { EXISTING_VPC, synth } from "./support.ts";

/**
 * Emitted metrics that are deliberately not graphed or alarmed, with the reason. Empty today:
 * each metric the functions emit is on the dashboard.
 */
const NOT_ON_DASHBOARD: Record<string, string> = {};

/**
 * AWS-namespace metrics the dashboard and alarms may use, with the dimension sets AWS documents
 * for them (a metric queried with another set has no data).
 * - AWS/Lambda Errors, Throttles, Duration by FunctionName:
 *   https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
 * - AWS/ApiGateway Latency, 4XXError, 5XXError by ApiName and Stage:
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
 * - AWS/States ExecutionsFailed/TimedOut/Aborted by StateMachineArn:
 *   https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
 * - AWS/SQS ApproximateNumberOfMessagesVisible by QueueName:
 *   https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
 * - ECS/ContainerInsights TaskCount by ClusterName; CpuUtilized, CpuReserved, MemoryUtilized,
 *   MemoryReserved by ClusterName and TaskDefinitionFamily (CPU units and MiB, not percentages):
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html
 * - ContainerInsights (EKS) pod_cpu_utilization, pod_memory_utilization,
 *   namespace_number_of_running_pods by ClusterName and Namespace:
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-EKS.html
 */
const AWS_METRICS: Record<string, Record<string, string[][]>> = {
  "AWS/Lambda": {
    Errors: [["FunctionName"]],
    Throttles: [["FunctionName"]],
    Duration: [["FunctionName"]],
  },
  // ApiName alone aggregates every stage; ApiName+Stage is one stage.
  "AWS/ApiGateway": {
    Latency: [["ApiName"], ["ApiName", "Stage"]],
    "4XXError": [["ApiName"], ["ApiName", "Stage"]],
    "5XXError": [["ApiName"], ["ApiName", "Stage"]],
  },
  "AWS/States": {
    ExecutionsFailed: [["StateMachineArn"]],
    ExecutionsTimedOut: [["StateMachineArn"]],
    ExecutionsAborted: [["StateMachineArn"]],
  },
  "AWS/SQS": { ApproximateNumberOfMessagesVisible: [["QueueName"]] },
  "ECS/ContainerInsights": {
    TaskCount: [["ClusterName"]],
    CpuUtilized: [["ClusterName", "TaskDefinitionFamily"]],
    CpuReserved: [["ClusterName", "TaskDefinitionFamily"]],
    MemoryUtilized: [["ClusterName", "TaskDefinitionFamily"]],
    MemoryReserved: [["ClusterName", "TaskDefinitionFamily"]],
  },
  ContainerInsights: {
    pod_cpu_utilization: [["ClusterName", "Namespace"]],
    pod_memory_utilization: [["ClusterName", "Namespace"]],
    namespace_number_of_running_pods: [["ClusterName", "Namespace"]],
  },
};

// ---------------------------------------------------------------------------------------------
// What the template queries

/** Synthesized CloudFormation, read as loosely as JSON is. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON has no static shape
type Json = any;

interface QueriedMetric {
  where: string;
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}
interface QueriedSearch {
  where: string;
  expression: string;
}

/** CloudFormation intrinsics rendered as text (`{Ref:X}`), so the dashboard body parses as JSON. */
function render(value: unknown): string {
  if (typeof value === "string") return value;
  const o = value as Record<string, unknown>;
  if ("Fn::Join" in o) {
    const [sep, parts] = o["Fn::Join"] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  return `{${Object.keys(o)[0]}:${JSON.stringify(Object.values(o)[0]).replace(/"/g, "")}}`;
}

/** Dashboard metric arrays: [namespace, name, k1, v1, ..., {options}] or [{expression, ...}]. */
function dashboardQueries(template: Record<string, Json>): {
  metrics: QueriedMetric[];
  searches: QueriedSearch[];
  titles: string[];
} {
  const metrics: QueriedMetric[] = [];
  const searches: QueriedSearch[] = [];
  const titles: string[] = [];
  for (const d of Object.values(template.Resources).filter(
    (r: Json) => r.Type === "AWS::CloudWatch::Dashboard",
  ) as Json[]) {
    const body = JSON.parse(render(d.Properties.DashboardBody)) as {
      widgets: Array<{ properties: { title: string; metrics?: unknown[][] } }>;
    };
    for (const w of body.widgets) {
      titles.push(w.properties.title);
      for (const row of w.properties.metrics ?? []) {
        const where = `dashboard "${w.properties.title}"`;
        const last = row.at(-1);
        if (typeof row[0] === "object") {
          const expression = (row[0] as { expression?: string }).expression ?? "";
          if (/SEARCH\(/.test(expression)) searches.push({ where, expression });
          continue;
        }
        const parts = (typeof last === "object" ? row.slice(0, -1) : row) as string[];
        const [namespace, name, ...dims] = parts;
        const dimensions: Record<string, string> = {};
        for (let i = 0; i < dims.length; i += 2) dimensions[dims[i] as string] = dims[i + 1] as string;
        metrics.push({ where, namespace: namespace as string, name: name as string, dimensions });
      }
    }
  }
  return { metrics, searches, titles };
}

/** Alarm metrics: the single-metric form and each MetricStat of a metric-math alarm. */
function alarmQueries(template: Record<string, Json>): QueriedMetric[] {
  const out: QueriedMetric[] = [];
  for (const [id, a] of Object.entries(template.Resources) as Array<[string, Json]>) {
    if (a.Type !== "AWS::CloudWatch::Alarm") continue;
    const p = a.Properties;
    const dims = (list: Array<{ Name: string; Value: unknown }> = []) =>
      Object.fromEntries(list.map((d) => [d.Name, render(d.Value)]));
    if (p.MetricName)
      out.push({
        where: `alarm ${id}`,
        namespace: p.Namespace,
        name: p.MetricName,
        dimensions: dims(p.Dimensions),
      });
    for (const m of p.Metrics ?? []) {
      const metric = m.MetricStat?.Metric;
      if (metric)
        out.push({
          where: `alarm ${id}`,
          namespace: metric.Namespace,
          name: metric.MetricName,
          dimensions: dims(metric.Dimensions),
        });
    }
  }
  return out;
}

/** SEARCH('{Namespace,dim1,dim2} MetricName="X" dim="v"', ...) → its schema and filters. */
function parseSearch(expression: string): {
  namespace: string;
  keys: string[];
  name?: string;
  filters: Record<string, string>;
} {
  const m = /SEARCH\('\{([^}]*)\}\s*([^']*)'/.exec(expression);
  if (!m) throw new Error(`cannot read ${expression}`);
  const [namespace, ...keys] = (m[1] as string).split(",").map((s) => s.trim());
  const filters: Record<string, string> = {};
  let name: string | undefined;
  for (const f of (m[2] as string).matchAll(/(\w+)="([^"]*)"/g)) {
    if (f[1] === "MetricName") name = f[2];
    else filters[f[1] as string] = f[2] as string;
  }
  return { namespace: namespace as string, keys, name, filters };
}

// ---------------------------------------------------------------------------------------------
// What the handlers emit

let h: Harness;
let emitted: EmittedMetric[] = [];
const workDir = tempDir("squadron-obs-");

async function startRun(name: string, yaml = teamYaml(name)) {
  const record = await createTeamRun(h.deps, parseTeam(yaml));
  await prepareFn.handler({
    runId: record.runId,
    namespace: record.namespace,
    teamName: record.name,
    executionArn: `arn:aws:states:us-east-1:123456789012:execution:squadron-team-run:${record.runId}`,
    startedAt: new Date().toISOString(),
  });
  return { record, ref: { namespace: record.namespace, name: record.name } };
}

async function runItem(ref: { namespace: string; name: string }) {
  const store = h.deps.store as unknown as { doc: DynamoDBDocumentClient; tableName: string };
  const { Item } = await store.doc.send(
    new GetCommand({ TableName: store.tableName, Key: { pk: teamPk(ref.namespace, ref.name), sk: RUN_SK } }),
  );
  return Item as Record<string, unknown>;
}

function streamEvent(old: Record<string, unknown>, next: Record<string, unknown>): DynamoDBStreamEvent {
  return {
    Records: [
      {
        eventName: "MODIFY",
        dynamodb: {
          OldImage: marshall(old, { removeUndefinedValues: true }) as never,
          NewImage: marshall(next, { removeUndefinedValues: true }) as never,
        },
      },
    ],
  };
}

function apiEvent(method: string, path: string) {
  const e = event(method, path, { token: null });
  e.requestContext.identity.userArn = "arn:aws:iam::123456789012:user/operator";
  return e;
}

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_DEV;
  h = harness(await newTable());
  const deps = h.deps as never;
  for (const fn of [apiFn, budgetFn, cleanupFn, deadlineFn, dependenciesFn, prepareFn])
    fn.container.use(deps);
  approvalsFn.container.use({
    ...h.deps,
    slack: { signingSecret: async () => "signing", defaultApprovers: ["U-BOSS"] },
  } as never);
  const runsDir = path.join(workDir, "runs");
  outputsFn.container.use({
    store: h.deps.store,
    objects: new LocalDirectoryStore(path.join(workDir, "objects")),
    runsDir,
  } as never);

  const capture = captureEmf();
  try {
    // api: its own latency on every request; a 5xx when the table fails under it.
    await apiFn.handler(apiEvent("GET", "/api/health"));
    const broken = Object.create(h.deps.store, {
      getRun: { value: async () => Promise.reject(new Error("table unavailable")) },
    }) as TeamStore;
    apiFn.container.use({ ...h.deps, store: broken } as never);
    const failed = await apiFn.handler(apiEvent("GET", "/api/namespaces/dev-agents/teams/obs-a"));
    expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    apiFn.container.use(h.deps as never);

    // prepare: RunsStarted. approvals reaches the gate; the API decides it (ApprovalWaitSeconds, api).
    const a = await startRun("obs-a");
    const gate = { action: "awaitApproval" as const, agentName: "backend-api", gate: "spawn-backend-api" };
    await approvalsFn.handler({ ...gate, taskToken: "tok-obs-a", runId: a.record.runId });
    const approved = await apiFn.handler(
      apiEvent("POST", "/api/namespaces/dev-agents/teams/obs-a/gates/spawn-backend-api/approve"),
    );
    expect(approved.statusCode).toBe(200);

    // The same through Slack (ApprovalWaitSeconds, approvals).
    const b = await startRun("obs-b");
    await approvalsFn.handler({ ...gate, taskToken: "tok-obs-b", runId: b.record.runId });
    const now = String(Math.floor(Date.now() / 1000));
    const body = blockActionsBody(
      APPROVE_ACTION_ID,
      encodeGateRef({ namespace: "dev-agents", team: "obs-b", gate: "spawn-backend-api" }),
      "U-BOSS",
    );
    const click = await approvalsFn.handler(
      event("POST", "/webhooks/slack", {
        body,
        token: null,
        headers: {
          "X-Slack-Request-Timestamp": now,
          "X-Slack-Signature": slackSignature("signing", now, body),
        },
      }),
    );
    expect((click as { statusCode: number }).statusCode).toBe(200);

    // dependencies: a success, a failure that restarts.
    const record = {
      action: "record" as const,
      runId: a.record.runId,
      role: "teammate" as const,
      maxRestarts: 1,
    };
    await dependenciesFn.handler({ ...record, agentName: "backend-api", state: { attempt: 0 } } as never);
    await dependenciesFn.handler({
      ...record,
      agentName: "test-coverage",
      state: { attempt: 0, error: { Error: "States.TaskFailed", Cause: "exited with code 1" } },
    } as never);

    // budget: a write that adds cost (CostUsd, overall and per team), the 80% warning, the stop.
    await h.deps.store.addUsage(a.ref, "lead", { costUsd: 8.5 });
    const item = await runItem(a.ref);
    await budgetFn.handler(
      streamEvent({ ...item, "usageTotal#costUsd": 7 }, { ...item, "usageTotal#costUsd": 8.5 }),
    );
    await budgetFn.handler(
      streamEvent({ ...item, "usageTotal#costUsd": 9.5 }, { ...item, "usageTotal#costUsd": 10.5 }),
    );
    expect((await h.deps.store.getRun(a.ref)).status.phase).toBe("BudgetExceeded");

    // deadline: RunsTimedOut.
    expect(await deadlineFn.handler({ source: "squadron.deadline", runId: b.record.runId })).toEqual({
      stopped: true,
    });

    // cleanup: RunsCompleted and RunsFailed.
    const c = await startRun("obs-c");
    await cleanupFn.handler({ runId: c.record.runId, namespace: "dev-agents", teamName: "obs-c" });
    const d = await startRun("obs-d");
    await cleanupFn.handler({
      runId: d.record.runId,
      namespace: "dev-agents",
      teamName: "obs-d",
      failure: { Error: "LeadFailed", Cause: "lead exited with code 2" },
    });

    // cleanup and events when the run's resources cannot be released (the access point's delete
    // is refused): whatever they emit for it must be graphed or alarmed too.
    const refusing = {
      ...h.deps,
      workspaces: {
        create: h.deps.workspaces.create.bind(h.deps.workspaces),
        delete: async () =>
          Promise.reject(new Error("AccessDeniedException: elasticfilesystem:DeleteAccessPoint")),
      },
    };
    cleanupFn.container.use(refusing as never);
    eventsFn.container.use(refusing as never);
    const e = await startRun("obs-e");
    await cleanupFn.handler({ runId: e.record.runId, namespace: "dev-agents", teamName: "obs-e" });
    const f = await startRun("obs-f");
    await eventsFn.handler({
      "detail-type": "Step Functions Execution Status Change",
      detail: { executionArn: "x", name: f.record.runId, status: "ABORTED" },
    } as never);
    cleanupFn.container.use(deps);
    eventsFn.container.use(deps);

    // outputs: a cowork run's files.
    const q3 = readFileSync(new URL("../../examples/q3-report.yaml", import.meta.url), "utf8");
    const team = parseTeam(q3.replace("name: q3-report", "name: obs-q3"));
    await h.deps.store.createRun(team, { runId: "run-obs-q3" });
    const out = path.join(runsDir, "run-obs-q3/workspace/output");
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, "report.md"), "# Q3\n");
    await outputsFn.handler({ runId: "run-obs-q3", namespace: team.metadata.namespace, teamName: "obs-q3" });
  } finally {
    capture.stop();
  }
  emitted = capture.metrics;
});

afterAll(() => {
  for (const key of ["POWERTOOLS_LOG_LEVEL"]) delete process.env[key];
});

describe("observability contract", () => {
  const configs: Record<string, Record<string, unknown>> = {
    ecs: {},
    eks: {
      compute: "eks",
      // An EKS deployment must name the cluster's VPC (infra/config.ts: pods mount only mount
      // targets in their own VPC).
      vpc: EXISTING_VPC,
      eks: { clusterName: "prod", manageKubernetesObjects: false },
    },
  };

  it("the scenario emitted every metric the code declares, each with namespace Squadron and its service", () => {
    const names = new Set(emitted.map((m) => m.name));
    for (const name of Object.values(METRIC)) expect(names, `${name} was never emitted`).toContain(name);
    for (const m of emitted) {
      expect(m.namespace).toBe(METRICS_NAMESPACE);
      expect(Object.keys(m.dimensions)).toContain("service");
      expect(
        EMITTERS[m.name as keyof typeof EMITTERS] ?? [],
        `${m.name} (service ${m.dimensions.service}): add it to METRIC (core/control/metric-names.ts) and EMITTERS (infra/constructs/observability.ts)`,
      ).toContain(m.dimensions.service);
    }
  });

  for (const [shape, config] of Object.entries(configs)) {
    describe(`${shape} stack`, () => {
      const template = synth(config).template.toJSON();
      const dashboard = dashboardQueries(template);
      const alarms = alarmQueries(template);
      const queried = [...dashboard.metrics, ...alarms];

      it("every Squadron metric a widget or alarm names was emitted with exactly that name and dimension set", () => {
        const emittedKeys = new Set(emitted.map(metricKey));
        const own = queried.filter((q) => q.namespace === METRICS_NAMESPACE);
        expect(own.length).toBeGreaterThan(10);
        const unmatched = own
          .filter((q) => !emittedKeys.has(metricKey(q)))
          .map((q) => `${q.where}: ${metricKey(q)}`);
        expect(unmatched).toEqual([]);
        console.info(
          `observability contract (${shape}): ${own.length} Squadron metric queries matched emitted metrics`,
        );
      });

      it("every SEARCH names a schema and filters some emitted metric has", () => {
        expect(dashboard.searches.length).toBeGreaterThan(0);
        for (const s of dashboard.searches) {
          const q = parseSearch(s.expression);
          const match = emitted.some(
            (m) =>
              m.namespace === q.namespace &&
              (!q.name || m.name === q.name) &&
              Object.keys(m.dimensions).sort().join() === [...q.keys].sort().join() &&
              Object.entries(q.filters).every(([k, v]) => m.dimensions[k] === v),
          );
          expect(match, `${s.where}: ${s.expression} matches no emitted metric`).toBe(true);
        }
      });

      it("every emitted metric is on the dashboard or an alarm, or listed as deliberately not", () => {
        const shown = new Set(queried.map(metricKey));
        const searched = dashboard.searches.map((s) => parseSearch(s.expression));
        const missing = [...new Set(emitted.map(metricKey))].filter((key) => {
          if (shown.has(key) || NOT_ON_DASHBOARD[key]) return false;
          const m = emitted.find((e) => metricKey(e) === key) as EmittedMetric;
          return !searched.some(
            (q) =>
              q.name === m.name &&
              Object.keys(m.dimensions).sort().join() === [...q.keys].sort().join() &&
              Object.entries(q.filters).every(([k, v]) => m.dimensions[k] === v),
          );
        });
        expect(missing).toEqual([]);
      });

      it("AWS metrics carry the dimension set AWS documents for them", () => {
        const foreign = queried.filter((q) => q.namespace !== METRICS_NAMESPACE);
        expect(foreign.length).toBeGreaterThan(0);
        for (const q of foreign) {
          const documented = AWS_METRICS[q.namespace]?.[q.name];
          expect(documented, `${q.where}: ${q.namespace} ${q.name} is not in AWS_METRICS`).toBeDefined();
          const keys = Object.keys(q.dimensions).sort().join();
          expect(
            (documented as string[][]).map((set) => [...set].sort().join()),
            `${q.where}: ${q.namespace} ${q.name} queried by {${keys}}`,
          ).toContain(keys);
          for (const v of Object.values(q.dimensions)) expect(v, `${q.where}: empty dimension`).not.toBe("");
        }
      });

      it("alarms notify a topic whose KMS key admits CloudWatch (not the AWS managed alias/aws/sns)", () => {
        const resources = template.Resources as Record<string, Json>;
        const topics = Object.entries(resources).filter(([, r]) => r.Type === "AWS::SNS::Topic");
        for (const [id, alarm] of Object.entries(resources).filter(
          ([, r]) => r.Type === "AWS::CloudWatch::Alarm",
        )) {
          const actions = alarm.Properties.AlarmActions as Array<{ Ref: string }>;
          expect(actions, id).toHaveLength(1);
          const topic = resources[actions[0]?.Ref as string];
          expect(topic?.Type).toBe("AWS::SNS::Topic");
          const keyRef = topic.Properties.KmsMasterKeyId?.["Fn::GetAtt"]?.[0] as string;
          expect(keyRef, "the alarm topic uses a key of the stack").toBeDefined();
          const key = resources[keyRef];
          expect(key.Type).toBe("AWS::KMS::Key");
          expect(key.Properties.EnableKeyRotation).toBe(true);
          const admits = (key.Properties.KeyPolicy.Statement as Json[]).find(
            (s) => s.Effect === "Allow" && s.Principal?.Service === "cloudwatch.amazonaws.com",
          );
          expect(admits).toBeDefined();
          expect([admits.Action].flat().sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey*"]);
          expect(admits.Condition.StringEquals["aws:SourceAccount"]).toEqual({ Ref: "AWS::AccountId" });
          expect(JSON.stringify(admits.Condition.ArnLike["aws:SourceArn"])).toContain(":alarm:*");
        }
        expect(topics.length).toBeGreaterThan(0);
      });
    });
  }
});

// unmarshall is kept for readers extending the scenario with raw stream images.
void unmarshall;
