import type { Command } from "commander";

/**
 * Every file in cli/commands/ default-exports one of these; main.ts registers them all, so a new
 * command is a new file and nothing else changes.
 */
export interface CliCommand {
  register(program: Command): void;
}

/** An error with the exit code the CLI should end with; the message is printed as is. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}
