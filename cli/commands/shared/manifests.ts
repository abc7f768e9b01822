import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import type { SquadronResource, ValidationIssue } from "../../../core/manifest/index.ts";
import { EXIT } from "../../client/index.ts";
import { CliError } from "../../command.ts";

/** One resource of the input: normalized (validated) and as written (what is sent). */
export interface ManifestDocument {
  source: string;
  resource: SquadronResource;
  raw: Record<string, unknown>;
}

export interface LocatedIssue extends ValidationIssue {
  source: string;
}

export async function readSource(file: string): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(file, "utf8");
  } catch (problem) {
    const code = (problem as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : String(problem);
    throw new CliError(`cannot read ${file}: ${reason}`, EXIT.usage);
  }
}

/** The same format as `squadron validate`: FILE:LINE: severity: path: message. */
export function formatIssue(issue: LocatedIssue): string {
  const where = issue.line === undefined ? issue.source : `${issue.source}:${issue.line}`;
  const path = issue.path === "" ? "" : `${issue.path}: `;
  return `${where}: ${issue.severity}: ${path}${issue.message}`;
}

/**
 * Reads and validates every file with core/manifest. Returns the documents, or every issue; the
 * raw values are read the way parseManifests reads them (documents, top-level lists, JSON), so
 * with no errors they line up one to one with the resources.
 */
export async function loadManifests(
  files: readonly string[],
): Promise<{ documents: ManifestDocument[]; issues: LocatedIssue[] }> {
  // core/manifest (zod and the schemas) is loaded when a command reads manifests, not when any
  // `squadron` command starts: every command module is imported to register its options.
  const { parseManifests } = await import("../../../core/manifest/index.ts");
  const documents: ManifestDocument[] = [];
  const issues: LocatedIssue[] = [];
  for (const file of files) {
    const source = file === "-" ? "<stdin>" : file;
    const text = await readSource(file);
    const result = parseManifests(text);
    issues.push(...result.issues.map((issue) => ({ ...issue, source })));
    if (result.issues.some((issue) => issue.severity === "error")) continue;
    const raws = rawUnits(text);
    result.resources.forEach((resource, index) => {
      const raw = raws.length === result.resources.length ? raws[index] : undefined;
      documents.push({
        source,
        resource,
        raw: isRecord(raw) ? raw : (resource as unknown as Record<string, unknown>),
      });
    });
  }
  return { documents, issues };
}

function rawUnits(text: string): unknown[] {
  const docs = parseAllDocuments(text);
  let values: unknown[];
  if (docs.some((doc) => doc.errors.length > 0)) {
    try {
      values = [JSON.parse(text)];
    } catch {
      return [];
    }
  } else {
    values = docs.map((doc) => doc.toJS({ maxAliasCount: 100 }));
  }
  return values
    .filter((value) => value !== null && value !== undefined)
    .flatMap((value) => (Array.isArray(value) ? value : [value]));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Prints the issues in input order and returns how many are errors. */
export function reportIssues(issues: readonly LocatedIssue[]): number {
  for (const issue of issues) process.stderr.write(`${formatIssue(issue)}\n`);
  return issues.filter((issue) => issue.severity === "error").length;
}
