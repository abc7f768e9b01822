import { type Command, Option } from "commander";
import type { CliCommand } from "../command.ts";
import { OUTPUT_FORMATS, type Output, serialize, tasksTable } from "../output/index.ts";
import { type ConnectionOptions, examples, onResource } from "./shared/context.ts";

interface TasksOptions extends ConnectionOptions {
  output: Output;
}

const command: CliCommand = {
  register(program: Command) {
    const tasks = program
      .command("tasks")
      .description("List a team's shared tasks: who owns each, its status and what blocks it.")
      .argument("<resource>", "team")
      .argument("<name>", "the team")
      .addOption(
        new Option("-o, --output <format>", "output format").choices([...OUTPUT_FORMATS]).default("table"),
      )
      .addHelpText(
        "after",
        examples("squadron tasks team auth-refactor", "squadron tasks team auth-refactor -o yaml"),
      );
    onResource(tasks, ["team"], async ({ client, namespace }, name: string, options: TasksOptions) => {
      const items = await client.tasks(namespace, name);
      if (options.output !== "table") process.stdout.write(serialize({ items }, options.output));
      else if (items.length === 0) process.stderr.write(`No tasks in team ${name} yet.\n`);
      else process.stdout.write(`${tasksTable(items).join("\n")}\n`);
    });
  },
};

export default command;
