import type { Command } from "commander";
import { addUpOptions, type UpOptions, up } from "../../local/up.ts";
import type { CliCommand } from "../command.ts";

/** `squadron up`: the local stack (and its demo), the same as `npm start`. */
const command: CliCommand = {
  register(program: Command) {
    addUpOptions(
      program
        .command("up")
        .description(
          "Run Squadron on this machine (API, state machine, store, agents; no AWS account or API key) and, unless --no-demo, the hello-team demo.",
        ),
    ).action(async (options: UpOptions) => {
      process.exitCode = await up(options);
    });
  },
};

export default command;
