import type { Command } from "commander";
import { ApiError, type TaskView, type TeamEventView } from "../client/index.ts";
import type { CliCommand } from "../command.ts";
import { describeTeam, serialize } from "../output/index.ts";
import { describeTrigger } from "../output/triggers.ts";
import { describeScheduleCommand } from "../schedules/commands.ts";
import { type ConnectionOptions, examples, onResource } from "./shared/context.ts";

const command: CliCommand = {
  register(program: Command) {
    const describe = program
      .command("describe")
      .description(
        "Show a team in detail: status, agents, approval gates, tasks and events (a template as YAML, a trigger with its fires).",
      )
      .argument(
        "<resource>",
        "team, template, trigger, schedule, or run (a run by id, also after its team was deleted)",
      )
      .argument("<name>", "the team's, template's, trigger's or schedule's name, or the run id")
      .addHelpText(
        "after",
        examples(
          "squadron describe team auth-refactor",
          "squadron describe team q3-report -n finance",
          "squadron describe template fullstack-review",
          "squadron describe trigger new-deal-onboarding -n cowork-agents",
          "squadron describe schedule weekly-standup-summary -n cowork-agents",
          "squadron describe run auth-refactor-3f9c0a12",
        ),
      );
    onResource(
      describe,
      ["team", "template", "trigger", "schedule", "run"],
      async ({ kind, client, namespace }, name: string, _options: ConnectionOptions) => {
        if (kind === "trigger") {
          process.stdout.write(describeTrigger(await client.getTrigger(namespace, name)));
          return;
        }
        if (kind === "schedule") return await describeScheduleCommand(client, namespace, name);
        if (kind === "run") {
          const run = await client.getRun(namespace, name);
          const tasks = {
            unavailable: "a run's task list is read through its team (squadron tasks team NAME)",
          };
          process.stdout.write(describeTeam({ team: run, events: run.events ?? [], tasks }));
          return;
        }
        if (kind === "template") {
          const view = await client.getTemplate(namespace, name);
          process.stdout.write(serialize(view.template ?? view, "yaml"));
          return;
        }
        const team = await client.getTeam(namespace, name);
        const events: TeamEventView[] = Array.isArray(team.events)
          ? team.events
          : await client.events(namespace, name);
        let tasks: TaskView[] | { unavailable: string };
        try {
          tasks = await client.tasks(namespace, name);
        } catch (problem) {
          // The team itself was found; a task list that cannot be read should not hide the rest.
          if (!(problem instanceof ApiError)) throw problem;
          tasks = { unavailable: problem.error };
        }
        process.stdout.write(describeTeam({ team, events, tasks }));
      },
    );
  },
};

export default command;
