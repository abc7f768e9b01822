import { type Document, isNode, LineCounter, parseAllDocuments } from "yaml";
import { hasErrors, type IssuePath, ManifestError, type PathIssue, toValidationIssue } from "./issues.ts";
import type { ManifestOptions } from "./options.ts";
import type { AgentTeam, SquadronResource, ValidationIssue } from "./types.ts";
import { checkResource } from "./validate.ts";

export interface ParseResult {
  /** The resources without errors, normalized, in input order. */
  resources: SquadronResource[];
  /** Every problem in every document; `document` says which resource it belongs to. */
  issues: ValidationIssue[];
}

/** One resource found in the text, and how to find its nodes for line numbers. */
interface Unit {
  value: unknown;
  doc?: Document.Parsed;
  /** Path of the resource inside its document: [] or [index] for a top-level list. */
  prefix: IssuePath;
}

/**
 * Parses YAML (one or many documents) or JSON text holding resources, validates and normalizes
 * each. A top-level list is read as several resources (what `-o json` prints for many). Every
 * problem of the text is in `issues`; only invalid options throw (ManifestOptionsError).
 */
export function parseManifests(text: string, options?: ManifestOptions): ParseResult {
  const lineCounter = new LineCounter();
  const { units, issues } = readUnits(text, lineCounter);
  const resources: SquadronResource[] = [];
  units.forEach((unit, index) => {
    const checked = checkResource(unit.value, options);
    if (checked.resource) resources.push(checked.resource);
    for (const issue of checked.issues) issues.push(locate(issue, unit, index, lineCounter));
  });
  if (units.length === 0 && !hasErrors(issues)) {
    issues.push({ path: "", message: "The input holds no manifest.", severity: "error" });
  }
  return { resources, issues };
}

/** Parses text that must hold exactly one valid resource; throws ManifestError otherwise. */
export function parseResource(text: string, options?: ManifestOptions): SquadronResource {
  const { resources, issues } = parseManifests(text, options);
  if (hasErrors(issues)) throw new ManifestError(issues);
  if (resources.length !== 1) {
    throw ManifestError.single("", `Expected one manifest but the input holds ${resources.length}.`);
  }
  return resources[0]!;
}

/** Parses text that must hold exactly one AgentTeam; throws ManifestError otherwise. */
export function parseTeam(text: string, options?: ManifestOptions): AgentTeam {
  const resource = parseResource(text, options);
  if (resource.kind !== "AgentTeam") {
    throw ManifestError.single(
      "kind",
      `Expected an AgentTeam but found an ${resource.kind}${resource.kind === "AgentTeamRun" ? "; merge it with its template first" : ""}.`,
    );
  }
  return resource;
}

function readUnits(text: string, lineCounter: LineCounter): { units: Unit[]; issues: ValidationIssue[] } {
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const yamlIssues: ValidationIssue[] = [];
  for (const doc of docs) {
    for (const problem of doc.errors) {
      const { line, col: column } = lineCounter.linePos(problem.pos[0]);
      yamlIssues.push(
        compactIssue({
          path: "",
          message: `The text is not valid YAML or JSON: ${firstLine(problem.message)}`,
          severity: "error",
          line,
          column,
        }),
      );
    }
  }
  if (yamlIssues.length > 0) {
    // Some JSON (tabs for indentation, say) is not YAML; give JSON.parse the last word.
    const json = tryJson(text);
    if (json.ok) return { units: splitList(json.value), issues: [] };
    return { units: [], issues: yamlIssues };
  }

  const units: Unit[] = [];
  const issues: ValidationIssue[] = [];
  for (const doc of docs) {
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (problem) {
      // Alias bombs and unresolved aliases surface here, not in doc.errors.
      issues.push({
        path: "",
        message: `The YAML cannot be read: ${(problem as Error).message}`,
        severity: "error",
        document: units.length,
      });
      continue;
    }
    if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing "---"
    for (const unit of splitList(value)) units.push({ ...unit, doc });
  }
  return { units, issues };
}

function splitList(value: unknown): Unit[] {
  if (Array.isArray(value)) return value.map((item, index) => ({ value: item, prefix: [index] }));
  return [{ value, prefix: [] }];
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Adds the document index and, when the text is at hand, the line of the nearest existing node. */
function locate(issue: PathIssue, unit: Unit, document: number, lineCounter: LineCounter): ValidationIssue {
  const located: ValidationIssue = { ...toValidationIssue(issue), document };
  if (!unit.doc) return located;
  const full = [...unit.prefix, ...issue.path];
  for (let length = full.length; length >= 0; length--) {
    const node = length === 0 ? unit.doc.contents : unit.doc.getIn(full.slice(0, length), true);
    if (isNode(node) && node.range) {
      const position = lineCounter.linePos(node.range[0]);
      return { ...located, line: position.line, column: position.col };
    }
  }
  return located;
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

function compactIssue(issue: ValidationIssue): ValidationIssue {
  return Object.fromEntries(
    Object.entries(issue).filter(([, v]) => v !== undefined),
  ) as unknown as ValidationIssue;
}
