import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { CleanupFailureSink } from "./cleanup-failures.ts";
import { METRIC, METRICS_NAMESPACE, type MetricSink } from "./metric-names.ts";

/**
 * Powertools Logger/Metrics for a control-plane function, created once per container. Keys such
 * as teamRunId and agent are appended per invocation so every log line and EMF record carries them.
 */
export interface Telemetry {
  logger: Logger;
  metrics: Metrics;
}

export { METRICS_NAMESPACE };

export function telemetry(serviceName: string): Telemetry {
  return {
    logger: new Logger({ serviceName, logLevel: (process.env.POWERTOOLS_LOG_LEVEL as "INFO") ?? "INFO" }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
  };
}

/**
 * The handler's Metrics as a MetricSink for domain code. A measurement with its own dimensions
 * (the per-team cost) goes out as a single-metric record, which keeps the `service` default
 * dimension and adds its own: Powertools' `singleMetric()` copies the default dimensions.
 */
/** Our unit names are Powertools' unit values ("Count", "Seconds", "Milliseconds", "None"). */
type PowertoolsUnit = (typeof MetricUnit)[keyof typeof MetricUnit];

export function metricSink(metrics: Metrics): MetricSink {
  return {
    add(name, unit, value, dimensions) {
      if (!dimensions) {
        metrics.addMetric(name, unit as PowertoolsUnit, value);
        return;
      }
      const single = metrics.singleMetric();
      for (const [key, v] of Object.entries(dimensions)) single.addDimension(key, v);
      single.addMetric(name, unit as PowertoolsUnit, value);
    },
  };
}

/**
 * Runs one invocation with its log keys, and flushes metrics even when it throws.
 * `publishStoredMetrics` warns when nothing was recorded, so it is only called when something was.
 */
export async function instrumented<T>(
  t: Telemetry,
  keys: Record<string, string | undefined>,
  work: () => Promise<T>,
): Promise<T> {
  const defined = Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  t.logger.appendKeys(defined);
  try {
    return await work();
  } finally {
    if (t.metrics.hasStoredMetrics()) t.metrics.publishStoredMetrics();
    t.logger.removeKeys(Object.keys(defined));
  }
}

/**
 * Counts a run whose resources could not be released (RunResourceCleanupFailures, alarmed by
 * infra/constructs/cleanup-alarm.ts), with Powertools' `service` dimension like every metric.
 */
export function cleanupFailureMetric(t: Telemetry): CleanupFailureSink {
  return {
    resourceCleanupFailed: () => t.metrics.addMetric(METRIC.resourceCleanupFailures, MetricUnit.Count, 1),
  };
}

export { MetricUnit };
