/**
 * Bounds and name rules of manifests, in a module without zod, so that functions which only check
 * deployment defaults or path parameters (every AWS handler's cold start) do not bundle the schema.
 */

export const DNS_1123_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_1123_LABEL.test(value);
}

export function dnsLabelMessage(value: unknown): string {
  return `The name ${JSON.stringify(value)} is not a DNS-1123 label: use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit.`;
}

/**
 * The longest team timeout: 30 days. Step Functions Standard executions may last a year, but a
 * deadline further away is a typo ("2400000000h" once reached Prepare as an invalid date), and a
 * bound keeps every derived time a valid Date and DynamoDB number.
 */
export const MAX_TIMEOUT_SECONDS = 30 * 24 * 3600;
/** The largest budget in US dollars: far above any team's spend, far below DynamoDB's number limits. */
export const MAX_BUDGET_USD = 100_000;
