import type { Command } from "commander";
import type { CliCommand } from "../command.ts";
import { SQUADRON_VERSION } from "../version.ts";

const command: CliCommand = {
  register(program: Command) {
    program
      .command("version")
      .description("Print the squadron CLI's version (the same as --version).")
      .action(() => {
        process.stdout.write(`squadron ${SQUADRON_VERSION} (node ${process.version})\n`);
      });
  },
};

export default command;
