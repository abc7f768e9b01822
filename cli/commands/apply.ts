import type { Command } from "commander";
import { ApiError, EXIT, EXIT_CODES_HELP, type SquadronClient } from "../client/index.ts";
import { type CliCommand, CliError } from "../command.ts";
import { applySchedule } from "../schedules/commands.ts";
import {
  action,
  addConnectionOptions,
  type ConnectionOptions,
  contextFor,
  examples,
  toCliError,
  usageExitCodes,
} from "./shared/context.ts";
import { isRecord, loadManifests, type ManifestDocument, reportIssues } from "./shared/manifests.ts";

interface ApplyOptions extends ConnectionOptions {
  filename: string[];
}

const command: CliCommand = {
  register(program: Command) {
    // The exit statuses hold for every command, so the top-level help lists them once.
    program.addHelpText("after", EXIT_CODES_HELP);
    const apply = program
      .command("apply")
      .description(
        "Create teams, create or update templates and start template runs from manifests (YAML or JSON, many documents per file).",
      )
      .requiredOption(
        "-f, --filename <file>",
        'manifest file; "-" reads standard input (repeatable)',
        collect,
      )
      .addHelpText(
        "after",
        "\nEvery manifest is validated locally first; with any error nothing is sent." +
          "\nAgentTeam → a new team run; AgentTeamTemplate → created, or replaced when it exists;" +
          "\nAgentTeamRun → a team run from its template; AgentTeamTrigger → created, or replaced when it exists." +
          "\nTemplates are applied before runs." +
          "\n-n applies to manifests without metadata.namespace; one that names another namespace is an error.\n" +
          examples(
            "squadron apply -f examples/hello-team.yaml",
            "squadron apply -f template.yaml -f run.yaml -n reviews",
            "cat teams.yaml | squadron apply -f -",
          ) +
          EXIT_CODES_HELP,
      );
    addConnectionOptions(apply);
    usageExitCodes(apply).action(
      action(async (options: ApplyOptions) => {
        process.exitCode = await applyFiles(options);
      }),
    );
  },
};

export default command;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function applyFiles(options: ApplyOptions): Promise<number> {
  const { documents, issues } = await loadManifests(options.filename);
  const errors = reportIssues(issues);
  if (errors > 0) {
    process.stderr.write(`${errors} ${errors === 1 ? "error" : "errors"}; nothing applied.\n`);
    return EXIT.error;
  }
  const context = await contextFor(options);
  const targets = documents.map((document) => ({ document, namespace: namespaceFor(document, context) }));
  const mismatched = targets.filter((t) => t.namespace instanceof CliError);
  if (mismatched.length > 0) {
    for (const t of mismatched) process.stderr.write(`squadron: ${(t.namespace as CliError).message}\n`);
    return EXIT.error;
  }

  // A run needs its template: apply templates first, otherwise keep the input order.
  const rank = (d: ManifestDocument) => (d.resource.kind === "AgentTeamTemplate" ? 0 : 1);
  const ordered = [...targets].sort((a, b) => rank(a.document) - rank(b.document));
  let status: number = EXIT.ok;
  for (const { document, namespace } of ordered) {
    const label = labelOf(document);
    try {
      process.stdout.write(`${await applyOne(context.client, document, namespace as string)}\n`);
    } catch (problem) {
      const error = toCliError(problem, `${label}: `);
      if (!(error instanceof CliError)) throw error;
      process.stderr.write(`squadron: ${error.message}\n`);
      if (status === EXIT.ok) status = error.exitCode;
    }
  }
  return status;
}

function labelOf(document: ManifestDocument): string {
  const { kind: written } = document.resource;
  const kind =
    written === "AgentTeamTemplate" ? "template" : written === "AgentTeamTrigger" ? "trigger" : "team";
  return `${kind}/${document.resource.metadata.name}`;
}

/** The manifest's own namespace, else -n/the default; both given and different is refused. */
function namespaceFor(
  document: ManifestDocument,
  context: { namespace: string; namespaceFromFlag: boolean },
): string | CliError {
  const metadata = isRecord(document.raw.metadata) ? document.raw.metadata : {};
  const written = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  if (written === undefined) return context.namespace;
  if (context.namespaceFromFlag && written !== context.namespace) {
    return new CliError(
      `${labelOf(document)} (${document.source}) is in namespace "${written}", not "${context.namespace}" given with -n; remove one of them`,
    );
  }
  return written;
}

/** Sends the manifest as written (so the server applies its own defaults), namespace filled in. */
async function applyOne(
  client: SquadronClient,
  document: ManifestDocument,
  namespace: string,
): Promise<string> {
  const { resource } = document;
  const metadata = isRecord(document.raw.metadata) ? document.raw.metadata : {};
  const body = { ...document.raw, metadata: { ...metadata, namespace } };
  const name = resource.metadata.name;
  switch (resource.kind) {
    case "AgentTeam": {
      const team = await client.createTeam(namespace, body);
      // 200 with `unchanged`: the team exists with this manifest (false: its approval annotations decided gates).
      const verb = team.unchanged === undefined ? "created" : team.unchanged ? "unchanged" : "configured";
      return `team/${team.name ?? name} ${verb}`;
    }
    case "AgentTeamRun": {
      const template = resource.spec.templateRef.name;
      const team = await client.createRun(namespace, template, body);
      return team.unchanged
        ? `team/${team.name ?? name} unchanged`
        : `team/${team.name ?? name} created from template/${template}`;
    }
    case "AgentTeamTemplate": {
      try {
        await client.createTemplate(namespace, body);
        return `template/${name} created`;
      } catch (problem) {
        if (!(problem instanceof ApiError) || problem.status !== 409) throw problem;
      }
      await client.replaceTemplate(namespace, name, body);
      return `template/${name} configured`;
    }
    case "AgentTeamTrigger": {
      const trigger = await client.applyTrigger(namespace, body);
      return `trigger/${name} ${trigger.version === 1 ? "created" : "configured"} (POST ${trigger.url})`;
    }
    case "AgentTeamSchedule":
      return applySchedule(client, namespace, name, body);
  }
}
