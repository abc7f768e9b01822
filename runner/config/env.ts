import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { runManifestKey } from "../../core/bucket-layout.ts";
import type { RunnerMode } from "../../state-machines/contract.ts";
import { ConfigError } from "./exit-codes.ts";

export const RUNNER_MODES: readonly RunnerMode[] = ["init", "agent", "finalize"];

/** Timings of the session loop and reporting; every one can be tuned by an environment variable. */
export interface RunnerTimings {
  /** Inbox/task polling between turns (SQUADRON_POLL_INTERVAL_MS, default 200: the EFS interval). */
  pollIntervalMs: number;
  /** Heartbeat to team/config.json and the store (SQUADRON_HEARTBEAT_MS, default 5000). */
  heartbeatMs: number;
  /** Usage deltas sent to the store at least this often while a turn streams (SQUADRON_USAGE_REPORT_MS, default 2000). */
  usageReportMs: number;
  /** A teammate with no open task and no unread message stops after this (SQUADRON_IDLE_GRACE_MS, default 60000). */
  idleGraceMs: number;
  /** The lead is finished on its behalf this long after the team ended (SQUADRON_LEAD_FINISH_GRACE_MS, default 30000). */
  leadFinishGraceMs: number;
  /** A running teammate whose heartbeat is older than this counts as ended for the lead (SQUADRON_STALE_HEARTBEAT_MS, default 120000). */
  staleHeartbeatMs: number;
  /** SIGINT → SIGTERM → SIGKILL spacing when stopping the CLI (SQUADRON_STOP_GRACE_MS, default 5000). */
  stopGraceMs: number;
  /** Turns per session before the runner gives up (SQUADRON_MAX_SESSION_TURNS, default 50). */
  maxSessionTurns: number;
}

export interface RunnerConfig {
  mode: RunnerMode;
  runId: string;
  /** Agent mode only. */
  agentName?: string;
  /** 0 on the first launch, n on the n-th restart (SQUADRON_ATTEMPT). */
  attempt: number;
  /** The run's directory on the shared file system (team protocol files, repo, worktrees). */
  teamDir: string;
  /** A file path or an `s3://bucket/key` URL. */
  manifestLocation: string;
  /** DynamoDB table of the team state store; absent: no store (local runs without one). */
  tableName?: string;
  dynamoDbEndpoint?: string;
  region?: string;
  /** Squadron's bucket (AWS): cowork inputs, skills, outputs, and the run manifest's fallback. */
  bucket?: string;
  /** Local object store root for cowork inputs/outputs and skills (local mode, tests). */
  objectStoreDir?: string;
  /** Overrides the agent CLI's executable path. */
  agentExecutable?: string;
  /** `owner/repo` for pull requests when the repository URL does not say (a local remote, a mirror). */
  githubRepository?: string;
  timings: RunnerTimings;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive integer (milliseconds or a count); got "${raw}".`);
  }
  return value;
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export function readTimings(env: NodeJS.ProcessEnv): RunnerTimings {
  return {
    pollIntervalMs: positiveInt(env, "SQUADRON_POLL_INTERVAL_MS", 200),
    heartbeatMs: positiveInt(env, "SQUADRON_HEARTBEAT_MS", 5000),
    usageReportMs: positiveInt(env, "SQUADRON_USAGE_REPORT_MS", 2000),
    idleGraceMs: positiveInt(env, "SQUADRON_IDLE_GRACE_MS", 60_000),
    leadFinishGraceMs: positiveInt(env, "SQUADRON_LEAD_FINISH_GRACE_MS", 30_000),
    staleHeartbeatMs: positiveInt(env, "SQUADRON_STALE_HEARTBEAT_MS", 120_000),
    stopGraceMs: positiveInt(env, "SQUADRON_STOP_GRACE_MS", 5000),
    maxSessionTurns: positiveInt(env, "SQUADRON_MAX_SESSION_TURNS", 50),
  };
}

/**
 * Reads the runner's configuration. Only SQUADRON_MODE (or the first argument), SQUADRON_RUN_ID
 * and, in agent mode, SQUADRON_AGENT_NAME are required; the team itself comes from the run
 * manifest. Every problem is a ConfigError naming the variable to fix.
 */
export function readRunnerConfig(env: NodeJS.ProcessEnv, argv: string[] = []): RunnerConfig {
  const modeText = optional(env, "SQUADRON_MODE") ?? argv[0];
  if (!modeText) {
    throw new ConfigError(
      "No mode: set SQUADRON_MODE to init, agent or finalize (or pass the mode as the first argument).",
    );
  }
  if (!(RUNNER_MODES as readonly string[]).includes(modeText)) {
    throw new ConfigError(`Unknown mode "${modeText}": SQUADRON_MODE must be init, agent or finalize.`);
  }
  const mode = modeText as RunnerMode;
  // EKS: the Job takes the runner Secret with envFrom `optional: true`, so a missing Secret ends
  // the runner here, within a minute of the pod starting, instead of keeping the pod in
  // CreateContainerConfigError until the run's deadline. The Secret names itself in
  // SQUADRON_RUNNER_SECRET (docs/deploy.md, "The runner Secret").
  const runnerSecret = optional(env, "SQUADRON_RUNNER_SECRET_NAME");
  if (runnerSecret && optional(env, "SQUADRON_RUNNER_SECRET") !== runnerSecret) {
    throw new ConfigError(
      `The Kubernetes Secret "${runnerSecret}" is missing from the runners' namespace, or has no key SQUADRON_RUNNER_SECRET=${runnerSecret}: create it as docs/deploy.md ("The runner Secret") shows.`,
    );
  }
  const runId = optional(env, "SQUADRON_RUN_ID");
  if (!runId)
    throw new ConfigError("SQUADRON_RUN_ID is not set: the runner needs the id of the run it serves.");
  const agentName = optional(env, "SQUADRON_AGENT_NAME");
  if (mode === "agent" && !agentName) {
    throw new ConfigError("SQUADRON_AGENT_NAME is not set: agent mode needs the name of the agent to run.");
  }
  const attemptText = optional(env, "SQUADRON_ATTEMPT") ?? "0";
  const attempt = Number(attemptText);
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new ConfigError(`SQUADRON_ATTEMPT must be a non-negative integer; got "${attemptText}".`);
  }

  const manifestEnv = optional(env, "SQUADRON_RUN_MANIFEST");
  const teamDirEnv = optional(env, "SQUADRON_TEAM_DIR");
  let teamDir: string;
  if (teamDirEnv) teamDir = resolve(teamDirEnv);
  else if (manifestEnv && !manifestEnv.startsWith("s3://")) teamDir = dirname(resolve(manifestEnv));
  else {
    throw new ConfigError(
      "SQUADRON_TEAM_DIR is not set: point it at the run's shared directory (or set SQUADRON_RUN_MANIFEST to the run.json inside it).",
    );
  }
  const bucket = optional(env, "SQUADRON_BUCKET");
  let manifestLocation: string;
  if (manifestEnv) {
    manifestLocation = manifestEnv.startsWith("s3://") ? manifestEnv : resolve(manifestEnv);
  } else {
    const local = join(teamDir, "run.json");
    // In AWS the control plane writes run.json to S3 (core/control/run-manifest.ts).
    manifestLocation = !existsSync(local) && bucket ? `s3://${bucket}/${runManifestKey(runId)}` : local;
  }

  const tableName = optional(env, "SQUADRON_TABLE_NAME");
  const dynamoDbEndpoint = optional(env, "SQUADRON_DYNAMODB_ENDPOINT");
  const region = optional(env, "AWS_REGION") ?? optional(env, "AWS_DEFAULT_REGION");
  const objectStoreDir = optional(env, "SQUADRON_OBJECT_STORE_DIR");
  const agentExecutable = optional(env, "SQUADRON_AGENT_EXECUTABLE");
  const githubRepository = optional(env, "SQUADRON_GITHUB_REPOSITORY");
  if (githubRepository && !/^[^/\s]+\/[^/\s]+$/.test(githubRepository)) {
    throw new ConfigError(`SQUADRON_GITHUB_REPOSITORY must be "owner/repo"; got "${githubRepository}".`);
  }
  return {
    mode,
    runId,
    ...(mode === "agent" && agentName ? { agentName } : {}),
    attempt,
    teamDir,
    manifestLocation,
    ...(tableName ? { tableName } : {}),
    ...(dynamoDbEndpoint ? { dynamoDbEndpoint } : {}),
    ...(region ? { region } : {}),
    ...(bucket ? { bucket } : {}),
    ...(objectStoreDir ? { objectStoreDir: resolve(objectStoreDir) } : {}),
    ...(agentExecutable ? { agentExecutable } : {}),
    ...(githubRepository ? { githubRepository } : {}),
    timings: readTimings(env),
  };
}
