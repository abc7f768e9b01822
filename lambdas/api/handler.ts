import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  awsIdempotency,
  awsManifestDefaults,
  awsRunIndex,
  awsSlackNotifier,
  awsStarter,
  awsStopper,
  awsStore,
  awsTeamFiles,
  awsTeamLogs,
  awsTokens,
  awsTriggerSecret,
  awsTriggerStore,
  buildDependencies,
  environmentOf,
} from "../../core/control/aws-deps.ts";
import { iamAuthorizer } from "../../core/control/http.ts";
import { METRIC } from "../../core/control/metric-names.ts";
import { instrumented, MetricUnit } from "../../core/control/observability.ts";
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
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
/** Exported so tests can run the handler on their own dependencies (`container.use`). */
export const container = perContainer("api", (logger) => buildDependencies(dependencies, logger));
/** The router, built once per set of dependencies (once per container in Lambda). */
const routers = new WeakMap<object, ApiHandler>();

/** API Gateway (REST, proxy) → the API router. IAM has already authorised the path. */
export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { deps, t } = container();
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
