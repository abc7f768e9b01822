import type { Command } from "commander";
import type { CliCommand } from "../command.ts";
import {
  action,
  addConnectionOptions,
  type ConnectionOptions,
  contextFor,
  examples,
  resourceKind,
  usageExitCodes,
} from "./shared/context.ts";

const command: CliCommand = {
  register(program: Command) {
    const del = program
      .command("delete")
      .description(
        "Cancel a team (its execution and agents are stopped; phase Cancelled) or delete a template.",
      )
      .argument("<resource>", "team or template")
      .argument("<name>", "the team's or template's name")
      .addHelpText(
        "after",
        "\nA team that already finished is left as it is (and reported so); the run's history stays.\n" +
          examples(
            "squadron delete team auth-refactor",
            "squadron delete template fullstack-review -n reviews",
          ),
      );
    addConnectionOptions(del);
    usageExitCodes(del).action(
      action(async (resource: string, name: string, options: ConnectionOptions) => {
        const kind = resourceKind(resource, ["team", "template"]);
        const { client, namespace } = await contextFor(options);
        if (kind === "template") {
          await client.deleteTemplate(namespace, name);
          process.stdout.write(`template/${name} deleted\n`);
          return;
        }
        const team = await client.deleteTeam(namespace, name);
        process.stdout.write(
          team.phase === "Cancelled"
            ? `team/${name} cancelled\n`
            : `team/${name} had already ended (${team.phase}); left as it is\n`,
        );
      }),
    );
  },
};

export default command;
