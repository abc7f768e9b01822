import { type AwsDependency, type Built, buildDependencies } from "../core/control/aws-deps.ts";
import type { ControlLogger } from "../core/control/deps.ts";
import type { MetricSink } from "../core/control/metric-names.ts";
import { instrumented, metricSink, type Telemetry, telemetry } from "../core/control/observability.ts";

type Bound<D> = { deps: D & { metrics: MetricSink }; t: Telemetry };

export interface Container<D> {
  /** The container's dependencies (with the Powertools-bound metric sink) and telemetry. */
  (): Bound<D>;
  /**
   * One invocation on the container's dependencies: its log lines carry `keys` (run id, agent,
   * route; undefined ones left out) and the metrics it added are published when it ends.
   */
  invoke<R>(
    keys: Record<string, string | undefined>,
    work: (deps: Bound<D>["deps"], t: Telemetry) => Promise<R>,
  ): Promise<R>;
  /**
   * Tests: the handler runs on these dependencies instead of the AWS ones it would build, with its
   * own telemetry (its service name), so what it emits is what the deployed function emits.
   */
  use(deps: D): void;
}

/**
 * A handler's dependencies and Powertools objects, created on the first invocation of a container
 * and reused by every later one (lazily, so importing a handler in tests or local mode needs no
 * AWS env). Each handler names only the `aws*` factories it uses, so its bundle holds only the SDK
 * clients it uses. `serviceName` becomes the `service` dimension of every metric the handler
 * emits (core/control/metric-names.ts).
 */
export function perContainer<A extends Record<string, AwsDependency<unknown>>>(
  serviceName: string,
  dependencies: A,
): Container<Built<A> & { logger: ControlLogger }> {
  type D = Built<A> & { logger: ControlLogger };
  let cached: Bound<D> | undefined;
  const bind = (make: (logger: ControlLogger) => D): Bound<D> => {
    const t = telemetry(serviceName);
    return { deps: { ...make(t.logger), metrics: metricSink(t.metrics) }, t };
  };
  const container = () => {
    cached ??= bind((logger) => buildDependencies(dependencies, logger));
    return cached;
  };
  container.invoke = <R>(
    keys: Record<string, string | undefined>,
    work: (deps: Bound<D>["deps"], t: Telemetry) => Promise<R>,
  ): Promise<R> => {
    const { deps, t } = container();
    return instrumented(t, keys, () => work(deps, t));
  };
  container.use = (deps: D) => {
    cached = bind(() => deps);
  };
  return container;
}
