import { type Command, Option } from "commander";
import type {
  AgentTeamRun,
  AgentTeamTemplate,
  ManifestOptions,
  OutputFormat,
  SquadronResource,
} from "../../core/manifest/index.ts";
import { EXIT } from "../client/exit-codes.ts";
import { type CliCommand, CliError } from "../command.ts";
import { formatIssue, type LocatedIssue, readSource } from "./shared/manifests.ts";

interface ValidateOptions {
  /** Absent: one verdict line per file; yaml or json: the normalized manifests. */
  output?: OutputFormat;
  maxPromptBytes?: number;
  maxTeammates?: number;
}

const command: CliCommand = {
  register(program: Command) {
    program
      .command("validate")
      .description(
        "Check manifests (YAML or JSON, many documents per file): a verdict per file, and every problem found.",
      )
      .argument("<files...>", 'manifest files; "-" reads standard input')
      .addOption(
        new Option(
          "-o, --output <format>",
          "print the normalized manifests instead of a verdict per file",
        ).choices(["yaml", "json"]),
      )
      .option("--max-prompt-bytes <bytes>", "largest prompt allowed, in bytes (default 32768)", positiveInt)
      .option("--max-teammates <count>", "most teammates a team may have (default 32)", positiveInt)
      .addHelpText(
        "after",
        "\nExit status: 0 when every manifest is valid (warnings allowed), 1 when any has an error.\n" +
          "Prints one line per file (FILE: valid: KIND NAMESPACE/NAME, ...); -o yaml|json prints the\n" +
          "normalized manifests instead. Problems go to standard error as FILE:LINE: severity: path: message.\n" +
          "A run given together with its template is also checked merged with it.",
      )
      .action(async (files: string[], options: ValidateOptions) => {
        process.exitCode = await validateFiles(files, options);
      });
  },
};

export default command;

async function validateFiles(files: string[], options: ValidateOptions): Promise<number> {
  // core/manifest (zod and the schemas) is loaded when a command reads manifests, not when any
  // `squadron` command starts: every command module is imported to register its options.
  const { parseManifests, serializeResources } = await import("../../core/manifest/index.ts");
  const limits: ManifestOptions = {
    maxPromptBytes: options.maxPromptBytes,
    maxTeammates: options.maxTeammates,
  };
  const resources: SquadronResource[] = [];
  const perFile: { source: string; resources: SquadronResource[] }[] = [];
  const runs: { run: AgentTeamRun; source: string }[] = [];
  const issues: LocatedIssue[] = [];
  for (const file of files) {
    const source = file === "-" ? "<stdin>" : file;
    const result = parseManifests(await readSource(file), limits);
    resources.push(...result.resources);
    perFile.push({ source, resources: result.resources });
    issues.push(...result.issues.map((issue) => ({ ...issue, source })));
    for (const resource of result.resources) {
      if (resource.kind === "AgentTeamRun") runs.push({ run: resource, source });
    }
  }
  issues.push(...(await checkRunsAgainstTemplates(runs, resources, limits)));

  // Compiler-style: in input order, then by document and line, so a long list reads top to bottom.
  const sourceOrder = new Map(files.map((file, index) => [file === "-" ? "<stdin>" : file, index]));
  issues.sort(
    (a, b) =>
      (sourceOrder.get(a.source) ?? 0) - (sourceOrder.get(b.source) ?? 0) ||
      (a.document ?? 0) - (b.document ?? 0) ||
      (a.line ?? 0) - (b.line ?? 0),
  );
  for (const issue of issues) process.stderr.write(`${formatIssue(issue)}\n`);
  const failed = issues.some((issue) => issue.severity === "error");
  if (options.output) {
    if (failed) {
      const count = issues.filter((issue) => issue.severity === "error").length;
      process.stderr.write(`${count} ${count === 1 ? "error" : "errors"}; nothing printed.\n`);
      return 1;
    }
    process.stdout.write(serializeResources(resources, options.output));
    return 0;
  }
  for (const { source, resources: found } of perFile) {
    process.stdout.write(`${verdict(source, found, issues)}\n`);
  }
  return failed ? 1 : 0;
}

/** `FILE: valid: AgentTeam dev-agents/auth-refactor` or `FILE: invalid: 2 errors, 1 warning`. */
function verdict(
  source: string,
  resources: readonly SquadronResource[],
  issues: readonly LocatedIssue[],
): string {
  const mine = issues.filter((issue) => issue.source === source);
  const count = (severity: string, word: string) => {
    const n = mine.filter((issue) => issue.severity === severity).length;
    return n === 0 ? [] : [`${n} ${word}${n === 1 ? "" : "s"}`];
  };
  const errors = count("error", "error");
  const warnings = count("warning", "warning");
  if (errors.length > 0) return `${source}: invalid: ${[...errors, ...warnings].join(", ")}`;
  const names = resources.map((r) => `${r.kind} ${r.metadata.namespace ?? "default"}/${r.metadata.name}`);
  const what = names.length > 0 ? names.join(", ") : "no manifests";
  return `${source}: valid: ${what}${warnings.length > 0 ? ` (${warnings.join(", ")})` : ""}`;
}

/** A run whose template is among the inputs is merged, so gates naming template teammates are checked. */
async function checkRunsAgainstTemplates(
  runs: readonly { run: AgentTeamRun; source: string }[],
  resources: readonly SquadronResource[],
  limits: ManifestOptions,
): Promise<LocatedIssue[]> {
  const { ManifestError, mergeTemplateRun } = await import("../../core/manifest/index.ts");
  const issues: LocatedIssue[] = [];
  for (const { run, source } of runs) {
    const template = resources.find(
      (resource): resource is AgentTeamTemplate =>
        resource.kind === "AgentTeamTemplate" && resource.metadata.name === run.spec.templateRef.name,
    );
    if (!template) continue;
    try {
      mergeTemplateRun(template, run, limits);
    } catch (problem) {
      if (!(problem instanceof ManifestError)) throw problem;
      for (const issue of problem.issues) {
        issues.push({
          ...issue,
          source,
          message: `merged with template "${template.metadata.name}": ${issue.message}`,
        });
      }
    }
  }
  return issues;
}

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new CliError(`"${value}" is not a positive whole number.`, EXIT.usage);
  return number;
}
