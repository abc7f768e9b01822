import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import {
  awsIdempotency,
  awsManifestDefaults,
  awsRunIndex,
  awsSchedules,
  awsSlackNotifier,
  awsStarter,
  awsStopper,
  awsStore,
  awsTeamFiles,
  awsTeamLogs,
  awsTokens,
  awsTriggerSecret,
  awsTriggerStore,
  environmentOf,
  invokedFunction,
} from "../../core/control/aws-deps.ts";
import { iamAuthorizer } from "../../core/control/http.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { instrumented, MetricUnit } from "../../core/control/observability.ts";
import { checkManifestDefaults } from "../../core/manifest/options.ts";
import {
  type FireOutcome,
  fireSchedule,
  isScheduleFire,
  type ScheduleFire,
} from "../../core/schedules/fire.ts";
import { perContainer } from "../shared.ts";
import { type ApiHandler, apiHandler } from "./routes.ts";

const dependencies = {
  store: awsStore,
  runs: awsRunIndex,
  idempotency: awsIdempotency,
  starter: awsStarter,
  stopper: awsStopper,
  tokens: awsTokens,
  notifier: awsSlackNotifier,
  teamFiles: awsTeamFiles,
  teamLogs: awsTeamLogs,
  manifestDefaults: awsManifestDefaults,
  triggers: awsTriggerStore,
  triggerSecret: awsTriggerSecret,
  schedules: awsSchedules,
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("api", dependencies);
/** The router, built once per set of dependencies (once per container in Lambda). */
const routers = new WeakMap<object, ApiHandler>();

/**
 * API Gateway (REST, proxy) → the API router; IAM has already authorised the path. An
 * EventBridge Scheduler fire of an AgentTeamSchedule (its target input, ScheduleFire) → the fire
 * domain function: only the schedules' role may invoke this function other than API Gateway.
 */
export async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult>;
export async function handler(event: ScheduleFire, context?: Context): Promise<FireOutcome>;
export async function handler(
  event: APIGatewayProxyEvent | ScheduleFire,
  context?: Context,
): Promise<APIGatewayProxyResult | FireOutcome> {
  const { deps, t } = container();
  if (context?.invokedFunctionArn) invokedFunction.arn = context.invokedFunctionArn;
  if (isScheduleFire(event)) {
    const fire = event;
    return instrumented(
      t,
      { schedule: `${fire.namespace}/${fire.name}`, scheduledTime: fire.scheduledTime },
      () =>
        fireSchedule(
          {
            ...deps,
            schedules: deps.schedules.schedules,
            manifestOptions: { defaults: checkManifestDefaults(deps.manifestDefaults ?? {}) },
            logger: t.logger,
          },
          fire,
        ),
    );
  }
  let api = routers.get(deps);
  if (!api) {
    api = apiHandler({ ...deps, authorize: iamAuthorizer }, t.logger);
    routers.set(deps, api);
  }
  return instrumented(t, { path: event.path, method: event.httpMethod }, async () => {
    const started = performance.now();
    const result = await (api as ApiHandler)(event);
    t.metrics.addMetric(METRIC.apiLatency, MetricUnit.Milliseconds, performance.now() - started);
    if (result.statusCode >= 500) t.metrics.addMetric(METRIC.apiServerErrors, MetricUnit.Count, 1);
    return result;
  });
}
