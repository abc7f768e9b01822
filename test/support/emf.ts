/**
 * Captures the CloudWatch embedded-metric-format records a handler writes. Powertools Metrics
 * prints each record as one JSON line on process.stdout (through its own `Console` on stdout:
 * Metrics#setConsole), and CloudWatch Logs turns each `_aws.CloudWatchMetrics` directive into
 * metrics: one per metric name and per dimension set, identified by namespace, name and the
 * dimensions' values.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

/** One CloudWatch metric an EMF record creates. */
export interface EmittedMetric {
  namespace: string;
  name: string;
  unit?: string;
  dimensions: Record<string, string>;
}

interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit?: string }>;
}

/** The metrics one EMF JSON line creates (none for a line that is not EMF). */
export function metricsOfEmfLine(line: string): EmittedMetric[] {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return [];
  }
  const aws = record._aws as { CloudWatchMetrics?: EmfDirective[] } | undefined;
  if (!aws?.CloudWatchMetrics) return [];
  const out: EmittedMetric[] = [];
  for (const directive of aws.CloudWatchMetrics) {
    // A directive with no dimension set still creates the dimensionless metric.
    const sets = directive.Dimensions.length > 0 ? directive.Dimensions : [[]];
    for (const set of sets) {
      const dimensions = Object.fromEntries(set.map((key) => [key, String(record[key])]));
      for (const m of directive.Metrics) {
        out.push({ namespace: directive.Namespace, name: m.Name, unit: m.Unit, dimensions });
      }
    }
  }
  return out;
}

/** Records every EMF line written to stdout until `stop()`; other output passes through. */
export function captureEmf(): { metrics: EmittedMetric[]; stop: () => void } {
  const metrics: EmittedMetric[] = [];
  const write = process.stdout.write.bind(process.stdout);
  let pending = "";
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    pending += text;
    let nl = pending.indexOf("\n");
    let passthrough = "";
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const found = metricsOfEmfLine(line);
      if (found.length > 0) metrics.push(...found);
      else passthrough += `${line}\n`;
      nl = pending.indexOf("\n");
    }
    return passthrough ? write(passthrough, ...(rest as [])) : true;
  }) as typeof process.stdout.write;
  return {
    metrics,
    stop: () => {
      process.stdout.write = write;
    },
  };
}

/** `namespace|name|k=v,k=v` with the keys sorted: a CloudWatch metric's identity. */
export function metricKey(m: {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}): string {
  const dims = Object.keys(m.dimensions)
    .sort()
    .map((k) => `${k}=${m.dimensions[k]}`)
    .join(",");
  return `${m.namespace}|${m.name}|${dims}`;
}
