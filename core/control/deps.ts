import type { TeamStore } from "../store/team-store.ts";
import type { DeadlineScheduler } from "./deadline-scheduler.ts";
import type { ExecutionStarter, ExecutionStopper, TaskTokenResolver } from "./execution.ts";
import type { MetricSink } from "./metric-names.ts";
import type { GateNotifier } from "./notifications.ts";
import type { RunIndex } from "./run-index.ts";
import type { RunJobs } from "./run-jobs.ts";
import type { RunManifestWriter } from "./run-manifest.ts";
import type { RunWorkspaces } from "./run-workspace.ts";
import type { TeamFilesReader } from "./team-files.ts";
import type { TeamLogsReader } from "./team-logs.ts";

export interface ControlLogger {
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

/**
 * Everything the control-plane domain functions use, bound once per container (AWS) or per
 * process (local mode). Each function takes only the part it needs.
 */
export interface ControlDeps {
  store: TeamStore;
  runs: RunIndex;
  starter: ExecutionStarter;
  stopper: ExecutionStopper;
  tokens: TaskTokenResolver;
  notifier: GateNotifier;
  workspaces: RunWorkspaces;
  /** EKS: the runner Jobs a run left, deleted when it ends. */
  runJobs?: RunJobs;
  deadlines: DeadlineScheduler;
  runManifests: RunManifestWriter;
  teamFiles: TeamFilesReader;
  /** Runner output; without it the API has no logs route. */
  teamLogs?: TeamLogsReader;
  logger?: ControlLogger;
  /** Measurements only domain code can see (approval wait, added cost); absent in local mode. */
  metrics?: MetricSink;
  now?: () => Date;
}

export const silentLogger: ControlLogger = { info() {}, warn() {}, error() {} };
