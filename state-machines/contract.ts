/**
 * The contract between the team-run state machine and the code its Task states call:
 * the Lambda handlers (prepare, dependencies, approvals, cleanup) and the runner
 * container (modes init | agent | finalize).
 *
 * Every shape here is what a handler receives as its event (the Task's `Parameters`)
 * or must return (the Task's result, before `ResultSelector`/`ResultPath`). The state
 * machine definition in ./definition.ts is built against these types, and the local
 * interpreter tests check the two agree. docs/state-machine.md explains the flow.
 *
 * Data layout of the execution state (JSONPath):
 *   $              TeamRunExecutionInput
 *   $.prepared     PrepareResult            (written by Prepare)
 *   $.init         ContainerRunResult       (written by WorkspaceInit)
 *   $.agents       AgentOutcome[]           (written by the Map)
 *   $.finalize     ContainerRunResult       (written by Finalize)
 *   $.outputs      DeliverOutputsResult     (written by DeliverOutputs; cowork runs only)
 *   $.failure      StatesError              (written by any Catch; absent on success)
 *   $.cleanup      CleanupResult            (written by Cleanup)
 * Inside one Map iteration:
 *   $              AgentIterationState
 */

import type { AgentCli, TeamMode } from "../core/manifest/types.ts";

/** Execution input. The execution name is the run id, so StartExecution is idempotent. */
export interface TeamRunExecutionInput {
  runId: string;
  namespace: string;
  teamName: string;
}

/** The `{Error, Cause}` object Step Functions writes with a Catch. */
export interface StatesError {
  Error: string;
  Cause?: string;
}

// ---------------------------------------------------------------------------------------
// Prepare (Lambda `prepare`, plain invoke: the function's return value is the result)

export interface PreparePayload extends TeamRunExecutionInput {
  /** `$$.Execution.Id`: the execution ARN (stored so the budget/deadline/api handlers can stop it). */
  executionArn: string;
  /** `$$.Execution.StartTime` (ISO 8601). */
  startedAt: string;
}

/** Run-wide values every container launch needs. Copied into each Map iteration as `$.run`. */
export interface RunContext {
  runId: string;
  namespace: string;
  teamName: string;
  mode: TeamMode;
  /**
   * ECS: the ARN of the task-definition revision registered for this run (it mounts the run's
   * EFS access point). EKS: unused by the definition (the Job mounts the shared claim with
   * `subPath: runs/<runId>`); Prepare may return "".
   */
  taskDefinitionArn: string;
  /** Id of the run's EFS access point ("" in local mode). */
  accessPointId: string;
  /** POSIX uid/gid of the run's access point; EKS Jobs run as this user. */
  posixUid: number;
  /** Mount path of the team directory inside the container (SQUADRON_TEAM_DIR). */
  teamDir: string;
  /** The run's deadline (ISO 8601): startedAt + lifecycle.timeoutSeconds. */
  deadline: string;
  /**
   * Seconds from Prepare to the deadline (integer >= 1). Used as TimeoutSecondsPath of every
   * waiting or container Task, so nothing outlives the run's deadline.
   */
  timeoutSeconds: number;
}

/** Container size for one launch. Prepare resolves defaults so both forms are always set. */
export interface LaunchResources {
  /** ECS task-level CPU units as a string, e.g. "1024". */
  ecsCpu: string;
  /** ECS task-level memory MiB as a string, e.g. "2048". */
  ecsMemory: string;
  /** Kubernetes quantity, e.g. "1". */
  k8sCpu: string;
  /** Kubernetes quantity, e.g. "2Gi". */
  k8sMemory: string;
}

/** One Map item: everything the per-agent branch needs to decide and launch. */
export interface AgentItem {
  name: string;
  role: "lead" | "teammate";
  cli: AgentCli;
  dependsOn: string[];
  /** `dependsOn.length > 0`: the branch runs WaitForDependencies only when true. */
  waitForDependencies: boolean;
  /** The gate guarding this agent (`spawn-<name>`), or null: ApprovalGate runs only when set. */
  approvalGate: string | null;
  /** Restarts allowed after a failure; always 0 for the lead. */
  maxRestarts: number;
  resources: LaunchResources;
}

export interface PrepareResult {
  run: RunContext;
  /**
   * Lead and teammates, in a topological order of `dependsOn` (dependencies first). The Map
   * starts items in index order with bounded MaxConcurrency; with this order the
   * lowest-indexed unfinished agent never waits on an unstarted one, so a run cannot
   * deadlock when there are more agents than concurrency slots.
   */
  agents: AgentItem[];
}

// ---------------------------------------------------------------------------------------
// Runner containers: WorkspaceInit, RunAgent, Finalize (ecs:runTask.sync or eks:runJob.sync)

export type RunnerMode = "init" | "agent" | "finalize";

/** Environment given to the runner container (ECS container overrides or the Job's env). */
export interface RunnerEnvironment {
  SQUADRON_MODE: RunnerMode;
  SQUADRON_RUN_ID: string;
  /** Set only in agent mode. */
  SQUADRON_AGENT_NAME?: string;
  /** Agent mode: 0 for the first launch, n for the n-th restart. */
  SQUADRON_ATTEMPT?: string;
  SQUADRON_TEAM_DIR: string;
  SQUADRON_TABLE_NAME: string;
  SQUADRON_BUCKET: string;
}

/** Name of the runner container in the task definition (and of the Job's container). */
export const RUNNER_CONTAINER_NAME = "runner";

/**
 * What a container Task leaves in the state after its ResultSelector. The `.sync`
 * integrations fail the Task when the container exits non-zero (ECS: an essential container
 * exited with a non-zero code; EKS: the Job failed), so a result always means success.
 *
 * Local mode and tests bind these Task states to a function that resolves with the raw ECS
 * stopped-task shape ({@link EcsStoppedTask}, built by {@link ecsStoppedTask}) on success and
 * throws (error name e.g. `States.TaskFailed`) on failure.
 */
export interface ContainerRunResult {
  /** ECS task ARN; "" on EKS. */
  taskArn: string;
}

/** The part of ECS DescribeTasks' task object that the ResultSelector reads. */
export interface EcsStoppedTask {
  TaskArn: string;
  Containers: Array<{ Name: string; ExitCode: number }>;
}

export function ecsStoppedTask(
  taskArn = "arn:aws:ecs:us-east-1:123456789012:task/squadron/local",
): EcsStoppedTask {
  return { TaskArn: taskArn, Containers: [{ Name: RUNNER_CONTAINER_NAME, ExitCode: 0 }] };
}

// ---------------------------------------------------------------------------------------
// Per-agent branch (one Map iteration)

/** Attempt bookkeeping carried through one agent's branch at `$.state`. */
export interface AgentAttemptState {
  /** 0 on the first launch; RecordAgentResult returns the next value on restart. */
  attempt: number;
  /** Set by RunAgent's ResultSelector when the container exited 0. */
  result?: ContainerRunResult;
  /** Set by a Catch on WaitForDependencies, ApprovalGate or RunAgent. */
  error?: StatesError;
}

export interface AgentIterationState {
  run: RunContext;
  agent: AgentItem;
  state: AgentAttemptState;
}

/**
 * WaitForDependencies (Lambda `dependencies`, `lambda:invoke.waitForTaskToken`).
 * The handler stores the token and returns at once. The state resumes when the handler
 * (invoked again with `action: "record"` for a dependency) calls SendTaskSuccess — or,
 * if every dependency already succeeded when the token is registered, immediately.
 * A failed or denied dependency => SendTaskFailure with error {@link DEPENDENCY_FAILED}.
 */
export interface WaitForDependenciesPayload {
  action: "wait";
  taskToken: string;
  runId: string;
  agentName: string;
  dependsOn: string[];
}
/** SendTaskSuccess output; discarded by the state machine. */
export type WaitForDependenciesResult = Record<string, unknown>;
export const DEPENDENCY_FAILED = "DependencyFailed";

/**
 * ApprovalGate (Lambda `approvals`, `lambda:invoke.waitForTaskToken`). The handler stores the
 * token (never sends it out), records PendingApproval and notifies. Approval (API or Slack)
 * => SendTaskSuccess; denial => SendTaskFailure with error {@link APPROVAL_DENIED}.
 * The same function also serves the Slack interactivity route (API Gateway events have
 * `requestContext`; this payload has `action: "awaitApproval"`).
 */
export interface ApprovalGatePayload {
  action: "awaitApproval";
  taskToken: string;
  runId: string;
  agentName: string;
  /** The gate's event, e.g. `spawn-backend-api`. */
  gate: string;
}
export type ApprovalGateResult = { approvedBy?: string } & Record<string, unknown>;
export const APPROVAL_DENIED = "Denied";

/**
 * RecordAgentResult (Lambda `dependencies`, plain invoke). Records the attempt's outcome in
 * the store, releases (or fails) dependants, and decides whether to restart. The agent
 * failed exactly when `state.error` is set.
 */
export interface RecordAgentResultPayload {
  action: "record";
  runId: string;
  agentName: string;
  role: "lead" | "teammate";
  maxRestarts: number;
  state: AgentAttemptState;
}

/**
 * Replaces `$.state`. `restart` must be false for the lead, after a denial or dependency
 * failure, and once `attempt` reached maxRestarts (the definition also refuses to restart
 * the lead). On restart, `attempt` is the next attempt number.
 */
export interface RecordAgentResultResult {
  attempt: number;
  outcome: "Succeeded" | "Failed";
  restart: boolean;
  /** Why the attempt failed ("" when it succeeded); becomes the Cause of LeadFailed. */
  reason: string;
}

/** Output of one Map iteration (an element of `$.agents`). */
export interface AgentOutcome {
  agentName: string;
  role: "lead" | "teammate";
  outcome: "Succeeded" | "Failed";
  /** Launches made (attempt + 1). */
  attempts: number;
  reason: string;
}

/** Error of the Fail state reached when the lead fails (after its RecordAgentResult). */
export const LEAD_FAILED = "LeadFailed";
/**
 * After Cleanup a failed run ends in the Fail state TeamRunFailed whose Error and Cause are
 * the caught failure's (`$.failure`), so the execution's status and error tell why.
 */

// ---------------------------------------------------------------------------------------
// DeliverOutputs (Lambda `outputs`, plain invoke; only when `$.prepared.run.mode` is cowork)

/**
 * Copies the run's output directory from the shared file system to the object store (the run's
 * own prefix, or the manifest's `workspace.output.s3Prefix`). A function, not the runner, does it
 * so that runner containers hold no write access to the bucket (core/control/run-outputs.ts).
 */
export interface DeliverOutputsPayload extends TeamRunExecutionInput {}

export interface DeliverOutputsResult {
  /** `s3://bucket/prefix/` (a directory locally); "" when the run has no outputs to deliver. */
  location: string;
  /** Number of files delivered. */
  files: number;
  /**
   * The first MAX_LISTED_OUTPUTS files delivered (name relative to the output directory, bytes,
   * where it was written), for the delivery notices of onComplete "deliver"; bounded so the
   * execution state stays far below Step Functions' 256 KiB.
   */
  artifacts?: { name: string; size: number; location: string }[];
}

export const MAX_LISTED_OUTPUTS = 100;

/** Error of DeliverOutputs when the outputs could not be written (the run then fails). */
export const OUTPUTS_NOT_DELIVERED = "OutputsNotDelivered";

// ---------------------------------------------------------------------------------------
// Cleanup (Lambda `cleanup`, plain invoke)

/**
 * Cleanup receives the whole execution state. `failure` is present when a Catch led here
 * (Prepare, WorkspaceInit, the Map — e.g. LeadFailed —, Finalize or DeliverOutputs) and absent
 * on success.
 * Fields after a failing step may be absent (e.g. `prepared` when Prepare failed).
 *
 * Cleanup does NOT run when an execution is stopped (StopExecution by budget, deadline or
 * DELETE) or times out: the `events` handler calls the same cleanup domain function on
 * ABORTED / TIMED_OUT executions.
 */
export interface CleanupPayload extends TeamRunExecutionInput {
  prepared?: PrepareResult;
  init?: ContainerRunResult;
  agents?: AgentOutcome[];
  finalize?: ContainerRunResult;
  outputs?: DeliverOutputsResult;
  failure?: StatesError;
}

export interface CleanupResult {
  phase: string;
}

/** Names of the Lambda handlers the definition invokes (lambdas/<name>/handler.ts). */
export const STATE_MACHINE_FUNCTIONS = [
  "prepare",
  "dependencies",
  "approvals",
  "outputs",
  "cleanup",
] as const;
export type StateMachineFunction = (typeof STATE_MACHINE_FUNCTIONS)[number];

/** Every state of the definition by role; tests and local mode bind Task states by these names. */
export const STATE_NAMES = {
  prepare: "Prepare",
  workspaceInit: "WorkspaceInit",
  runAgents: "RunAgents",
  needsDependencies: "NeedsDependencies",
  waitForDependencies: "WaitForDependencies",
  needsApproval: "NeedsApproval",
  approvalGate: "ApprovalGate",
  runAgent: "RunAgent",
  recordAgentResult: "RecordAgentResult",
  agentOutcome: "AgentOutcome",
  agentSucceeded: "AgentSucceeded",
  teammateFailed: "TeammateFailed",
  leadFailed: "LeadFailed",
  finalize: "Finalize",
  deliversOutputs: "DeliversOutputs",
  deliverOutputs: "DeliverOutputs",
  cleanup: "Cleanup",
  checkOutcome: "CheckOutcome",
  teamRunSucceeded: "TeamRunSucceeded",
  teamRunFailed: "TeamRunFailed",
} as const;
export type StateName = (typeof STATE_NAMES)[keyof typeof STATE_NAMES];
export const ALL_STATE_NAMES: readonly StateName[] = Object.values(STATE_NAMES);
/** The Task states (each must be bound to a local handler when run by aws-local-stepfunctions). */
export const TASK_STATE_NAMES = [
  STATE_NAMES.prepare,
  STATE_NAMES.workspaceInit,
  STATE_NAMES.waitForDependencies,
  STATE_NAMES.approvalGate,
  STATE_NAMES.runAgent,
  STATE_NAMES.recordAgentResult,
  STATE_NAMES.finalize,
  STATE_NAMES.deliverOutputs,
  STATE_NAMES.cleanup,
] as const;
export type TaskStateName = (typeof TASK_STATE_NAMES)[number];
