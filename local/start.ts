/** `npm start`: the local stack and the demo (see docs/local.md). */
import { Command, CommanderError } from "commander";
import { addUpOptions, type UpOptions, up } from "./up.ts";

const program = addUpOptions(
  new Command("npm start")
    .description(
      "Run Squadron on this machine: the API, the state machine, the store and the agents, plus a demo team.",
    )
    .exitOverride(),
);
try {
  program.parse(process.argv);
} catch (error) {
  process.exit(error instanceof CommanderError ? error.exitCode : 2);
}
process.exitCode = await up(program.opts<UpOptions>());
