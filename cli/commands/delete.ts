import type { Command } from "commander";
import type { CliCommand } from "../command.ts";
import { deleteSchedule } from "../schedules/commands.ts";
import { type ConnectionOptions, examples, onResource } from "./shared/context.ts";

const command: CliCommand = {
  register(program: Command) {
    const del = program
      .command("delete")
      .description(
        "Delete a team (a running one is stopped first: phase Cancelled; delete it again to remove it), a template or a schedule.",
      )
      .argument("<resource>", "team, template or schedule")
      .argument("<name>", "the team's, template's or schedule's name")
      .addHelpText(
        "after",
        "\nAs in Kubernetes, deleting a team that has ended removes it and frees its name for a new run;" +
          "\nits run (status, events, logs, outputs) stays readable by run id for the retention period." +
          "\nA team still running is stopped (phase Cancelled) and kept until it has ended: delete it again" +
          "\nto remove it.\n" +
          examples(
            "squadron delete team auth-refactor",
            "squadron delete template fullstack-review -n reviews",
            "squadron delete schedule weekly-standup-summary -n cowork-agents",
          ),
      );
    onResource(
      del,
      ["team", "template", "schedule"],
      async ({ kind, client, namespace }, name: string, _options: ConnectionOptions) => {
        if (kind === "schedule") return await deleteSchedule(client, namespace, name);
        if (kind === "template") {
          await client.deleteTemplate(namespace, name);
          process.stdout.write(`template/${name} deleted\n`);
          return;
        }
        const team = await client.deleteTeam(namespace, name);
        if (!team.deleted) {
          process.stdout.write(`team/${name} cancelled; once it has ended, delete it again to remove it\n`);
          return;
        }
        const kept = team.retentionDays ? ` for ${team.retentionDays} days` : "";
        process.stdout.write(
          `team/${name} deleted (${team.phase}); run ${team.runId} is kept${kept}: squadron describe run ${team.runId}\n`,
        );
      },
    );
  },
};

export default command;
