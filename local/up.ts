/** `npm start` and `squadron up`: the local stack, the demo, and a clean stop on Ctrl-C. */
import { type Command, InvalidArgumentError } from "commander";
import { configPath, updateConfig } from "../cli/config/index.ts";
import { ManifestOptionsError, parseManifestDefaults } from "../core/manifest/options.ts";
import type { LocalStack } from "./stack.ts";

export interface UpOptions {
  port: number;
  dataDir: string;
  demo: boolean;
  autoApprove: boolean;
  exitAfterDemo: boolean;
  maxRuns: number;
  saveConfig: boolean;
  /** Timeout of manifests that set none (else kagents' 4h). */
  defaultTimeout?: string;
  /** Budget in USD of manifests that set none (else no budget). */
  defaultBudget?: number;
}

function int(name: string, min: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}.`);
    return n;
  };
}

const DEFAULT_LABELS = { timeout: "--default-timeout", budgetLimit: "--default-budget" };

/** A flag read as a manifest default, refused with the manifest code's own message. */
function manifestDefault<K extends "timeout" | "budgetLimit">(key: K) {
  return (value: string) => {
    try {
      const parsed = parseManifestDefaults({ [key]: value }, DEFAULT_LABELS)[key];
      if (parsed === undefined) throw new InvalidArgumentError(`${DEFAULT_LABELS[key]} must not be empty.`);
      return parsed;
    } catch (error) {
      if (!(error instanceof ManifestOptionsError)) throw error;
      throw new InvalidArgumentError(error.message.split("\n").slice(1).join(" ").trim());
    }
  };
}

/** The options shared by `npm start` and `squadron up`. */
export function addUpOptions(command: Command): Command {
  return command
    .option("-p, --port <port>", "API port on 127.0.0.1 (0: any free port)", int("--port", 0), 8787)
    .option(
      "-d, --data-dir <dir>",
      "where the store, run directories and logs live (the token file: <dir>-secrets/)",
      ".local",
    )
    .option("--no-demo", "start the stack only; do not run examples/hello-team.yaml")
    .option("--no-auto-approve", "let the demo wait for you to approve its gate (the command is printed)")
    .option("--exit-after-demo", "stop the stack when the demo team has ended (exit code 0 if it completed)")
    .option("--max-runs <n>", "team runs executing at once; more wait as Pending", int("--max-runs", 1), 8)
    .option("--no-save-config", "do not write the endpoint and token to the CLI config")
    .option(
      "--default-timeout <duration>",
      "timeout of teams whose manifest sets none, e.g. 2h or 90m (default: 4h)",
      manifestDefault("timeout"),
    )
    .option(
      "--default-budget <usd>",
      "budget in US dollars of teams whose manifest sets none (default: no budget)",
      manifestDefault("budgetLimit"),
    );
}

const print = (line: string) => process.stdout.write(`${line}\n`);

/** Starts everything and resolves with the exit code once the stack has stopped. */
export async function up(options: UpOptions): Promise<number> {
  const started = performance.now();
  // The SDK's notice about Node 20 support ending in 2027 is noise for someone trying Squadron.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  print("Starting the Squadron local stack…");
  // Loaded here, not at the top: every `squadron` command registers its options from this module,
  // and the stack (the CDK app it synthesises, the store, the interpreter) took a second and a
  // half of CPU to load for `squadron get` as much as for `squadron up`.
  const { startLocalStack } = await import("./stack.ts");
  const { runDemo } = await import("./demo.ts");
  const stack: LocalStack = await startLocalStack({
    port: options.port,
    dataDir: options.dataDir,
    maxConcurrentRuns: options.maxRuns,
    print,
    manifestDefaults: {
      ...(options.defaultTimeout !== undefined ? { timeout: options.defaultTimeout } : {}),
      ...(options.defaultBudget !== undefined ? { budgetLimit: options.defaultBudget } : {}),
    },
  });
  let configNote = "not saved (--no-save-config)";
  if (options.saveConfig) {
    const path = configPath();
    await updateConfig({ endpoint: stack.endpoint, token: stack.token }, path);
    configNote = `saved to ${path}`;
  }
  print(
    [
      "",
      `Squadron is running locally (ready in ${((performance.now() - started) / 1000).toFixed(1)} s).`,
      `  API endpoint   ${stack.endpoint}   (health: ${stack.endpoint}/api/health)`,
      `  Bearer token   ${stack.token}${stack.tokenCreated ? "   (new)" : ""}`,
      `  Web view       ${stack.endpoint}/#token=${stack.token}`,
      `  CLI config     ${configNote}`,
      `  Data directory ${stack.paths.dataDir}`,
      `  Token file     ${stack.paths.tokens}`,
      `  Run files      ${stack.paths.runs}/<runId>/`,
      `  Outputs        ${stack.paths.objects}/runs/<namespace>/<team>/<runId>/output/`,
      `  Logs           ${stack.paths.logs}/<runId>/<agent>.log, stack log ${stack.paths.stackLog}`,
      "",
      "Try:  npx squadron get teams    npx squadron apply -f examples/hello-team.yaml",
      "Stop: Ctrl-C (runs in progress are resumed or failed with a reason at the next start)",
      "",
    ].join("\n"),
  );

  let stopped: Promise<void> | undefined;
  let release!: () => void;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  const stop = (why: string) => {
    if (!stopped) {
      print(
        `\n${why}: stopping the local stack (runner processes end; runs in progress resume at the next start)…`,
      );
      stopped = stack.stop().then(() => {
        print("Stopped.");
        release();
      });
    }
    return stopped;
  };
  const onSignal = (signal: NodeJS.Signals) => void stop(`Received ${signal}`);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let exitCode = 0;
  if (options.demo) {
    try {
      const result = await runDemo({
        endpoint: stack.endpoint,
        token: stack.token,
        baseDir: process.cwd(),
        autoApprove: options.autoApprove,
        print,
      });
      exitCode = result.phase === "Completed" ? 0 : 1;
    } catch (error) {
      if (!stopped) print(`The demo failed: ${(error as Error).message}`);
      exitCode = 1;
    }
    if (options.exitAfterDemo) await stop("The demo has ended");
    else if (!stopped) print("\nThe stack keeps serving; Ctrl-C stops it.");
  }
  await done;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return exitCode;
}
