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
  buildDependencies,
  environmentOf,
} from "../../core/control/aws-deps.ts";
import { iamAuthorizer } from "../../core/control/http.ts";
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
};
/** The variables this function reads (test/infra checks the stack sets them). */
export const environment = environmentOf(dependencies);
const container = perContainer("api", (logger) => buildDependencies(dependencies, logger));
let api: ApiHandler | undefined;

/** API Gateway (REST, proxy) → the API router. IAM has already authorised the path. */
export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const { deps, t } = container();
  api ??= apiHandler({ ...deps, authorize: iamAuthorizer }, t.logger);
  return instrumented(t, { path: event.path, method: event.httpMethod }, async () => {
    const started = performance.now();
    const result = await api!(event);
    t.metrics.addMetric("ApiLatency", MetricUnit.Milliseconds, performance.now() - started);
    if (result.statusCode >= 500) t.metrics.addMetric("ApiServerErrors", MetricUnit.Count, 1);
    return result;
  });
}
