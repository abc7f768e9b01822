import type { z } from "zod";
import { error, type PathIssue, warning } from "./issues.ts";

/**
 * Turns zod's issues into sentences. Passed as the per-parse error map, so it only speaks where a
 * schema did not already give its own message.
 */
export function describeZodIssue(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "This field is required.";
      return `Expected ${typeName(issue.expected)} but found ${describeValue(issue.input)}.`;
    case "too_small":
      return tooSmall(issue.origin, Number(issue.minimum), issue.inclusive !== false);
    case "too_big":
      return tooBig(issue.origin, Number(issue.maximum), issue.inclusive !== false);
    case "invalid_value": {
      const allowed = issue.values.map((value) => JSON.stringify(value));
      const found = issue.input === undefined ? "it is missing" : `found ${describeValue(issue.input)}`;
      return allowed.length === 1
        ? `Must be ${allowed[0]} (${found}).`
        : `Must be one of ${allowed.join(", ")} (${found}).`;
    }
    case "invalid_format":
      return `${describeValue(issue.input)} is not in the expected format.`;
    case "not_multiple_of":
      return `Must be a multiple of ${issue.divisor}.`;
    case "invalid_key":
      return "Has a key of the wrong form.";
    case "invalid_union":
      return `${describeValue(issue.input)} does not have any of the accepted forms.`;
    default:
      return "Is not valid here.";
  }
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a mapping of fields",
    record: "a mapping of names to values",
    nonoptional: "a value",
  };
  return names[expected] ?? expected;
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return value.length > 60 ? `a string ("${value.slice(0, 57)}...")` : JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

function tooSmall(origin: string, minimum: number, inclusive: boolean): string {
  if (origin === "array") return `Must hold at least ${minimum} ${minimum === 1 ? "item" : "items"}.`;
  if (origin === "string")
    return minimum <= 1 ? "Must not be empty." : `Must be at least ${minimum} characters long.`;
  return inclusive ? `Must be at least ${minimum}.` : `Must be more than ${minimum}.`;
}

function tooBig(origin: string, maximum: number, inclusive: boolean): string {
  if (origin === "array") return `Must hold at most ${maximum} ${maximum === 1 ? "item" : "items"}.`;
  if (origin === "string") return `Must be at most ${maximum} characters long.`;
  return inclusive ? `Must be at most ${maximum}.` : `Must be less than ${maximum}.`;
}

/**
 * The unknown keys zod found (to warn about and drop) and every other problem. kagents fields whose
 * loss would change what a team does (its order, approvals, what it delivers, where skills come
 * from) are errors instead: a team must never run without them unnoticed.
 */
export function splitZodIssues(issues: readonly z.core.$ZodIssue[]): {
  unknownKeys: PathIssue[];
  errors: PathIssue[];
} {
  const unknownKeys: PathIssue[] = [];
  const errors: PathIssue[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const rejected = KAGENTS_REJECTED_FIELDS[key];
        if (rejected) errors.push(error([...issue.path, key], rejected));
        else unknownKeys.push(warning([...issue.path, key], unknownFieldMessage(key)));
      }
    } else {
      errors.push(error(issue.path, issue.message));
    }
  }
  return { unknownKeys, errors };
}

/**
 * kagents fields Squadron does not act on and that change a run's outcome: rejected, saying why.
 * Where they are supported (`pipeline`, `harness` on an AgentTeam or template, teammates' `outputs`/`inputs`) the schema knows
 * them, so these messages only apply where they are not.
 */
const KAGENTS_REJECTED_FIELDS: Record<string, string> = {
  pipeline:
    "spec.pipeline belongs on an AgentTeam or AgentTeamTemplate (a run takes its template's pipeline); it cannot be set here.",
  harness:
    'spec.harness belongs on an AgentTeam (only "claude-code", which is cli: claude); a run or template sets cli on its agents instead.',
  outputs:
    "outputs (kagents v0.8 artifact routing) belong to teammates (spec.teammates[].outputs); the lead neither declares nor consumes artifacts.",
  inputs:
    "inputs (kagents v0.8 artifact routing) belong to teammates (spec.teammates[].inputs); the lead neither declares nor consumes artifacts.",
};

export function unknownFieldMessage(key: string): string {
  // kagents' own fields are never here: each is supported or rejected with a reason (schema.ts).
  return `Unknown field "${key}" is ignored.`;
}
