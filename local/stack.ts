/**
 * The local stack: the whole Squadron system in one Node process. The real API handler behind
 * node:http (API Gateway proxy events), the synthesised state machine run by
 * aws-local-stepfunctions with every Task bound to the same domain code as the Lambdas, dynalite
 * persisted under the data directory, a directory for the shared file system, runner child
 * processes for the containers, a timer for deadlines and the budget check fed by usage writes.
 */
import { EventEmitter } from "node:events";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { TimerDeadlineScheduler } from "../core/control/deadline-scheduler.ts";
import type { ControlDeps, ControlLogger } from "../core/control/deps.ts";
import { onDeadline, onExecutionStatus } from "../core/control/guards.ts";
import { bearerTokenAuthorizer } from "../core/control/http.ts";
import { IdempotencyKeys } from "../core/control/idempotency.ts";
import { ChannelGateNotifier } from "../core/control/notifications.ts";
import { RunIndex } from "../core/control/run-index.ts";
import type { RunWorkspace, RunWorkspaces } from "../core/control/run-workspace.ts";
import { posixUidFor } from "../core/control/run-workspace.ts";
import { DirectoryTeamFiles } from "../core/control/team-files.ts";
import { DirectoryTeamLogs } from "../core/control/team-logs.ts";
import { checkManifestDefaults, type ManifestDefaults } from "../core/manifest/options.ts";
import { fireSchedule } from "../core/schedules/fire.ts";
import { ScheduleStore } from "../core/schedules/store.ts";
import { TimerScheduleTimers } from "../core/schedules/timers.ts";
import { teamPk } from "../core/store/items.ts";
import { TeamStore } from "../core/store/team-store.ts";
import { TriggerStore } from "../core/triggers/trigger-store.ts";
import { apiHandler } from "../lambdas/api/routes.ts";
import type { TeamRunExecutionInput } from "../state-machines/contract.ts";
import type { TaskHandlers } from "../state-machines/local.ts";
import { serveWebView } from "../web/serve.ts";
import { BudgetWatch } from "./budget-watch.ts";
import { loadTeamRunDefinition } from "./definition.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmbeddedStore } from "./embedded-store.ts";
import { serveGateway } from "./http-gateway.ts";
import { LocalRunManifestWriter } from "./localize-team.ts";
import { type LocalPaths, localPaths, runDir } from "./paths.ts";
import {
  ExecutionJournal,
  markInterrupted,
  type RecoveryReport,
  recoverInterruptedRuns,
} from "./recovery.ts";
import { redactingTokens } from "./redact-tokens.ts";
import { ensureRunnerBundle } from "./runner-bundle.ts";
import { inheritedRunnerEnv } from "./runner-env.ts";
import { killProcessesWith } from "./runner-leftovers.ts";
import { LocalStepFunctions } from "./step-functions.ts";
import { bindTaskStates, type RunnerProcessEvent } from "./task-bindings.ts";
import { loadOrCreateTokens } from "./tokens.ts";

export interface LocalStackOptions {
  /** Default `.local` under the current directory. */
  dataDir?: string;
  /** The token file's private directory, outside the data directory. Default `<dataDir>-secrets`. */
  secretsDir?: string;
  /** API port on 127.0.0.1; 0 picks a free one. Default 8787. */
  port?: number;
  /** Directory runner processes start in; relative `file://` repository URLs resolve against it. Default: cwd. */
  baseDir?: string;
  /** Team runs executing at once; more wait in phase Pending. Default 8. */
  maxConcurrentRuns?: number;
  /** Extra environment for runner processes (e.g. SQUADRON_GITHUB_API_URL, timings). */
  runnerEnv?: Record<string, string>;
  /**
   * The stack's environment (default process.env): which agent CLIs can run, secrets by reference,
   * and the allow-listed part runner processes inherit (local/runner-env.ts).
   */
  env?: Record<string, string | undefined>;
  /** Where the synthesised definition is cached (default `<dataDir>/cache`); tests share one. */
  cacheDir?: string;
  /** SIGTERM → SIGKILL grace for runner processes. Default 5000 ms. */
  stopGraceMs?: number;
  /** Progress and notices for a person (default: nothing). The stack log always gets them. */
  print?: (line: string) => void;
  /** Timeout and budget of manifests that set none (as a deployment's defaultTimeout/defaultBudgetUsd). */
  manifestDefaults?: ManifestDefaults;
  /**
   * Where the runner bundle is cached (default `.cache/runner-bundle` in the checkout). Runners run
   * the bundle unless SQUADRON_RUNNER_ENTRY (runnerEnv or the environment) names another entry.
   */
  runnerBundleDir?: string;
  /** The clock the schedule timers read (tests move it next to a fire time); default the real one. */
  scheduleClock?: () => Date;
}

export interface ProcessEvent extends RunnerProcessEvent {
  /** performance.now() when the stack heard of it. */
  at: number;
}

export interface RetainedPerRun {
  /** LevelDB iterators open in the embedded store (each pins LevelDB memory). */
  storeIterators: number;
  /** Executions the local Step Functions still holds, and their task-token waits. */
  executions: number;
  tokenWaits: number;
  /** Deadline timers armed. */
  deadlineTimers: number;
  /** Runs whose last measured cost the budget watch keeps. */
  budgetWatched: number;
  /** Runner processes alive. */
  runnerProcesses: number;
}

export interface LocalStack {
  endpoint: string;
  /** The admin bearer token (namespaces `*`). */
  token: string;
  tokenCreated: boolean;
  paths: LocalPaths;
  dynamoDbEndpoint: string;
  deps: ControlDeps;
  sfn: LocalStepFunctions;
  recovery: RecoveryReport;
  /** AgentTeamSchedule's store and its timers (one per schedule, set to the next fire). */
  schedules: ScheduleStore;
  scheduleTimers: TimerScheduleTimers;
  /** `process` (ProcessEvent) for every runner process start and exit; `scheduleFire` for every fire's outcome. */
  events: EventEmitter;
  /** Live runner processes (pids), for checks that nothing is left running. */
  livePids(): number[];
  /**
   * What the stack keeps per run, counted: all 0 at rest, whatever the number of runs before
   * (issue 14, item 16: the stack's memory grew with every run).
   */
  retained(): RetainedPerRun;
  /** Stops serving, stops every run's processes (runs stay resumable), closes the store. */
  stop(): Promise<void>;
}

class FileLogger implements ControlLogger {
  constructor(
    private readonly out: WriteStream,
    private readonly print?: (line: string) => void,
  ) {}
  private write(level: string, message: string, extra: unknown[]) {
    const detail = extra.map((e) => (e instanceof Error ? e.message : JSON.stringify(e))).join(" ");
    this.out.write(`${new Date().toISOString()} ${level} ${message}${detail ? ` ${detail}` : ""}\n`);
  }
  info(message: string, ...extra: unknown[]) {
    this.write("INFO", message, extra);
  }
  warn(message: string, ...extra: unknown[]) {
    this.write("WARN", message, extra);
  }
  error(message: string, ...extra: unknown[]) {
    this.write("ERROR", message, extra);
    this.print?.(`error: ${message}`);
  }
}

/** The run's directory stands in for its EFS access point; files are kept after the run for inspection. */
class LocalRunWorkspaces implements RunWorkspaces {
  constructor(private readonly paths: LocalPaths) {}
  async create(run: { runId: string }): Promise<RunWorkspace> {
    await mkdir(runDir(this.paths, run.runId), { recursive: true });
    return { accessPointId: "", posixUid: posixUidFor(run.runId), taskDefinitionArn: "" };
  }
  async delete(): Promise<void> {}
}

/** Secrets by reference, locally: an environment variable of that name, or SQUADRON_SECRET_<NAME>. */
function localSecret(env: Record<string, string | undefined>) {
  return async (id: string) =>
    env[id] ?? env[`SQUADRON_SECRET_${id.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`];
}

/** How often a local runner looks at the team files when no change was signalled (fs.watch misses nothing locally). */
export const LOCAL_SAFETY_POLL_MS = 2_000;

/** SQUADRON_RUNNER_ENTRY when set, else the up-to-date runner bundle (built when the sources changed). */
async function runnerEntryFor(
  options: LocalStackOptions,
  print: (line: string) => void,
  note: (line: string) => void,
): Promise<string> {
  const named = options.runnerEnv?.SQUADRON_RUNNER_ENTRY || process.env.SQUADRON_RUNNER_ENTRY;
  if (named) {
    note(`runners run ${named} (SQUADRON_RUNNER_ENTRY)`);
    return named;
  }
  const bundle = await ensureRunnerBundle({
    ...(options.runnerBundleDir ? { cacheDir: options.runnerBundleDir } : {}),
    progress: print,
  });
  note(
    `runner bundle ${bundle.cached ? "read from the cache" : "built"} in ${Math.round(bundle.ms)} ms: ${bundle.entry}`,
  );
  return bundle.entry;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const print = options.print ?? (() => {});
  // Before anything starts, so a bad default leaves nothing running (throws ManifestOptionsError).
  const manifestDefaults = checkManifestDefaults(options.manifestDefaults ?? {});
  const paths = localPaths(options.dataDir ?? ".local", options.secretsDir);
  const env = options.env ?? process.env;
  for (const dir of [paths.dataDir, paths.runs, paths.objects, paths.logs, paths.cache]) {
    await mkdir(dir, { recursive: true });
  }
  // The examples' cowork inputs (examples/inputs/<prefix>), so `apply -f examples/q3-report.yaml`
  // finds its s3Prefix; files already in the object store are kept.
  const exampleInputs = join(options.baseDir ?? process.cwd(), "examples", "inputs");
  if (existsSync(exampleInputs)) {
    await cp(exampleInputs, join(paths.objects, "inputs"), {
      recursive: true,
      force: false,
      errorOnExist: false,
    });
  }
  const logStream = createWriteStream(paths.stackLog, { flags: "a" });
  const logger = new FileLogger(logStream, print);
  const note = (line: string) => {
    logger.info(line);
  };

  const { definition, cached, ms } = await loadTeamRunDefinition(options.cacheDir ?? paths.cache, print);
  note(`state machine definition ${cached ? "read from the cache" : "synthesised"} in ${Math.round(ms)} ms`);

  // The bundle before anything listens: a runner that cannot be built stops the start here.
  const runnerEntry = await runnerEntryFor(options, print, note);

  const store = await startEmbeddedStore({ path: paths.db });
  const teamStore = new TeamStore({ client: store.client, tableName: store.tableName });
  const { tokens, admin, created } = await loadOrCreateTokens(paths.tokens, paths.legacyTokens);
  const baseDir = options.baseDir ?? process.cwd();

  const events = new EventEmitter();
  const journal = new ExecutionJournal(paths.journal);
  const teamFiles = new DirectoryTeamFiles(paths.runs);
  // The late-bound parts: deps need the step functions, which need the deps for their handlers.
  let deps!: ControlDeps;
  const sfn: LocalStepFunctions = new LocalStepFunctions({
    definition,
    maxConcurrentRuns: options.maxConcurrentRuns ?? 8,
    handlersFor: (execution): TaskHandlers =>
      bindTaskStates(
        {
          deps,
          sfn,
          paths,
          baseDir,
          runnerEnv,
          stopGraceMs: options.stopGraceMs ?? 5_000,
          onProcess: (e) => events.emit("process", { ...e, at: performance.now() } satisfies ProcessEvent),
          log: note,
        },
        execution,
      ),
    onStatusChange: async (detail) => {
      await onExecutionStatus(deps, detail);
      const input = sfn.get(detail.name)?.input;
      if (input) budget.forget(teamPk(input.namespace, input.teamName));
    },
    onRunningChange: () => {
      void journal
        .write(activeInputs())
        .catch((error: unknown) => logger.error("could not write the execution journal", error));
    },
    log: note,
  });

  const activeInputs = (): TeamRunExecutionInput[] =>
    sfn
      .active()
      .map((runId) => sfn.get(runId)?.input)
      .filter((i): i is TeamRunExecutionInput => i !== undefined);
  const secret = localSecret(env);
  const deadlines = new TimerDeadlineScheduler(async (fired) => {
    await onDeadline(deps, fired.runId).catch((error: unknown) =>
      logger.error("deadline handling failed", error),
    );
  });
  deps = {
    store: teamStore,
    runs: new RunIndex(store.client, store.tableName),
    starter: sfn,
    stopper: sfn,
    tokens: sfn,
    notifier: new ChannelGateNotifier({
      secret,
      gateWebhookSecret: () => secret("SQUADRON_WEBHOOK_SECRET"),
      logger,
    }),
    workspaces: new LocalRunWorkspaces(paths),
    deadlines,
    runManifests: new LocalRunManifestWriter(paths.runs, teamStore, baseDir, note, env),
    teamFiles,
    teamLogs: new DirectoryTeamLogs(paths.logs),
    logger,
  };

  // An allow-list of the stack's environment (runner-env.ts), never all of it: the person's cloud
  // credentials, other services' tokens and the CLI config's path stay with the stack.
  const runnerEnv: Record<string, string> = {
    ...inheritedRunnerEnv(env),
    SQUADRON_TABLE_NAME: store.tableName,
    SQUADRON_DYNAMODB_ENDPOINT: store.endpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    SQUADRON_OBJECT_STORE_DIR: paths.objects,
    // One machine's file system: the runners see each other's writes through fs.watch, so their
    // polls are only a safety net (SQUADRON_POLL_INTERVAL_MS in the environment still wins).
    SQUADRON_POLL_INTERVAL_MS: process.env.SQUADRON_POLL_INTERVAL_MS ?? String(LOCAL_SAFETY_POLL_MS),
    SQUADRON_SCRIPTED_POLL_MS: process.env.SQUADRON_SCRIPTED_POLL_MS ?? String(LOCAL_SAFETY_POLL_MS),
    ...options.runnerEnv,
    SQUADRON_RUNNER_ENTRY: runnerEntry,
  };

  const budget = new BudgetWatch(store.client, store.tableName, deps, (pk, action) =>
    note(`budget ${action} for ${pk}`),
  );
  store.onUsageWrite((pk) => budget.notify(pk));

  const idempotency = new IdempotencyKeys(store.client, store.tableName);
  // Schedules fire from one timer each, through the same fire function as the AWS target.
  const schedules = new ScheduleStore(store.client, store.tableName);
  const scheduleTimers = new TimerScheduleTimers(
    async (fire) => {
      const outcome = await fireSchedule(
        { ...deps, schedules, manifestOptions: { defaults: manifestDefaults } },
        fire,
      );
      note(
        `schedule ${fire.namespace}/${fire.name} fired for ${fire.scheduledTime}: ${JSON.stringify(outcome)}`,
      );
      events.emit("scheduleFire", { fire, outcome });
    },
    {
      ...(options.scheduleClock ? { now: options.scheduleClock } : {}),
      onError: (error) => logger.error("schedule fire failed", error),
    },
  );
  const api = apiHandler(
    {
      ...deps,
      idempotency,
      authorize: bearerTokenAuthorizer(tokens),
      manifestDefaults,
      // A trigger's secret by name, as every named secret locally (an environment variable).
      triggers: new TriggerStore({ client: store.client, tableName: store.tableName }),
      triggerSecret: (_namespace, name) => secret(name),
      schedules: { schedules, scheduleTimers },
    },
    logger,
  );
  const gateway = await serveGateway(
    redactingTokens(api, () => Object.keys(tokens)),
    { host: "127.0.0.1", port: options.port ?? 8787 },
    {
      onRequest: (r) => note(`${r.method} ${r.path} ${r.status} ${Math.round(r.ms)}ms`),
      before: serveWebView,
    },
  );

  const interrupted = await journal.read();
  // A stack killed -9 leaves its runners (and their CLIs) running: they go before their agents are
  // launched again, or two CLIs would work for one agent and share its inbox.
  for (const input of interrupted) {
    const left = killProcessesWith(`SQUADRON_TEAM_DIR=${runDir(paths, input.runId)}`);
    if (left > 0) note(`killed ${left} process(es) the previous stack left running for ${input.runId}`);
  }
  const recovery = await recoverInterruptedRuns(deps, interrupted, (input) => sfn.resume(input));
  for (const runId of recovery.resumed)
    print(`Resumed run ${runId} (it was in progress when the stack stopped).`);
  for (const f of recovery.failed) print(`Failed run ${f.runId}: ${f.reason}`);
  await journal.write(activeInputs());
  let nextToken: string | undefined;
  do {
    const page = await schedules.list(undefined, nextToken ? { nextToken } : {});
    for (const record of page.items) await scheduleTimers.sync(record.schedule);
    nextToken = page.nextToken;
  } while (nextToken);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await gateway.close();
      scheduleTimers.close();
      const running = activeInputs();
      await sfn.shutdown();
      await budget.close();
      await markInterrupted(deps, running);
      await journal.write(running);
      for (const runId of running.map((r) => r.runId)) await deps.deadlines.disarm(runId);
      await store.stop();
      await new Promise<void>((resolve) => logStream.end(() => resolve()));
    })();
    return stopping;
  };

  const live = new Set<number>();
  events.on("process", (e: ProcessEvent) => {
    if (e.phase === "started") live.add(e.pid);
    else live.delete(e.pid);
  });

  note(`local stack serving ${gateway.url} (data ${paths.dataDir})`);
  return {
    endpoint: gateway.url,
    token: admin,
    tokenCreated: created,
    paths,
    dynamoDbEndpoint: store.endpoint,
    deps,
    sfn,
    recovery,
    schedules,
    scheduleTimers,
    events,
    livePids: () => [...live],
    retained: () => ({
      storeIterators: store.openIterators(),
      ...sfn.retained(),
      deadlineTimers: deadlines.armed(),
      budgetWatched: budget.watched(),
      runnerProcesses: live.size,
    }),
    stop,
  };
}
