import type { Command } from "commander";
import { parseDuration } from "../../core/manifest/index.ts";
import { isTeamPhase, isTerminalTeamPhase } from "../../core/status/index.ts";
import { ApiError, EXIT, type LogLine, type SquadronClient } from "../client/index.ts";
import { type CliCommand, CliError } from "../command.ts";
import {
  action,
  addConnectionOptions,
  type ConnectionOptions,
  contextFor,
  examples,
  interruptSignal,
  positiveNumber,
  resourceKind,
  sleep,
  usageExitCodes,
} from "./shared/context.ts";

interface LogsOptions extends ConnectionOptions {
  follow?: boolean;
  since?: string;
  timestamps?: boolean;
  interval: number;
}

const command: CliCommand = {
  register(program: Command) {
    const logs = program
      .command("logs")
      .description(
        "Print the runner output of a team's agents (CloudWatch Logs in AWS, the runner's files locally).",
      )
      .argument("<resource>", "team")
      .argument("<name>", "the team")
      .argument("[agent]", "only this agent (lead or a teammate)")
      .option("-f, --follow", "keep printing new lines until the team finishes (Ctrl-C to stop)")
      .option(
        "--since <time>",
        "only lines at or after this time: ISO 8601 or a duration back from now (10m, 1h)",
      )
      .option("--timestamps", "prefix each line with its time")
      .option("--interval <seconds>", "seconds between polls with -f", positiveNumber, 2)
      .addHelpText(
        "after",
        "\nWithout AGENT every line is prefixed with [agent]. Reads GET /api/namespaces/NS/teams/NAME/logs.\n" +
          examples(
            "squadron logs team auth-refactor",
            "squadron logs team auth-refactor backend-api -f",
            "squadron logs team q3-report --since 15m --timestamps",
          ),
      );
    addConnectionOptions(logs);
    usageExitCodes(logs).action(
      action(async (resource: string, name: string, agent: string | undefined, options: LogsOptions) => {
        resourceKind(resource, ["team"]);
        const since = options.since === undefined ? undefined : sinceTime(options.since);
        const { client, namespace } = await contextFor(options);
        try {
          const interrupted = await printLogs(client, namespace, name, agent, since, options);
          if (interrupted) process.exitCode = EXIT.interrupted;
        } catch (problem) {
          if (problem instanceof ApiError && problem.status === 404 && /no route/i.test(problem.error)) {
            throw new CliError(
              `this API has no logs route (GET /api/namespaces/${namespace}/teams/${name}/logs): ${problem.error}`,
              EXIT.notFound,
            );
          }
          throw problem;
        }
      }),
    );
  },
};

export default command;

function sinceTime(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value)))
    return new Date(value).toISOString();
  try {
    return new Date(Date.now() - parseDuration(value) * 1000).toISOString();
  } catch {
    throw new CliError(
      `--since "${value}" is neither an ISO 8601 time nor a duration such as 10m or 1h`,
      EXIT.usage,
    );
  }
}

/**
 * Reads every page from `since`; with -f polls again from the last line's time. `since` is
 * inclusive, so lines at exactly that time that were already printed are skipped.
 */
async function printLogs(
  client: SquadronClient,
  namespace: string,
  name: string,
  agent: string | undefined,
  since: string | undefined,
  options: LogsOptions,
): Promise<boolean> {
  const interrupt = options.follow ? interruptSignal() : undefined;
  let cursor = since;
  let printedAtCursor = new Set<string>();
  try {
    for (;;) {
      let nextToken: string | undefined;
      let printed = 0;
      do {
        const page = await client.logs(namespace, name, { agent, since: cursor, nextToken });
        for (const line of page.items ?? []) {
          const key = `${line.agent}\u0000${line.line}`;
          if (cursor !== undefined && line.time === cursor && printedAtCursor.has(key)) continue;
          if (line.time !== cursor) {
            cursor = line.time;
            printedAtCursor = new Set();
          }
          printedAtCursor.add(key);
          process.stdout.write(`${format(line, agent === undefined, options.timestamps === true)}\n`);
          printed++;
        }
        nextToken = page.nextToken ?? undefined;
      } while (nextToken);
      if (!interrupt) return false;
      if (printed === 0) {
        const team = await client.getTeam(namespace, name);
        if (isTeamPhase(team.phase) && isTerminalTeamPhase(team.phase)) return false;
      }
      await sleep(options.interval * 1000, interrupt.signal);
      if (interrupt.interrupted()) return true;
    }
  } finally {
    interrupt?.dispose();
  }
}

function format(line: LogLine, prefixAgent: boolean, timestamps: boolean): string {
  return `${timestamps ? `${line.time} ` : ""}${prefixAgent ? `[${line.agent}] ` : ""}${line.line}`;
}
