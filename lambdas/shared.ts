import type { ControlLogger } from "../core/control/deps.ts";
import type { MetricSink } from "../core/control/metric-names.ts";
import { metricSink, type Telemetry, telemetry } from "../core/control/observability.ts";

export interface Container<D> {
  /** The container's dependencies (with the Powertools-bound metric sink) and telemetry. */
  (): { deps: D & { metrics: MetricSink }; t: Telemetry };
  /**
   * Tests: the handler runs on these dependencies instead of the AWS ones it would build, with its
   * own telemetry (its service name), so what it emits is what the deployed function emits.
   */
  use(deps: D): void;
}

/**
 * A handler's dependencies and Powertools objects, created on the first invocation of a container
 * and reused by every later one (lazily, so importing a handler in tests or local mode needs no
 * AWS env). Each handler passes its own `build`, naming only the `aws*` factories it calls, so its
 * bundle holds only the SDK clients it uses. `serviceName` becomes the `service` dimension of every
 * metric the handler emits (core/control/metric-names.ts).
 */
export function perContainer<D>(serviceName: string, build: (logger: ControlLogger) => D): Container<D> {
  let cached: { deps: D & { metrics: MetricSink }; t: Telemetry } | undefined;
  const bind = (make: (logger: ControlLogger) => D) => {
    const t = telemetry(serviceName);
    return { deps: { ...make(t.logger), metrics: metricSink(t.metrics) }, t };
  };
  const container = () => {
    cached ??= bind(build);
    return cached;
  };
  container.use = (deps: D) => {
    cached = bind(() => deps);
  };
  return container;
}
