import type { ControlLogger } from "../core/control/deps.ts";
import { type Telemetry, telemetry } from "../core/control/observability.ts";

/**
 * A handler's dependencies and Powertools objects, created on the first invocation of a container
 * and reused by every later one (lazily, so importing a handler in tests or local mode needs no
 * AWS env). Each handler passes its own `build`, naming only the `aws*` factories it calls, so its
 * bundle holds only the SDK clients it uses.
 */
export function perContainer<D>(
  serviceName: string,
  build: (logger: ControlLogger) => D,
): () => { deps: D; t: Telemetry } {
  let cached: { deps: D; t: Telemetry } | undefined;
  return () => {
    if (!cached) {
      const t = telemetry(serviceName);
      cached = { deps: build(t.logger), t };
    }
    return cached;
  };
}
