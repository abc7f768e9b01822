import {
  error,
  hasErrors,
  type IssuePath,
  ManifestError,
  type PathIssue,
  toValidationIssue,
} from "./issues.ts";
import { type ManifestOptions, type ResolvedDefaults, resolveOptions } from "./options.ts";
import { checkResourceRules } from "./rules.ts";
import { type ResourceKind as RunnableKind, SCHEMA_BY_KIND } from "./schema.ts";
import { agentTeamTriggerSchema } from "./trigger-schema.ts";
import type { SquadronResource, ValidationIssue } from "./types.ts";
import { describeZodIssue, splitZodIssues } from "./zod-issues.ts";

export interface CheckedResource {
  /** Present when there is no error (warnings allowed). */
  resource?: SquadronResource;
  issues: PathIssue[];
}

export interface ValidationResult {
  resource?: SquadronResource;
  issues: ValidationIssue[];
}

/** Every kind, the AgentTeamTrigger's schema kept in its own module (core/triggers uses it). */
const SCHEMAS = { ...SCHEMA_BY_KIND, AgentTeamTrigger: agentTeamTriggerSchema };
type ResourceKind = RunnableKind | "AgentTeamTrigger";
const KINDS = Object.keys(SCHEMAS) as ResourceKind[];

/**
 * Validates and normalizes one resource given as a plain object, keeping structured paths. Throws
 * ManifestOptionsError (only) when the options themselves are invalid.
 */
export function checkResource(input: unknown, options?: ManifestOptions): CheckedResource {
  const resolved = resolveOptions(options);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return {
      issues: [error([], "A manifest must be a mapping with apiVersion, kind, metadata and spec.")],
    };
  }
  const raw = input as Record<string, unknown>;
  const kind = raw.kind;
  if (typeof kind !== "string" || !KINDS.includes(kind as ResourceKind)) {
    const found = kind === undefined ? "is missing" : `${JSON.stringify(kind)} is not one`;
    return {
      issues: [
        error(["kind"], `The kind ${found}; use ${KINDS.slice(0, -1).join(", ")} or ${KINDS.at(-1)}.`),
      ],
    };
  }
  const schema = SCHEMAS[kind as ResourceKind];

  // Unknown fields are warnings: drop them and parse again, so newer manifests still load.
  let first = schema.safeParse(raw, { error: describeZodIssue });
  const { unknownKeys } = first.success ? { unknownKeys: [] } : splitZodIssues(first.error.issues);
  if (unknownKeys.length > 0)
    first = schema.safeParse(withoutKeys(raw, unknownKeys), { error: describeZodIssue });
  const errors = first.success ? [] : splitZodIssues(first.error.issues).errors;

  const issues = [...errors, ...checkResourceRules(raw, resolved), ...unknownKeys];
  if (hasErrors(issues) || !first.success) return { issues };
  return { resource: withDefaults(first.data as SquadronResource, raw, resolved.defaults), issues };
}

/**
 * The deployment's defaults where the manifest itself is silent. The schema has already put
 * kagents' "4h" into a lifecycle without a timeout, so the raw manifest tells whether the timeout
 * was written. A run without a lifecycle keeps none: the template's then applies whole.
 */
function withDefaults(
  resource: SquadronResource,
  raw: Record<string, unknown>,
  defaults: ResolvedDefaults,
): SquadronResource {
  const lifecycle = resource.spec.lifecycle;
  if (!lifecycle) return resource;
  const spec = raw.spec as { lifecycle?: { timeout?: unknown; timeoutSeconds?: unknown } } | undefined;
  const written = spec?.lifecycle ?? {};
  if (
    defaults.timeoutSeconds !== undefined &&
    written.timeout === undefined &&
    written.timeoutSeconds === undefined
  ) {
    lifecycle.timeout = defaults.timeout as string;
    lifecycle.timeoutSeconds = defaults.timeoutSeconds;
  }
  if (defaults.budgetLimit !== undefined && lifecycle.budgetLimit === undefined) {
    lifecycle.budgetLimit = defaults.budgetLimit;
  }
  return resource;
}

/** Validates and normalizes one resource; throws only ManifestOptionsError (invalid options). */
export function validateResource(input: unknown, options?: ManifestOptions): ValidationResult {
  const checked = checkResource(input, options);
  const issues = checked.issues.map(toValidationIssue);
  return checked.resource ? { resource: checked.resource, issues } : { issues };
}

/** Validates and normalizes one resource; throws ManifestError listing every problem. */
export function normalizeResource(input: unknown, options?: ManifestOptions): SquadronResource {
  const result = validateResource(input, options);
  if (!result.resource) throw new ManifestError(result.issues);
  return result.resource;
}

function withoutKeys(raw: unknown, unknown: readonly PathIssue[]): unknown {
  const copy = structuredClone(raw);
  for (const issue of unknown) deleteAt(copy, issue.path);
  return copy;
}

function deleteAt(root: unknown, path: IssuePath): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  if (typeof node === "object" && node !== null) delete (node as Record<PropertyKey, unknown>)[path.at(-1)!];
}
