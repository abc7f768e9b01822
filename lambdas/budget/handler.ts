import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { awsStopper, awsStore, awsWebhookNotifier, environmentOf } from "../../core/control/aws-deps.ts";
import { checkBudget } from "../../core/control/guards.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { MetricUnit } from "../../core/control/observability.ts";
import { perContainer } from "../shared.ts";

const dependencies = {
  store: awsStore,
  stopper: awsStopper,
  notifier: awsWebhookNotifier,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("budget", dependencies);

/** DynamoDB stream of the team table: acts on writes that raised a run's measured cost. */
export async function handler(event: DynamoDBStreamEvent): Promise<void> {
  await container.invoke({}, async (deps, t) => {
    for (const record of event.Records) {
      const action = await checkBudget(deps, {
        ...(record.eventName ? { eventName: record.eventName } : {}),
        dynamodb: {
          ...(record.dynamodb?.OldImage
            ? { OldImage: record.dynamodb.OldImage as Record<string, AttributeValue> }
            : {}),
          ...(record.dynamodb?.NewImage
            ? { NewImage: record.dynamodb.NewImage as Record<string, AttributeValue> }
            : {}),
        },
      });
      if (action === "warned") t.metrics.addMetric(METRIC.budgetWarnings, MetricUnit.Count, 1);
      if (action === "stopped") t.metrics.addMetric(METRIC.budgetStops, MetricUnit.Count, 1);
    }
  });
}
