import type { Command } from "commander";

/**
 * kubectl habits that commander does not have, applied to argv before it parses:
 * - options before the subcommand (`squadron -n dev get teams`) are moved after it, where the
 *   subcommand defines them;
 * - `KIND/NAME` as the resource argument (`describe team/hello-team`) becomes `KIND NAME`.
 * Which options take a value is read from the subcommand's own definition, so a value such as
 * `-n team/x` is never mistaken for a resource.
 */
export function normalizeArgv(argv: readonly string[], program: Command): string[] {
  const [node = "node", script = "squadron", ...args] = argv;
  const names = new Map<string, Command>();
  for (const command of program.commands) {
    names.set(command.name(), command);
    for (const alias of command.aliases()) names.set(alias, command);
  }
  const leading: string[] = [];
  let index = 0;
  let command: Command | undefined;
  for (; index < args.length; index++) {
    const arg = args[index] as string;
    command = names.get(arg);
    if (command) break;
    if (!arg.startsWith("-") || arg === "--") return [...argv];
    leading.push(arg);
    // A leading option's value: look it up on the subcommands (any of them defines it).
    if (!arg.includes("=") && takesValue(program.commands, arg) && index + 1 < args.length) {
      leading.push(args[++index] as string);
    }
  }
  if (!command) return [...argv];
  const rest = args.slice(index + 1);
  const out: string[] = [];
  let splitDone = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === "--") {
      out.push(...rest.slice(i));
      break;
    }
    if (arg.startsWith("-")) {
      out.push(arg);
      if (!arg.includes("=") && takesValue([command], arg) && i + 1 < rest.length)
        out.push(rest[++i] as string);
      continue;
    }
    const kindName = splitDone ? undefined : /^([A-Za-z]+)\/([^/]+)$/.exec(arg);
    splitDone = true;
    if (kindName && command.registeredArguments[0]?.name() === "resource") {
      out.push(kindName[1] as string, kindName[2] as string);
    } else out.push(arg);
  }
  return [node, script, command.name(), ...leading, ...out];
}

function takesValue(commands: readonly Command[], flag: string): boolean {
  for (const command of commands) {
    const option = command.options.find((o) => o.short === flag || o.long === flag);
    if (option) return option.required || option.optional;
  }
  return false;
}
