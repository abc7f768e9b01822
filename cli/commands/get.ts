import { type Command, Option } from "commander";
import {
  EXIT,
  type SquadronClient,
  type TeamSummary,
  type TeamView,
  type TemplateView,
} from "../client/index.ts";
import { type CliCommand, CliError } from "../command.ts";
import { type Listing, printListing } from "../output/get-resources.ts";
import { OUTPUT_FORMATS, type Output, serialize, teamsTable, templatesTable } from "../output/index.ts";
import { SCHEDULE_LISTING } from "../schedules/commands.ts";
import {
  action,
  addConnectionOptions,
  type ConnectionOptions,
  contextFor,
  examples,
  positiveNumber,
  resourceKind,
  usageExitCodes,
} from "./shared/context.ts";
import { TRIGGER_LISTING } from "./shared/triggers.ts";
import { watchTeams } from "./shared/watch.ts";

interface GetOptions extends ConnectionOptions {
  output: Output;
  allNamespaces?: boolean;
  selector?: string;
  watch?: boolean;
  interval: number;
}

const command: CliCommand = {
  register(program: Command) {
    const get = program
      .command("get")
      .description(
        "List teams, templates or triggers (kagents' columns: NAME PHASE READY TASKS DONE COST AGE), or show one.",
      )
      .argument("<resource>", "teams, templates, triggers or schedules")
      .argument("[name]", "one team, template, trigger or schedule")
      .addOption(
        new Option("-o, --output <format>", "output format").choices([...OUTPUT_FORMATS]).default("table"),
      )
      .option(
        "-w, --watch",
        "teams: keep the list up to date until every team shown has finished (Ctrl-C to stop)",
      )
      .option("--interval <seconds>", "seconds between refreshes with -w", positiveNumber, 2)
      .option(
        "-A, --all-namespaces",
        "teams: every namespace your credentials may read (a NAMESPACE column; -n is ignored)",
      )
      .option(
        "-l, --selector <selector>",
        "teams: only those whose metadata.labels match (key=value, key!=value, key, !key; comma = and)",
      )
      .addHelpText(
        "after",
        "\nREADY counts running plus completed agents out of all; TASKS and DONE count the shared task list;" +
          "\nCOST is the measured cost in US dollars. With -w on a terminal the table is redrawn in place;" +
          "\nelse the table is printed once, then every row that changes.\n" +
          examples(
            "squadron get teams",
            "squadron get teams auth-refactor -n reviews -o yaml",
            "squadron get teams -w",
            "squadron get teams -A",
            "squadron get teams -l app=billing,tier!=experimental",
            "squadron get templates -o json",
            "squadron get triggers -n cowork-agents",
            "squadron get schedules -n cowork-agents",
          ),
      );
    addConnectionOptions(get);
    usageExitCodes(get).action(
      action(async (resource: string, name: string | undefined, options: GetOptions) => {
        const kind = resourceKind(resource, ["team", "template", "trigger", "schedule"]);
        if (options.watch && kind !== "team") throw new CliError("-w works with teams only", EXIT.usage);
        if (options.selector && (kind !== "team" || name))
          throw new CliError("-l selects from a list of teams: give no name", EXIT.usage);
        if (options.allNamespaces && (kind !== "team" || name))
          throw new CliError("-A lists teams across namespaces: give no name", EXIT.usage);
        const list = {
          ...(options.selector ? { labelSelector: options.selector } : {}),
          ...(options.allNamespaces ? { allNamespaces: true } : {}),
        };
        const { client, namespace } = await contextFor(options);
        if (kind !== "team")
          return await printListing(LISTINGS[kind], client, namespace, name, options.output);
        if (options.watch) {
          const interrupted = await watchTeams({
            fetch: async () =>
              name ? [await client.getTeam(namespace, name)] : await listTeams(client, namespace, list),
            output: options.output,
            ...(options.allNamespaces ? { allNamespaces: true } : {}),
            intervalMs: options.interval * 1000,
          });
          if (interrupted) process.exitCode = EXIT.interrupted;
          return;
        }
        await getTeams(client, namespace, name, options.output, list);
      }),
    );
  },
};

export default command;

async function getTeams(
  client: SquadronClient,
  namespace: string,
  name: string | undefined,
  output: Output,
  list: TeamList,
) {
  if (name) {
    const team: TeamView = await client.getTeam(namespace, name);
    process.stdout.write(output === "table" ? `${teamsTable([team]).join("\n")}\n` : serialize(team, output));
    return;
  }
  const teams: TeamSummary[] = await listTeams(client, namespace, list);
  if (output !== "table") {
    process.stdout.write(serialize({ items: teams }, output));
  } else if (teams.length === 0) {
    const matching = list.labelSelector ? ` matching ${list.labelSelector}` : "";
    const where = list.allNamespaces ? "in any namespace you may read" : `in namespace ${namespace}`;
    process.stderr.write(`No teams${matching} found ${where}.\n`);
  } else {
    const table = teamsTable(teams, new Date(), list.allNamespaces ? { allNamespaces: true } : {});
    process.stdout.write(`${table.join("\n")}\n`);
  }
}

interface TeamList {
  labelSelector?: string;
  allNamespaces?: boolean;
}

function listTeams(client: SquadronClient, namespace: string, list: TeamList): Promise<TeamSummary[]> {
  const selector = list.labelSelector ? { labelSelector: list.labelSelector } : {};
  return list.allNamespaces ? client.listAllTeams(selector) : client.listTeams(namespace, selector);
}

const TEMPLATE_LISTING: Listing<TemplateView> = {
  plural: "templates",
  one: (client, namespace, name) => client.getTemplate(namespace, name),
  list: (client, namespace) => client.listTemplates(namespace),
  table: templatesTable,
};

/** `get` of the resources other than teams: one, or the namespace's list. */
const LISTINGS: Record<"template" | "trigger" | "schedule", Listing<unknown>> = {
  template: TEMPLATE_LISTING,
  trigger: TRIGGER_LISTING,
  schedule: SCHEDULE_LISTING,
};
