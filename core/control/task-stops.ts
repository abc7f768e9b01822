import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { RUNNER_CONTAINER_NAME } from "../../state-machines/contract.ts";
import { isTerminalTeamPhase } from "../status/phases.ts";
import { warningEvent } from "../status/status.ts";
import { documentClient } from "../store/document-client.ts";
import { isConditionalCheckFailed } from "../store/errors.ts";
import { TABLE_DEFINITION } from "../store/table-definition.ts";
import type { ControlDeps } from "./deps.ts";
import { UnknownRunError } from "./run-index.ts";
import { recordEvent } from "./team-runs.ts";

/**
 * `detail` of EventBridge's "ECS Task State Change" (the DescribeTasks Task object with ISO
 * times). Only the fields read here; ECS adds fields over time.
 */
export interface EcsTaskStateDetail {
  taskArn: string;
  clusterArn?: string;
  lastStatus: string;
  desiredStatus?: string;
  stopCode?: string;
  stoppedReason?: string;
  stoppedAt?: string;
  startedBy?: string;
  group?: string;
  taskDefinitionArn?: string;
  containers?: Array<{ name: string; exitCode?: number; reason?: string; lastStatus?: string }>;
  overrides?: {
    containerOverrides?: Array<{ name: string; environment?: Array<{ name: string; value?: string }> }>;
  };
}

/** Which runner launch a task is: the environment the state machine passed (launchers.ts). */
export interface RunnerTask {
  runId: string;
  mode: string;
  agent?: string;
  attempt?: number;
}

export function runnerTaskOf(detail: EcsTaskStateDetail): RunnerTask | undefined {
  const override = detail.overrides?.containerOverrides?.find((c) => c.name === RUNNER_CONTAINER_NAME);
  const env = new Map((override?.environment ?? []).map((e) => [e.name, e.value ?? ""]));
  const runId = env.get("SQUADRON_RUN_ID");
  if (!runId) return groupTask(detail.group);
  const task: RunnerTask = { runId, mode: env.get("SQUADRON_MODE") || "agent" };
  const agent = env.get("SQUADRON_AGENT_NAME");
  if (agent) task.agent = agent;
  const attempt = Number(env.get("SQUADRON_ATTEMPT"));
  if (env.has("SQUADRON_ATTEMPT") && Number.isInteger(attempt)) task.attempt = attempt;
  return task;
}

/**
 * Fallback when the overrides are not in the event: a task group of the form
 * `squadron:<runId>:agent:<agent>` or `squadron:<runId>:<mode>` (RunTask's `Group`).
 */
function groupTask(group: string | undefined): RunnerTask | undefined {
  const match = /^squadron:([A-Za-z0-9_-]+):(?:agent:([a-z0-9-]+)|(init|finalize))$/.exec(group ?? "");
  if (!match?.[1]) return undefined;
  return match[2]
    ? { runId: match[1], mode: "agent", agent: match[2] }
    : { runId: match[1], mode: match[3] as string };
}

export interface TaskStop {
  /** False for a runner that exited 0 on its own: nothing to report. */
  abnormal: boolean;
  /** Event reason. */
  reason:
    | "TaskOutOfMemory"
    | "TaskSpotInterrupted"
    | "TaskFailedToStart"
    | "TaskStoppedByRequest"
    | "TaskStopped";
  /** Why, in ECS's words: stoppedReason, the container's reason and exit code. */
  cause: string;
  exitCode?: number;
}

export function describeTaskStop(detail: EcsTaskStateDetail): TaskStop {
  const container =
    detail.containers?.find((c) => c.name === RUNNER_CONTAINER_NAME) ?? detail.containers?.[0];
  const exitCode = typeof container?.exitCode === "number" ? container.exitCode : undefined;
  const parts = [detail.stoppedReason, container?.reason].filter((p): p is string => !!p && p.trim() !== "");
  if (exitCode !== undefined) parts.push(`exit code ${exitCode}`);
  const cause = parts.join("; ") || "no reason given";
  const text = `${detail.stoppedReason ?? ""} ${container?.reason ?? ""}`;
  const base = exitCode === undefined ? {} : { exitCode };
  if (/OutOfMemory/i.test(text)) return { abnormal: true, reason: "TaskOutOfMemory", cause, ...base };
  if (detail.stopCode === "SpotInterruption" || detail.stopCode === "TerminationNotice")
    return { abnormal: true, reason: "TaskSpotInterrupted", cause, ...base };
  if (detail.stopCode === "TaskFailedToStart")
    return { abnormal: true, reason: "TaskFailedToStart", cause, ...base };
  if (detail.stopCode === "UserInitiated")
    return { abnormal: true, reason: "TaskStoppedByRequest", cause, ...base };
  return { abnormal: exitCode !== 0, reason: "TaskStopped", cause, ...base };
}

/** Claims a key once across concurrent and repeated deliveries. */
export interface OnceClaims {
  claim(key: string): Promise<boolean>;
}

/** One small item per claim in the team table, expiring after `ttlDays`. */
export class DynamoOnceClaims implements OnceClaims {
  private readonly doc: DynamoDBDocumentClient;
  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    private readonly ttlDays = 30,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.doc = documentClient(client);
  }

  async claim(key: string): Promise<boolean> {
    const pk = TABLE_DEFINITION.partitionKey.name;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [pk]: `CLAIM#${key}`,
            [TABLE_DEFINITION.sortKey.name]: "CLAIM",
            kind: "Claim",
            [TABLE_DEFINITION.timeToLiveAttribute]:
              Math.floor(this.now().getTime() / 1000) + this.ttlDays * 86_400,
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": pk },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}

export type TaskStopOutcome =
  | "ignored" // not STOPPED yet, or not a runner task
  | "normal" // the runner exited 0, or the run's own stop ended it
  | "unknown-run"
  | "duplicate" // another delivery (or another STOPPED event of the task) already recorded it
  | "recorded";

function subject(task: RunnerTask): string {
  if (task.agent) return `agent ${task.agent}'s task`;
  return task.mode === "init" ? "the workspace init task" : `the ${task.mode} task`;
}

/**
 * A runner task stopped: records why as a Warning event on the run (OOM, Spot interruption,
 * failure to start, a non-zero exit), once per task. It never writes the status: phases stay
 * the state machine's (RecordAgentResult, Cleanup), so there is nothing to regress or race.
 */
export async function onTaskStateChange(
  deps: Pick<ControlDeps, "store" | "runs" | "logger"> & { claims: OnceClaims },
  detail: EcsTaskStateDetail,
): Promise<TaskStopOutcome> {
  if (detail.lastStatus !== "STOPPED") return "ignored";
  const task = runnerTaskOf(detail);
  if (!task) return "ignored";
  const stop = describeTaskStop(detail);
  if (!stop.abnormal) return "normal";
  let ref: Awaited<ReturnType<typeof deps.runs.resolve>>;
  try {
    ref = await deps.runs.resolve(task.runId);
  } catch (error) {
    if (!(error instanceof UnknownRunError)) throw error;
    deps.logger?.warn("ECS task of an unknown run stopped", { runId: task.runId, taskArn: detail.taskArn });
    return "unknown-run";
  }
  const record = await deps.store.findRun(ref);
  if (!record || record.runId !== task.runId) return "unknown-run";
  // Stopping a finished run's tasks (budget, timeout, cancel) is that run's own doing, told already.
  if (stop.reason === "TaskStoppedByRequest" && isTerminalTeamPhase(record.status.phase)) return "normal";
  if (!(await deps.claims.claim(`ecs-stop#${detail.taskArn}`))) return "duplicate";
  const attempt = task.attempt !== undefined && task.attempt > 0 ? ` (restart ${task.attempt})` : "";
  const message = `${subject(task)}${attempt} stopped: ${stop.cause.replace(/\.$/, "")}.`;
  const time =
    detail.stoppedAt && Number.isFinite(Date.parse(detail.stoppedAt)) ? detail.stoppedAt : undefined;
  await recordEvent(
    deps,
    { ...ref, runId: task.runId },
    warningEvent(stop.reason, message, {
      ...(task.agent ? { agent: task.agent } : {}),
      ...(time ? { time: new Date(time) } : {}),
    }),
  );
  return "recorded";
}
