/**
 * Strings that enter a Step Functions execution's state are bounded: the state (input and output
 * of every state, a Map's collected results included) may not exceed 256 KiB, and exceeding it
 * fails the execution with States.DataLimitExceeded, which no Catch handles, so Cleanup never runs
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-task-executions).
 * A stopped task's Cause alone is ~3 KB; a 100-agent Map would overflow on failures.
 */
export const STATE_TEXT_LIMIT = 512;

/** `text` cut to at most `limit` characters, marked with an ellipsis when cut. */
export function boundedText(text: string, limit: number = STATE_TEXT_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
