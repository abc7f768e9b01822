import { dnsLabelMessage, isDnsLabel } from "../manifest/limits.ts";

/**
 * Path parameters are checked by the router before any handler runs, so nothing is read or stored
 * under a key no manifest could have: a namespace or name is a DNS-1123 label (at most 63
 * characters, which also keeps every DynamoDB key far below its 2,048-byte partition-key limit),
 * and any other segment (a gate's event name) is short printable text.
 */
export const MAX_OTHER_PARAM_CHARS = 253;

// `id` of /api/tasks/{id} is the task team's name.
const LABEL_PARAMS = new Set(["namespace", "name", "id"]);

/** Every problem of the decoded path parameters, each naming its parameter. */
export function pathParamIssues(params: Record<string, string>): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  for (const [param, value] of Object.entries(params)) {
    if (LABEL_PARAMS.has(param)) {
      if (!isDnsLabel(value)) issues.push({ path: param, message: dnsLabelMessage(value.slice(0, 80)) });
    } else if (value.length === 0 || value.length > MAX_OTHER_PARAM_CHARS || /[\p{Cc}\p{Cf}]/u.test(value)) {
      issues.push({
        path: param,
        message: `must be 1 to ${MAX_OTHER_PARAM_CHARS} printable characters (got ${value.length})`,
      });
    }
  }
  return issues;
}
