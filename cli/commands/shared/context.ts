import { type Command, CommanderError, InvalidArgumentError, Option } from "commander";
import {
  ApiError,
  AUTH_MODES,
  type AuthMode,
  ConnectionError,
  EXIT,
  resolveConnection,
  SquadronClient,
  UnreachableError,
} from "../../client/index.ts";
import { CliError } from "../../command.ts";
import { ConfigError, readConfig, type SquadronConfig } from "../../config/index.ts";

/** Options every command that talks to the API accepts. */
export interface ConnectionOptions {
  endpoint?: string;
  auth?: AuthMode;
  requestTimeout?: number;
  namespace?: string;
}

export interface CommandContext {
  client: SquadronClient;
  /** `-n`, else $SQUADRON_NAMESPACE, else the config's namespace, else "default". */
  namespace: string;
  /** Whether the namespace was chosen explicitly with `-n`. */
  namespaceFromFlag: boolean;
  config: SquadronConfig;
}

export function addConnectionOptions(command: Command, { namespace = true } = {}): Command {
  if (namespace)
    command.option(
      "-n, --namespace <namespace>",
      'namespace (default: $SQUADRON_NAMESPACE, the config\'s, or "default")',
    );
  return command
    .option("--endpoint <url>", "API endpoint (default: $SQUADRON_ENDPOINT, then the config file)")
    .addOption(
      new Option("--auth <mode>", "auth: bearer token, SigV4 (AWS credential chain) or none; auto picks")
        .choices([...AUTH_MODES])
        .env("SQUADRON_AUTH"),
    )
    .option(
      "--request-timeout <seconds>",
      "give up on a request after this long (default 30)",
      positiveNumber,
    );
}

export async function contextFor(options: ConnectionOptions): Promise<CommandContext> {
  const config = await readConfig();
  const connection = await resolveConnection(
    { endpoint: options.endpoint, auth: options.auth },
    process.env,
    async () => config,
  );
  const client = new SquadronClient(connection, {
    timeoutMs: options.requestTimeout === undefined ? undefined : options.requestTimeout * 1000,
  });
  const namespace = options.namespace ?? process.env.SQUADRON_NAMESPACE ?? config.namespace ?? "default";
  return { client, namespace, namespaceFromFlag: options.namespace !== undefined, config };
}

/**
 * Usage errors end with status 2 (commander's default is 1, which is the API-error status here);
 * help and version still end with 0.
 */
export function usageExitCodes(command: Command): Command {
  return command.exitOverride((error) => {
    if (error.exitCode === 0) throw error;
    throw new CommanderError(EXIT.usage, error.code, error.message);
  });
}

/** Turns client errors into CliErrors with their documented exit status. */
export function toCliError(problem: unknown, prefix = ""): unknown {
  if (problem instanceof ApiError) return new CliError(`${prefix}${problem.describe()}`, problem.exitCode);
  if (problem instanceof UnreachableError)
    return new CliError(`${prefix}${problem.message}`, problem.exitCode);
  if (problem instanceof ConnectionError) return new CliError(problem.message, EXIT.usage);
  if (problem instanceof ConfigError) return new CliError(problem.message, EXIT.error);
  return problem;
}

/** Wraps a commander action so every failure leaves with the right message and status. */
export function action<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (problem) {
      throw toCliError(problem);
    }
  };
}

export function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError(`"${value}" is not a positive number.`);
  return number;
}

/** `teams`, `team`, `agentteam(s)` → "team"; templates likewise; anything else is a usage error. */
export type ResourceKindName = "team" | "template" | "trigger" | "schedule" | "run";

/** The resource argument (`team`, `teams`, `agentteam`, `template`, `run`...) as one of `allowed`. */
export function resourceKind<K extends ResourceKindName>(value: string, allowed: readonly K[]): K {
  const normalized = value.toLowerCase();
  const kind = /^(agent)?teams?$/.test(normalized)
    ? "team"
    : /^(agentteam)?templates?$/.test(normalized)
      ? "template"
      : /^(agentteam)?triggers?$/.test(normalized)
        ? "trigger"
        : /^(agentteam)?schedules?$/.test(normalized)
          ? "schedule"
          : /^(agentteam)?runs?$/.test(normalized)
            ? "run"
            : undefined;
  if (!kind || !(allowed as readonly string[]).includes(kind)) {
    throw new CliError(
      `unknown resource type "${value}"; use ${
        allowed.length > 1
          ? `${allowed
              .slice(0, -1)
              .map((k) => `"${k}"`)
              .join(", ")} or "${allowed.at(-1)}"`
          : `"${allowed[0]}"`
      }`,
      EXIT.usage,
    );
  }
  return kind as K;
}

/** What the action of a `<verb> <resource> <name>…` command gets: the resource type named, and the API. */
export interface ResourceTarget<K extends ResourceKindName> extends CommandContext {
  kind: K;
}

/**
 * Wires the action of a command whose first argument names a resource type: the connection
 * options, usage exit codes, the type checked against `kinds` (status 2 otherwise) before the
 * client and namespace are resolved, then `run` with the remaining arguments and the options.
 */
export function onResource<K extends ResourceKindName, A extends [...unknown[], ConnectionOptions]>(
  command: Command,
  kinds: readonly K[],
  run: (target: ResourceTarget<K>, ...args: A) => Promise<void>,
): Command {
  addConnectionOptions(command);
  return usageExitCodes(command).action(
    action(async (resource: string, ...rest: unknown[]) => {
      const kind = resourceKind(resource, kinds);
      // commander passes the declared arguments, then the options, then the command itself.
      const args = rest.slice(0, -1) as A;
      const context = await contextFor(args.at(-1) as ConnectionOptions);
      await run({ ...context, kind }, ...args);
    }),
  );
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join("\n")}\n`;
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** An AbortSignal fired by Ctrl-C, for -w/-f loops; `interrupted` tells whether it fired. */
export function interruptSignal(): { signal: AbortSignal; interrupted: () => boolean; dispose: () => void } {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once("SIGINT", onInterrupt);
  process.once("SIGTERM", onInterrupt);
  return {
    signal: controller.signal,
    interrupted: () => controller.signal.aborted,
    dispose: () => {
      process.off("SIGINT", onInterrupt);
      process.off("SIGTERM", onInterrupt);
    },
  };
}
