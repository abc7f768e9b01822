/**
 * Observability: the operators' dashboard (runs by outcome, running runner tasks, measured cost,
 * agents, approval wait, dependency release, API, Lambda errors/throttles, execution failures,
 * runner CPU/memory, outputs) and alarms on an SNS topic encrypted with a key CloudWatch may use.
 *
 * Squadron's own metrics are queried exactly as the handlers emit them: namespace, name and the
 * full dimension set, which always includes Powertools' `service` dimension (a CloudWatch metric
 * is identified by all its dimensions: a query without `service` matches nothing).
 * test/infra/observability-contract.test.ts holds the dashboard and alarms to what the handlers
 * write in the tests.
 */
import { ArnFormat, Duration, Stack } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigateway";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import {
  METRIC,
  METRICS_NAMESPACE,
  type MetricName,
  SERVICE_DIMENSION,
  TEAM_DIMENSION,
} from "../../core/control/metric-names.ts";
import type { HandlerName } from "../bundling.ts";
import type { SquadronConfig } from "../config.ts";

export interface ObservabilityProps {
  config: SquadronConfig;
  stateMachine: sfn.StateMachine;
  functions: Record<string, lambda.IFunction>;
  restApi: apigw.RestApi;
  deadLetterQueue: sqs.IQueue;
  cluster?: ecs.Cluster;
  /** Family of the runner task definitions (Container Insights' TaskDefinitionFamily). */
  runnerFamily?: string;
  /** EKS runners: the cluster and namespace their pods run in (Container Insights dimensions). */
  eks?: { clusterName: string; namespace: string };
}

/** Titles of the dashboard's widgets (tests check each is present). */
export const DASHBOARD_WIDGETS = [
  "Team runs",
  "Running runner tasks",
  "Measured cost (USD per hour)",
  "Cost per team (USD)",
  "Agents",
  "Approval wait (s)",
  "Dependency release: RecordAgentResult duration (ms)",
  "API latency (ms)",
  "API errors",
  "Lambda errors and throttles",
  "Execution failures",
  "Runner CPU and memory (% of the task size)",
  "Output files delivered",
] as const;

/**
 * Which function emits each of Squadron's metrics (its `service` dimension). One metric emitted by
 * two functions is two CloudWatch metrics, each queried on its own.
 */
export const EMITTERS: Record<MetricName, readonly HandlerName[]> = {
  [METRIC.runsStarted]: ["prepare"],
  [METRIC.runsCompleted]: ["cleanup"],
  [METRIC.runsFailed]: ["cleanup"],
  [METRIC.runsTimedOut]: ["deadline"],
  [METRIC.budgetWarnings]: ["budget"],
  [METRIC.budgetStops]: ["budget"],
  [METRIC.costUsd]: ["budget"],
  [METRIC.agentsSucceeded]: ["dependencies"],
  [METRIC.agentsFailed]: ["dependencies"],
  [METRIC.agentRestarts]: ["dependencies"],
  [METRIC.approvalWaitSeconds]: ["api", "approvals"],
  [METRIC.apiLatency]: ["api"],
  [METRIC.apiServerErrors]: ["api"],
  [METRIC.outputFilesDelivered]: ["outputs"],
  [METRIC.resourceCleanupFailures]: ["cleanup", "events"],
};

/** A Squadron metric as emitted by `service`: namespace, name and its exact dimension set. */
export function squadronMetric(
  name: MetricName,
  service: HandlerName,
  options: { statistic?: string; period?: Duration; label?: string } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [SERVICE_DIMENSION]: service },
    statistic: options.statistic ?? "Sum",
    period: options.period ?? Duration.minutes(5),
    label: options.label ?? (EMITTERS[name].length > 1 ? `${name} (${service})` : name),
  });
}

/** Every emitter's series of one metric. */
function everyEmitter(
  name: MetricName,
  options: { statistic?: string; period?: Duration } = {},
): cloudwatch.Metric[] {
  return EMITTERS[name].map((service) =>
    squadronMetric(name, service, {
      ...options,
      label: `${name} ${options.statistic ?? "Sum"}${EMITTERS[name].length > 1 ? ` (${service})` : ""}`,
    }),
  );
}

export class Observability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarmTopic: sns.Topic;
  readonly alarmKey: kms.Key;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config, stateMachine, restApi } = props;
    const stack = Stack.of(this);

    // CloudWatch cannot publish to a topic encrypted with the AWS managed key alias/aws/sns: its
    // key policy cannot be changed to admit CloudWatch. A customer managed key must allow the
    // service principal kms:Decrypt and kms:GenerateDataKey*, scoped with aws:SourceAccount /
    // aws:SourceArn to this account's alarms (confused deputy). AWS documents both:
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    const fromThisAccountsAlarms = {
      StringEquals: { "aws:SourceAccount": stack.account },
      ArnLike: {
        "aws:SourceArn": stack.formatArn({
          service: "cloudwatch",
          resource: "alarm",
          resourceName: "*",
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.alarmKey = new kms.Key(this, "AlarmTopicKey", {
      description: `${stack.stackName}: encrypts the alarm topic; CloudWatch alarms may use it to publish`,
      enableKeyRotation: true,
    });
    this.alarmKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: fromThisAccountsAlarms,
      }),
    );
    this.alarmTopic = new sns.Topic(this, "AlarmTopic", {
      displayName: "Squadron alarms",
      enforceSSL: true,
      masterKey: this.alarmKey,
    });
    // The topic policy CDK writes (enforceSSL's deny) replaces SNS's default policy, which is what
    // let same-account alarms publish; without this statement every alarm action fails with "not
    // authorized to perform: SNS:Publish". Scoped to this account's alarms (confused deputy):
    // https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.alarmTopic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );
    if (config.alarmEmail)
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));

    const lambdas = Object.entries(props.functions);
    const dependencies = props.functions.dependencies;
    const [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12] = DASHBOARD_WIDGETS;
    const widgets: cloudwatch.IWidget[] = [
      new cloudwatch.GraphWidget({
        title: w0,
        left: [
          squadronMetric(METRIC.runsStarted, "prepare"),
          squadronMetric(METRIC.runsCompleted, "cleanup"),
          squadronMetric(METRIC.runsFailed, "cleanup"),
          squadronMetric(METRIC.runsTimedOut, "deadline"),
          squadronMetric(METRIC.budgetStops, "budget", { label: "BudgetStops (over budget)" }),
          squadronMetric(METRIC.budgetWarnings, "budget"),
        ],
      }),
      new cloudwatch.GraphWidget({ title: w1, left: this.runningTasks(props) }),
      new cloudwatch.GraphWidget({
        title: w2,
        left: [squadronMetric(METRIC.costUsd, "budget", { period: Duration.hours(1) })],
      }),
      new cloudwatch.GraphWidget({
        title: w3,
        left: [
          // The per-team series: the schema names every dimension of the emitted metric
          // ({namespace, service, team}), or SEARCH matches nothing.
          new cloudwatch.MathExpression({
            label: "cost per team",
            expression: `SEARCH('{${METRICS_NAMESPACE},${SERVICE_DIMENSION},${TEAM_DIMENSION}} MetricName="${METRIC.costUsd}" ${SERVICE_DIMENSION}="budget"', 'Sum', 3600)`,
            period: Duration.hours(1),
          }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w4,
        left: [
          squadronMetric(METRIC.agentsSucceeded, "dependencies"),
          squadronMetric(METRIC.agentsFailed, "dependencies"),
          squadronMetric(METRIC.agentRestarts, "dependencies"),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w5,
        left: [
          ...everyEmitter(METRIC.approvalWaitSeconds, { statistic: "Average" }),
          ...everyEmitter(METRIC.approvalWaitSeconds, { statistic: "p90" }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w6,
        // RecordAgentResult releases every waiting dependant (SendTaskSuccess) before it returns,
        // so its duration bounds the release latency; nothing polls in between.
        left: dependencies
          ? [
              dependencies.metricDuration({ statistic: "p50", label: "p50" }),
              dependencies.metricDuration({ statistic: "p99", label: "p99" }),
            ]
          : [],
      }),
      new cloudwatch.GraphWidget({
        title: w7,
        left: [
          restApi.metricLatency({ statistic: "p50" }),
          restApi.metricLatency({ statistic: "p99" }),
          squadronMetric(METRIC.apiLatency, "api", { statistic: "p99", label: "api function p99" }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w8,
        left: [
          restApi.metricClientError(),
          restApi.metricServerError(),
          squadronMetric(METRIC.apiServerErrors, "api"),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w9,
        left: lambdas.map(([name, f]) => f.metricErrors({ label: `${name} errors` })),
        right: lambdas.map(([name, f]) => f.metricThrottles({ label: `${name} throttles` })),
      }),
      new cloudwatch.GraphWidget({
        title: w10,
        left: [stateMachine.metricFailed(), stateMachine.metricTimedOut(), stateMachine.metricAborted()],
      }),
      new cloudwatch.GraphWidget({
        title: w11,
        left: this.runnerUtilisation(props),
        leftYAxis: { min: 0, max: 100, label: "%", showUnits: false },
      }),
      new cloudwatch.GraphWidget({
        title: w12,
        left: [squadronMetric(METRIC.outputFilesDelivered, "outputs")],
      }),
    ];
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `${stack.stackName}-squadron`,
      defaultInterval: Duration.hours(24),
    });
    for (let i = 0; i < widgets.length; i += 2) this.dashboard.addWidgets(...widgets.slice(i, i + 2));

    this.alarm(
      "ExecutionsFailed",
      stateMachine.metricFailed({ period: Duration.minutes(5) }),
      "Team-run executions failed",
    );
    this.alarm(
      "LambdaErrors",
      new cloudwatch.MathExpression({
        label: "lambda errors",
        expression: lambdas.map((_, i) => `e${i}`).join(" + "),
        usingMetrics: Object.fromEntries(lambdas.map(([, f], i) => [`e${i}`, f.metricErrors()])),
        period: Duration.minutes(5),
      }),
      "A Squadron function raised errors",
    );
    this.alarm(
      "DeadLetterQueueDepth",
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      "Events failed to process (budget stream, deadline or status events)",
    );
    this.alarm(
      "BudgetStops",
      squadronMetric(METRIC.budgetStops, "budget"),
      "A team run was stopped for going over budget",
    );
    this.alarm("Api5xx", restApi.metricServerError({ period: Duration.minutes(5) }), "The API answered 5xx");
  }

  /** An alarm (≥ 1 in 5 minutes, missing data is fine) that notifies the topic. */
  alarm(id: string, metric: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
    const a = new cloudwatch.Alarm(this, id, {
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    a.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(a);
    return a;
  }

  /**
   * Agents running now. ECS: Container Insights' TaskCount of the stack's own cluster, which runs
   * runner tasks only (workspace init, agents, finalize). EKS: the runner namespace's running pods (Container
   * Insights on the cluster is the operator's; without it the graph is empty).
   */
  private runningTasks(props: ObservabilityProps): cloudwatch.IMetric[] {
    if (props.cluster) {
      return [
        new cloudwatch.Metric({
          namespace: "ECS/ContainerInsights",
          metricName: "TaskCount",
          // The cluster is the stack's own and runs runner tasks only.
          dimensionsMap: { ClusterName: props.cluster.clusterName },
          statistic: "Maximum",
          period: Duration.minutes(1),
          label: "runner tasks",
        }),
      ];
    }
    // EKS Container Insights publishes pod metrics per ClusterName (and Namespace); a metric
    // without them matches no series and the widget stays empty.
    const eks = props.eks ?? props.config.eks;
    if (!eks) return [];
    return [
      new cloudwatch.Metric({
        namespace: "ContainerInsights",
        metricName: "namespace_number_of_running_pods",
        dimensionsMap: { ClusterName: eks.clusterName, Namespace: eks.namespace },
        statistic: "Maximum",
        period: Duration.minutes(1),
        label: "runner pods",
      }),
    ];
  }

  /**
   * CPU and memory as a percentage of what the runner tasks reserved. Container Insights reports
   * CpuUtilized in CPU units and MemoryUtilized in MiB (not percentages), so each is divided by
   * its reservation (CpuReserved, MemoryReserved) of the same family. EKS: pod_cpu_utilization and
   * pod_memory_utilization are already percentages, per namespace.
   */
  private runnerUtilisation(props: ObservabilityProps): cloudwatch.IMetric[] {
    if (props.cluster) {
      const ci = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: "ECS/ContainerInsights",
          metricName,
          dimensionsMap: {
            ClusterName: props.cluster?.clusterName ?? "",
            TaskDefinitionFamily: props.runnerFamily ?? "",
          },
          statistic: "Sum",
          period: Duration.minutes(5),
        });
      return [
        new cloudwatch.MathExpression({
          label: "CPU %",
          expression: "100 * cpuUsed / cpuReserved",
          usingMetrics: { cpuUsed: ci("CpuUtilized"), cpuReserved: ci("CpuReserved") },
          period: Duration.minutes(5),
        }),
        new cloudwatch.MathExpression({
          label: "memory %",
          expression: "100 * memUsed / memReserved",
          usingMetrics: { memUsed: ci("MemoryUtilized"), memReserved: ci("MemoryReserved") },
          period: Duration.minutes(5),
        }),
      ];
    }
    // EKS Container Insights publishes pod metrics per ClusterName (and Namespace); a metric
    // without them matches no series and the widget stays empty.
    const eks = props.eks ?? props.config.eks;
    if (!eks) return [];
    return ["pod_cpu_utilization", "pod_memory_utilization"].map(
      (metricName) =>
        new cloudwatch.Metric({
          namespace: "ContainerInsights",
          metricName,
          dimensionsMap: { ClusterName: eks.clusterName, Namespace: eks.namespace },
          statistic: "Average",
        }),
    );
  }
}
