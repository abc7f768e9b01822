/**
 * The runner container's entrypoint: `init` prepares the run's workspace, `agent` runs one
 * agent's session, `finalize` delivers the result. Inputs: SQUADRON_MODE (or argv[2]),
 * SQUADRON_RUN_ID, SQUADRON_AGENT_NAME (agent mode) and the run manifest; see docs/runner.md.
 *
 * Output contract: logs are JSON lines on stderr; stdout carries exactly one line, the JSON
 * result, written last. Exit codes are in runner/config/exit-codes.ts (0 ok, 1 failed,
 * 2 configuration, 3 stopped by a signal, 4 internal error).
 */
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Team } from "../core/team-protocol/team.ts";
import { type RunnerConfig, readRunnerConfig } from "./config/env.ts";
import { ConfigError, EXIT } from "./config/exit-codes.ts";
import { loadRunManifest, type RunManifest } from "./config/manifest.ts";
import { createServices, type RunnerServices } from "./config/services.ts";
import { createLogger, errorMessage, type Logger } from "./reporting/logger.ts";
// Every mode is imported statically: the bundle (runner/build.ts) is one CommonJS file whose code
// cache makes loading all modes cheap, and an import() would make the bundler wrap the mode's
// whole module graph for lazy evaluation, which keeps every command of each SDK client it reaches.
import { runAgentMode } from "./session/agent-mode.ts";
import { runFinalizeMode } from "./session/finalize-mode.ts";
import { exitCodeOf } from "./session/loop.ts";
import { initWorkspace } from "./workspace/init.ts";

export interface RunnerResult {
  ok: boolean;
  mode: string;
  runId?: string;
  agent?: string;
  exitCode: number;
  [key: string]: unknown;
}

const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Files the build puts next to the bundled entrypoint (dist/runner/). */
function bundledFiles(): { teamServerEntry?: string; scriptedExecutable?: string } {
  const here = import.meta.url;
  // The bundle is entrypoint.cjs (runner/build.ts); from the sources (tsx) it is entrypoint.ts.
  if (!here.endsWith(".cjs")) return {};
  const teamServer = fileURLToPath(new URL("./team-server.js", here));
  const scripted = fileURLToPath(new URL("./scripted-claude", here));
  return {
    ...(existsSync(teamServer) ? { teamServerEntry: teamServer } : {}),
    ...(existsSync(scripted) ? { scriptedExecutable: scripted } : {}),
  };
}

async function runMode(
  config: RunnerConfig,
  manifest: RunManifest,
  services: RunnerServices,
  signal: AbortSignal,
  log: Logger,
): Promise<RunnerResult> {
  const base = { mode: config.mode, runId: config.runId };
  switch (config.mode) {
    case "init": {
      const team = manifest.team;
      const agents = [team.spec.lead, ...team.spec.teammates];
      await new Team(config.teamDir).init({
        teamName: team.metadata.name,
        runId: config.runId,
        members: agents.map((a) => ({
          name: a.name,
          role: a.role,
          cli: a.cli,
          model: a.model,
          simulated: a.cli === "scripted",
        })),
      });
      const workspace = await initWorkspace({
        runDir: config.teamDir,
        team,
        ...(services.objectStore ? { store: services.objectStore } : {}),
      });
      log.info("Workspace ready", { agents: workspace.agents.map((a) => a.name) });
      return { ...base, ok: true, exitCode: EXIT.ok, workspace: workspace.mode, agents: workspace.agents };
    }
    case "agent": {
      const outcome = await runAgentMode({
        config,
        manifest,
        services,
        signal,
        log,
        bundled: bundledFiles(),
      });
      return {
        ...base,
        agent: config.agentName,
        ok: outcome.ok,
        exitCode: exitCodeOf(outcome),
        end: outcome.end,
        reason: outcome.reason,
        message: outcome.message,
        turns: outcome.turns,
        sessionId: outcome.sessionId ?? null,
        costUsd: outcome.usage.costUsd,
        usage: outcome.usage,
      };
    }
    case "finalize": {
      const result = await runFinalizeMode({ config, manifest, services, log, signal });
      return { ...base, ...result, exitCode: result.ok ? EXIT.ok : EXIT.failed };
    }
  }
}

/** Runs one mode to completion and returns the result line and exit code (never throws). */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
): Promise<RunnerResult> {
  // Init and finalize are nobody's agent: their lines carry `agent: "init"|"finalize"`, so the logs
  // route (CloudWatch's JSON filter on $.agent, local files <mode>.log) finds them for `squadron logs`.
  const stage =
    env.SQUADRON_MODE === "init" || env.SQUADRON_MODE === "finalize" ? env.SQUADRON_MODE : undefined;
  let log = createLogger({ keys: { runId: env.SQUADRON_RUN_ID, agent: env.SQUADRON_AGENT_NAME ?? stage } });
  // Node prints process warnings as plain text on stderr; keep stderr JSON lines only.
  process.removeAllListeners("warning");
  process.on("warning", (warning) => log.warn(warning.message, { warning: warning.name }));
  const controller = new AbortController();
  let stoppedBy: string | undefined;
  let config: RunnerConfig | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stoppedBy) return;
    stoppedBy = sig;
    log.warn(`Received ${sig}: stopping`, { signal: sig });
    controller.abort(sig);
    // init and finalize run git and gates to completion quickly or not at all: leave now.
    if (config && config.mode !== "agent") {
      finish({
        ok: false,
        mode: config.mode,
        runId: config.runId,
        exitCode: EXIT.signal,
        error: `Stopped by ${sig}.`,
      });
    }
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  let services: RunnerServices | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  try {
    config = readRunnerConfig(env, argv);
    log = log.child({ mode: config.mode });
    const manifest = await loadRunManifest(config.manifestLocation, config.runId, {
      ...(config.region ? { region: config.region } : {}),
    });
    const untilDeadline = Date.parse(manifest.deadline) - Date.now();
    if (config.mode === "agent" && untilDeadline < 2 ** 31 - 1) {
      deadlineTimer = setTimeout(() => controller.abort("the run's deadline"), Math.max(0, untilDeadline));
      deadlineTimer.unref();
    }
    services = await createServices(config);
    const result = await runMode(config, manifest, services, controller.signal, log);
    if (stoppedBy && result.exitCode !== EXIT.ok) result.exitCode = EXIT.signal;
    return result;
  } catch (error) {
    const isConfig = error instanceof ConfigError;
    if (!isConfig)
      log.error("The runner failed", { error: errorMessage(error), stack: (error as Error).stack });
    else log.error(errorMessage(error));
    return {
      ok: false,
      mode: config?.mode ?? env.SQUADRON_MODE ?? argv[0] ?? "unknown",
      ...(config ? { runId: config.runId } : {}),
      ...(config?.agentName ? { agent: config.agentName } : {}),
      exitCode: isConfig ? EXIT.config : EXIT.internal,
      error: errorMessage(error),
    };
  } finally {
    if (deadlineTimer) clearTimeout(deadlineTimer);
    services?.close();
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
}

let finished = false;
/** Writes the result line and exits; only the first call counts. */
function finish(result: RunnerResult): void {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(result.exitCode));
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

const isMain = isMainModule();
if (isMain) {
  main().then(finish, (error: unknown) => {
    finish({ ok: false, mode: "unknown", exitCode: EXIT.internal, error: errorMessage(error) });
  });
}
