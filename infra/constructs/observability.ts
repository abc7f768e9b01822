/**
 * Observability: the operators' dashboard (runs by outcome, active agents, measured cost,
 * approval wait, dependency release latency, API latency/errors, Lambda errors/throttles,
 * execution failures, runner CPU/memory) and alarms on an SNS topic.
 */
import { Duration, Stack } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigateway";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import type { SquadronConfig } from "../config.ts";
import { METRICS } from "../handler-env.ts";

export interface ObservabilityProps {
  config: SquadronConfig;
  stateMachine: sfn.StateMachine;
  functions: Record<string, lambda.IFunction>;
  restApi: apigw.RestApi;
  deadLetterQueue: sqs.IQueue;
  cluster?: ecs.Cluster;
  /** EKS runners: the cluster and namespace their pods run in (Container Insights dimensions). */
  eks?: { clusterName: string; namespace: string };
}

/** Titles of the dashboard's widgets (tests check each is present). */
export const DASHBOARD_WIDGETS = [
  "Team runs",
  "Active agents",
  "Measured cost (USD per hour)",
  "Cost per team (USD)",
  "Approval wait (s)",
  "Dependency release latency (ms)",
  "API latency (ms)",
  "API errors",
  "Lambda errors and throttles",
  "Execution failures",
  "Runner CPU and memory (%)",
] as const;

export class Observability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config, stateMachine, restApi } = props;
    const stack = Stack.of(this);
    const m = (
      name: string,
      statistic = "Sum",
      period = Duration.minutes(5),
      dimensionsMap?: Record<string, string>,
    ) =>
      new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName: name,
        statistic,
        period,
        dimensionsMap,
      });

    this.alarmTopic = new sns.Topic(this, "AlarmTopic", {
      displayName: "Squadron alarms",
      enforceSSL: true,
      masterKey: kms.Alias.fromAliasName(this, "SnsKey", "alias/aws/sns"),
    });
    if (config.alarmEmail)
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));

    const lambdas = Object.entries(props.functions);
    const [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10] = DASHBOARD_WIDGETS;
    const widgets: cloudwatch.IWidget[] = [
      new cloudwatch.GraphWidget({
        title: w0,
        left: [
          m(METRICS.runsStarted),
          m(METRICS.runsSucceeded),
          m(METRICS.runsFailed),
          m(METRICS.runsTimedOut),
          m(METRICS.runsOverBudget),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w1,
        left: [m(METRICS.activeAgents, "Maximum", Duration.minutes(1))],
      }),
      new cloudwatch.GraphWidget({ title: w2, left: [m(METRICS.costUsd, "Sum", Duration.hours(1))] }),
      new cloudwatch.GraphWidget({
        title: w3,
        left: [
          new cloudwatch.MathExpression({
            label: "cost per team",
            expression: `SEARCH('{${METRICS.namespace},team} MetricName="${METRICS.costUsd}"', 'Sum', 3600)`,
            period: Duration.hours(1),
          }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: w4,
        left: [m(METRICS.approvalWaitSeconds, "Average"), m(METRICS.approvalWaitSeconds, "p90")],
      }),
      new cloudwatch.GraphWidget({
        title: w5,
        left: [m(METRICS.dependencyReleaseLatencyMs, "p50"), m(METRICS.dependencyReleaseLatencyMs, "p99")],
      }),
      new cloudwatch.GraphWidget({
        title: w6,
        left: [restApi.metricLatency({ statistic: "p50" }), restApi.metricLatency({ statistic: "p99" })],
      }),
      new cloudwatch.GraphWidget({
        title: w7,
        left: [restApi.metricClientError(), restApi.metricServerError()],
      }),
      new cloudwatch.GraphWidget({
        title: w8,
        left: lambdas.map(([name, f]) => f.metricErrors({ label: `${name} errors` })),
        right: lambdas.map(([name, f]) => f.metricThrottles({ label: `${name} throttles` })),
      }),
      new cloudwatch.GraphWidget({
        title: w9,
        left: [stateMachine.metricFailed(), stateMachine.metricTimedOut(), stateMachine.metricAborted()],
      }),
      new cloudwatch.GraphWidget({
        title: w10,
        left: props.cluster
          ? [
              new cloudwatch.Metric({
                namespace: "ECS/ContainerInsights",
                metricName: "CpuUtilized",
                dimensionsMap: { ClusterName: props.cluster.clusterName },
                statistic: "Average",
              }),
              new cloudwatch.Metric({
                namespace: "ECS/ContainerInsights",
                metricName: "MemoryUtilized",
                dimensionsMap: { ClusterName: props.cluster.clusterName },
                statistic: "Average",
              }),
            ]
          : ["pod_cpu_utilization", "pod_memory_utilization"].map(
              (metricName) =>
                new cloudwatch.Metric({
                  namespace: "ContainerInsights",
                  metricName,
                  // EKS Container Insights publishes pod metrics per ClusterName (and Namespace);
                  // a metric without them matches no series and the widget stays empty.
                  dimensionsMap: props.eks
                    ? { ClusterName: props.eks.clusterName, Namespace: props.eks.namespace }
                    : {},
                  statistic: "Average",
                }),
            ),
      }),
    ];
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: `${stack.stackName}-squadron`,
      defaultInterval: Duration.hours(24),
    });
    for (let i = 0; i < widgets.length; i += 2)
      this.dashboard.addWidgets(...widgets.slice(i, i + 2).map((w) => w));

    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => {
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
    };
    alarm(
      "ExecutionsFailed",
      stateMachine.metricFailed({ period: Duration.minutes(5) }),
      "Team-run executions failed",
    );
    alarm(
      "LambdaErrors",
      new cloudwatch.MathExpression({
        label: "lambda errors",
        expression: lambdas.map((_, i) => `e${i}`).join(" + "),
        usingMetrics: Object.fromEntries(lambdas.map(([, f], i) => [`e${i}`, f.metricErrors()])),
        period: Duration.minutes(5),
      }),
      "A Squadron function raised errors",
    );
    alarm(
      "DeadLetterQueueDepth",
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      "Events failed to process (budget stream, deadline or status events)",
    );
    alarm("BudgetStops", m(METRICS.budgetStops), "A team run was stopped for going over budget");
    alarm("Api5xx", restApi.metricServerError({ period: Duration.minutes(5) }), "The API answered 5xx");
  }
}
