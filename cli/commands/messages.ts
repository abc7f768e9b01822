import { type Command, Option } from "commander";
import type { MessageView } from "../client/index.ts";
import type { CliCommand } from "../command.ts";
import { serialize } from "../output/index.ts";
import { type ConnectionOptions, examples, onResource } from "./shared/context.ts";

interface MessagesOptions extends ConnectionOptions {
  agent?: string;
  output: "text" | "json" | "yaml";
}

const command: CliCommand = {
  register(program: Command) {
    const messages = program
      .command("messages")
      .description("Print the messages a team's agents sent each other (their mailboxes), oldest first.")
      .argument("<resource>", "team")
      .argument("<name>", "the team")
      .option("--agent <agent>", "only messages to or from this agent")
      .addOption(
        new Option("-o, --output <format>", "output format")
          .choices(["text", "json", "yaml"])
          .default("text"),
      )
      .addHelpText(
        "after",
        "\nText output: TIME FROM → TO, (unread) when the recipient has not read it yet, then the text.\n" +
          examples(
            "squadron messages team auth-refactor",
            "squadron messages team auth-refactor --agent lead -o json",
          ),
      );
    onResource(messages, ["team"], async ({ client, namespace }, name: string, options: MessagesOptions) => {
      const items = await client.messages(namespace, name, options.agent);
      if (options.output !== "text") {
        process.stdout.write(serialize({ items }, options.output));
        return;
      }
      if (items.length === 0) {
        process.stderr.write(`No messages in team ${name}.\n`);
        return;
      }
      process.stdout.write(items.map(formatMessage).join(""));
    });
  },
};

export default command;

export function formatMessage(message: MessageView): string {
  const unread = message.read ? "" : " (unread)";
  const body = message.text
    .split("\n")
    .map((line) => `    ${line}`.trimEnd())
    .join("\n");
  return `${message.timestamp}  ${message.from} → ${message.to}${unread}\n${body}\n`;
}
