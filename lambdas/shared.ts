import { awsControlDeps } from "../core/control/aws-deps.ts";
import { type Telemetry, telemetry } from "../core/control/observability.ts";

type AwsDeps = ReturnType<typeof awsControlDeps>;

/**
 * Clients and Powertools objects are created on the first invocation of a container and reused
 * by every later one (lazily, so importing a handler in tests or local mode needs no AWS env).
 */
export function perContainer(serviceName: string): () => { deps: AwsDeps; t: Telemetry } {
  let cached: { deps: AwsDeps; t: Telemetry } | undefined;
  return () => {
    if (!cached) {
      const t = telemetry(serviceName);
      cached = { deps: awsControlDeps(t.logger), t };
    }
    return cached;
  };
}
