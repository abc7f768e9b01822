import {
  awsRunIndex,
  awsStopper,
  awsStore,
  awsWebhookNotifier,
  environmentOf,
} from "../../core/control/aws-deps.ts";
import type { DeadlineFired } from "../../core/control/deadline-scheduler.ts";
import { onDeadline } from "../../core/control/guards.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { MetricUnit } from "../../core/control/observability.ts";
import { perContainer } from "../shared.ts";

const dependencies = {
  store: awsStore,
  runs: awsRunIndex,
  stopper: awsStopper,
  notifier: awsWebhookNotifier,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("deadline", dependencies);

/** The run's one-time EventBridge Scheduler schedule fired: stop it, phase TimedOut. */
export async function handler(event: DeadlineFired): Promise<{ stopped: boolean }> {
  return container.invoke({ teamRunId: event.runId }, async (deps, t) => {
    const stopped = await onDeadline(deps, event.runId);
    if (stopped) t.metrics.addMetric(METRIC.runsTimedOut, MetricUnit.Count, 1);
    return { stopped };
  });
}
