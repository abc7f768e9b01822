import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { normalizeArgv } from "./argv.ts";
import { EXIT } from "./client/exit-codes.ts";
import { type CliCommand, CliError } from "./command.ts";
import { SQUADRON_VERSION } from "./version.ts";

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), "commands");

export async function buildProgram(): Promise<Command> {
  const program = new Command("squadron")
    .description("Run teams of AI agents on AWS or on this machine, from Kubernetes-shaped manifests.")
    .version(SQUADRON_VERSION)
    // One line and a hint on a usage error, not the whole help (kubectl's habit).
    .showHelpAfterError("Run 'squadron --help' or 'squadron COMMAND --help' for usage.")
    .exitOverride();
  const files = (await readdir(COMMANDS_DIR))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
    .sort();
  for (const file of files) {
    const module = (await import(pathToFileURL(join(COMMANDS_DIR, file)).href)) as { default?: CliCommand };
    if (!module.default?.register)
      throw new Error(`cli/commands/${file} does not default-export a CliCommand.`);
    module.default.register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(normalizeArgv(argv, program));
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (problem) {
    // Commander exits 0 for --help/--version and 1 for every usage problem; scripts get 2 for those.
    if (problem instanceof CommanderError) return problem.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (problem instanceof CliError) {
      process.stderr.write(`squadron: ${problem.message}\n`);
      return problem.exitCode;
    }
    throw problem;
  }
}

const isEntry = process.argv[1] !== undefined && /(?:main\.ts|squadron(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) process.exitCode = await main(process.argv);
