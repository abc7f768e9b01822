import type { Command } from "commander";
import type { CliCommand } from "../command.ts";
import { deleteSchedule } from "../schedules/commands.ts";
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
      .argument("<resource>", "team, template or schedule")
      .argument("<name>", "the team's, template's or schedule's name")
      .addHelpText(
        "after",
        "\nA team that already finished is left as it is (and reported so); the run's history stays.\n" +
          examples(
            "squadron delete team auth-refactor",
            "squadron delete template fullstack-review -n reviews",
            "squadron delete schedule weekly-standup-summary -n cowork-agents",
          ),
      );
    addConnectionOptions(del);
    usageExitCodes(del).action(
      action(async (resource: string, name: string, options: ConnectionOptions) => {
        const kind = resourceKind(resource, ["team", "template", "schedule"]);
        const { client, namespace } = await contextFor(options);
        if (kind === "schedule") return await deleteSchedule(client, namespace, name);
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
