import { type Command, Option } from "commander";
import { parseDuration } from "../../core/manifest/duration.ts";
import { isTeamPhase, isTerminalTeamPhase } from "../../core/status/index.ts";
import { ApiError, EXIT, type LogLine } from "../client/index.ts";
import { type CliCommand, CliError } from "../command.ts";
import { formatLogLine } from "../output/index.ts";
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
  output: "text" | "json";
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
        "Print the output of a team's run: workspace init, its agents, finalize (CloudWatch Logs in AWS, the runner's files locally).",
      )
      .argument("<resource>", "team, or run (a run by id, also after its team was deleted)")
      .argument("<name>", "the team, or the run id")
      .argument("[agent]", "only this agent (lead or a teammate), or init or finalize")
      .addOption(
        new Option("-o, --output <format>", "text: readable lines; json: the runner's raw JSON lines")
          .choices(["text", "json"])
          .default("text"),
      )
      .option("-f, --follow", "keep printing new lines until the team finishes (Ctrl-C to stop)")
      .option(
        "--since <time>",
        "only lines at or after this time: ISO 8601 or a duration back from now (10m, 1h)",
      )
      .option("--timestamps", "prefix each line with its time")
      .option("--interval <seconds>", "seconds between polls with -f", positiveNumber, 2)
      .addHelpText(
        "after",
        "\nWithout AGENT every line is prefixed with [agent] ([init] and [finalize] for the workspace's setup\n" +
          "and delivery). Reads GET /api/namespaces/NS/teams/NAME/logs (runs/RUNID/logs for a run).\n" +
          examples(
            "squadron logs team auth-refactor",
            "squadron logs team auth-refactor backend-api -f",
            "squadron logs team q3-report --since 15m --timestamps",
            "squadron logs team auth-refactor init",
            "squadron logs team auth-refactor -o json",
            "squadron logs run auth-refactor-3f9c0a12",
          ),
      );
    addConnectionOptions(logs);
    usageExitCodes(logs).action(
      action(async (resource: string, name: string, agent: string | undefined, options: LogsOptions) => {
        const kind = resourceKind(resource, ["team", "run"]);
        const since = options.since === undefined ? undefined : sinceTime(options.since);
        const { client, namespace } = await contextFor(options);
        const source: LogSource =
          kind === "run"
            ? {
                page: (query) => client.runLogs(namespace, name, query),
                ended: async () => isEnded((await client.getRun(namespace, name)).phase),
              }
            : {
                page: (query) => client.logs(namespace, name, query),
                ended: async () => isEnded((await client.getTeam(namespace, name)).phase),
              };
        try {
          const interrupted = await printLogs(source, agent, since, options);
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
interface LogSource {
  page(query: { agent?: string; since?: string; nextToken?: string }): Promise<{
    items?: LogLine[];
    nextToken?: string | null;
  }>;
  ended(): Promise<boolean>;
}

function isEnded(phase: string): boolean {
  return isTeamPhase(phase) && isTerminalTeamPhase(phase);
}

async function printLogs(
  source: LogSource,
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
        const page = await source.page({ agent, since: cursor, nextToken });
        for (const line of page.items ?? []) {
          const key = `${line.agent}\u0000${line.line}`;
          if (cursor !== undefined && line.time === cursor && printedAtCursor.has(key)) continue;
          if (line.time !== cursor) {
            cursor = line.time;
            printedAtCursor = new Set();
          }
          printedAtCursor.add(key);
          const shown = formatLogLine(line, {
            prefixAgent: agent === undefined,
            timestamps: options.timestamps === true,
            raw: options.output === "json",
          });
          process.stdout.write(`${shown}\n`);
          printed++;
        }
        nextToken = page.nextToken ?? undefined;
      } while (nextToken);
      if (!interrupt) return false;
      if (printed === 0 && (await source.ended())) return false;
      await sleep(options.interval * 1000, interrupt.signal);
      if (interrupt.interrupted()) return true;
    }
  } finally {
    interrupt?.dispose();
  }
}
