/**
 * The alarm on runs whose resources could not be released (an access point left behind counts
 * against the file system's access point quota; once it is reached no run can start). Kept apart
 * from observability.ts (the dashboard's owner) so it reads as the one thing it is; it notifies
 * the same topic as every other alarm.
 */
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { RESOURCE_RELEASING_SERVICES } from "../../core/control/cleanup-failures.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { squadronMetric } from "./observability.ts";

export class CleanupFailureAlarm extends Construct {
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: { topic: sns.ITopic }) {
    super(scope, id);
    // Powertools puts `service` (the function's name) on every metric, and CloudWatch identifies a
    // metric by its full dimension set: one metric per releasing function, summed.
    const usingMetrics = Object.fromEntries(
      RESOURCE_RELEASING_SERVICES.map((service) => [
        service,
        // The catalogue's name and `service` dimension, as test/infra/observability-contract checks.
        squadronMetric(METRIC.resourceCleanupFailures, service),
      ]),
    );
    this.alarm = new cloudwatch.Alarm(this, "Alarm", {
      metric: new cloudwatch.MathExpression({
        label: "run resources not released",
        expression: RESOURCE_RELEASING_SERVICES.join(" + "),
        usingMetrics,
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        "A run's EFS access point, task-definition revision or deadline could not be released (see the team's ResourceCleanupFailed event); leaked access points count against the file system's quota.",
    });
    this.alarm.addAlarmAction(new actions.SnsAction(props.topic));
  }
}
